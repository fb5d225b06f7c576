use std::net::SocketAddr;

use clap::Args;

use crate::engine::EngineArgs;

/// `kms-operator run`: flags, each with an environment variable for the Helm chart.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Watch KmsKeys, KmsAliases and KmsGrants in this namespace only (default: all namespaces).
    #[arg(long, env = "KMS_OPERATOR_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,

    /// How often every resource is verified against KMS when nothing changes (seconds; jittered by up to 10%).
    #[arg(long, env = "KMS_OPERATOR_RESYNC_SECONDS", default_value_t = 600)]
    pub resync_seconds: u64,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "KMS_OPERATOR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Elect a leader through a coordination.k8s.io Lease, so several replicas can run and only one writes.
    #[arg(long, env = "KMS_OPERATOR_LEADER_ELECTION", default_value_t = false)]
    pub leader_election: bool,

    /// Name of the Lease used for leader election.
    #[arg(long, env = "KMS_OPERATOR_LEASE_NAME", default_value = "kms-operator-leader")]
    pub lease_name: String,

    /// Namespace of the Lease (default: the pod's namespace from POD_NAMESPACE, else `default`).
    #[arg(long, env = "POD_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// This replica's identity in the Lease and in Events (default: POD_NAME, else $HOSTNAME, else kms-operator-<pid>).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Of each --concurrency workers of an account and region, how many the objects of one namespace may hold at once (default: half), so that no namespace can keep the others waiting.
    #[arg(long, env = "KMS_OPERATOR_NAMESPACE_CONCURRENCY")]
    pub namespace_concurrency: Option<u16>,

    /// Longest a pass waits in place for AWS to catch up (IAM propagation, a create whose answer was lost) before it looks again later instead (seconds).
    #[arg(long, env = "KMS_OPERATOR_WAIT_BUDGET_SECONDS", default_value_t = 5)]
    pub wait_budget_seconds: u64,

    /// Longest wait between retries of a failing resource (seconds).
    #[arg(long, env = "KMS_OPERATOR_MAX_BACKOFF_SECONDS", default_value_t = 300)]
    pub max_backoff_seconds: u64,

    /// Write only the objects whose AwsAccount matches this label selector (`env=prod`, `tier in (a,b)`, `!legacy`), claimed for this shard; needs --shard-name.
    #[arg(long, env = "KMS_OPERATOR_SHARD_SELECTOR", requires = "shard_name")]
    pub shard_selector: Option<crate::controller::shard::ShardSelector>,

    /// This shard's name: written in the claim of every object it holds, and appended to --lease-name (`<lease-name>-<shard-name>`), so each shard elects its own leader. Lowercase letters, digits and '-'.
    #[arg(long, env = "KMS_OPERATOR_SHARD_NAME", requires = "shard_selector", value_parser = shard_name)]
    pub shard_name: Option<String>,

    /// Every shard's name, comma-separated (the chart passes its `shards`): an object claimed by a shard not listed is reported as held by nobody. Without it, any shard's claim counts as held.
    #[arg(long, env = "KMS_OPERATOR_KNOWN_SHARDS", requires = "shard_name", value_delimiter = ',', value_parser = shard_name)]
    pub known_shards: Vec<String>,

    /// How long an object may carry no live claim before it counts in kms_operator_unclaimed_resources (seconds; sharded only).
    #[arg(long, env = "KMS_OPERATOR_UNCLAIMED_GRACE_SECONDS", default_value_t = crate::controller::shard::unclaimed::DEFAULT_GRACE_SECONDS)]
    pub unclaimed_grace_seconds: u64,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A shard's name: a DNS label, as it becomes part of the Lease's name.
fn shard_name(name: &str) -> Result<String, String> {
    let label = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if label {
        Ok(name.to_owned())
    } else {
        Err(format!("{name:?}: up to 63 lowercase letters, digits and '-', alphanumeric at both ends"))
    }
}

impl RunArgs {
    /// The shard to run, if any (clap makes sure the name and the selector come together).
    pub fn shard(&self) -> Option<std::sync::Arc<crate::controller::shard::Shard>> {
        let (name, selector) = (self.shard_name.as_ref()?, self.shard_selector.as_ref()?);
        let known_shards = (!self.known_shards.is_empty()).then(|| self.known_shards.iter().cloned().collect());
        let grace = std::time::Duration::from_secs(self.unclaimed_grace_seconds);
        let unclaimed = crate::controller::shard::Unclaimed { known_shards, grace };
        Some(crate::controller::shard::Shard::reporting(name, selector.clone(), unclaimed))
    }

    /// The Lease this replica competes for: one per shard.
    pub fn lease(&self) -> String {
        match &self.shard_name {
            Some(shard) => format!("{}-{shard}", self.lease_name),
            None => self.lease_name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn shard_of(flags: &[&str]) -> Result<Option<std::sync::Arc<crate::controller::shard::Shard>>, clap::Error> {
        let argv = ["run", "--shard-name", "prod", "--shard-selector", "env=prod"].iter().chain(flags);
        Run::try_parse_from(argv).map(|run| run.args.shard())
    }

    #[test]
    fn the_known_shards_come_as_one_comma_separated_list_of_shard_names() {
        let shard = shard_of(&["--known-shards", "prod,rest", "--unclaimed-grace-seconds", "60"]).unwrap().unwrap();
        let known: Vec<&str> = shard.unclaimed.known_shards.iter().flatten().map(String::as_str).collect();
        assert_eq!(known, ["prod", "rest"]);
        assert_eq!(shard.unclaimed.grace.as_secs(), 60);
        let shard = shard_of(&[]).unwrap().unwrap();
        assert_eq!(shard.unclaimed.known_shards, None, "without the list, any claim counts as held");
        assert!(shard_of(&["--known-shards", "prod,Rest"]).is_err(), "a name no shard can have");
    }
}
