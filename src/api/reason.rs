//! Every reason the operator gives, in conditions, Events, metrics and JSON output, as one enum.
//! The strings are a contract (API.md, docs/api.md's reason table, which a test holds to this
//! list): a variant's string is its name, and a new reason is a new variant and a new row.

use std::fmt;

use serde::{Serialize, Serializer};

/// Declares `Reason` with its variants' strings (their names) and the list of them all.
macro_rules! reasons {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {
        /// Why a resource is (or is not) ready, synced, refused, blocked or noted.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $($(#[doc = $doc])+ $name,)+
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$name,)+];

            /// The reason as conditions, Events, metrics and JSON output spell it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$name => stringify!($name),)+
                }
            }
        }
    };
}

reasons! {
    // Ready and Synced as they should be.
    /// The key is enabled, the alias points at its key, the grant exists.
    Available,
    /// Live state matches the spec.
    InSync,
    /// A plan found changes that apply would make.
    ChangesPending,
    /// A `managementPolicy: Observe` key differs from its spec (and, as an Event, drift found).
    DriftDetected,
    /// The AwsAccount's credentials reach its account.
    CredentialsValid,
    /// `verifyAccount: false`: the credentials' account was not checked.
    AccountNotVerified,

    // The key's state.
    /// The key is disabled, as `spec.enabled: false` asks.
    KeyDisabled,
    /// The key was disabled outside the operator.
    KeyDisabledOutside,
    /// The key (or a replica) is scheduled for deletion.
    KeyPendingDeletion,
    /// No key exists yet; apply creates one.
    KeyNotCreated,
    /// No key exists (or the KmsKey an alias or grant names does not).
    KeyNotFound,
    /// The key was deleted outside the operator.
    KeyDeleted,
    /// The key was created but the pass stopped before it converged.
    KeyIncomplete,
    /// The key waits for its imported key material (origin EXTERNAL).
    PendingImport,
    /// The key is in a state that cannot be used (Unavailable, Creating, ...).
    KeyNotUsable,
    /// The key could not be read.
    Unknown,
    /// The alias points at another key.
    PointsElsewhere,
    /// The alias does not exist.
    AliasNotFound,
    /// No grant with the declared permissions exists.
    GrantNotFound,

    // Blocked until a human acts.
    /// The key is not owned by this object.
    NotOwned,
    /// Several keys claim this object.
    OwnershipConflict,
    /// The key's ownership tag names another object.
    ClaimConflict,
    /// `import.keyId` names no key.
    ImportNotFound,
    /// The alias name is held by a key the operator may not repoint.
    AliasConflict,
    /// An immutable field differs from the live key.
    ImmutableFieldMismatch,
    /// Rotation cannot change while the key is disabled.
    RotationBlockedByDisabledKey,
    /// A replica is scheduled for deletion.
    ReplicaPendingDeletion,
    /// KMS's limit of on-demand rotations per key is reached.
    RotateNowLimitReached,
    /// The key's origin cannot be rotated on demand.
    RotateNowUnsupported,
    /// A disabled key cannot be rotated on demand.
    RotateNowBlockedByDisabledKey,
    /// `import.keyId` names an AWS managed key.
    AwsManagedKey,
    /// The grant a changed spec replaces could not be retired.
    PreviousGrantLive,
    /// The log group would pass CloudWatch Logs' 100 metric filters.
    MetricFilterLimit,
    /// The key copies watched in one metric would pass 1,000 dimension values.
    DimensionValueLimit,

    // Noted in plans.
    /// A replica of the key exists in a region the spec does not declare.
    UndeclaredReplica,
    /// A replica in the family belongs to someone else.
    ForeignReplica,
    /// Nothing in KMS to delete.
    NothingToDelete,
    /// `managementPolicy: Observe`: nothing is changed.
    ObserveOnly,
    /// `deletion.policy: Retain`: deleting the object leaves the key in KMS.
    Retained,
    /// `plan --base`: an AwsAccount the manifests no longer hold; nothing in KMS changes.
    AccountRemoved,

    // Refused before any AWS call.
    /// The spec is invalid.
    InvalidSpec,
    /// The binary cannot decode the object (a field or value from a newer CRD).
    InvalidObject,
    /// The AwsAccount does not exist.
    AccountNotFound,
    /// The KmsKey an alias or grant names has no key yet.
    KeyNotReady,
    /// The namespace may not use the AwsAccount.
    NamespaceNotAllowed,
    /// The key belongs to another namespace.
    ForeignKey,
    /// The account does not permit what the object declares.
    NotPermitted,

    // Errors of the last attempt.
    /// Something the change needs is not there yet.
    ReferenceNotReady,
    /// Live state still differed after the pass's bounded rounds.
    NotConverged,
    /// The live policy or grant names a deleted IAM principal.
    PrincipalNotFound,
    /// IAM is propagating a principal the policy names.
    PolicyPropagating,
    /// A CreateKey whose answer was lost may still show in ListKeys.
    CreateInQuestion,
    /// The run or controller was stopping before the change started.
    Interrupted,
    /// No credentials, or credentials AWS refuses.
    CredentialsError,
    /// The credentials are in another account than `accountId`.
    WrongAccount,
    /// KMS refused the key policy.
    PolicyRefused,
    /// AWS answered NotFound.
    NotFound,
    /// AWS answered AccessDenied.
    AccessDenied,
    /// AWS kept throttling after the retries.
    Throttled,
    /// KMS refused the call in the key's state.
    InvalidKeyState,
    /// KMS found the policy malformed.
    MalformedPolicy,
    /// The resource already exists.
    AlreadyExists,
    /// An AWS resource quota is used up.
    LimitExceeded,
    /// AWS refused the request as invalid.
    InvalidRequest,
    /// AWS failed on its side.
    ServerError,
    /// AWS could not be reached.
    NetworkError,
    /// Any other AWS error.
    AwsError,

    // The controller's own Events and metrics.
    /// A KmsKey's deletion waits for the aliases and grants that use it.
    WaitingForDependents,
    /// A deletion failed and is retried.
    DeletionRetrying,
    /// An object was let go and what it made is left in KMS.
    LeftInKms,
    /// A key's AwsAccount is gone: its deletion leaves the key as it is.
    AccountGone,
    /// The ConfigMap `spec.export` names exists and is not this KmsKey's export.
    ExportConflict,
    /// The export's ConfigMap could not be written, or the key's aliases listed.
    ExportFailed,
    /// A key usage alarm turned ALARM.
    AlarmFiring,
    /// A key pending deletion was restored.
    Restored,
    /// A duplicate key was scheduled for deletion.
    DuplicateRemoved,
    /// The object changed during the pass; it runs again.
    StaleObject,
    /// The Kubernetes API failed (or could not be reached).
    KubernetesApi,
    /// kms-operator failed internally (a request it could not build, an answer it could not
    /// read): a fault to report, not the resource's.
    InternalError,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl AsRef<str> for Reason {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_spelled_by_its_name() {
        for reason in Reason::ALL {
            assert_eq!(format!("{reason:?}"), reason.as_str());
            assert_eq!(serde_json::to_value(reason).unwrap(), serde_json::json!(reason.as_str()));
        }
        let names: std::collections::BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), Reason::ALL.len());
    }
}
