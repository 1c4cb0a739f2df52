//! The kernel command line: `key=value` options, then `--` and the root program's arguments.
//!
//! Options: `log=<error|warn|info|debug|trace>` (default `info`), `root=<program>` (default:
//! the manifest's root), `crash=<kind>` (crash the kernel on purpose after boot, to test its
//! own failure path; see [`Crash`]) and `preemption=<timer|every-point>` (see [`Preemption`]). Unknown options are reported, not fatal, so an old kernel
//! boots with a newer tool.

/// The parsed command line, borrowing from the original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine<'a> {
    /// The requested log level, if given.
    pub log_level: Option<LogLevel>,
    /// The program to start instead of the manifest's root, if given.
    pub root: Option<&'a str>,
    /// Everything after `--`, passed to the root program as its argument string.
    pub root_arguments: Option<&'a str>,
    /// A deliberate crash to stage after boot, if asked for.
    pub crash: Option<Crash>,
    /// When long kernel operations stop at their preemption points.
    pub preemption: Preemption,
    /// The first option the parser did not understand, if any.
    pub first_unknown: Option<&'a str>,
}

/// When a long kernel operation (an IPC transfer of many pages) stops at one of its preemption
/// points, with its progress in the registers, to be re-issued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preemption {
    /// When the timer wants the CPU (the default).
    #[default]
    Timer,
    /// At every point, yielding the CPU to any ready thread of the same priority: for the
    /// restart torture tests, which then catch threads between any two pages, and for
    /// measuring what restarts cost.
    EveryPoint,
}

impl Preemption {
    /// The option's value on the command line.
    pub fn parse(name: &str) -> Option<Preemption> {
        match name {
            "timer" => Some(Preemption::Timer),
            "every-point" => Some(Preemption::EveryPoint),
            _ => None,
        }
    }
}

/// A deliberate kernel crash, staged after boot so that tests can see the kernel's report of
/// its own failures and the verdict it ends the boot with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    /// A read of an unmapped address in kernel mode.
    PageFault,
    /// An undefined instruction in kernel mode.
    InvalidOpcode,
    /// A Rust panic.
    Panic,
}

impl Crash {
    /// Every kind.
    pub const ALL: &'static [Crash] = &[Crash::PageFault, Crash::InvalidOpcode, Crash::Panic];

    /// The name used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Crash::PageFault => "page-fault",
            Crash::InvalidOpcode => "invalid-opcode",
            Crash::Panic => "panic",
        }
    }

    /// The kind with this name.
    pub fn parse(name: &str) -> Option<Crash> {
        Crash::ALL
            .iter()
            .copied()
            .find(|crash| crash.name() == name)
    }

    /// The CPU exception vector the crash raises, if it is an exception.
    pub const fn vector(self) -> Option<u64> {
        match self {
            Crash::PageFault => Some(14),
            Crash::InvalidOpcode => Some(6),
            Crash::Panic => None,
        }
    }
}

/// The kernel's log levels, from quietest to loudest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The boot log.
    Info,
    /// Details for kernel developers.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// Parses a level name.
    pub fn parse(name: &str) -> Option<LogLevel> {
        Some(match name {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return None,
        })
    }
}

impl<'a> CommandLine<'a> {
    /// Parses a command line. Never fails: what it cannot read is reported in `first_unknown`.
    pub fn parse(text: &'a str) -> CommandLine<'a> {
        let (options, root_arguments) = match text.split_once("--") {
            Some((options, rest)) if options.is_empty() || options.ends_with(' ') => {
                (options, Some(rest.trim()))
            }
            _ => (text, None),
        };
        let mut line = CommandLine {
            log_level: None,
            root: None,
            root_arguments,
            crash: None,
            preemption: Preemption::Timer,
            first_unknown: None,
        };
        for option in options.split_ascii_whitespace() {
            let understood = match option.split_once('=') {
                Some(("log", level)) => LogLevel::parse(level).map(|level| {
                    line.log_level = Some(level);
                }),
                Some(("root", program)) if !program.is_empty() => {
                    line.root = Some(program);
                    Some(())
                }
                Some(("crash", kind)) => Crash::parse(kind).map(|crash| {
                    line.crash = Some(crash);
                }),
                Some(("preemption", mode)) => Preemption::parse(mode).map(|mode| {
                    line.preemption = mode;
                }),
                _ => None,
            };
            if understood.is_none() && line.first_unknown.is_none() {
                line.first_unknown = Some(option);
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn empty_line_has_no_options() {
        let line = CommandLine::parse("");
        assert_eq!(line.log_level, None);
        assert_eq!(line.root, None);
        assert_eq!(line.root_arguments, None);
        assert_eq!(line.first_unknown, None);
    }

    #[test]
    fn options_and_root_arguments() {
        let line = CommandLine::parse("log=debug root=kernel-tests -- fault invalid-opcode");
        assert_eq!(line.log_level, Some(LogLevel::Debug));
        assert_eq!(line.root, Some("kernel-tests"));
        assert_eq!(line.root_arguments, Some("fault invalid-opcode"));
        assert_eq!(line.first_unknown, None);
    }

    #[test]
    fn double_dash_inside_a_word_is_not_a_separator() {
        let line = CommandLine::parse("root=a--b");
        assert_eq!(line.root, Some("a--b"));
        assert_eq!(line.root_arguments, None);
        let line = CommandLine::parse("-- x -- y");
        assert_eq!(line.root_arguments, Some("x -- y"));
    }

    #[test]
    fn crash_kinds_round_trip() {
        for &crash in Crash::ALL {
            let text = std::format!("crash={}", crash.name());
            assert_eq!(CommandLine::parse(&text).crash, Some(crash));
        }
        assert_eq!(
            CommandLine::parse("crash=never").first_unknown,
            Some("crash=never")
        );
    }

    #[test]
    fn preemption_modes() {
        assert_eq!(CommandLine::parse("").preemption, Preemption::Timer);
        let line = CommandLine::parse("preemption=every-point");
        assert_eq!(line.preemption, Preemption::EveryPoint);
        assert_eq!(
            CommandLine::parse("preemption=timer").preemption,
            Preemption::Timer
        );
        assert_eq!(
            CommandLine::parse("preemption=sometimes").first_unknown,
            Some("preemption=sometimes")
        );
    }

    #[test]
    fn bad_options_are_reported_not_fatal() {
        let line = CommandLine::parse("log=loud root= quiet log=warn");
        assert_eq!(line.first_unknown, Some("log=loud"));
        assert_eq!(line.log_level, Some(LogLevel::Warn));
        assert_eq!(line.root, None);
    }
}
