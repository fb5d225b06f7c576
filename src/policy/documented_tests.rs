//! The builder and the canonical form against what AWS documents, written here as data with
//! its source: the KMS actions that exist, the statements the KMS console writes for key
//! administrators and key users, and the default key policy as KMS itself writes it. The
//! builder's own constants are never the expected value here.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{BuildContext, GRANT_ACTIONS, build, canonical, default_policy, diff, equivalent, use_actions};
use crate::api::PolicySpec;

/// Every KMS API operation (AWS KMS API Reference, "Actions":
/// https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html), each an IAM action
/// of the same name, and the two permission-only actions of the Service Authorization
/// Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html).
const KMS_ACTIONS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decapsulate",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
    // Permission-only.
    "ReEncryptFrom",
    "ReEncryptTo",
];

/// Actions that mean nothing in a key policy: "The kms:CreateKey permission is valid only in an
/// IAM policy", "The kms:ListAliases and kms:ListKeys permissions ... are valid only in IAM
/// policies" (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html),
/// and the actions whose resource is `*`, not a key, in the Service Authorization Reference:
/// custom key stores, random numbers, retirable grants.
const NOT_ON_A_KEY: &[&str] = &[
    "CreateKey",
    "ListAliases",
    "ListKeys",
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "DeleteCustomKeyStore",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "UpdateCustomKeyStore",
    "GenerateRandom",
    "ListRetirableGrants",
];

/// The key administrators statement the KMS console writes ("Allows key administrators to
/// administer the KMS key",
/// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators),
/// for a single-Region symmetric encryption key, with `kms:ReplicateKey` and
/// `kms:UpdatePrimaryRegion`, which the same page says it adds for multi-Region keys.
const CONSOLE_KEY_ADMINISTRATORS: &[&str] = &[
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:ReplicateKey",
    "kms:UpdatePrimaryRegion",
];

/// The console's key users statements by key type (same page, "Allows key users to use a KMS
/// key for cryptographic operations"): (key spec, key usage, actions).
const CONSOLE_KEY_USERS: &[(&str, &str, &[&str])] = &[
    (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        &["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
    ),
    ("HMAC_256", "GENERATE_VERIFY_MAC", &["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"]),
    (
        "RSA_2048",
        "ENCRYPT_DECRYPT",
        &["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey", "kms:GetPublicKey"],
    ),
    ("ECC_NIST_P256", "SIGN_VERIFY", &["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"]),
];

/// The console's statement that lets key users hand the key to AWS services through grants
/// (same page, "Allows key users to use the KMS key with AWS services"), for one user.
fn console_grants_for_aws_services(principal: &str) -> Value {
    json!({
        "Sid": "Allow attachment of persistent resources",
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        "Resource": "*",
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": true}}
    })
}

/// The default key policy of a key created through the API without one, as KMS itself writes
/// it, byte for byte: the `policy` of the PutKeyPolicy CloudTrail example
/// (https://docs.aws.amazon.com/kms/latest/developerguide/ct-put-key-policy.html).
const KMS_DEFAULT_POLICY_TEXT: &str = "{\n \"Version\" : \"2012-10-17\",\n \"Id\" : \"key-default-1\",\n \"Statement\" : [ {\n \"Sid\" : \"Enable IAM User Permissions\",\n \"Effect\" : \"Allow\",\n \"Principal\" : {\n \"AWS\" : \"arn:aws:iam::111122223333:root\"\n },\n \"Action\" : \"kms:*\",\n \"Resource\" : \"*\"\n } ]\n}";

fn context(key_spec: &'static str, key_usage: &'static str) -> BuildContext<'static> {
    BuildContext { account_id: "111122223333", region: "us-west-2", partition: "aws", key_spec, key_usage }
}

/// The KMS actions `pattern` (`kms:Name`, or with `*` at its end) allows.
fn matching(pattern: &str) -> BTreeSet<String> {
    let name = pattern.strip_prefix("kms:").unwrap_or_else(|| panic!("{pattern} is not a KMS action"));
    let matches = |action: &&&str| match name.strip_suffix('*') {
        Some(prefix) => action.starts_with(prefix),
        None => **action == name,
    };
    KMS_ACTIONS.iter().filter(matches).map(|a| format!("kms:{a}")).collect()
}

/// What `patterns` allow on a key.
fn allowed_on_a_key(patterns: &[&str]) -> BTreeSet<String> {
    let on_a_key = |action: &String| !NOT_ON_A_KEY.iter().any(|n| action.strip_prefix("kms:") == Some(n));
    patterns.iter().flat_map(|p| matching(p)).filter(on_a_key).collect()
}

fn set(actions: &[&str]) -> BTreeSet<String> {
    actions.iter().map(|a| (*a).to_owned()).collect()
}

fn statement<'d>(doc: &'d Value, sid: &str) -> &'d Value {
    let statements = doc["Statement"].as_array().expect("statements");
    statements.iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid} in {doc}"))
}

fn built(spec: PolicySpec, ctx: &BuildContext) -> Value {
    build(&spec, ctx)
}

