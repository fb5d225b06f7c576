//! Pretty JSON for people and for KMS.
//!
//! serde_json orders object keys alphabetically (or by insertion, depending on a feature
//! flag somewhere in the dependency tree), which puts `Action` before `Effect` and `Sid`
//! last. Policies read better in the order AWS documents them, so the writer below orders
//! keys itself; that also makes the bytes independent of serde_json's features.

use std::fmt::Write;

use serde_json::{Map, Value};

const DOCUMENT_ORDER: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ORDER: &[&str] =
    &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

/// Where in a policy an object sits, which decides the order of its keys.
#[derive(Clone, Copy)]
enum Level {
    Document,
    Statement,
    Other,
}

/// Pretty JSON with two-space indentation and the keys of the document and of each statement
/// in IAM's documented order (unknown keys after, alphabetically; nested objects such as
/// `Principal` and `Condition` alphabetically). No trailing newline, like
/// `serde_json::to_string_pretty`.
pub fn to_pretty_json(doc: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, doc, Level::Document, 0);
    out
}

fn write_value(out: &mut String, value: &Value, level: Level, indent: usize) {
    match value {
        Value::Object(map) => write_object(out, map, level, indent),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                push_indent(out, indent + 1);
                write_value(out, item, level, indent + 1);
            }
            out.push('\n');
            push_indent(out, indent);
            out.push(']');
        }
        // Display on a scalar Value is its exact JSON text, escapes included.
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>, level: Level, indent: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    let order = match level {
        Level::Document => DOCUMENT_ORDER,
        Level::Statement => STATEMENT_ORDER,
        Level::Other => &[],
    };
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by_key(|(key, _)| (rank(order, key), *key));

    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        push_indent(out, indent + 1);
        let _ = write!(out, "{}: ", Value::String(key.clone()));
        // Statement may be one object or a list of them; either way its members are statements.
        let child = match (level, key.as_str()) {
            (Level::Document, "Statement") => Level::Statement,
            _ => Level::Other,
        };
        write_value(out, value, child, indent + 1);
    }
    out.push('\n');
    push_indent(out, indent);
    out.push('}');
}

/// Known keys by their position in `order`, everything else after them.
fn rank(order: &[&str], key: &str) -> usize {
    order.iter().position(|k| *k == key).unwrap_or(order.len())
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn document_and_statement_keys_in_iam_order() {
        let doc = json!({
            "Statement": [{
                "Condition": {"StringEquals": {"kms:ViaService": "rds.us-east-1.amazonaws.com", "kms:CallerAccount": "111122223333"}},
                "Resource": "*",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Principal": {"Service": "logs.amazonaws.com", "AWS": "*"},
                "Effect": "Allow",
                "Sid": "S",
            }],
            "Id": "key-policy",
            "Version": "2012-10-17",
        });
        let expected = r#"{
  "Version": "2012-10-17",
  "Id": "key-policy",
  "Statement": [
    {
      "Sid": "S",
      "Effect": "Allow",
      "Principal": {
        "AWS": "*",
        "Service": "logs.amazonaws.com"
      },
      "Action": [
        "kms:Encrypt",
        "kms:Decrypt"
      ],
      "Resource": "*",
      "Condition": {
        "StringEquals": {
          "kms:CallerAccount": "111122223333",
          "kms:ViaService": "rds.us-east-1.amazonaws.com"
        }
      }
    }
  ]
}"#;
        assert_eq!(to_pretty_json(&doc), expected);
    }

    #[test]
    fn negated_elements_follow_their_positive_forms_and_unknown_keys_go_last() {
        let doc = json!({"Statement": {
            "Zeta": 1,
            "NotResource": "r",
            "NotAction": "a",
            "NotPrincipal": {"AWS": "p"},
            "Effect": "Deny",
            "Alpha": true,
        }, "Extra": null, "Another": []});
        let text = to_pretty_json(&doc);
        let position = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle} missing from {text}"));
        let statement_keys =
            ["\"Effect\"", "\"NotPrincipal\"", "\"NotAction\"", "\"NotResource\"", "\"Alpha\"", "\"Zeta\""];
        assert!(statement_keys.windows(2).all(|w| position(w[0]) < position(w[1])), "{text}");
        assert!(position("\"Statement\"") < position("\"Another\""));
        assert!(position("\"Another\"") < position("\"Extra\""));
        assert!(text.contains("\"Another\": []"));
        assert!(text.contains("\"Extra\": null"));
    }

    #[test]
    fn statement_keys_are_not_reordered_outside_statements() {
        // "Sid" inside a Condition is just a key and sorts alphabetically.
        let doc = json!({"Statement": [{"Condition": {"X": {"Sid": "1", "Effect": "2"}}}]});
        let text = to_pretty_json(&doc);
        assert!(text.find("\"Effect\": \"2\"") < text.find("\"Sid\": \"1\""), "{text}");
    }

    #[test]
    fn matches_serde_json_formatting_apart_from_key_order() {
        let doc = json!({"a": [1, 2.5, {"b": "x\"y\n\u{1F600}"}], "c": {}, "d": [], "e": [[]], "f": -0.0});
        assert_eq!(to_pretty_json(&doc), serde_json::to_string_pretty(&doc).unwrap());
        let parsed: Value = serde_json::from_str(&to_pretty_json(&doc)).unwrap();
        assert_eq!(parsed, doc);
    }

    #[test]
    fn scalars_and_empty_values() {
        assert_eq!(to_pretty_json(&json!(null)), "null");
        assert_eq!(to_pretty_json(&json!("s")), "\"s\"");
        assert_eq!(to_pretty_json(&json!({})), "{}");
        assert_eq!(to_pretty_json(&json!({"Statement": []})), "{\n  \"Statement\": []\n}");
    }

    #[test]
    fn output_does_not_depend_on_input_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"Version":"1","Statement":[{"Sid":"a","Action":"x","Effect":"Allow"}]}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"Statement":[{"Effect":"Allow","Action":"x","Sid":"a"}],"Version":"1"}"#).unwrap();
        assert_eq!(to_pretty_json(&a), to_pretty_json(&b));
    }
}
