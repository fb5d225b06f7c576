//! The settings both front doors share, as flags and environment, and the engine built from
//! them: the controller and local mode construct their engine here, so neither depends on the
//! command line that starts it.

use std::time::Duration;

use clap::Args;

use super::Engine;
use super::settings::{DEFAULT_CLUSTER_NAME, EngineSettings};
use crate::aws::{CallContext, ClientPool, RateLimitParseError, RateLimits, RetryPolicy, Timeouts};

/// Settings shared by local mode and the controller.
#[derive(Clone, Debug, Args)]
pub struct EngineArgs {
    /// Written into ownership tags; set a different name for each cluster that manages the same account.
    #[arg(long, env = "KMS_OPERATOR_CLUSTER_NAME", default_value = DEFAULT_CLUSTER_NAME, value_parser = cluster_name)]
    pub cluster_name: String,

    /// Resources reconciled at the same time in each account and region, per kind, to start with: quotas are per account and region, so every pair with work gets its own workers, and takes up to 8 times as many while its write quota goes unspent.
    #[arg(long, env = "KMS_OPERATOR_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,

    /// Requests per second for one AWS operation, e.g. CreateKey=10 or PutMetricAlarm=3 (default: each service's published quotas). Repeatable or comma-separated.
    #[arg(long = "rate-limit", env = "KMS_OPERATOR_RATE_LIMITS", value_delimiter = ',')]
    pub rate_limits: Vec<String>,

    /// Seconds to keep retrying a policy KMS refuses for naming a just-created IAM principal.
    #[arg(long, env = "KMS_OPERATOR_POLICY_PROPAGATION_TIMEOUT", default_value_t = 120)]
    pub policy_propagation_timeout: u64,

    /// Let refusals name the namespace and object that own another's key (off: they name the rule and the fix only, so tenants learn nothing of each other).
    #[arg(long, env = "KMS_OPERATOR_SHOW_OWNERS", default_value_t = false)]
    pub show_owners: bool,
}

/// The longest cluster name: with the longest namespace (63) it leaves the ownership tag (256
/// characters) room for a name of at least 46 characters and its digest (see
/// `ownership::owner_value`).
pub const MAX_CLUSTER_NAME_CHARS: usize = 128;

/// A cluster name that fits in the ownership tag, in the characters KMS allows in a tag value.
fn cluster_name(value: &str) -> Result<String, String> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_CLUSTER_NAME_CHARS {
        return Err(format!(
            "is {chars} characters; a cluster name is written into every ownership tag and must be 1 to {MAX_CLUSTER_NAME_CHARS}"
        ));
    }
    match value.chars().find(|c| !(c.is_alphanumeric() || "_.:/=+-@".contains(*c))) {
        Some(bad) => Err(format!(
            "contains {bad:?}; a cluster name is written into every ownership tag, which takes letters, digits and _ . : / = + - @"
        )),
        None => Ok(value.to_owned()),
    }
}

impl EngineArgs {
    /// The engine's settings from these flags; the rest stay at their defaults.
    pub fn settings(&self) -> EngineSettings {
        EngineSettings {
            cluster_name: self.cluster_name.clone(),
            policy_propagation_timeout: Duration::from_secs(self.policy_propagation_timeout),
            show_owners: self.show_owners,
            ..EngineSettings::default()
        }
    }

    /// An engine with credentials from the standard AWS environment and these rate limits.
    pub async fn engine(&self, settings: EngineSettings) -> Result<Engine, RateLimitParseError> {
        let limits = RateLimits::default().parse_overrides(self.rate_limits.iter().map(String::as_str))?;
        let ctx = CallContext::new(&limits, RetryPolicy::default());
        let pool = ClientPool::from_environment(ctx, Timeouts::default()).await;
        Ok(Engine::new(pool, settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_name_must_fit_an_ownership_tag() {
        assert_eq!(cluster_name("eu/prod-1").as_deref(), Ok("eu/prod-1"));
        assert!(cluster_name(&"c".repeat(MAX_CLUSTER_NAME_CHARS)).is_ok());
        assert!(cluster_name(&"c".repeat(MAX_CLUSTER_NAME_CHARS + 1)).unwrap_err().contains("1 to 128"));
        assert!(cluster_name("").is_err());
        assert!(cluster_name("prod*").unwrap_err().contains("'*'"));
    }
}
