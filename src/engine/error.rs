use crate::api::Reason;
use crate::aws::{AwsError, ErrorKind};
use crate::engine::key::IntentError;

/// Why a resource could not be reconciled; each variant says what the user can do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The credentials are missing or were refused: only a person can fix that.
    #[error("AwsAccount {account}: {source}. {CREDENTIALS_FIX}")]
    Credentials { account: String, source: AwsError },

    /// STS could not say who the credentials are, for a reason that is not the credentials'
    /// (a timeout, a 5xx, throttling, an endpoint without STS): retried when transient, never
    /// taken as a verdict, and nothing is written meanwhile.
    #[error("AwsAccount {account}: could not confirm which account the credentials belong to: {source}{}", unverified_note(.source))]
    Unverified { account: String, source: AwsError },

    #[error(
        "AwsAccount {account}: the credentials are for account {actual} ({caller}), not {expected}: fix spec.accountId or the role/credentials the operator uses"
    )]
    WrongAccount { account: String, expected: String, actual: String, caller: String },

    #[error("{source}{}", hint(.source, .caller.as_deref()))]
    Aws { source: AwsError, caller: Option<String> },

    #[error(
        "KMS refused the key policy for {elapsed_secs}s: {source}. A policy naming an IAM principal created moments ago is refused until IAM propagates; otherwise check that every principal in the policy exists"
    )]
    PolicyRefused { source: AwsError, elapsed_secs: u64 },

    /// The live policy names deleted principals and KMS refused the new one for a principal:
    /// waiting for IAM cannot help, a person must act.
    #[error(
        "KMS refused the key policy: {source}. The live policy names {principals}, ids KMS shows for IAM roles or users that were deleted, so the policy most likely still names a principal that no longer exists. Fix: recreate the role or user, or remove it from the manifest"
    )]
    PrincipalNotFound { source: AwsError, principals: String },

    #[error("did not converge after {rounds} rounds; still to do: {remaining}")]
    NotConverged { rounds: u32, remaining: String },

    /// A write whose answer was lost, or a name someone else may hold: look before acting again.
    #[error("{0}; its outcome is unknown, so the operator looks again before retrying")]
    Ambiguous(AwsError),

    #[error("{0}")]
    Unresolved(String),

    /// AWS has not caught up yet and the pass spent its wait budget: looked at again shortly.
    #[error("{what}; looking again shortly")]
    StillWaiting { reason: Reason, what: String },

    /// The process was asked to stop before this change started.
    #[error("interrupted before: {0}")]
    Interrupted(String),

    /// The intent to create a key could not be recorded, so no key was created.
    #[error("could not record the intent to create a key, so none was created: {0}")]
    Intent(IntentError),
}

/// What to do about missing or refused credentials, at the command line and in a cluster.
pub const CREDENTIALS_FIX: &str = "Fix: provide credentials: AWS_PROFILE (after `aws sso login` for an SSO profile) \
     or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY at the command line; IRSA or EKS Pod Identity in a cluster";

fn unverified_note(error: &AwsError) -> &'static str {
    if error.kind.is_transient() {
        "; this is usually temporary and is retried"
    } else {
        ". Fix: let the operator reach STS: spec.stsEndpointUrl (an STS VPC endpoint) or AWS_ENDPOINT_URL_STS; only for a local emulator without STS, spec.verifyAccount: false"
    }
}

fn hint(error: &AwsError, caller: Option<&str>) -> String {
    match error.kind {
        ErrorKind::AccessDenied => {
            let who = caller.map(|c| format!(" ({c})")).unwrap_or_default();
            format!(
                ". The operator's identity{who} needs {} on this key: check its IAM policy and the key policy",
                error.op.iam_action()
            )
        }
        ErrorKind::LimitExceeded if error.op.service() == "logs" => {
            ". CloudWatch Logs allows 100 metric filters per log group: remove filters, or set spec.monitoring.metricFilters: Shared on the AwsAccount (docs/monitoring.md)".to_owned()
        }
        ErrorKind::LimitExceeded => {
            ". A KMS resource quota is used up: raise it in Service Quotas or remove unused resources".to_owned()
        }
        ErrorKind::Throttled => ". KMS kept throttling; lower the operator's rate limits or raise the quota".to_owned(),
        ErrorKind::Credentials => format!(". {CREDENTIALS_FIX}"),
        _ => String::new(),
    }
}

