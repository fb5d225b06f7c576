//! What a real API server refuses, so that a test of hostile objects means something here:
//!
//! - request bodies over 3 MiB (the API server's `MaxRequestBodyBytes`) and stored objects over
//!   1.5 MiB (etcd's default request limit);
//! - JSON nested deeper than the server decodes: Go's decoder stops at 10,000 levels; this one
//!   at 1,000, which keeps the test process's stack safe and is as far above the client's 128;
//! - custom resources of `kmsoperator.dev` that break their CRD's schema, checked on the object
//!   as it would be stored: the OpenAPI value validation (structural.rs) and CEL
//!   (kube's engine, with the old object for transition rules).
//!
//! Everything this server answers is read by kube's own client, whose JSON reader (serde_json)
//! stops at 128 levels: an object deeper than that, once stored, fails every list and watch
//! that carries it, here as in a cluster. `too_deep_for_clients` says so of a stored object.

use std::collections::HashMap;
use std::sync::OnceLock;

use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde_json::Value;

use super::path::Path;
use super::store::ApiError;
use super::structural;

const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;
const MAX_OBJECT_BYTES: usize = 1536 * 1024;
const SERVER_MAX_DEPTH: usize = 1000;
/// serde_json's recursion limit, with which kube's client reads every response.
const CLIENT_MAX_DEPTH: usize = 128;

/// How deeply the JSON text `bytes` nests objects and lists, read without building anything.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Whether a kube client could not read `object` (in a list, even less).
pub fn too_deep_for_clients(object: &Value) -> bool {
    nesting_depth(object.to_string().as_bytes()) >= CLIENT_MAX_DEPTH
}

/// A request body, read as the API server reads it.
pub fn parse(body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(ApiError::new(413, "RequestEntityTooLarge", "the request is too large"));
    }
    if nesting_depth(body) > SERVER_MAX_DEPTH {
        return Err(ApiError::new(400, "BadRequest", "the request body is nested too deeply"));
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    reader.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut reader)
        .map_err(|e: serde_json::Error| ApiError::new(400, "BadRequest", &e.to_string()))
}

struct Crd {
    schema: Value,
    rules: CompiledSchema,
}

/// The operator's CRDs, by `(group/version, plural)`.
fn crds() -> &'static HashMap<(String, String), Crd> {
    static CRDS: OnceLock<HashMap<(String, String), Crd>> = OnceLock::new();
    CRDS.get_or_init(|| {
        kms_operator::api::crds::all()
            .into_iter()
            .flat_map(|crd| {
                let (group, plural) = (crd.spec.group.clone(), crd.spec.names.plural.clone());
                crd.spec.versions.into_iter().filter_map(move |version| {
                    let schema = serde_json::to_value(version.schema?.open_api_v3_schema?).ok()?;
                    let rules = compile_schema(&schema);
                    Some(((format!("{group}/{}", version.name), plural.clone()), Crd { schema, rules }))
                })
            })
            .collect()
    })
}

/// Whether the API server would store `object` at `path` (replacing `old`, if any).
pub fn admit(path: &Path, old: Option<&Value>, object: &Value) -> Result<(), ApiError> {
    if object.to_string().len() > MAX_OBJECT_BYTES {
        return Err(ApiError::new(500, "InternalError", "etcdserver: request is too large"));
    }
    let Some(crd) = crds().get(&(path.group_version.clone(), path.plural.clone())) else {
        return Ok(());
    };
    let mut problems: Vec<String> = structural::validate(&crd.schema, object).iter().map(ToString::to_string).collect();
    if let Err(errors) = Validator::new().validate_compiled(&crd.rules, object, old) {
        problems.extend(errors.into_vec().into_iter().map(|e| format!("{}: {}", e.field_path, e.message)));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    Err(ApiError::new(422, "Invalid", &format!("{} {name:?} is invalid: {}", path.plural, problems.join("; "))))
}
