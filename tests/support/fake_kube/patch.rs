//! Patch semantics: merge (RFC 7386; strategic merge is treated the same, which is right for
//! the custom resources, Events and Leases used here), JSON patch (RFC 6902), and a small
//! server-side apply that tracks which manager set which field and refuses to let another
//! manager change it without `force`.

use std::collections::HashMap;

use serde_json::Value;

pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
}

pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    // The API server's JSON patch treats a missing field as null in a `test` (kube-runtime's
    // finalizer relies on it); the json-patch crate does not.
    let operations: Vec<Value> = patch
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|op| {
            let missing_null_test = op["op"] == "test"
                && op["value"].is_null()
                && op["path"].as_str().is_some_and(|path| target.pointer(path).is_none());
            !missing_null_test
        })
        .collect();
    let operations: json_patch::Patch = serde_json::from_value(Value::Array(operations)).map_err(|e| e.to_string())?;
    json_patch::patch(target, &operations).map_err(|e| e.to_string())
}

/// Leaf fields of `value` as JSON pointers.
fn leaves(value: &Value, prefix: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                leaves(child, format!("{prefix}/{key}"), out);
            }
        }
        other => out.push((prefix, other.clone())),
    }
}

/// Which apply manager owns which field.
#[derive(Default, Debug)]
pub struct FieldOwners(HashMap<String, String>);

impl FieldOwners {
    pub fn claim(&mut self, manager: &str, applied: &Value) {
        let mut fields = Vec::new();
        leaves(applied, String::new(), &mut fields);
        for (field, value) in fields {
            if !field.starts_with("/metadata")
                && !field.starts_with("/apiVersion")
                && !field.starts_with("/kind")
                && !value.is_null()
            {
                self.0.insert(field, manager.to_owned());
            }
        }
    }

    /// An update (not an apply) that sets or clears a field takes it from its apply owner.
    pub fn release(&mut self, patch: &Value) {
        let mut fields = Vec::new();
        leaves(patch, String::new(), &mut fields);
        for (field, _) in fields {
            self.0.remove(&field);
        }
    }
}

/// Applies `applied` as `manager`; `Err(field)` on a conflict with another manager's field.
pub fn apply(
    target: &mut Value,
    applied: &Value,
    owners: &mut FieldOwners,
    manager: &str,
    force: bool,
) -> Result<(), String> {
    let mut fields = Vec::new();
    leaves(applied, String::new(), &mut fields);
    if !force {
        for (field, value) in &fields {
            let changes = target.pointer(field) != Some(value);
            let owner = owners.0.get(field);
            if changes && owner.is_some_and(|o| o != manager) && target.pointer(field).is_some_and(|v| !v.is_null()) {
                return Err(field.clone());
            }
        }
    }
    json_patch::merge(target, applied);
    owners.claim(manager, applied);
    Ok(())
}
