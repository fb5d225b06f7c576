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

/// Encryption with an asymmetric key: no data keys, and the public key is part of use.
const ASYMMETRIC_ENCRYPTION_ACTIONS: &[&str] =
    &["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GetPublicKey", "kms:DescribeKey"];
const SIGNING_ACTIONS: &[&str] = &["kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"];
const MAC_ACTIONS: &[&str] = &["kms:GenerateMac", "kms:VerifyMac", "kms:DescribeKey"];
const KEY_AGREEMENT_ACTIONS: &[&str] = &["kms:DeriveSharedSecret", "kms:GetPublicKey", "kms:DescribeKey"];
const ENCAPSULATION_ACTIONS: &[&str] = &["kms:Decapsulate", "kms:GetPublicKey", "kms:DescribeKey"];

/// What "use" means for a key of this spec and usage: a signing key cannot encrypt, an HMAC
/// key only makes and checks MACs.
pub fn use_actions(key_spec: &str, key_usage: &str) -> &'static [&'static str] {
    match key_usage {
        "SIGN_VERIFY" => SIGNING_ACTIONS,
        "GENERATE_VERIFY_MAC" => MAC_ACTIONS,
        "KEY_AGREEMENT" => KEY_AGREEMENT_ACTIONS,
        "ENCAPSULATE_DECAPSULATE" => ENCAPSULATION_ACTIONS,
        _ if key_spec != "SYMMETRIC_DEFAULT" => ASYMMETRIC_ENCRYPTION_ACTIONS,
        _ => USE_ACTIONS,
    }
}

/// Grant management for trusted accounts, only ever granted together with the
/// `kms:GrantIsForAWSResource` condition so the grants can only serve AWS services.
pub const GRANT_ACTIONS: &[&str] = &["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"];

/// Everything, for the owner account's root.
pub const ALL_ACTIONS: &str = "kms:*";

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn use_follows_the_key_usage() {
        assert_eq!(use_actions("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), USE_ACTIONS);
        assert!(use_actions("RSA_2048", "ENCRYPT_DECRYPT").contains(&"kms:GetPublicKey"));
        assert!(!use_actions("RSA_2048", "ENCRYPT_DECRYPT").contains(&"kms:GenerateDataKey*"));
        assert!(use_actions("ECC_NIST_P256", "SIGN_VERIFY").contains(&"kms:Sign"));
        assert!(!use_actions("ECC_NIST_P256", "SIGN_VERIFY").contains(&"kms:Decrypt"));
        assert_eq!(use_actions("HMAC_256", "GENERATE_VERIFY_MAC"), MAC_ACTIONS);
        assert!(use_actions("ECC_NIST_P384", "KEY_AGREEMENT").contains(&"kms:DeriveSharedSecret"));
        assert!(use_actions("ML_KEM_768", "ENCAPSULATE_DECAPSULATE").contains(&"kms:Decapsulate"));
    }

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
    fn grant_actions_are_exactly_the_three_grant_operations() {
        assert_eq!(GRANT_ACTIONS, ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]);
    }
}
