//! Hand-written schema fragments where the derived schema cannot say enough.

use kube::core::Rule;
use schemars::{Schema, SchemaGenerator, json_schema};

use super::catalog::{self, KEY_SPECS, KEY_USAGES, MAX_TAGS};

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

/// IAM statements are free-form JSON objects; the validator checks them, not the schema.
pub fn statements(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
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
