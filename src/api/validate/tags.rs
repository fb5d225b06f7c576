//! Tag rules for keys and replicas: KMS's limits and the prefixes nobody else may use.

use std::collections::BTreeMap;

use super::issue::{Issues, quote};
use super::path;
use crate::api::catalog::{MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS, ROTATE_NOW_BASE_TAG, ROTATE_NOW_TAG};

/// The tag the operator adds to every key it creates, which counts against KMS's limit.
pub const OWNER_TAG: &str = "kmsoperator.dev/owner";
const OPERATOR_PREFIX: &str = "kmsoperator.dev/";
const AWS_PREFIX: &str = "aws:";

/// Whether the operator will add its ownership tag to the key these tags go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ownership {
    /// The operator creates the key and tags it as its own.
    Created,
    /// The key exists already (`import.keyId`); its user tags may use the whole limit.
    Imported,
}

/// `rotate_now`: the key rotates on demand, so the operator keeps its rotation tags on it.
pub(crate) fn check_tags(
    issues: &mut Issues,
    field: &str,
    tags: &BTreeMap<String, String>,
    ownership: Ownership,
    rotate_now: bool,
) {
    // What the operator adds to the key: how many tags, and in words.
    let mut operator_tags: Vec<(usize, String)> = Vec::new();
    if ownership == Ownership::Created {
        operator_tags.push((1, format!("its ownership tag {OWNER_TAG} to keys it creates")));
    }
    if rotate_now {
        operator_tags.push((2, format!("{ROTATE_NOW_TAG} and {ROTATE_NOW_BASE_TAG} for rotation.rotateNow")));
    }
    let limit = MAX_TAGS - operator_tags.iter().map(|(count, _)| count).sum::<usize>();
    if tags.len() > limit {
        let extra = tags.len() - limit;
        let noun = if extra == 1 { "tag" } else { "tags" };
        let fix = if operator_tags.is_empty() {
            format!("remove {extra} {noun}: KMS allows {MAX_TAGS} tags per key")
        } else {
            format!(
                "remove {extra} {noun}: KMS allows {MAX_TAGS} tags per key and the operator adds {}, leaving {limit} for yours",
                operator_tags.iter().map(|(_, words)| words.as_str()).collect::<Vec<_>>().join(" and ")
            )
        };
        issues.add(field, format!("has {} tags, more than the {limit} this key can carry", tags.len()), fix);
    }

    for (key, value) in tags {
        let at = path::child(field, key);
        let lower = key.to_lowercase();
        if key.is_empty() {
            issues.add(at, "tag key is empty", "give the tag a key of 1 to 128 characters");
            continue;
        }
        if lower.starts_with(AWS_PREFIX) {
            issues.add(
                &at,
                format!("tag key {} uses the prefix aws:, which AWS reserves for its own tags", quote(key)),
                "rename the tag key without the aws: prefix",
            );
        } else if lower.starts_with(OPERATOR_PREFIX) {
            issues.add(
                &at,
                format!(
                    "tag key {} uses the prefix {OPERATOR_PREFIX}, which the operator reserves for its ownership tags",
                    quote(key)
                ),
                format!(
                    "rename the tag key without the {OPERATOR_PREFIX} prefix; the operator sets {OWNER_TAG} itself"
                ),
            );
        }
        let key_chars = key.chars().count();
        if key_chars > MAX_TAG_KEY_CHARS {
            issues.add(
                &at,
                format!("tag key is {key_chars} characters, over the KMS limit of {MAX_TAG_KEY_CHARS}"),
                format!("shorten the tag key to at most {MAX_TAG_KEY_CHARS} characters"),
            );
        }
        let value_chars = value.chars().count();
        if value_chars > MAX_TAG_VALUE_CHARS {
            issues.add(
                &at,
                format!("tag value is {value_chars} characters, over the KMS limit of {MAX_TAG_VALUE_CHARS}"),
                format!("shorten the tag value to at most {MAX_TAG_VALUE_CHARS} characters"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_clean, assert_issue, key};
    use super::super::validate_key;

    const KEY: &str = "KmsKey platform-kms/datamesh";

    fn spec_with_tags(count: usize, import: bool) -> String {
        let tags: Vec<String> = (0..count).map(|i| format!("t{i}: v")).collect();
        let import = if import { ", import: {keyId: 1234abcd-12ab-34cd-56ef-1234567890ab}" } else { "" };
        format!("{{accountRef: core, tags: {{{}}}{import}}}", tags.join(", "))
    }

    #[test]
    fn created_key_has_room_for_49_user_tags() {
        assert_clean(&validate_key(&key(&spec_with_tags(49, false)), None));
        let issues = validate_key(&key(&spec_with_tags(50, false)), None);
        assert_issue(&issues, KEY, "spec.tags", &["has 50 tags", "49"], "ownership tag kmsoperator.dev/owner");
    }

    #[test]
    fn imported_key_may_use_all_50_tags() {
        assert_clean(&validate_key(&key(&spec_with_tags(50, true)), None));
        let issues = validate_key(&key(&spec_with_tags(51, true)), None);
        assert_issue(&issues, KEY, "spec.tags", &["has 51 tags", "50"], "remove 1 tag:");
    }

    #[test]
    fn reserved_prefixes_are_rejected_case_insensitively() {
        let issues = validate_key(&key("{accountRef: core, tags: {'AWS:createdBy': x}}"), None);
        assert_issue(
            &issues,
            KEY,
            "spec.tags[\"AWS:createdBy\"]",
            &["\"AWS:createdBy\"", "aws:"],
            "without the aws: prefix",
        );
        let issues = validate_key(&key("{accountRef: core, tags: {kmsoperator.dev/owner: me}}"), None);
        assert_issue(
            &issues,
            KEY,
            "spec.tags[\"kmsoperator.dev/owner\"]",
            &["reserves"],
            "without the kmsoperator.dev/ prefix",
        );
    }

    #[test]
    fn lengths_and_empty_keys() {
        let long_key = "k".repeat(129);
        let long_value = "v".repeat(257);
        let spec = format!("{{accountRef: core, tags: {{{long_key}: x, ok: {long_value}, '': y}}}}");
        let issues = validate_key(&key(&spec), None);
        assert_issue(&issues, KEY, &format!("spec.tags.{long_key}"), &["129 characters"], "at most 128");
        assert_issue(&issues, KEY, "spec.tags.ok", &["257 characters"], "at most 256");
        assert_issue(&issues, KEY, "spec.tags[\"\"]", &["empty"], "1 to 128");
    }

    #[test]
    fn replica_tags_get_the_same_checks() {
        let spec = "{accountRef: core, multiRegion: true, replicas: [{region: us-west-2, tags: {'aws:x': y}}]}";
        let issues = validate_key(&key(spec), None);
        assert_issue(&issues, KEY, "spec.replicas[0].tags[\"aws:x\"]", &["aws:"], "without the aws: prefix");
    }
}
