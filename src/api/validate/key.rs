//! Rules on a `KmsKey`: spec and usage, rotation, deletion, description, import, and the
//! policy, tag and replica rules it shares with other files.

use std::ops::RangeInclusive;

use super::Issue;
use super::issue::{Issues, quote, suggest};
use super::meta::issues_for;
use super::names::{check_region, parse_key_target};
use super::policy::{check_policy_document, check_policy_spec};
use super::replicas::check_replicas;
use super::tags::{Ownership, check_tags};
use crate::api::catalog::{
    self, KEY_USAGES, MAX_DESCRIPTION_CHARS, PENDING_WINDOW_DAYS, ROTATABLE_KEY_SPEC, ROTATION_PERIOD_DAYS,
};
use crate::api::{AwsAccountSpec, Kind, KmsKey, KmsKeySpec};

/// All rules on one key. `account` is the referenced AwsAccount's spec when known: it supplies
/// the primary region when the key names none, and the account an imported ARN must be in.
pub fn validate_key(key: &KmsKey, account: Option<&AwsAccountSpec>) -> Vec<Issue> {
    let mut issues = issues_for(Kind::KmsKey, &key.metadata);
    let spec = &key.spec;

    if spec.account_ref.is_empty() {
        issues.add("spec.accountRef", "is empty", "name the AwsAccount the key lives in");
    }
    if let Some(region) = &spec.region {
        check_region(&mut issues, "spec.region", region);
    }
    if let Some(description) = &spec.description {
        check_description(&mut issues, "spec.description", description);
    }
    check_spec_and_usage(&mut issues, spec);
    check_rotation(&mut issues, spec);
    check_deletion(&mut issues, spec);

    let ownership = if spec.import_key_id().is_some() { Ownership::Imported } else { Ownership::Created };
    check_tags(&mut issues, "spec.tags", &spec.tags, ownership, spec.rotate_now().is_some());

    if spec.policy.is_some() && spec.policy_document.is_some() {
        issues.add(
            "spec.policyDocument",
            "is set together with spec.policy",
            "keep one: spec.policy builds the key policy from intent, spec.policyDocument is a raw JSON policy",
        );
    }
    if let Some(policy) = &spec.policy {
        check_policy_spec(&mut issues, "spec.policy", policy);
    }
    if let Some(document) = &spec.policy_document {
        check_policy_document(&mut issues, document);
    }

    let primary_region = spec.region.as_deref().or(account.map(|a| a.region.as_str()));
    check_replicas(&mut issues, spec, primary_region, ownership);
    check_import(&mut issues, spec, primary_region, account);
    if let Some(monitoring) = &spec.monitoring {
        let account = account.map(|a| (spec.account_ref.as_str(), a));
        super::monitoring::check_key_monitoring(&mut issues, monitoring, &spec.key_usage, account);
    }
    issues.into_vec()
}

