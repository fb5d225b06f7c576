//! Structured logs through tracing-subscriber: human-readable text or JSON lines, on stderr.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Who is reading the logs: decides how much of the AWS SDK's own logging they see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The controller: structured logs for a log pipeline, everyone's info and up.
    Controller,
    /// A person at the command line: the operator's warnings only; the SDK's internals (its
    /// credential chain's retries, HTTP details) are noise unless they ask with `-v`.
    CommandLine,
}

/// The log filter for `verbose` (the count of `-v`) when `RUST_LOG` is not set.
pub fn default_filter(audience: Audience, verbose: u8) -> &'static str {
    match (audience, verbose) {
        (Audience::CommandLine, 0) => "error,kms_operator=warn",
        (Audience::CommandLine, 1) => "warn,kms_operator=info",
        (Audience::Controller, 0) => "info",
        (Audience::Controller, 1) => "info,kms_operator=debug",
        (_, 2) => "debug",
        (_, _) => "trace",
    }
}

/// `RUST_LOG` wins over `default_filter` when set.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // Colours only for a person at a terminal: log files and CI logs get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second initialisation (tests) keeps the first subscriber; that is fine.
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::EnvFilter;

    use super::*;

    #[test]
    fn the_command_line_hides_the_sdk_unless_asked() {
        assert_eq!(default_filter(Audience::CommandLine, 0), "error,kms_operator=warn");
        assert!(default_filter(Audience::CommandLine, 1).starts_with("warn,"));
        assert_eq!(default_filter(Audience::CommandLine, 2), "debug");
        assert_eq!(default_filter(Audience::CommandLine, 7), "trace");
    }

    #[test]
    fn the_controller_keeps_info_logs() {
        assert_eq!(default_filter(Audience::Controller, 0), "info");
        assert_eq!(default_filter(Audience::Controller, 2), "debug");
    }

    #[test]
    fn every_filter_parses() {
        for audience in [Audience::Controller, Audience::CommandLine] {
            for verbose in 0..4 {
                let filter = default_filter(audience, verbose);
                assert!(EnvFilter::try_new(filter).is_ok(), "{filter}");
            }
        }
    }
}
