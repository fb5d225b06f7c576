//! AWS errors, sorted into the few kinds the engine reacts to differently.

use std::fmt;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};

use super::operation::Op;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    AccessDenied,
    /// The request rate was too high; the request had no effect.
    Throttled,
    /// The key's state does not allow the operation (disabled, pending deletion, ...).
    InvalidState,
    /// KMS refused the policy; just-created IAM principals are refused this way until IAM propagates.
    MalformedPolicy,
    AlreadyExists,
    /// A resource quota (keys, aliases, grants) is used up.
    LimitExceeded,
    /// The request itself is wrong (bad id, bad parameter, unsupported operation).
    Invalid,
    /// A server-side failure (5xx); a write may or may not have happened.
    ServerError,
    /// The connection failed or timed out; a write may or may not have happened.
    Network,
    /// Credentials could not be found or the role could not be assumed.
    Credentials,
    Other,
}

impl ErrorKind {
    /// Failures that say nothing about the request and go away by themselves.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::ServerError | ErrorKind::Network)
    }

    /// After these, a write that is not idempotent may or may not have taken effect.
    pub fn outcome_unknown(self) -> bool {
        matches!(self, ErrorKind::ServerError | ErrorKind::Network)
    }
}

/// One failed AWS call: which operation, what kind of failure, and AWS's own words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct AwsError {
    pub op: Op,
    pub kind: ErrorKind,
    /// AWS's error code, e.g. `AccessDeniedException`.
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.op.iam_action(), self.message),
            None => write!(f, "{} failed: {}", self.op.iam_action(), self.message),
        }
    }
}

impl AwsError {
    pub fn new(op: Op, kind: ErrorKind, message: impl Into<String>) -> Self {
        AwsError { op, kind, code: None, message: message.into() }
    }

    /// A short CamelCase reason for conditions and metrics.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ErrorKind::NotFound => "NotFound",
            ErrorKind::AccessDenied => "AccessDenied",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::InvalidState => "InvalidKeyState",
            ErrorKind::MalformedPolicy => "MalformedPolicy",
            ErrorKind::AlreadyExists => "AlreadyExists",
            ErrorKind::LimitExceeded => "LimitExceeded",
            ErrorKind::Invalid => "InvalidRequest",
            ErrorKind::ServerError => "ServerError",
            ErrorKind::Network => "NetworkError",
            ErrorKind::Credentials => "CredentialsError",
            ErrorKind::Other => "AwsError",
        }
    }

    pub fn is_invalid_principal(&self) -> bool {
        self.kind == ErrorKind::MalformedPolicy && self.message.to_ascii_lowercase().contains("principal")
    }
}

fn kind_from_code(code: &str) -> Option<ErrorKind> {
    let kind = match code {
        "NotFoundException" => ErrorKind::NotFound,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" | "NotAuthorizedException" => {
            ErrorKind::AccessDenied
        }
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            ErrorKind::Throttled
        }
        "KMSInvalidStateException" | "DisabledException" => ErrorKind::InvalidState,
        "MalformedPolicyDocumentException" => ErrorKind::MalformedPolicy,
        "AlreadyExistsException" => ErrorKind::AlreadyExists,
        "LimitExceededException" => ErrorKind::LimitExceeded,
        "KMSInternalException"
        | "DependencyTimeoutException"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "InternalServerError" => ErrorKind::ServerError,
        "InvalidArnException"
        | "InvalidAliasNameException"
        | "InvalidGrantIdException"
        | "InvalidGrantTokenException"
        | "InvalidMarkerException"
        | "ValidationException"
        | "UnsupportedOperationException"
        | "TagException"
        | "InvalidClientTokenId"
        | "SerializationException" => ErrorKind::Invalid,
        "ExpiredTokenException"
        | "ExpiredToken"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => ErrorKind::Credentials,
        _ => return None,
    };
    Some(kind)
}

/// Sorts an SDK error by what the engine should do about it.
pub fn classify<E>(op: Op, error: SdkError<E>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().map(str::to_owned);
            let message = service.err().message().unwrap_or("no message").to_owned();
            let kind = code.as_deref().and_then(kind_from_code).unwrap_or(match status {
                429 => ErrorKind::Throttled,
                500..=599 => ErrorKind::ServerError,
                403 => ErrorKind::AccessDenied,
                404 => ErrorKind::NotFound,
                _ => ErrorKind::Other,
            });
            AwsError { op, kind, code, message }
        }
        SdkError::TimeoutError(_) => AwsError::new(op, ErrorKind::Network, "timed out waiting for AWS"),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_user() { ErrorKind::Credentials } else { ErrorKind::Network };
            AwsError::new(op, kind, describe_source(&error))
        }
        SdkError::ResponseError(_) => AwsError::new(op, ErrorKind::ServerError, describe_source(&error)),
        SdkError::ConstructionFailure(_) => AwsError::new(op, ErrorKind::Credentials, describe_source(&error)),
        _ => AwsError::new(op, ErrorKind::Other, describe_source(&error)),
    }
}

/// The whole chain of causes: the SDK's top-level message alone ("dispatch failure") says nothing.
fn describe_source(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_from_code("ThrottlingException"), Some(ErrorKind::Throttled));
        assert_eq!(kind_from_code("KMSInvalidStateException"), Some(ErrorKind::InvalidState));
        assert_eq!(kind_from_code("MalformedPolicyDocumentException"), Some(ErrorKind::MalformedPolicy));
        assert_eq!(kind_from_code("LimitExceededException"), Some(ErrorKind::LimitExceeded));
        assert_eq!(kind_from_code("SomethingNew"), None);
    }

    #[test]
    fn invalid_principal_is_recognised_from_the_message() {
        let error = AwsError {
            op: Op::PutKeyPolicy,
            kind: ErrorKind::MalformedPolicy,
            code: Some("MalformedPolicyDocumentException".into()),
            message: "Policy contains a statement with one or more invalid principals.".into(),
        };
        assert!(error.is_invalid_principal());
        assert_eq!(
            error.to_string(),
            "kms:PutKeyPolicy failed: MalformedPolicyDocumentException: Policy contains a statement with one or more invalid principals."
        );
        let other = AwsError { message: "The policy is too long".into(), ..error };
        assert!(!other.is_invalid_principal());
    }

    #[test]
    fn only_server_and_network_failures_leave_the_outcome_unknown() {
        assert!(ErrorKind::Network.outcome_unknown());
        assert!(ErrorKind::ServerError.outcome_unknown());
        assert!(!ErrorKind::Throttled.outcome_unknown(), "a throttled request was rejected before it ran");
        assert!(ErrorKind::Throttled.is_transient());
        assert!(!ErrorKind::AccessDenied.is_transient());
    }
}
