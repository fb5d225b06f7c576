//! serde's errors in the words of an [`Issue`]: which field (its full path), what is wrong
//! and what to write instead. Whatever decodes an object from text or a value (a manifest
//! file, a `Namespace` beside it) reports through here, so that one mistake reads the same
//! wherever it is found.

use serde::Deserializer;
use serde::de::Deserialize;
use serde_path_to_error::Segment;

use super::ObjectName;
use super::validate::{Issue, closest, path};

/// `T` from `deserializer`, or one issue naming the field that stopped it, on `object`. The
/// issue is not placed in a file: the caller knows where the text came from.
pub fn decode<'de, T, D>(deserializer: D, object: Option<&ObjectName>) -> Result<T, Box<Issue>>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    serde_path_to_error::deserialize(deserializer)
        .map_err(|err| Box::new(describe(object, &field_path(err.path()), &err.inner().to_string())))
}

/// serde's `message` about the field at `at` as problem and fix. serde phrases its errors in a
/// small fixed set of forms, so matching on their wording is stable enough.
pub fn describe(object: Option<&ObjectName>, at: &str, message: &str) -> Issue {
    let quoted = backticked(message);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        // serde_path_to_error stops at the struct, or includes the key: name the key once.
        let field = if at.ends_with(name) { at.to_owned() } else { path::child(at, name) };
        let expected: Vec<&str> = quoted.iter().skip(1).map(String::as_str).collect();
        return unknown_field(object, &field, name, &expected);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = path::child(at, name);
        let fix = format!("add {field}");
        return Issue::new(object.cloned(), field, "is missing", fix);
    }
    if message.starts_with("unknown variant `") {
        let expected: Vec<&str> = quoted.iter().skip(1).map(String::as_str).collect();
        let fix = format!("use one of {}", expected.join(", "));
        return Issue::new(object.cloned(), at, message, fix);
    }
    Issue::new(object.cloned(), at, message, type_fix(message))
}

/// A field `name` at `at` that the object does not have, with the closest of `expected`.
pub fn unknown_field(object: Option<&ObjectName>, at: &str, name: &str, expected: &[&str]) -> Issue {
    let fix = match (closest(name, expected), expected.is_empty()) {
        (_, true) => "remove it".to_owned(),
        (Some(near), false) => format!("did you mean `{near}`? expected one of: {}", expected.join(", ")),
        (None, false) => format!("remove it; expected one of: {}", expected.join(", ")),
    };
    Issue::new(object.cloned(), at, format!("unknown field `{name}`"), fix)
}

fn field_path(path: &serde_path_to_error::Path) -> String {
    path.iter().fold(String::new(), |at, segment| match segment {
        Segment::Seq { index } => path::item(&at, *index),
        Segment::Map { key } | Segment::Enum { variant: key } => path::child(&at, key),
        Segment::Unknown => path::child(&at, "?"),
    })
}

/// What to write instead, from the type serde expected (the end of its message).
fn type_fix(message: &str) -> &'static str {
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let found_scalar = ["integer", "floating point", "boolean"]
        .iter()
        .any(|found| message.starts_with(&format!("invalid type: {found}")));
    match expected {
        "a string" if found_scalar => "write the value in quotes so YAML reads it as a string, e.g. \"484357440923\"",
        "a string" => "write a single string value",
        "a boolean" => "write true or false, without quotes",
        "a sequence" => "write a list, e.g. [a, b], or one '- item' per line",
        "a map" => "write a mapping, e.g. {key: value}",
        number if number.starts_with(['i', 'u']) && number[1..].bytes().all(|b| b.is_ascii_digit()) => {
            "write a whole number, without quotes"
        }
        other if other.starts_with("struct ") => "write a mapping of the fields this object takes",
        _ => "give the field a value of the expected type",
    }
}

fn backticked(message: &str) -> Vec<String> {
    message.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Namespace;
    use serde_json::json;

    use super::*;
    use crate::api::{AwsAccount, Kind, KmsKey};

    fn key_issue(spec: serde_json::Value) -> Issue {
        let object =
            json!({"apiVersion": crate::api::API_VERSION, "kind": "KmsKey", "metadata": {"name": "k"}, "spec": spec});
        let name = ObjectName::new(Kind::KmsKey, Some("apps"), "k");
        *decode::<KmsKey, _>(object, Some(&name)).expect_err("does not decode")
    }

    #[test]
    fn an_unknown_field_is_named_by_its_path_with_the_closest_field() {
        let issue = key_issue(json!({"accountRef": "a", "rotation": {"periodDay": 90}}));
        assert_eq!(
            (issue.field.as_str(), issue.problem.as_str()),
            ("spec.rotation.periodDay", "unknown field `periodDay`")
        );
        assert!(issue.fix.starts_with("did you mean `periodDays`? expected one of:"), "{issue}");
        assert_eq!(issue.to_string().split(':').next(), Some("KmsKey apps/k"), "{issue}");
    }

    #[test]
    fn a_missing_field_a_wrong_type_and_an_unknown_variant_each_say_what_to_write() {
        let missing = key_issue(json!({"description": "no account"}));
        assert_eq!((missing.field.as_str(), missing.problem.as_str()), ("spec.accountRef", "is missing"));
        assert_eq!(missing.fix, "add spec.accountRef");

        let number = key_issue(json!({"accountRef": "a", "rotation": {"periodDays": "ninety"}}));
        assert_eq!(number.field, "spec.rotation.periodDays");
        assert_eq!(number.fix, "write a whole number, without quotes");

        let list = key_issue(json!({"accountRef": "a", "replicas": {"region": "us-west-2"}}));
        assert_eq!(
            (list.field.as_str(), list.fix.as_str()),
            ("spec.replicas", "write a list, e.g. [a, b], or one '- item' per line")
        );

        let variant = key_issue(json!({"accountRef": "a", "deletion": {"policy": "Destroy"}}));
        assert_eq!(variant.field, "spec.deletion.policy");
        assert!(variant.fix.starts_with("use one of Retain, Delete"), "{variant}");
    }

    #[test]
    fn an_account_id_written_as_a_number_is_told_to_be_quoted() {
        let object = json!({"apiVersion": crate::api::API_VERSION, "kind": "AwsAccount", "metadata": {"name": "a"},
            "spec": {"accountId": 484357440923_u64, "region": "eu-west-1"}});
        let issue = decode::<AwsAccount, _>(object, None).expect_err("a number is not a string");
        assert_eq!(issue.field, "spec.accountId");
        assert!(issue.fix.starts_with("write the value in quotes"), "{issue}");
        assert!(issue.object.is_none());
    }

    #[test]
    fn any_type_is_described_alike_a_namespace_s_labels_included() {
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps", "labels": {"tier": 3}}});
        let issue = decode::<Namespace, _>(namespace, None).expect_err("a label is a string");
        assert_eq!(issue.field, "metadata.labels.tier");
        assert!(issue.fix.starts_with("write the value in quotes"), "{issue}");
    }

    #[test]
    fn an_unknown_field_with_nothing_expected_is_to_be_removed() {
        let issue = unknown_field(None, "metadata.nmae", "nmae", &[]);
        assert_eq!(issue.fix, "remove it");
        let issue = unknown_field(None, "sepc", "sepc", &["apiVersion", "kind", "metadata", "spec"]);
        assert!(issue.fix.starts_with("did you mean `spec`?"), "{issue}");
    }
}
