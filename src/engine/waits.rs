//! Waiting for AWS to agree with itself, within a budget. KMS refuses a policy naming an IAM
//! principal created moments ago until IAM has propagated it (Terraform's provider waits for
//! that too), for up to `policy_propagation_timeout` from the first refusal. A pass waits in
//! place for at most `wait_budget`; then it ends with `StillWaiting` and the controller looks
//! again later, so that a key waiting for IAM never holds a worker others need. The first
//! refusal is remembered across passes, per subject (the object or key and region the write is
//! for), so the timeout counts from it.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use super::cache::lock;
use super::{Engine, EngineError};
use crate::api::Reason;
use crate::aws::AwsError;

impl Engine {
    /// Whether a wait that started at `started` has used up the pass's budget.
    pub(crate) fn budget_spent(&self, started: Instant) -> bool {
        self.settings.wait_budget.is_some_and(|budget| started.elapsed() >= budget)
    }

    /// How much longer a pass may wait in place, of `wanted`.
    pub(crate) fn within_budget(&self, wanted: Duration) -> Duration {
        self.settings.wait_budget.map_or(wanted, |budget| wanted.min(budget))
    }

    /// Runs `call` (a write for `subject`) again while KMS refuses a principal in its policy,
    /// until IAM propagates it, the timeout passes (`PolicyRefused`) or the budget does
    /// (`StillWaiting`).
    pub(crate) async fn while_iam_propagates<T, F, Fut>(&self, subject: &str, mut call: F) -> Result<T, EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let started = Instant::now();
        loop {
            match call().await {
                Err(error) if error.is_invalid_principal() => {
                    let refused_for = self.refused_since(subject).elapsed();
                    if refused_for >= self.settings.policy_propagation_timeout {
                        self.propagated(subject);
                        return Err(EngineError::PolicyRefused { source: error, elapsed_secs: refused_for.as_secs() });
                    }
                    if self.budget_spent(started) {
                        // The same words every pass, so that status is not rewritten while waiting.
                        return Err(EngineError::StillWaiting {
                            reason: Reason::PolicyPropagating,
                            what: format!(
                                "KMS refuses a principal in the key policy ({error}), as it does until IAM propagates a new one; tried again until {}s after the first refusal, then reported as PolicyRefused",
                                self.settings.policy_propagation_timeout.as_secs()
                            ),
                        });
                    }
                    tracing::info!(%error, subject, "KMS refused a principal in the policy; waiting for IAM to propagate");
                    tokio::time::sleep(self.settings.consistency_poll).await;
                }
                other => {
                    self.propagated(subject);
                    return other.map_err(EngineError::aws);
                }
            }
        }
    }

    /// When KMS first refused a principal for `subject`, in this process (now, if just now).
    fn refused_since(&self, subject: &str) -> Instant {
        let mut refused = lock(&self.propagating);
        // Forget subjects whose objects went away mid-wait: nobody asks about them again.
        let stale = self.settings.policy_propagation_timeout * 2;
        refused.retain(|_, since| since.elapsed() < stale);
        *refused.entry(subject.to_owned()).or_insert_with(Instant::now)
    }

    fn propagated(&self, subject: &str) {
        lock(&self.propagating).remove(subject);
    }

    /// How many subjects are waiting for IAM now (for tests of what the controller holds).
    pub fn waiting_for_iam(&self) -> usize {
        lock(&self.propagating).len()
    }
}

pub(crate) type Propagating = std::sync::Mutex<HashMap<String, Instant>>;
