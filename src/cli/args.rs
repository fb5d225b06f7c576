use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::EngineArgs;
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "kms-operator",
    version,
    about = "AWS KMS keys, policies, rotation, replicas, aliases and grants from Kubernetes custom resources"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text", env = "KMS_OPERATOR_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// More logs on stderr: -v adds the AWS SDK's warnings and the operator's progress, -vv
    /// debug logs of everything, -vvv trace. RUST_LOG, when set, decides instead.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller, in or against a cluster (KUBECONFIG or the in-cluster service account).
    Run(Box<crate::controller::RunArgs>),
    /// Print the CustomResourceDefinitions as YAML.
    Crds(CrdsArgs),
    /// Check manifests offline, without any AWS call. Exit 0 valid, 1 invalid.
    Validate(ValidateArgs),
    /// Read live KMS and print what apply would change (with --base, first what removing the
    /// objects missing from -f does). Exit 0 in sync, 2 changes pending, 1 error.
    Plan(PlanArgs),
    /// Converge live KMS to the manifests once and print the result. Exit 0 converged, 1 error.
    Apply(LocalArgs),
    /// Do what deleting these resources in a cluster would do (deletion policy honoured). Exit 0, 1 error.
    Delete(LocalArgs),
}

#[derive(Debug, Args)]
pub struct CrdsArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// A manifest file or a directory of them (read recursively, *.yaml and *.yml). Repeatable.
    #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
    pub filename: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// A pull-request comment: the verdict, errors first, one collapsed section per change.
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub local: LocalArgs,

    /// The manifests before the change (a file or directory, like -f; repeatable): objects in
    /// them and not in -f are planned as their deletion (what the controller does when GitOps
    /// prunes them), listed first, with every key deletion they schedule at the top.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub base: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    #[command(flatten)]
    pub files: FileArgs,

    /// `json` prints one object per resource: {kind, namespace, name, actions, status};
    /// `markdown` a pull-request comment (docs/gitops.md).
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: OutputFormat,

    /// Reach each AwsAccount through the role NAME in its account
    /// (arn:aws:iam::<accountId>:role/NAME) instead of its assumeRoleArn: e.g. a read-only role
    /// for `plan` in CI (docs/gitops.md).
    #[arg(long, value_name = "NAME", env = "KMS_OPERATOR_ASSUME_ROLE_NAME", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub assume_role_name: Option<String>,

    #[command(flatten)]
    pub engine: EngineArgs,
}