pub(crate) fn check_description(issues: &mut Issues, field: &str, description: &str) {
    let chars = description.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        issues.add(
            field,
            format!("is {chars} characters, over the KMS limit of {MAX_DESCRIPTION_CHARS}"),
            format!("shorten the description to at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    }
}

fn check_spec_and_usage(issues: &mut Issues, spec: &KmsKeySpec) {
    let key_specs: Vec<&str> = catalog::key_spec_names().collect();
    let usages = catalog::key_usages_for(&spec.key_spec);
    if usages.is_none() {
        issues.add(
            "spec.keySpec",
            format!("{} is not a KMS key spec", quote(&spec.key_spec)),
            suggest(&spec.key_spec, &key_specs),
        );
    }
    if !KEY_USAGES.contains(&spec.key_usage.as_str()) {
        issues.add(
            "spec.keyUsage",
            format!("{} is not a KMS key usage", quote(&spec.key_usage)),
            suggest(&spec.key_usage, KEY_USAGES),
        );
    } else if let Some(usages) = usages
        && !usages.contains(&spec.key_usage.as_str())
    {
        issues.add(
            "spec.keyUsage",
            format!("{} is not a usage KMS allows for keySpec {}", quote(&spec.key_usage), quote(&spec.key_spec)),
            format!("use {} with {}, or choose another keySpec", usages.join(" or "), spec.key_spec),
        );
    }
}

fn check_rotation(issues: &mut Issues, spec: &KmsKeySpec) {
    let Some(rotation) = &spec.rotation else {
        return;
    };
    let known_spec = catalog::key_usages_for(&spec.key_spec).is_some();
    if rotation.enabled == Some(true) && known_spec && spec.key_spec != ROTATABLE_KEY_SPEC {
        issues.add(
            "spec.rotation.enabled",
            format!(
                "is true, but KMS rotates only {ROTATABLE_KEY_SPEC} keys and this key's keySpec is {}",
                quote(&spec.key_spec)
            ),
            format!("set rotation.enabled: false or remove it (it defaults to false for {})", spec.key_spec),
        );
    }
    if let Some(days) = rotation.period_days {
        check_days(
            issues,
            "spec.rotation.periodDays",
            days,
            &ROTATION_PERIOD_DAYS,
            catalog::DEFAULT_ROTATION_PERIOD_DAYS,
        );
    }
    if spec.rotate_now().is_some() {
        check_rotate_now(issues, spec, known_spec);
    }
}

/// Only the keys KMS rotates can be rotated on demand.
fn check_rotate_now(issues: &mut Issues, spec: &KmsKeySpec, known_spec: bool) {
    if known_spec && spec.key_spec != ROTATABLE_KEY_SPEC {
        issues.add(
            "spec.rotation.rotateNow",
            format!(
                "is set, but KMS rotates on demand only {ROTATABLE_KEY_SPEC} keys and this key's keySpec is {}",
                quote(&spec.key_spec)
            ),
            "remove rotation.rotateNow",
        );
    }
}

fn check_deletion(issues: &mut Issues, spec: &KmsKeySpec) {
    if let Some(days) = spec.deletion.as_ref().and_then(|d| d.pending_window_days) {
        check_days(
            issues,
            "spec.deletion.pendingWindowDays",
            days,
            &PENDING_WINDOW_DAYS,
            catalog::DEFAULT_PENDING_WINDOW_DAYS,
        );
    }
}

fn check_days(issues: &mut Issues, field: &str, days: i32, range: &RangeInclusive<i32>, default: i32) {
    if !range.contains(&days) {
        let (min, max) = (range.start(), range.end());
        issues.add(
            field,
            format!("{days} is outside {min}..{max}"),
            format!("set a value from {min} to {max} days (default {default})"),
        );
    }
}

fn check_import(
    issues: &mut Issues,
    spec: &KmsKeySpec,
    primary_region: Option<&str>,
    account: Option<&AwsAccountSpec>,
) {
    let Some(key_id) = spec.import_key_id() else {
        return;
    };
    let field = "spec.import.keyId";
    let Some(target) = parse_key_target(key_id) else {
        issues.add(
            field,
            format!("{} is neither a key id nor a key ARN", quote(key_id)),
            "use the key id (1234abcd-12ab-34cd-56ef-1234567890ab, or mrk-<32 hex> for multi-Region keys) or its ARN arn:aws:kms:<region>:<account>:key/<id>; aliases are not accepted",
        );
        return;
    };
    if let Some(arn) = target.arn {
        if let Some(primary) = primary_region
            && arn.region != primary
        {
            issues.add(
                field,
                format!("is a key in {}, but this KmsKey's region is {primary:?}", quote(arn.region)),
                format!("set spec.region: {}, or import the key that lives in {primary}", arn.region),
            );
        }
        if let Some(account) = account
            && arn.account != account.account_id
        {
            issues.add(
                field,
                format!(
                    "is a key in account {}, but AwsAccount {} is account {}",
                    quote(arn.account),
                    quote(&spec.account_ref),
                    quote(&account.account_id)
                ),
                "point spec.accountRef at an AwsAccount for the key's account",
            );
        }
    }
    if target.is_multi_region() && !spec.multi_region {
        issues.add(
            "spec.multiRegion",
            format!("is false, but import.keyId {} is a multi-Region key", quote(key_id)),
            "set spec.multiRegion: true to match the imported key",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{ACCOUNT_ID, account_spec, assert_clean, assert_issue, assert_no_issue_on, key};
    use super::*;

    const KEY: &str = "KmsKey platform-kms/datamesh";
    const UUID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn the_api_example_is_valid() {
        let spec = r#"
accountRef: core-security
region: ap-southeast-2
description: "Data Mesh Manager prod: RDS, ECS logs, Secrets Manager"
keySpec: SYMMETRIC_DEFAULT
keyUsage: ENCRYPT_DECRYPT
multiRegion: true
enabled: true
rotation: {enabled: true, periodDays: 365}
deletion: {policy: Retain, pendingWindowDays: 30}
tags: {Environment: prod, Application: datamesh-manager}
policy:
  accountRoot: true
  administrators: [arn:aws:iam::484357440923:role/PlatformKmsAdmin]
  users: [arn:aws:iam::339712836516:role/datamesh-ecs-task]
  trustedAccounts: ["339712836516"]
  services:
    - name: rds
      callerAccounts: ["339712836516"]
    - name: logs
  statements: []
policyDocument: ""
replicas:
  - region: us-west-2
    description: ""
    tags: {}
import: {keyId: ""}
managementPolicy: Manage
"#;
        assert_clean(&validate_key(&key(spec), Some(&account_spec())));
    }

    #[test]
    fn missing_account_ref_and_bad_name() {
        let mut k = key("{accountRef: ''}");
        k.metadata.name = Some("Data_Mesh".into());
        let issues = validate_key(&k, None);
        assert_issue(&issues, "KmsKey platform-kms/Data_Mesh", "spec.accountRef", &["empty"], "AwsAccount");
        assert_issue(&issues, "KmsKey platform-kms/Data_Mesh", "metadata.name", &["\"Data_Mesh\""], "lowercase");
    }

    #[test]
    fn pending_window_outside_7_to_30() {
        for days in [6, 31] {
            let issues =
                validate_key(&key(&format!("{{accountRef: core, deletion: {{pendingWindowDays: {days}}}}}")), None);
            assert_issue(
                &issues,
                KEY,
                "spec.deletion.pendingWindowDays",
                &[&format!("{days} is outside 7..30")],
                "from 7 to 30",
            );
        }
        assert_clean(&validate_key(&key("{accountRef: core, deletion: {pendingWindowDays: 7}}"), None));
    }

    #[test]
    fn rotation_period_outside_90_to_2560() {
        let issues = validate_key(&key("{accountRef: core, rotation: {periodDays: 30}}"), None);
        let issue =
            assert_issue(&issues, KEY, "spec.rotation.periodDays", &["30 is outside 90..2560"], "from 90 to 2560");
        assert_eq!(
            issue.to_string(),
            "KmsKey platform-kms/datamesh: spec.rotation.periodDays: 30 is outside 90..2560. Fix: set a value from 90 to 2560 days (default 365)."
        );
        assert_issue(
            &validate_key(&key("{accountRef: core, rotation: {periodDays: 2561}}"), None),
            KEY,
            "spec.rotation.periodDays",
            &["2561"],
            "90 to 2560",
        );
    }

    #[test]
    fn rotation_enabled_on_an_asymmetric_key() {
        let issues = validate_key(
            &key("{accountRef: core, keySpec: RSA_2048, keyUsage: SIGN_VERIFY, rotation: {enabled: true}}"),
            None,
        );
        assert_issue(
            &issues,
            KEY,
            "spec.rotation.enabled",
            &["SYMMETRIC_DEFAULT", "\"RSA_2048\""],
            "rotation.enabled: false",
        );
    }

    #[test]
    fn rotate_now_only_on_keys_kms_rotates() {
        let issues = validate_key(
            &key("{accountRef: core, keySpec: RSA_2048, keyUsage: SIGN_VERIFY, rotation: {rotateNow: CHG-1}}"),
            None,
        );
        assert_issue(&issues, KEY, "spec.rotation.rotateNow", &["SYMMETRIC_DEFAULT", "\"RSA_2048\""], "remove");
        assert_clean(&validate_key(&key("{accountRef: core, rotation: {rotateNow: 'ticket #42, any text'}}"), None));
        assert_clean(&validate_key(
            &key("{accountRef: core, keySpec: RSA_2048, keyUsage: SIGN_VERIFY, rotation: {rotateNow: ''}}"),
            None,
        ));
    }

    #[test]
    fn rotate_now_leaves_room_for_its_two_tags() {
        let tags: Vec<String> = (0..48).map(|i| format!("T{i}: v")).collect();
        let spec = format!("{{accountRef: core, tags: {{{}}}, rotation: {{rotateNow: x}}}}", tags.join(", "));
        assert_issue(
            &validate_key(&key(&spec), None),
            KEY,
            "spec.tags",
            &["48 tags", "47"],
            "kmsoperator.dev/rotate-now",
        );
        let without = format!("{{accountRef: core, tags: {{{}}}}}", tags.join(", "));
        assert_clean(&validate_key(&key(&without), None));
    }

    #[test]
    fn rotation_period_with_rotation_disabled_is_fine() {
        assert_clean(&validate_key(&key("{accountRef: core, rotation: {enabled: false, periodDays: 180}}"), None));
        assert_clean(&validate_key(
            &key("{accountRef: core, keySpec: HMAC_256, keyUsage: GENERATE_VERIFY_MAC, rotation: {enabled: false}}"),
            None,
        ));
    }

    #[test]
    fn unknown_key_spec_suggests_the_closest() {
        let issues = validate_key(&key("{accountRef: core, keySpec: symmetric_default}"), None);
        assert_issue(
            &issues,
            KEY,
            "spec.keySpec",
            &["\"symmetric_default\" is not a KMS key spec"],
            "did you mean SYMMETRIC_DEFAULT?",
        );
        assert_no_issue_on(&issues, "spec.keyUsage");
    }

    #[test]
    fn unknown_key_usage_lists_the_usages() {
        let issues = validate_key(&key("{accountRef: core, keyUsage: ENCRYPT}"), None);
        assert_issue(
            &issues,
            KEY,
            "spec.keyUsage",
            &["\"ENCRYPT\" is not a KMS key usage"],
            "ENCRYPT_DECRYPT, SIGN_VERIFY",
        );
    }

    #[test]
    fn spec_and_usage_combination_kms_rejects() {
        let issues = validate_key(&key("{accountRef: core, keySpec: ECC_NIST_P256, keyUsage: ENCRYPT_DECRYPT}"), None);
        assert_issue(
            &issues,
            KEY,
            "spec.keyUsage",
            &["\"ENCRYPT_DECRYPT\"", "\"ECC_NIST_P256\""],
            "use SIGN_VERIFY or KEY_AGREEMENT with ECC_NIST_P256",
        );
        assert_clean(&validate_key(&key("{accountRef: core, keySpec: RSA_4096, keyUsage: SIGN_VERIFY}"), None));
    }

    #[test]
    fn description_over_8192_characters() {
        let spec = format!("{{accountRef: core, description: '{}'}}", "d".repeat(8193));
        let issues = validate_key(&key(&spec), None);
        assert_issue(&issues, KEY, "spec.description", &["8193 characters"], "at most 8192");
    }

    #[test]
    fn key_region_must_look_like_a_region() {
        let issues = validate_key(&key("{accountRef: core, region: sydney}"), None);
        assert_issue(&issues, KEY, "spec.region", &["\"sydney\" is not an AWS region"], "ap-southeast-2");
    }

    #[test]
    fn import_key_id_must_be_an_id_or_key_arn() {
        let issues = validate_key(&key("{accountRef: core, import: {keyId: alias/foo}}"), None);
        assert_issue(
            &issues,
            KEY,
            "spec.import.keyId",
            &["\"alias/foo\" is neither a key id nor a key ARN"],
            "arn:aws:kms:",
        );
        assert_clean(&validate_key(&key(&format!("{{accountRef: core, import: {{keyId: {UUID}}}}}")), None));
    }

    #[test]
    fn imported_arn_must_match_region_and_account() {
        let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{UUID}");
        let issues =
            validate_key(&key(&format!("{{accountRef: core, import: {{keyId: '{arn}'}}}}")), Some(&account_spec()));
        let region = issues.iter().find(|i| i.problem.contains("region is")).expect("region mismatch");
        assert!(region.to_string().contains("\"us-east-1\""), "{region}");
        assert!(region.fix.contains("spec.region: us-east-1"), "{region}");
        let account = issues.iter().find(|i| i.problem.contains("account")).expect("account mismatch");
        assert!(account.problem.contains(ACCOUNT_ID) && account.problem.contains("111122223333"), "{account}");
        assert_eq!(account.field, "spec.import.keyId");
    }

    #[test]
    fn imported_multi_region_key_needs_multi_region() {
        let issues =
            validate_key(&key("{accountRef: core, import: {keyId: mrk-1234abcd12ab34cd56ef1234567890ab}}"), None);
        assert_issue(&issues, KEY, "spec.multiRegion", &["multi-Region key"], "multiRegion: true");
    }
}
