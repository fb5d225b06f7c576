//! `AwsAccount`: only checks that its credentials work and belong to the declared account.

use crate::api::conditions::{ConditionUpdate, SYNCED};
use crate::api::{AwsAccountStatus, Kind, ObjectName};
use crate::aws::AccountConfig;
use crate::engine::plan::Plan;
use crate::engine::report::{Outcome, Report, ready};
use crate::engine::{Engine, Finding};

pub type AccountReport = Report<AwsAccountStatus>;

impl Engine {
    pub async fn check_account(&self, account: &AccountConfig) -> AccountReport {
        let object = ObjectName::new(Kind::AwsAccount, None, &account.name);
        let plan = Plan::default();
        match self.verify_account(account).await {
            Ok(identity) => AccountReport {
                object,
                changes: plan.changes,
                blockers: plan.blockers,
                // Accepted without proof (a custom endpoint): say so where the run's results are
                // read, not only in a log line.
                notices: identity.warning.iter().map(|w| Finding::new("IdentityUnconfirmed", w.clone())).collect(),
                outcome: Outcome::InSync,
                ready: ready(
                    true,
                    "CredentialsValid",
                    identity.warning.clone().unwrap_or_else(|| {
                        format!("credentials resolve to {} in account {}", identity.caller, account.account_id)
                    }),
                ),
                synced: ConditionUpdate::new(SYNCED, true, "InSync", "the account is reachable"),
                status: AwsAccountStatus { caller_arn: Some(identity.caller), ..AwsAccountStatus::default() },
            },
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
