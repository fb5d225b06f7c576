//! `kmsoperator.dev/v1alpha1`, the version this binary stores and serves: the four kinds and
//! every type of their specs and statuses. A newer version (`v1alpha2`) would sit beside this
//! module with conversions both ways (docs/api.md, "Versions").

mod account;
mod alias;
mod grant;
mod key;
pub mod monitoring;
mod shared;
mod statement;

pub use account::{AccountPermissions, AwsAccount, AwsAccountSpec, AwsAccountStatus};
pub use alias::{KmsAlias, KmsAliasSpec, KmsAliasStatus};
pub use grant::{GrantConstraints, GrantRecord, KmsGrant, KmsGrantSpec, KmsGrantStatus};
pub use key::{
    CreateIntent, DeletionPolicy, DeletionSpec, ExportSpec, ImportSpec, KmsKey, KmsKeySpec, KmsKeyStatus,
    ManagementPolicy, MultiRegionConfiguration, PolicySpec, RegionalKey, ReplicaSpec, ReplicaStatus, RotationRecord,
    RotationSpec, RotationStatus, ServiceAccess,
};
pub use shared::{KeyPointer, KeyReference};
pub use statement::{ConditionValue, ConditionValues, OneOrMany, PolicyStatement, Principal};

/// This version's name. The kinds' `#[kube(version = ...)]` attributes must spell it as a
/// literal; a test holds them to this constant.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as it appears in manifests of this version.
pub const API_VERSION: &str = "kmsoperator.dev/v1alpha1";

#[cfg(test)]
mod tests {
    use kube::Resource;

    use super::*;
    use crate::api::GROUP;

    #[test]
    fn every_kind_is_served_under_this_version() {
        assert_eq!(API_VERSION, format!("{GROUP}/{VERSION}"));
        for api_version in [
            AwsAccount::api_version(&()),
            KmsKey::api_version(&()),
            KmsAlias::api_version(&()),
            KmsGrant::api_version(&()),
        ] {
            assert_eq!(api_version, API_VERSION);
        }
    }
}
