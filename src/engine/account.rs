//! `AwsAccount`: only checks that its credentials work and belong to the declared account.

use crate::api::conditions::{ConditionUpdate, SYNCED};
use crate::api::{AwsAccountStatus, Kind, ObjectName};
use crate::aws::AccountConfig;
use crate::engine::identity::unverified_notice;
use crate::engine::plan::Plan;
use crate::engine::report::{Outcome, Report, ready};
use crate::engine::{Engine, Finding};

pub type AccountReport = Report<AwsAccountStatus>;

impl Engine {
    pub async fn check_account(&self, account: &AccountConfig) -> AccountReport {
        let object = ObjectName::new(Kind::AwsAccount, None, &account.name);
        let plan = Plan::default();
        match self.verify_account(account).await {
            Ok(identity) => {
                let (ready, synced, notices): (_, _, Vec<Finding>) = match &identity.caller {
                    Some(caller) => (
                        ready(
                            true,
                            "CredentialsValid",
                            format!("credentials resolve to {caller} in account {}", account.account_id),
                        ),
                        "the account is reachable",
                        Vec::new(),
                    ),
                    // Usable, but unproven: say so where the run's results and the account's
                    // status are read, not only in a log line.
                    None => {
                        let notice = unverified_notice(account);
                        (ready(true, notice.reason, notice.message.clone()), "nothing to check", vec![notice])
                    }
                };
                AccountReport {
                    object,
                    changes: plan.changes,
                    blockers: plan.blockers,
                    notices,
                    outcome: Outcome::InSync,
                    ready,
                    synced: ConditionUpdate::new(SYNCED, true, "InSync", synced),
                    status: AwsAccountStatus {
                        account_verified: Some(identity.verified()),
                        caller_arn: identity.caller,
                        ..AwsAccountStatus::default()
                    },
                }
            }
            Err(error) => AccountReport {
                object,
                changes: plan.changes,
                blockers: plan.blockers,
                notices: plan.notices,
                ready: ready(false, error.reason(), error.to_string()),
                synced: ConditionUpdate::new(SYNCED, false, error.reason(), error.to_string()),
                outcome: Outcome::Failed(error),
                status: AwsAccountStatus::default(),
            },
        }
    }
}
