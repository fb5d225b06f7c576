//! The `kms-operator` command line: one binary for the controller and local mode.

mod args;
mod local;
mod signals;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command, OutputFormat, PlanArgs};

use crate::telemetry;

/// Parses arguments and runs the command; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // `plan` uses 2 for "changes pending", so usage errors must not.
            return ExitCode::from(if error.use_stderr() { 1 } else { 0 });
        }
    };
    let audience = if matches!(cli.command, Command::Run(_)) {
        telemetry::Audience::Controller
    } else {
        telemetry::Audience::CommandLine
    };
    telemetry::init_logging(cli.log_format, telemetry::default_filter(audience, cli.verbose));
    // Both of rustls's crypto providers are compiled in (the AWS SDK brings aws-lc-rs, kube
    // ring), and rustls refuses to guess: without a choice every Kubernetes client panics.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run(cli.command));
    ExitCode::from(code)
}

async fn run(command: Command) -> u8 {
    match command {
        Command::Run(args) => match crate::controller::run(*args).await {
            Ok(()) => 0,
            Err(error) => {
                tracing::error!(%error, "kms-operator stopped");
                eprintln!("error: {error}");
                1
            }
        },
        Command::Crds(args) => local::crds(&args),
        Command::Validate(args) => local::validate(&args.files),
        Command::Plan(args) => local::plan(&args).await,
        Command::Apply(args) => local::run(crate::local::runner::Command::Apply, &args).await,
        Command::Delete(args) => local::run(crate::local::runner::Command::Delete, &args).await,
    }
}
