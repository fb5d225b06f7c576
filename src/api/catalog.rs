//! What KMS accepts, in one place: the CRD schema enums and the validation rules both read it.

/// Every key spec KMS knows, with the key usages it allows (aws-sdk-kms `KeySpec`, `KeyUsageType`).
pub const KEY_SPECS: &[(&str, &[&str])] = &[
    ("SYMMETRIC_DEFAULT", &["ENCRYPT_DECRYPT"]),
    ("RSA_2048", &["ENCRYPT_DECRYPT", "SIGN_VERIFY"]),
    ("RSA_3072", &["ENCRYPT_DECRYPT", "SIGN_VERIFY"]),
    ("RSA_4096", &["ENCRYPT_DECRYPT", "SIGN_VERIFY"]),
    ("ECC_NIST_P256", &["SIGN_VERIFY", "KEY_AGREEMENT"]),
    ("ECC_NIST_P384", &["SIGN_VERIFY", "KEY_AGREEMENT"]),
    ("ECC_NIST_P521", &["SIGN_VERIFY", "KEY_AGREEMENT"]),
    ("ECC_NIST_EDWARDS25519", &["SIGN_VERIFY"]),
    ("ECC_SECG_P256K1", &["SIGN_VERIFY"]),
    ("HMAC_224", &["GENERATE_VERIFY_MAC"]),
    ("HMAC_256", &["GENERATE_VERIFY_MAC"]),
    ("HMAC_384", &["GENERATE_VERIFY_MAC"]),
    ("HMAC_512", &["GENERATE_VERIFY_MAC"]),
    ("ML_DSA_44", &["SIGN_VERIFY"]),
    ("ML_DSA_65", &["SIGN_VERIFY"]),
    ("ML_DSA_87", &["SIGN_VERIFY"]),
    ("ML_KEM_512", &["ENCAPSULATE_DECAPSULATE"]),
    ("ML_KEM_768", &["ENCAPSULATE_DECAPSULATE"]),
    ("ML_KEM_1024", &["ENCAPSULATE_DECAPSULATE"]),
    ("SM2", &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"]),
];

pub const KEY_USAGES: &[&str] =
    &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"];

pub const DEFAULT_KEY_SPEC: &str = "SYMMETRIC_DEFAULT";
pub const DEFAULT_KEY_USAGE: &str = "ENCRYPT_DECRYPT";

/// Automatic rotation exists only for symmetric encryption keys.
pub const ROTATABLE_KEY_SPEC: &str = "SYMMETRIC_DEFAULT";

/// Where a key's material comes from (aws-sdk-kms `OriginType`): KMS generates it (`AWS_KMS`),
/// the owner imports it (`EXTERNAL`), or a custom key store holds it (`AWS_CLOUDHSM`,
/// `EXTERNAL_KEY_STORE`).
pub const ORIGINS: &[&str] = &[ORIGIN_AWS_KMS, ORIGIN_EXTERNAL, ORIGIN_CLOUDHSM, ORIGIN_EXTERNAL_KEY_STORE];
pub const ORIGIN_AWS_KMS: &str = "AWS_KMS";
pub const ORIGIN_EXTERNAL: &str = "EXTERNAL";
pub const ORIGIN_CLOUDHSM: &str = "AWS_CLOUDHSM";
pub const ORIGIN_EXTERNAL_KEY_STORE: &str = "EXTERNAL_KEY_STORE";
/// KMS's bounds on `CustomKeyStoreId` and `XksKeyId` (CreateKey API reference).
pub const MAX_CUSTOM_KEY_STORE_ID_CHARS: usize = 64;
pub const MAX_XKS_KEY_ID_CHARS: usize = 128;

/// Whether keys of `origin` live in a custom key store (and need `customKeyStoreId`).
pub fn in_custom_key_store(origin: &str) -> bool {
    origin == ORIGIN_CLOUDHSM || origin == ORIGIN_EXTERNAL_KEY_STORE
}

/// Operations a grant may allow (aws-sdk-kms `GrantOperation`).
pub const GRANT_OPERATIONS: &[&str] = &[
    "CreateGrant",
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "DescribeKey",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GetPublicKey",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "Sign",
    "Verify",
    "VerifyMac",
];

pub const ROTATION_PERIOD_DAYS: std::ops::RangeInclusive<i32> = 90..=2560;
pub const DEFAULT_ROTATION_PERIOD_DAYS: i32 = 365;
pub const PENDING_WINDOW_DAYS: std::ops::RangeInclusive<i32> = 7..=30;
pub const DEFAULT_PENDING_WINDOW_DAYS: i32 = 30;

/// KMS rejects key policies larger than 32 KiB.
pub const MAX_POLICY_BYTES: usize = 32 * 1024;
/// KMS allows 50 tags on a key, ownership tag included.
pub const MAX_TAGS: usize = 50;

/// The tag that records the `rotation.rotateNow` value a key was rotated for.
pub const ROTATE_NOW_TAG: &str = "kmsoperator.dev/rotate-now";
/// Present only while a rotation for `rotation.rotateNow` is under way: how many on-demand
/// rotations the key had before it, so that a pass after a crash can tell whether it happened.
pub const ROTATE_NOW_BASE_TAG: &str = "kmsoperator.dev/rotate-now-base";
/// KMS's lifetime limit of on-demand rotations per key (not adjustable).
pub const MAX_ON_DEMAND_ROTATIONS: u32 = 10;
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 8192;
pub const MAX_ALIAS_NAME_CHARS: usize = 256;
pub const MAX_GRANT_NAME_CHARS: usize = 256;

/// The AWS partition a region belongs to, from its name's prefix. A multi-Region key's
/// replicas must stay in its primary's partition, and ARNs and service endpoints follow it.
pub fn partition_of(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-iso-", "aws-iso"),
        ("us-isob-", "aws-iso-b"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, partition)| partition)
}

/// Bounds of `spec.policy.statements` in the CRD schema. They keep what a tenant can store
/// flat and small enough to parse (the policy itself must fit `MAX_POLICY_BYTES` anyway).
pub const MAX_STATEMENTS: usize = 100;
/// Strings (an ARN is at most 2048 characters) and lists of them inside a statement.
pub const MAX_STATEMENT_STRING_CHARS: usize = 2048;
pub const MAX_STATEMENT_LIST_ITEMS: usize = 500;
/// Condition operators in a statement, and keys per operator.
pub const MAX_CONDITION_ENTRIES: usize = 32;

/// Conditions as Kubernetes bounds `metav1.Condition` (its kubebuilder markers).
pub const MAX_CONDITION_MESSAGE_CHARS: usize = 32768;
pub const MAX_CONDITION_REASON_CHARS: usize = 1024;
/// The largest integer every JSON reader holds exactly (2^53 - 1): the bound of generations.
pub const MAX_JSON_INTEGER: i64 = 9_007_199_254_740_991;

pub fn key_usages_for(key_spec: &str) -> Option<&'static [&'static str]> {
    KEY_SPECS.iter().find(|(spec, _)| *spec == key_spec).map(|(_, usages)| *usages)
}

pub fn key_spec_names() -> impl Iterator<Item = &'static str> {
    KEY_SPECS.iter().map(|(spec, _)| *spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_follow_region_prefixes() {
        assert_eq!(partition_of("ap-southeast-2"), "aws");
        assert_eq!(partition_of("us-east-1"), "aws");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("us-iso-east-1"), "aws-iso");
        assert_eq!(partition_of("us-isob-east-1"), "aws-iso-b");
        assert_eq!(partition_of("eu-isoe-west-1"), "aws-iso-e");
    }
}
