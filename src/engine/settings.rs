use std::time::Duration;

/// The AWS partition of a region, for the ARNs the policy builder writes.
pub use crate::api::catalog::partition_of;

/// How the engine behaves where AWS is slow to agree with itself.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Written into ownership tags, so two clusters (or a cluster and a laptop) managing the
    /// same account never mistake each other's keys for their own.
    pub cluster_name: String,
    /// How long a policy naming a just-created IAM principal is retried before it is reported.
    pub policy_propagation_timeout: Duration,
    /// How long a just-created key may answer NotFound before that is believed.
    pub new_key_visibility_timeout: Duration,
    /// Pause between such retries (doubled while waiting for a create in question).
    pub consistency_poll: Duration,
    /// How long a CreateKey whose outcome is unknown may take to show in ListKeys: no second
    /// key is created for the object before it has passed.
    pub create_visibility_window: Duration,
    /// How long shared listings (keys by owner, aliases, grants) are reused; `None`: for the
    /// whole pass (local mode builds a new engine per run).
    pub listing_ttl: Option<Duration>,
    /// Observe-plan-execute rounds per resource before giving up on convergence.
    pub max_rounds: u32,
    /// How long one pass may wait in place for AWS to agree with itself (IAM propagating a new
    /// principal, a create whose answer was lost showing in ListKeys) before it ends with
    /// `StillWaiting`, to be looked at again later; `None`: as long as the waits themselves
    /// allow (local mode, where a run should finish its work). The controller sets it, so that
    /// a resource that waits never holds a worker others need.
    pub wait_budget: Option<Duration>,
    /// Whether refusals may say which namespace and object own another's key; off, they name
    /// the rule and the fix only, so no tenant learns of another's objects.
    pub show_owners: bool,
}

pub const DEFAULT_CLUSTER_NAME: &str = "kms-operator";

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            cluster_name: DEFAULT_CLUSTER_NAME.to_owned(),
            policy_propagation_timeout: Duration::from_secs(120),
            new_key_visibility_timeout: Duration::from_secs(60),
            consistency_poll: Duration::from_secs(2),
            create_visibility_window: Duration::from_secs(120),
            listing_ttl: None,
            max_rounds: 4,
            wait_budget: None,
            show_owners: false,
        }
    }
}
