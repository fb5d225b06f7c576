//! The versions of `kmsoperator.dev` this binary reads, and the one it works in.

use super::v1alpha1;

/// API group of every kind.
pub const GROUP: &str = "kmsoperator.dev";

/// The stored version's name.
pub const VERSION: &str = v1alpha1::VERSION;
/// `apiVersion` of the stored version, as it appears in manifests.
pub const API_VERSION: &str = ApiVersion::STORED.as_str();

/// A version of the group this binary can read. A manifest of any other version of the group
/// is refused (a newer binary's manifest read by an older one), never guessed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    V1alpha1,
}

impl ApiVersion {
    /// Every version this binary reads, oldest first.
    pub const ALL: &'static [ApiVersion] = &[ApiVersion::V1alpha1];
    /// What the engine, the controller's watches and the CRDs' storage use.
    pub const STORED: ApiVersion = ApiVersion::V1alpha1;

    pub const fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1alpha1 => v1alpha1::API_VERSION,
        }
    }

    /// The version an `apiVersion` names, if this binary knows it.
    pub fn parse(api_version: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|known| known.as_str() == api_version)
    }

    /// Whether an `apiVersion` is of this group (whatever its version).
    pub fn is_of_group(api_version: &str) -> bool {
        api_version.split_once('/').is_some_and(|(group, _)| group == GROUP)
    }

    /// Every known `apiVersion`, for messages.
    pub fn listed() -> String {
        Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_by_their_exact_api_version() {
        assert_eq!(ApiVersion::parse("kmsoperator.dev/v1alpha1"), Some(ApiVersion::V1alpha1));
        for unknown in [
            "kmsoperator.dev/v1alpha2",
            "kmsoperator.dev/v1",
            "kmsoperator.dev",
            "v1alpha1",
            "KmsOperator.dev/v1alpha1",
        ] {
            assert_eq!(ApiVersion::parse(unknown), None, "{unknown}");
        }
        assert!(ApiVersion::is_of_group("kmsoperator.dev/v9"));
        assert!(!ApiVersion::is_of_group("v1") && !ApiVersion::is_of_group("kmsoperator.dev.evil/v1alpha1"));
        assert!(ApiVersion::ALL.iter().any(|v| v.as_str() == API_VERSION), "the stored version is readable");
        assert_eq!(ApiVersion::listed(), "kmsoperator.dev/v1alpha1");
    }
}
