//! Hand-written schema fragments where the derived schema cannot say enough.

use kube::core::Rule;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use super::catalog::{
    self, KEY_SPECS, KEY_USAGES, MAX_CONDITION_ENTRIES, MAX_CONDITION_MESSAGE_CHARS, MAX_CONDITION_REASON_CHARS,
    MAX_JSON_INTEGER, MAX_STATEMENT_LIST_ITEMS, MAX_STATEMENT_STRING_CHARS, MAX_STATEMENTS, MAX_TAGS,
};

pub fn key_spec(_: &mut SchemaGenerator) -> Schema {
    let specs: Vec<&str> = catalog::key_spec_names().collect();
    json_schema!({ "type": "string", "enum": specs, "default": catalog::DEFAULT_KEY_SPEC })
}

pub fn origin(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": catalog::ORIGINS, "default": catalog::ORIGIN_AWS_KMS })
}

pub fn key_usage(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": KEY_USAGES, "default": catalog::DEFAULT_KEY_USAGE })
}

pub fn tags(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "maxProperties": MAX_TAGS,
        "additionalProperties": { "type": "string", "maxLength": catalog::MAX_TAG_VALUE_CHARS },
    })
}

pub fn optional_tags(generator: &mut SchemaGenerator) -> Schema {
    tags(generator)
}

/// Immutable booleans need a default so `self == oldSelf` always has both sides.
pub fn immutable_bool(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "boolean", "default": false })
}

pub fn grant_operations(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": { "type": "string", "enum": catalog::GRANT_OPERATIONS },
        "x-kubernetes-list-type": "set",
    })
}

pub fn encryption_context(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "additionalProperties": { "type": "string" } })
}

/// `spec.policy.statements`: IAM statements as objects with IAM's elements. Unknown elements
/// are pruned by the API server (and refused by `validate` and `kubectl apply`'s strict field
/// validation); every value is bounded in depth, so no stored statement is nested deeper than
/// the client's JSON reader goes (128 levels): one such object would fail every list of KmsKeys.
pub fn statements(_: &mut SchemaGenerator) -> Schema {
    let string = json!({ "type": "string", "maxLength": MAX_STATEMENT_STRING_CHARS });
    let principal = json!({
        "x-kubernetes-preserve-unknown-fields": true,
        "maxLength": MAX_STATEMENT_STRING_CHARS,
        "maxItems": 0,
        "maxProperties": 4,
        "additionalProperties": string_or_list(),
    });
    let condition = json!({
        "type": "object",
        "maxProperties": MAX_CONDITION_ENTRIES,
        "additionalProperties": {
            "type": "object",
            "maxProperties": MAX_CONDITION_ENTRIES,
            "additionalProperties": scalar_or_list(),
        },
    });
    json_schema!({
        "type": "array",
        "maxItems": MAX_STATEMENTS,
        "items": {
            "type": "object",
            "properties": {
                "Sid": string,
                "Effect": { "type": "string", "enum": ["Allow", "Deny"] },
                "Principal": principal,
                "NotPrincipal": principal,
                "Action": string_or_list(),
                "NotAction": string_or_list(),
                "Resource": string_or_list(),
                "NotResource": string_or_list(),
                "Condition": condition,
            },
        },
    })
}

/// IAM's "a string or a list of strings". No structural type says "string or list", so the node
/// keeps unknown fields, and the value validations beside it, which apply by the value's own
/// JSON type, keep it flat: a list holds strings only, an object nothing. (CEL cannot do this:
/// a real API server gives CEL no type for such a node, and refuses rules on it.)
fn string_or_list() -> Value {
    json!({
        "x-kubernetes-preserve-unknown-fields": true,
        "maxLength": MAX_STATEMENT_STRING_CHARS,
        "maxProperties": 0,
        "maxItems": MAX_STATEMENT_LIST_ITEMS,
        "items": { "type": "string", "maxLength": MAX_STATEMENT_STRING_CHARS },
    })
}

/// A condition value (string, number or boolean) or a flat list of them.
fn scalar_or_list() -> Value {
    let scalar = json!({
        "x-kubernetes-preserve-unknown-fields": true,
        "maxLength": MAX_STATEMENT_STRING_CHARS,
        "maxProperties": 0,
        "maxItems": 0,
    });
    json!({
        "x-kubernetes-preserve-unknown-fields": true,
        "maxLength": MAX_STATEMENT_STRING_CHARS,
        "maxProperties": 0,
        "maxItems": MAX_STATEMENT_LIST_ITEMS,
        "items": scalar,
    })
}

/// `observedGeneration`: never negative, and within what every JSON reader holds exactly.
pub fn generation(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_JSON_INTEGER, "nullable": true })
}

/// `status.conditions`, bounded as Kubernetes bounds `metav1.Condition`; k8s-openapi's schema
/// of it carries none of those bounds.
pub fn conditions(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "maxItems": 8,
        "items": {
            "description": "One aspect of the resource's state: Ready (the key or alias or grant exists and is usable) or Synced (live state matches the spec).",
            "type": "object",
            "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            "properties": {
                "type": {
                    "type": "string",
                    "maxLength": 316,
                    "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
                },
                "status": { "type": "string", "enum": ["True", "False", "Unknown"] },
                "observedGeneration": {
                    "description": "The metadata.generation the condition was set for.",
                    "type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_JSON_INTEGER,
                },
                "lastTransitionTime": {
                    "description": "When the condition last changed status.",
                    "type": "string", "format": "date-time",
                },
                "reason": {
                    "description": "Why, as one CamelCase word.",
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_CONDITION_REASON_CHARS,
                    "pattern": r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
                },
                "message": {
                    "description": "What the state is and, when it is not the desired one, what to do.",
                    "type": "string", "maxLength": MAX_CONDITION_MESSAGE_CHARS,
                },
            },
        },
    })
}

/// `keyUsage` must be one KMS allows for `keySpec`: a CEL map from spec to usages, built from
/// the catalog so the schema and the validator cannot disagree.
pub fn key_usage_rule() -> Rule {
    let entries: Vec<String> = KEY_SPECS
        .iter()
        .map(|(spec, usages)| {
            let usages: Vec<String> = usages.iter().map(|u| format!("'{u}'")).collect();
            format!("'{spec}': [{}]", usages.join(", "))
        })
        .collect();
    // keySpec is an enum, so indexing the map cannot miss.
    let rule = format!(
        "!has(self.keySpec) || !has(self.keyUsage) || self.keyUsage in {{{map}}}[self.keySpec]",
        map = entries.join(", ")
    );
    Rule::new(rule).message("keyUsage is not valid for this keySpec (SYMMETRIC_DEFAULT: ENCRYPT_DECRYPT; HMAC_*: GENERATE_VERIFY_MAC; RSA_*: ENCRYPT_DECRYPT or SIGN_VERIFY; ECC_*: SIGN_VERIFY or KEY_AGREEMENT; ML_DSA_*: SIGN_VERIFY; ML_KEM_*: ENCAPSULATE_DECAPSULATE)")
}