impl From<AwsError> for EngineError {
    fn from(source: AwsError) -> Self {
        EngineError::aws(source)
    }
}

impl EngineError {
    /// CamelCase reason for conditions, events and metrics.
    pub fn reason(&self) -> Reason {
        match self {
            EngineError::Credentials { .. } => Reason::CredentialsError,
            EngineError::Unverified { source, .. } => source.reason(),
            EngineError::WrongAccount { .. } => Reason::WrongAccount,
            EngineError::Aws { source, .. } => source.reason(),
            EngineError::PolicyRefused { .. } => Reason::PolicyRefused,
            EngineError::PrincipalNotFound { .. } => Reason::PrincipalNotFound,
            EngineError::NotConverged { .. } => Reason::NotConverged,
            EngineError::Ambiguous(source) => source.reason(),
            EngineError::Unresolved(_) => Reason::ReferenceNotReady,
            EngineError::StillWaiting { reason, .. } => *reason,
            EngineError::Interrupted(_) => Reason::Interrupted,
            EngineError::Intent(IntentError::Stale(_)) => Reason::StaleObject,
            EngineError::Intent(IntentError::Unavailable(_)) => Reason::KubernetesApi,
            EngineError::Intent(IntentError::Internal(_)) => Reason::InternalError,
        }
    }

    /// Whether trying again later can help without a change to the spec.
    pub fn is_transient(&self) -> bool {
        match self {
            EngineError::Aws { source, .. } | EngineError::Unverified { source, .. } => source.kind.is_transient(),
            EngineError::NotConverged { .. }
            | EngineError::Unresolved(_)
            | EngineError::Ambiguous(_)
            | EngineError::StillWaiting { .. }
            | EngineError::Intent(IntentError::Unavailable(_)) => true,
            _ => false,
        }
    }

    /// The pass acted on an old view of its object: the next pass, on the new one, decides
    /// again. Not a failure of the resource, nothing to report, and nothing to retry within the
    /// pass (the view stays old), so not transient.
    pub fn is_stale(&self) -> bool {
        matches!(self, EngineError::Intent(IntentError::Stale(_)))
    }

    /// The pass ended waiting for AWS to catch up, within its budget.
    pub fn is_waiting(&self) -> bool {
        matches!(self, EngineError::StillWaiting { .. })
    }

    pub fn aws(source: AwsError) -> Self {
        EngineError::Aws { source, caller: None }
    }

    /// Names the identity the operator used, so an AccessDenied says whose permissions to fix.
    pub fn with_caller(self, caller: &str) -> Self {
        match self {
            EngineError::Aws { source, caller: None } => EngineError::Aws { source, caller: Some(caller.to_owned()) },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Op;

    #[test]
    fn access_denied_names_the_call_and_the_identity() {
        let error = EngineError::Aws {
            source: AwsError::new(Op::PutKeyPolicy, ErrorKind::AccessDenied, "not authorized"),
            caller: Some("arn:aws:sts::111122223333:assumed-role/kms-operator/s".into()),
        };
        let text = error.to_string();
        assert!(text.contains("kms:PutKeyPolicy failed: not authorized"), "{text}");
        assert!(
            text.contains("(arn:aws:sts::111122223333:assumed-role/kms-operator/s) needs kms:PutKeyPolicy"),
            "{text}"
        );
        assert_eq!(error.reason(), Reason::AccessDenied);
        assert!(!error.is_transient());
    }
}
