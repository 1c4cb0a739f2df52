//! The kernel log: the `log` facade, written to the serial console.

use crate::arch::serial;
use boot::command_line::LogLevel;
use core::fmt::Write;

struct SerialLogger;

struct Console;

impl Write for Console {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        serial::write_bytes(text.as_bytes());
        Ok(())
    }
}

impl log::Log for SerialLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            // Writing to the console cannot fail.
            let _ = writeln!(
                Console,
                "[{:>5} {}] {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOGGER: SerialLogger = SerialLogger;

/// Routes `log` to the console at the given level (default: info).
pub fn initialize(level: Option<LogLevel>) {
    let filter = match level.unwrap_or(LogLevel::Info) {
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Trace => log::LevelFilter::Trace,
    };
    // Only fails if a logger is already set, which cannot happen: this runs once at boot.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(filter);
}

/// Writes text to the console as it is, without a log prefix (for user debug prints).
pub fn write_raw(bytes: &[u8]) {
    serial::write_bytes(bytes);
}
