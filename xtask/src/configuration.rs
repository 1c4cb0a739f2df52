//! The kernel configurations: the one table naming each configuration and the cargo feature of
//! the kernel that selects it (DESIGN.md section 3). Add a row here to build, test and benchmark
//! a new configuration everywhere.

use clap::builder::{PossibleValuesParser, TypedValueParser};

/// One way to build the kernel: an execution model and a preemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// The name used on the command line and in image and test names: the model, then the
    /// preemption.
    pub name: &'static str,
    /// The kernel's cargo features that select it: `model-*` and `preempt-*`.
    pub features: &'static str,
}

/// Every configuration, in the order they are built and reported.
pub const ALL: &[Configuration] = &[
    Configuration {
        name: "process-partial",
        features: "model-process,preempt-partial",
    },
    Configuration {
        name: "process-none",
        features: "model-process,preempt-none",
    },
    Configuration {
        name: "process-full",
        features: "model-process,preempt-full",
    },
    Configuration {
        name: "interrupt-partial",
        features: "model-interrupt,preempt-partial",
    },
    Configuration {
        name: "interrupt-none",
        features: "model-interrupt,preempt-none",
    },
];

/// The configuration `cargo xtask run` boots when none is given.
pub const DEFAULT_RUN: &str = "process-partial";

/// The configuration with this name.
pub fn find(name: &str) -> Option<&'static Configuration> {
    ALL.iter().find(|configuration| configuration.name == name)
}

/// A clap parser accepting the configuration names (and listing them in `--help`).
pub fn parser() -> impl TypedValueParser<Value = &'static Configuration> {
    PossibleValuesParser::new(ALL.iter().map(|configuration| configuration.name))
        .map(|name: String| find(&name).expect("clap accepts only the names of the table"))
}

/// The configurations chosen on the command line, without repeats, or all when none was.
pub fn selected(chosen: &[&'static Configuration]) -> Vec<&'static Configuration> {
    if chosen.is_empty() {
        return ALL.iter().collect();
    }
    let mut unique: Vec<&'static Configuration> = Vec::new();
    for configuration in chosen {
        if !unique.contains(configuration) {
            unique.push(configuration);
        }
    }
    unique
}

/// The names, comma-separated.
pub fn names(configurations: &[&'static Configuration]) -> String {
    configurations
        .iter()
        .map(|configuration| configuration.name)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_name_their_features() {
        for (index, configuration) in ALL.iter().enumerate() {
            let (model, preemption) = configuration.name.split_once('-').unwrap();
            assert_eq!(
                configuration.features,
                format!("model-{model},preempt-{preemption}")
            );
            assert!(
                ALL[index + 1..]
                    .iter()
                    .all(|other| other.name != configuration.name)
            );
        }
        assert!(find(DEFAULT_RUN).is_some());
        assert!(find("threads").is_none());
    }
}
