//! The KMS action lists the builder grants.
//!
//! Kept apart from the builder so that the separation of duties is visible in one place:
//! administrators manage the key but cannot encrypt, decrypt or create grants (a grant would
//! let them hand themselves use); users can use the key but cannot change who else may.

/// Managing the key's lifecycle, policy, aliases, tags and rotation. No cryptographic
/// operations and no `kms:CreateGrant`; listing and revoking grants is administration.
pub const ADMINISTRATION_ACTIONS: &[&str] = &[
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReplicateKey",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
];

/// Cryptographic use of a symmetric key, in the order the KMS console writes them.
pub const USE_ACTIONS: &[&str] =
    &["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"];

/// What an AWS service needs on the caller's behalf: use, plus `kms:CreateGrant` because
/// services such as EBS and RDS hold on to a key through grants, not through the caller.
pub const SERVICE_USE_ACTIONS: &[&str] =
    &["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"];

/// Grant management for trusted accounts, only ever granted together with the
/// `kms:GrantIsForAWSResource` condition so the grants can only serve AWS services.
pub const GRANT_ACTIONS: &[&str] = &["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"];

/// Everything, for the owner account's root.
pub const ALL_ACTIONS: &str = "kms:*";

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn is_sorted_and_unique(list: &[&str]) -> bool {
        list.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn administration_is_sorted_unique_and_well_formed() {
        assert_eq!(ADMINISTRATION_ACTIONS.len(), 25);
        assert!(is_sorted_and_unique(ADMINISTRATION_ACTIONS));
        assert!(ADMINISTRATION_ACTIONS.iter().all(|a| a.starts_with("kms:") && !a.contains('*')));
    }

    #[test]
    fn administrators_cannot_use_the_key_or_create_grants() {
        let forbidden = [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ReEncrypt*",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:GenerateDataKey*",
            "kms:GenerateDataKey",
            "kms:CreateGrant",
            "kms:Sign",
            "kms:Verify",
            "kms:*",
        ];
        for action in forbidden {
            assert!(!ADMINISTRATION_ACTIONS.contains(&action), "{action} is not administration");
        }
    }

    #[test]
    fn users_cannot_administer() {
        let admin_only: BTreeSet<_> = ADMINISTRATION_ACTIONS.iter().filter(|a| **a != "kms:DescribeKey").collect();
        assert!(USE_ACTIONS.iter().all(|a| !admin_only.contains(a)));
        assert!(!USE_ACTIONS.contains(&"kms:CreateGrant"));
    }

    #[test]
    fn service_use_is_use_plus_create_grant() {
        let expected: Vec<&str> = USE_ACTIONS.iter().copied().chain(["kms:CreateGrant"]).collect();
        assert_eq!(SERVICE_USE_ACTIONS, expected.as_slice());
    }

    #[test]
    fn grant_actions_are_exactly_the_three_grant_operations() {
        assert_eq!(GRANT_ACTIONS, ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]);
    }
}
