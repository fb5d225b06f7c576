//! Telling a failure to obtain credentials apart from a failure to reach AWS.
//!
//! The SDK resolves credentials just before it sends a request, so missing or unusable
//! credentials surface as a "dispatch failure" that wraps the credential chain's error. Read as
//! a network failure it is retried, then reported on every resource as `NetworkError`; what a
//! user needs instead is one line saying that there are no credentials and how to provide them.
//! The other way round matters as much: a credential source that timed out or answered 5xx is
//! transient and must be retried, never taken as a verdict on the credentials.

use std::error::Error;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_kms::error::{ConnectorError, ProvideErrorMetadata};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;

use super::error::{ErrorKind, describe_source, kind_from_code};

/// Everything the SDK's default chain looks at, in its order, so the user knows where to put them.
pub const NO_CREDENTIALS: &str = "no AWS credentials found (tried environment variables, shared config and credentials \
     files, web identity token, container and instance metadata)";

const TIMED_OUT: &str = "timed out loading AWS credentials";

/// `Some` when `error` or one of its causes is the credential chain's: the kind to report and a
/// one-line message.
pub(super) fn credentials_failure(error: &(dyn Error + 'static)) -> Option<(ErrorKind, String)> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(failure) = current.downcast_ref::<CredentialsError>() {
            return Some(from_provider(failure));
        }
        // The SDK keeps these two error types private, so only their text identifies them.
        let text = current.to_string();
        if text.contains("identity resolver timed out") {
            return Some((ErrorKind::Network, TIMED_OUT.to_owned()));
        }
        if text.contains("no identity resolver") {
            return Some((ErrorKind::Credentials, "no AWS credentials provider is configured".to_owned()));
        }
        cause = current.source();
    }
    None
}

fn from_provider(failure: &CredentialsError) -> (ErrorKind, String) {
    // A provider that needs other credentials first (assume role) wraps that chain's failure:
    // the innermost one is what the user can act on.
    if let Some(inner) = nested_credentials_error(failure) {
        return from_provider(inner);
    }
    match failure {
        CredentialsError::CredentialsNotLoaded(_) => (ErrorKind::Credentials, NO_CREDENTIALS.to_owned()),
        CredentialsError::ProviderTimedOut(_) => (ErrorKind::Network, TIMED_OUT.to_owned()),
        CredentialsError::InvalidConfiguration(_) => {
            (ErrorKind::Credentials, format!("the AWS credentials are misconfigured: {}", causes(failure)))
        }
        other => {
            let kind = transient_cause(other).unwrap_or(ErrorKind::Credentials);
            (kind, format!("could not load AWS credentials: {}", causes(other)))
        }
    }
}

fn nested_credentials_error(failure: &CredentialsError) -> Option<&CredentialsError> {
    let mut cause = failure.source();
    while let Some(current) = cause {
        if let Some(inner) = current.downcast_ref::<CredentialsError>() {
            return Some(inner);
        }
        cause = current.source();
    }
    None
}

/// The credential source's own words, without the chain's generic "an error occurred".
fn causes(failure: &CredentialsError) -> String {
    failure.source().map(describe_source).unwrap_or_else(|| failure.to_string())
}

/// A network failure or a throttled or failing STS behind a credential provider (web identity,
/// assume role): temporary, whatever the provider calls it.
fn transient_cause(failure: &CredentialsError) -> Option<ErrorKind> {
    let mut cause = failure.source();
    while let Some(current) = cause {
        if let Some(connector) = current.downcast_ref::<ConnectorError>()
            && (connector.is_timeout() || connector.is_io())
        {
            return Some(ErrorKind::Network);
        }
        let code = current
            .downcast_ref::<AssumeRoleWithWebIdentityError>()
            .and_then(ProvideErrorMetadata::code)
            .or_else(|| current.downcast_ref::<AssumeRoleError>().and_then(ProvideErrorMetadata::code));
        if let Some(kind) = code.and_then(kind_from_code).filter(|k| k.is_transient()) {
            return Some(kind);
        }
        if current
            .downcast_ref::<AssumeRoleWithWebIdentityError>()
            .is_some_and(|e| e.is_idp_communication_error_exception())
        {
            return Some(ErrorKind::ServerError);
        }
        cause = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_kms::error::ErrorMetadata;
    use aws_sdk_sts::types::error::IdpCommunicationErrorException;

    use super::*;

    fn kind(failure: CredentialsError) -> ErrorKind {
        from_provider(&failure).0
    }

    fn connector_failure(source: CredentialsError) -> ConnectorError {
        ConnectorError::other(Box::new(source), None)
    }

    #[test]
    fn nothing_found_is_a_credentials_failure_that_says_where_it_looked() {
        let (kind, message) =
            credentials_failure(&connector_failure(CredentialsError::not_loaded("no providers"))).unwrap();
        assert_eq!(kind, ErrorKind::Credentials);
        assert_eq!(message, NO_CREDENTIALS);
        for place in ["environment", "config and credentials files", "web identity", "container", "instance metadata"] {
            assert!(message.contains(place), "{message}");
        }
    }

    #[test]
    fn refused_or_misconfigured_credentials_are_credentials_failures() {
        assert_eq!(kind(CredentialsError::invalid_configuration("bad profile")), ErrorKind::Credentials);
        let denied = AssumeRoleError::generic(ErrorMetadata::builder().code("AccessDenied").message("no").build());
        assert_eq!(kind(CredentialsError::provider_error(denied)), ErrorKind::Credentials);
        let (_, message) = from_provider(&CredentialsError::provider_error("the SSO session has expired"));
        assert_eq!(message, "could not load AWS credentials: the SSO session has expired");
    }

    #[test]
    fn a_credential_source_that_timed_out_or_failed_on_its_side_is_transient() {
        assert_eq!(kind(CredentialsError::provider_timed_out(Duration::from_secs(5))), ErrorKind::Network);
        let timeout = ConnectorError::timeout("connect timed out".into());
        assert_eq!(kind(CredentialsError::provider_error(timeout)), ErrorKind::Network);
        let throttled = AssumeRoleError::generic(ErrorMetadata::builder().code("Throttling").build());
        assert_eq!(kind(CredentialsError::provider_error(throttled)), ErrorKind::Throttled);
        let unavailable =
            AssumeRoleWithWebIdentityError::generic(ErrorMetadata::builder().code("ServiceUnavailable").build());
        assert_eq!(kind(CredentialsError::provider_error(unavailable)), ErrorKind::ServerError);
        let idp = AssumeRoleWithWebIdentityError::IdpCommunicationErrorException(
            IdpCommunicationErrorException::builder().message("idp down").build(),
        );
        assert_eq!(kind(CredentialsError::provider_error(idp)), ErrorKind::ServerError);
    }

    #[test]
    fn the_innermost_credentials_failure_wins() {
        // Assume role with no base credentials: the chain under it found nothing.
        let inner = connector_failure(CredentialsError::not_loaded("nothing"));
        let (kind, message) = from_provider(&CredentialsError::provider_error(inner));
        assert_eq!((kind, message.as_str()), (ErrorKind::Credentials, NO_CREDENTIALS));
    }

    #[test]
    fn errors_that_are_not_about_credentials_are_left_alone() {
        assert_eq!(credentials_failure(&ConnectorError::io("connection refused".into())), None);
    }
}