#[test]
fn every_action_the_builder_grants_is_one_kms_defines() {
    let ctx = context("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT");
    let spec = PolicySpec {
        administrators: vec!["arn:aws:iam::111122223333:role/Admin".into()],
        users: vec!["arn:aws:iam::111122223333:role/App".into()],
        trusted_accounts: vec!["444455556666".into()],
        ..PolicySpec::default()
    };
    let mut granted: Vec<String> = Vec::new();
    for statement in built(spec, &ctx)["Statement"].as_array().expect("statements") {
        match &statement["Action"] {
            Value::String(action) => granted.push(action.clone()),
            Value::Array(actions) => granted.extend(actions.iter().filter_map(Value::as_str).map(str::to_owned)),
            other => panic!("{other}"),
        }
    }
    for (key_spec, key_usage) in [
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
        ("ECC_NIST_P384", "KEY_AGREEMENT"),
        ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"),
    ] {
        granted.extend(use_actions(key_spec, key_usage).iter().map(|a| (*a).to_owned()));
    }
    for action in granted.iter().filter(|a| *a != "kms:*") {
        assert!(!matching(action).is_empty(), "{action} names no KMS action");
    }
}

#[test]
fn administrators_get_the_console_statement_less_what_would_let_them_use_the_key() {
    let ctx = context("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT");
    let spec =
        PolicySpec { administrators: vec!["arn:aws:iam::111122223333:role/Admin".into()], ..PolicySpec::default() };
    let doc = built(spec, &ctx);
    let actions = statement(&doc, "AllowKeyAdministration")["Action"].as_array().expect("actions").clone();
    let granted: BTreeSet<String> = actions.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    let console = allowed_on_a_key(CONSOLE_KEY_ADMINISTRATORS);
    // Withheld on purpose: a grant would let an administrator give itself use of the key; the
    // rest serve keys whose material is imported or asymmetric, or report usage.
    let withheld = set(&[
        "kms:CreateGrant",
        "kms:DeleteImportedKeyMaterial",
        "kms:GetKeyLastUsage",
        "kms:GetParametersForImport",
        "kms:GetPublicKey",
    ]);
    let missing: BTreeSet<&String> = console.difference(&granted).collect();
    assert_eq!(missing, withheld.iter().collect(), "console administrator actions not granted");
    // Granted beyond the documented statement: on-demand rotation, which came later (its API
    // reference requires kms:RotateKeyOnDemand in the key policy:
    // https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html), and
    // ListAliases, which AWS documents as meaningful in IAM policies only: harmless on a key.
    let extra: BTreeSet<&String> = granted.difference(&console).collect();
    let beyond = set(&["kms:ListAliases", "kms:RotateKeyOnDemand"]);
    assert_eq!(extra, beyond.iter().collect(), "administrator actions beyond the console's");
    for action in &granted {
        for forbidden in ["Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "Sign", "GenerateMac", "CreateGrant"] {
            assert!(!action.starts_with(&format!("kms:{forbidden}")), "{action}: administration, not use");
        }
    }
}

#[test]
fn users_get_what_the_console_gives_key_users_of_each_key_type() {
    for (key_spec, key_usage, console) in CONSOLE_KEY_USERS {
        let ctx = context(key_spec, key_usage);
        let spec = PolicySpec { users: vec!["arn:aws:iam::111122223333:role/App".into()], ..PolicySpec::default() };
        let doc = built(spec, &ctx);
        let actions = statement(&doc, "AllowKeyUse")["Action"].as_array().expect("actions").clone();
        let granted: BTreeSet<String> = actions.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        assert_eq!(granted, set(console), "{key_spec} {key_usage}");
    }
}

#[test]
fn trusted_accounts_get_the_console_grant_statement_for_aws_services() {
    let ctx = context("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT");
    let spec = PolicySpec { trusted_accounts: vec!["444455556666".into()], ..PolicySpec::default() };
    let doc = built(spec, &ctx);
    let mut ours = statement(&doc, "AllowTrustedAccountGrants").clone();
    let mut console = console_grants_for_aws_services("arn:aws:iam::444455556666:root");
    // Only the statement ids differ.
    ours["Sid"] = json!("S");
    console["Sid"] = json!("S");
    let one = |statement: Value| json!({"Version": "2012-10-17", "Statement": [statement]});
    assert!(equivalent(&one(ours.clone()), &one(console.clone())), "{ours:#}\n{console:#}");
    assert_eq!(set(GRANT_ACTIONS), set(&["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]));
}

#[test]
fn the_default_policy_is_the_one_kms_writes() {
    let written: Value = serde_json::from_str(KMS_DEFAULT_POLICY_TEXT).expect("the documented text is JSON");
    let ours = default_policy(&context("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"));
    assert!(equivalent(&ours, &written), "{ours:#}\n{written:#}");
    assert!(diff(&ours, &written).is_empty());
    assert_eq!(canonical(&ours), canonical(&written));
    // Not by accident of formatting: KMS's text is not ours.
    assert_ne!(super::to_pretty_json(&ours), KMS_DEFAULT_POLICY_TEXT);
    // The builder's root statement is the same grant under the builder's own statement id.
    let root =
        statement(&built(PolicySpec::default(), &context("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")), "EnableRootAccess")
            .clone();
    let mut documented = written["Statement"][0].clone();
    documented["Sid"] = root["Sid"].clone();
    let one = |statement: Value| json!({"Version": "2012-10-17", "Statement": [statement]});
    assert!(equivalent(&one(root), &one(documented)));
}

#[test]
fn a_default_policy_of_another_account_or_with_another_id_is_different() {
    let written: Value = serde_json::from_str(KMS_DEFAULT_POLICY_TEXT).expect("JSON");
    let other_account =
        default_policy(&BuildContext { account_id: "444455556666", ..context("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT") });
    assert!(!equivalent(&other_account, &written));
    let mut console_id = written.clone();
    console_id["Id"] = json!("key-consolepolicy-3");
    assert!(!equivalent(&console_id, &written), "the document Id is part of the policy KMS stores");
}
