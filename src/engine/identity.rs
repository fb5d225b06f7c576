//! Whether an account's credentials really are the declared account: keys written into the
//! wrong account are the worst thing the operator could do.

use crate::aws::model::CallerIdentity;
use crate::aws::{AccountConfig, AwsError, ErrorKind};
use crate::engine::EngineError;

/// Who the operator acts as, and anything the user should know about how sure that is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub caller: String,
    pub warning: Option<String>,
}

/// Whether a failed identity check is a verdict on the credentials themselves.
fn refuses_credentials(error: &AwsError) -> bool {
    matches!(error.kind, ErrorKind::AccessDenied | ErrorKind::Credentials)
}

/// Decides on `sts:GetCallerIdentity`'s answer. Against AWS itself a different account is an
/// error. A custom endpoint (a local KMS, an emulator) answers with its own fixed account id
/// and may not serve STS at all; there a mismatch is reported, not fatal. Missing or refused
/// credentials are fatal everywhere; a timeout, a 5xx, a dropped connection or throttling says
/// nothing about the credentials and stays transient, so that callers retry instead of acting
/// on a verdict nobody gave (a controller would drop a finalizer on it).
pub fn check_identity(
    account: &AccountConfig,
    answer: Result<CallerIdentity, AwsError>,
    custom_endpoint: bool,
) -> Result<Identity, EngineError> {
    let identity = match answer {
        Ok(identity) => identity,
        Err(source) if refuses_credentials(&source) => {
            return Err(EngineError::Credentials { account: account.name.clone(), source });
        }
        Err(source) if !custom_endpoint || source.kind.is_transient() => {
            return Err(EngineError::Unverified { account: account.name.clone(), source });
        }
        Err(source) => {
            return Ok(Identity {
                caller: "unknown".to_owned(),
                warning: Some(format!(
                    "the custom endpoint could not confirm account {}: {source}",
                    account.account_id
                )),
            });
        }
    };
    if identity.account_id == account.account_id {
        return Ok(Identity { caller: identity.arn, warning: None });
    }
    if !custom_endpoint {
        return Err(EngineError::WrongAccount {
            account: account.name.clone(),
            expected: account.account_id.clone(),
            actual: identity.account_id,
            caller: identity.arn,
        });
    }
    Ok(Identity {
        warning: Some(format!(
            "the custom endpoint answers as account {} ({}), not {}; accepted because local and emulated KMS servers report their own account id",
            identity.account_id, identity.arn, account.account_id
        )),
        caller: identity.arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Op;

    fn account() -> AccountConfig {
        AccountConfig {
            name: "sec".into(),
            account_id: "484357440923".into(),
            region: "ap-southeast-2".into(),
            assume_role_arn: None,
            external_id: None,
            endpoint_url: None,
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
        let identity = check_identity(&account(), answer("484357440923"), false).unwrap();
        assert_eq!(identity.warning, None);
        assert!(identity.caller.contains("assumed-role"));
    }

    #[test]
    fn another_account_is_refused_against_aws() {
        let error = check_identity(&account(), answer("111122223333"), false).unwrap_err();
        assert_eq!(error.reason(), "WrongAccount");
        let text = error.to_string();
        assert!(text.contains("111122223333") && text.contains("484357440923"), "{text}");
    }

    #[test]
    fn another_account_behind_a_custom_endpoint_is_a_warning() {
        let identity = check_identity(&account(), answer("123456789012"), true).unwrap();
        assert!(identity.warning.unwrap().contains("answers as account 123456789012"));
    }

    fn failure(kind: ErrorKind) -> Result<CallerIdentity, AwsError> {
        Err(AwsError::new(Op::GetCallerIdentity, kind, "no"))
    }

    #[test]
    fn bad_credentials_are_fatal_everywhere() {
        for kind in [ErrorKind::AccessDenied, ErrorKind::Credentials] {
            for custom_endpoint in [true, false] {
                let error = check_identity(&account(), failure(kind), custom_endpoint).unwrap_err();
                assert!(matches!(error, EngineError::Credentials { .. }), "{error:?}");
                assert!(!error.is_transient());
                assert!(error.to_string().starts_with("AwsAccount sec: "), "{error}");
            }
        }
    }

    #[test]
    fn transient_failures_are_never_a_credentials_verdict() {
        for kind in [ErrorKind::Network, ErrorKind::ServerError, ErrorKind::Throttled] {
            for custom_endpoint in [true, false] {
                let error = check_identity(&account(), failure(kind), custom_endpoint).unwrap_err();
                assert!(matches!(error, EngineError::Unverified { .. }), "{kind:?}: {error:?}");
                assert!(error.is_transient(), "{kind:?}");
                assert!(error.to_string().contains("retried"), "{error}");
            }
        }
    }

    #[test]
    fn an_endpoint_without_sts_is_a_warning_only_behind_a_custom_endpoint() {
        let unsupported = || failure(ErrorKind::NotFound);
        assert!(check_identity(&account(), unsupported(), true).unwrap().warning.is_some());
        let error = check_identity(&account(), unsupported(), false).unwrap_err();
        assert!(matches!(error, EngineError::Unverified { .. }), "{error:?}");
        assert!(!error.is_transient());
    }
}
