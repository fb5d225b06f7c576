//! Whether an account's credentials really are the declared account: keys written into the
//! wrong account are the worst thing the operator could do. The check holds whatever endpoint
//! KMS is reached through (a VPC endpoint, an endpoint from the environment): only
//! `verifyAccount: false`, meant for local emulators, turns it off, and then every plan says so.

use crate::api::Reason;
use crate::aws::model::CallerIdentity;
use crate::aws::{AccountConfig, AwsError, ErrorKind};
use crate::engine::{EngineError, Finding, Report};

/// Who the operator acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The caller STS confirmed to be in the declared account; `None` when nothing was checked.
    pub caller: Option<String>,
}

impl Identity {
    pub fn verified(&self) -> bool {
        self.caller.is_some()
    }
}

/// Whether a failed identity check is a verdict on the credentials themselves.
fn refuses_credentials(error: &AwsError) -> bool {
    matches!(error.kind, ErrorKind::AccessDenied | ErrorKind::Credentials)
}

/// Decides on `sts:GetCallerIdentity`'s answer: the declared account passes; another account
/// is refused; missing or refused credentials are a verdict on them. Any other failure (an
/// endpoint that does not serve STS, a timeout, a 5xx, throttling) leaves the identity
/// unverified, which stops every write as well: transient ones are retried, so that callers
/// never act on a verdict nobody gave (a controller would drop a finalizer on it).
pub fn check_identity(
    account: &AccountConfig,
    answer: Result<CallerIdentity, AwsError>,
) -> Result<Identity, EngineError> {
    let identity = match answer {
        Ok(identity) => identity,
        Err(source) if refuses_credentials(&source) => {
            return Err(EngineError::Credentials { account: account.name.clone(), source });
        }
        Err(source) => return Err(EngineError::Unverified { account: account.name.clone(), source }),
    };
    if identity.account_id != account.account_id {
        return Err(EngineError::WrongAccount {
            account: account.name.clone(),
            expected: account.account_id.clone(),
            actual: identity.account_id,
            caller: identity.arn,
        });
    }
    Ok(Identity { caller: Some(identity.arn) })
}

/// What every plan of an account with `verifyAccount: false` notes.
pub fn unverified_notice(account: &AccountConfig) -> Finding {
    Finding::new(
        Reason::AccountNotVerified,
        format!(
            "AwsAccount {}: verifyAccount is false, so nothing checked that the credentials belong to account {}; keep it for local emulators",
            account.name, account.account_id
        ),
    )
}

/// `report` with the note that its account was not verified, in its notices (what `plan`
/// prints) and in its `Synced` message (what the controller shows), when that is so.
pub fn noting_unverified<S>(mut report: Report<S>, account: Option<&AccountConfig>) -> Report<S> {
    if let Some(account) = account.filter(|a| !a.verify_account) {
        let notice = unverified_notice(account);
        report.synced.message = format!("{}; {}", report.synced.message, notice.message);
        report.notices.push(notice);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::ConditionUpdate;
    use crate::api::{Kind, ObjectName};
    use crate::aws::Op;
    use crate::engine::Outcome;

    fn account() -> AccountConfig {
        AccountConfig {
            name: "sec".into(),
            account_id: "484357440923".into(),
            region: "ap-southeast-2".into(),
            assume_role_arn: None,
            external_id: None,
            endpoint_url: None,
            sts_endpoint_url: None,
            verify_account: true,
        }
    }

    fn answer(account_id: &str) -> Result<CallerIdentity, AwsError> {
        Ok(CallerIdentity {
            account_id: account_id.into(),
            arn: format!("arn:aws:sts::{account_id}:assumed-role/op/s"),
        })
    }

    #[test]
    fn the_declared_account_passes() {
        let identity = check_identity(&account(), answer("484357440923")).unwrap();
        assert!(identity.verified());
        assert!(identity.caller.unwrap().contains("assumed-role"));
    }

    #[test]
    fn another_account_is_refused_whatever_the_endpoint() {
        let behind_an_endpoint = AccountConfig {
            endpoint_url: Some("https://vpce-0a1b.kms.ap-southeast-2.vpce.amazonaws.com".into()),
            ..account()
        };
        for account in [account(), behind_an_endpoint] {
            let error = check_identity(&account, answer("111122223333")).unwrap_err();
            assert_eq!(error.reason(), Reason::WrongAccount);
            let text = error.to_string();
            assert!(text.contains("111122223333") && text.contains("484357440923"), "{text}");
        }
    }

    fn failure(kind: ErrorKind) -> Result<CallerIdentity, AwsError> {
        Err(AwsError::new(Op::GetCallerIdentity, kind, "no"))
    }

    #[test]
    fn bad_credentials_are_fatal() {
        for kind in [ErrorKind::AccessDenied, ErrorKind::Credentials] {
            let error = check_identity(&account(), failure(kind)).unwrap_err();
            assert!(matches!(error, EngineError::Credentials { .. }), "{error:?}");
            assert!(!error.is_transient());
            assert!(error.to_string().starts_with("AwsAccount sec: "), "{error}");
        }
    }

    #[test]
    fn transient_failures_are_never_a_credentials_verdict() {
        for kind in [ErrorKind::Network, ErrorKind::ServerError, ErrorKind::Throttled] {
            let error = check_identity(&account(), failure(kind)).unwrap_err();
            assert!(matches!(error, EngineError::Unverified { .. }), "{kind:?}: {error:?}");
            assert!(error.is_transient(), "{kind:?}");
            assert!(error.to_string().contains("retried"), "{error}");
        }
    }

    #[test]
    fn an_endpoint_without_sts_leaves_the_account_unverified_and_stops_the_pass() {
        let error = check_identity(&account(), failure(ErrorKind::NotFound)).unwrap_err();
        assert!(matches!(error, EngineError::Unverified { .. }), "{error:?}");
        assert!(!error.is_transient());
        assert!(error.to_string().contains("stsEndpointUrl"), "says how to fix it: {error}");
    }

    #[test]
    fn an_unverified_account_is_noted_in_the_plan_and_in_synced() {
        let report = || Report {
            object: ObjectName::new(Kind::KmsKey, Some("apps"), "k"),
            changes: Vec::new(),
            blockers: Vec::new(),
            notices: Vec::new(),
            outcome: Outcome::InSync,
            status: (),
            ready: ConditionUpdate::new("Ready", true, Reason::Available, "usable"),
            synced: ConditionUpdate::new("Synced", true, Reason::InSync, "live state matches the spec"),
        };
        let checked = account();
        assert_eq!(noting_unverified(report(), Some(&checked)), report());
        let unchecked = AccountConfig { verify_account: false, ..account() };
        let noted = noting_unverified(report(), Some(&unchecked));
        assert_eq!(noted.notices.len(), 1);
        assert_eq!(noted.notices[0].reason, Reason::AccountNotVerified);
        assert!(noted.synced.message.contains("verifyAccount is false"), "{}", noted.synced.message);
        assert!(noted.synced.status, "a note, not a failure");
    }
}
