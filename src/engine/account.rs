//! `AwsAccount`: checks that its credentials work and belong to the declared account, then
//! converges the account's own monitoring (its key deletion alarm and shared filters).

use crate::api::conditions::{ConditionUpdate, SYNCED};
use crate::api::monitoring::AccountMonitoring;
use crate::api::{AwsAccountStatus, Kind, ObjectName};
use crate::aws::AccountConfig;
use crate::engine::plan::Plan;
use crate::engine::report::{Outcome, Report, ready, synced_condition};
use crate::engine::{Engine, Finding, Mode};

pub type AccountReport = Report<AwsAccountStatus>;

impl Engine {
    /// `mode` `None` only verifies the credentials (a local `delete`, which leaves the account's
    /// alarms as deleting the AwsAccount object in a cluster does).
    pub async fn check_account(
        &self,
        account: &AccountConfig,
        monitoring: Option<&AccountMonitoring>,
        mode: Option<Mode>,
    ) -> AccountReport {
        let object = ObjectName::new(Kind::AwsAccount, None, &account.name);
        let plan = Plan::default();
        let identity = match self.verify_account(account).await {
            Ok(identity) => identity,
            Err(error) => {
                return AccountReport {
                    object,
                    changes: plan.changes,
                    blockers: plan.blockers,
                    notices: plan.notices,
                    ready: ready(false, error.reason(), error.to_string()),
                    synced: ConditionUpdate::new(SYNCED, false, error.reason(), error.to_string()),
                    outcome: Outcome::Failed(error),
                    status: AwsAccountStatus::default(),
                };
            }
        };
        // Accepted without proof (a custom endpoint): say so where the run's results are read,
        // not only in a log line.
        let notices: Vec<Finding> =
            identity.warning.iter().map(|w| Finding::new("IdentityUnconfirmed", w.clone())).collect();
        let ready = ready(
            true,
            "CredentialsValid",
            identity.warning.clone().unwrap_or_else(|| {
                format!("credentials resolve to {} in account {}", identity.caller, account.account_id)
            }),
        );
        let status = AwsAccountStatus { caller_arn: Some(identity.caller.clone()), ..AwsAccountStatus::default() };
        let (Some(spec), Some(mode)) = (monitoring, mode) else {
            return AccountReport {
                object,
                changes: plan.changes,
                blockers: plan.blockers,
                notices,
                outcome: Outcome::InSync,
                ready,
                synced: ConditionUpdate::new(SYNCED, true, "InSync", "the account is reachable"),
                status,
            };
        };
        let pass = self.converge_account_monitoring(account, spec, mode).await;
        let outcome = match pass.outcome {
            Outcome::Failed(error) => Outcome::Failed(error.with_caller(&identity.caller)),
            other => other,
        };
        AccountReport {
            object,
            synced: synced_condition(&outcome, &pass.changes, &pass.plan.blockers),
            changes: pass.changes,
            blockers: pass.plan.blockers,
            notices: notices.into_iter().chain(pass.plan.notices).collect(),
            outcome,
            ready,
            status,
        }
    }
}
