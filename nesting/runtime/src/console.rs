//! Formatted output over the kernel's debug console.

use core::fmt::{self, Write};

/// Formats into a fixed buffer and sends it in `DebugPrint` calls of at most the kernel's
/// limit; a line shorter than the buffer goes out in one call, so concurrent printers do not
/// interleave within it.
pub struct Console {
    buffer: [u8; 512],
    length: usize,
}

impl Console {
    /// An empty console buffer.
    pub const fn new() -> Console {
        Console {
            buffer: [0; 512],
            length: 0,
        }
    }

    /// Sends what is buffered.
    pub fn flush(&mut self) {
        if self.length > 0 {
            // Nothing sensible can be done if the console itself fails.
            let _ = crate::syscall::debug_print(&self.buffer[..self.length]);
            self.length = 0;
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Console::new()
    }
}

impl Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for &byte in text.as_bytes() {
            if self.length == self.buffer.len() {
                self.flush();
            }
            self.buffer[self.length] = byte;
            self.length += 1;
        }
        Ok(())
    }
}

/// Prints formatted arguments (used by the macros).
pub fn print(arguments: fmt::Arguments<'_>) {
    let mut console = Console::new();
    let _ = console.write_fmt(arguments);
    console.flush();
}

/// Prints to the debug console.
#[macro_export]
macro_rules! print {
    ($($argument:tt)*) => { $crate::console::print(format_args!($($argument)*)) };
}

/// Prints a line to the debug console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($argument:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($argument)*))) };
}
