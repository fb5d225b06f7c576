//! `AwsAccount`: checks that its credentials work and belong to the declared account, then
//! converges the account's own monitoring (its key deletion alarm and shared filters).

use crate::api::Reason;
use crate::api::conditions::{ConditionUpdate, SYNCED};
use crate::api::monitoring::AccountMonitoring;
use crate::api::{AwsAccountStatus, Kind, ObjectName};
use crate::aws::AccountConfig;
use crate::engine::identity::unverified_notice;
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
        let (ready, reachable, notices): (_, _, Vec<Finding>) = match &identity.caller {
            Some(caller) => (
                ready(
                    true,
                    Reason::CredentialsValid,
                    format!("credentials resolve to {caller} in account {}", account.account_id),
                ),
                "the account is reachable",
                Vec::new(),
            ),
            // Usable, but unproven: say so where the run's results and the account's status are
            // read, not only in a log line.
            None => {
                let notice = unverified_notice(account);
                (ready(true, notice.reason, notice.message.clone()), "nothing to check", vec![notice])
            }
        };
        let status = AwsAccountStatus {
            account_verified: Some(identity.verified()),
            caller_arn: identity.caller.clone(),
            ..AwsAccountStatus::default()
        };
        let (Some(spec), Some(mode)) = (monitoring, mode) else {
            return AccountReport {
                object,
                changes: plan.changes,
                blockers: plan.blockers,
                notices,
                outcome: Outcome::InSync,
                ready,
                synced: ConditionUpdate::new(SYNCED, true, Reason::InSync, reachable),
                status,
            };
        };
        let pass = self.converge_account_monitoring(account, spec, mode).await;
        let outcome = match (pass.outcome, identity.caller.as_deref()) {
            (Outcome::Failed(error), Some(caller)) => Outcome::Failed(error.with_caller(caller)),
            (other, _) => other,
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
