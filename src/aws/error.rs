//! AWS errors, sorted into the few kinds the engine reacts to differently.

use std::fmt;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};

use super::credentials::credentials_failure;
use super::operation::Op;
use crate::api::Reason;

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
    /// Credentials could not be found, were refused (expired, invalid, bad signature) or the role
    /// could not be assumed.
    Credentials,
    /// The operator withheld the request before it was sent (`CallContext::call_guarded`):
    /// nothing reached AWS.
    NotSent,
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
    pub fn reason(&self) -> Reason {
        match self.kind {
            ErrorKind::NotFound => Reason::NotFound,
            ErrorKind::AccessDenied => Reason::AccessDenied,
            ErrorKind::Throttled => Reason::Throttled,
            ErrorKind::InvalidState => Reason::InvalidKeyState,
            ErrorKind::MalformedPolicy => Reason::MalformedPolicy,
            ErrorKind::AlreadyExists => Reason::AlreadyExists,
            ErrorKind::LimitExceeded => Reason::LimitExceeded,
            ErrorKind::Invalid => Reason::InvalidRequest,
            ErrorKind::ServerError => Reason::ServerError,
            ErrorKind::Network => Reason::NetworkError,
            ErrorKind::Credentials => Reason::CredentialsError,
            ErrorKind::NotSent | ErrorKind::Other => Reason::AwsError,
        }
    }

    pub fn is_invalid_principal(&self) -> bool {
        self.kind == ErrorKind::MalformedPolicy && self.message.to_ascii_lowercase().contains("principal")
    }
}

pub(super) fn kind_from_code(code: &str) -> Option<ErrorKind> {
    let kind = match code {
        // CloudWatch says ResourceNotFound, CloudWatch Logs ResourceNotFoundException.
        "NotFoundException" | "ResourceNotFound" | "ResourceNotFoundException" => ErrorKind::NotFound,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" | "NotAuthorizedException" => {
            ErrorKind::AccessDenied
        }
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            ErrorKind::Throttled
        }
        "KMSInvalidStateException" | "DisabledException" => ErrorKind::InvalidState,
        "MalformedPolicyDocumentException" => ErrorKind::MalformedPolicy,
        "AlreadyExistsException" => ErrorKind::AlreadyExists,
        "LimitExceededException" | "LimitExceeded" => ErrorKind::LimitExceeded,
        "KMSInternalException"
        | "DependencyTimeoutException"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "InternalServerError"
        | "InternalServiceFault"
        | "InternalServiceError"
        | "ServiceUnavailableException"
        // CloudWatch Logs: another change to the same resource is under way; nothing happened.
        | "OperationAbortedException" => ErrorKind::ServerError,
        "InvalidArnException"
        | "InvalidAliasNameException"
        | "InvalidGrantIdException"
        | "InvalidGrantTokenException"
        | "InvalidMarkerException"
        | "ValidationException"
        | "UnsupportedOperationException"
        | "TagException"
        | "SerializationException"
        | "InvalidParameterValue"
        | "InvalidParameterCombination"
        | "MissingParameter"
        | "InvalidParameterException" => ErrorKind::Invalid,
        "ExpiredTokenException"
        | "ExpiredToken"
        | "InvalidClientTokenId"
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
    if let SdkError::ServiceError(service) = &error {
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
        return AwsError { op, kind, code, message };
    }
    // Credentials are resolved before the request is sent: their failures arrive as dispatch
    // failures, and must not be read as network trouble.
    if let Some((kind, message)) = credentials_failure(&error) {
        return AwsError::new(op, kind, message);
    }
    match &error {
        SdkError::TimeoutError(_) => AwsError::new(op, ErrorKind::Network, "timed out waiting for AWS"),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_user() { ErrorKind::Invalid } else { ErrorKind::Network };
            AwsError::new(op, kind, describe_source(&error))
        }
        SdkError::ResponseError(_) => AwsError::new(op, ErrorKind::ServerError, describe_source(&error)),
        SdkError::ConstructionFailure(_) => AwsError::new(op, ErrorKind::Invalid, describe_source(&error)),
        _ => AwsError::new(op, ErrorKind::Other, describe_source(&error)),
    }
}

/// The whole chain of causes: the SDK's top-level message alone ("dispatch failure") says nothing.
pub(super) fn describe_source(error: &(dyn std::error::Error + 'static)) -> String {
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
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_kms::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_sts::config::http::HttpResponse;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;

    use super::*;

    type StsError = SdkError<GetCallerIdentityError>;

    fn answered(status: u16, code: Option<&str>) -> StsError {
        let mut meta = ErrorMetadata::builder().message("from STS");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let status = status.try_into().unwrap();
        SdkError::service_error(GetCallerIdentityError::generic(meta.build()), HttpResponse::new(status, "".into()))
    }

    fn identity_kind(error: StsError) -> ErrorKind {
        classify(Op::GetCallerIdentity, error).kind
    }

    #[test]
    fn refused_or_missing_credentials_are_credentials_failures() {
        for code in [
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
            "InvalidSignatureException",
            "MissingAuthenticationToken",
        ] {
            assert_eq!(identity_kind(answered(403, Some(code))), ErrorKind::Credentials, "{code}");
        }
        let missing = ConnectorError::other(Box::new(CredentialsError::not_loaded("no providers")), None);
        let error = classify(Op::ListKeys, StsError::dispatch_failure(missing));
        assert_eq!(error.kind, ErrorKind::Credentials);
        assert!(!error.kind.is_transient());
        assert_eq!(error.to_string(), format!("kms:ListKeys failed: {}", crate::aws::NO_CREDENTIALS));
    }

    #[test]
    fn timeouts_server_errors_dropped_connections_and_throttling_are_transient() {
        let transient = [
            answered(500, Some("InternalFailure")),
            answered(503, Some("ServiceUnavailable")),
            answered(502, None),
            answered(400, Some("Throttling")),
            answered(429, None),
            StsError::timeout_error("attempt timed out"),
            StsError::dispatch_failure(ConnectorError::io("connection reset by peer".into())),
            StsError::dispatch_failure(ConnectorError::timeout("connect timed out".into())),
        ];
        for error in transient {
            let text = format!("{error:?}");
            let kind = identity_kind(error);
            assert!(kind.is_transient(), "{text} is {kind:?}");
            assert_ne!(kind, ErrorKind::Credentials);
        }
    }

    #[test]
    fn a_request_that_could_not_be_built_is_not_a_credentials_failure() {
        let bad = StsError::dispatch_failure(ConnectorError::user("invalid header value".into()));
        assert_eq!(identity_kind(bad), ErrorKind::Invalid);
        assert_eq!(identity_kind(StsError::construction_failure("no region")), ErrorKind::Invalid);
    }

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
