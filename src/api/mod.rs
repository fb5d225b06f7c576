//! The custom resources of `kmsoperator.dev/v1alpha1`, exactly as `API.md` names them,
//! plus the one set of validation rules every front door uses.

mod account;
mod alias;
pub mod catalog;
pub mod conditions;
pub mod crds;
mod grant;
mod key;
pub mod monitoring;
mod object;
pub mod reason;
mod schema;
mod serde_helpers;
mod shared;
mod statement;
pub mod status;
pub mod tenancy;
pub mod validate;

pub use account::{AccountPermissions, AwsAccount, AwsAccountSpec, AwsAccountStatus};
pub use alias::{KmsAlias, KmsAliasSpec, KmsAliasStatus};
pub use grant::{GrantConstraints, GrantRecord, KmsGrant, KmsGrantSpec, KmsGrantStatus};
pub use key::{
    CreateIntent, DeletionPolicy, DeletionSpec, ExportSpec, ImportSpec, KmsKey, KmsKeySpec, KmsKeyStatus,
    ManagementPolicy, MultiRegionConfiguration, PolicySpec, RegionalKey, ReplicaSpec, ReplicaStatus, RotationRecord,
    RotationSpec, RotationStatus, ServiceAccess,
};
pub use object::{Kind, ObjectName};
pub use reason::Reason;
pub use shared::{KeyPointer, KeyReference};
pub use statement::{ConditionValue, ConditionValues, OneOrMany, PolicyStatement, Principal};

/// API group of every kind.
pub const GROUP: &str = "kmsoperator.dev";
/// The only served version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as it appears in manifests.
pub const API_VERSION: &str = "kmsoperator.dev/v1alpha1";
