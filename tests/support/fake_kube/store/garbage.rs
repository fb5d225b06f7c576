//! Kubernetes' garbage collector with background propagation (what a DELETE without a
//! propagation policy gets), at once rather than moments later: an object none of whose
//! ownerReferences leads to its owner is deleted, and its own dependents after it; one with some
//! owners left loses only the references that lead nowhere. A reference leads to its owner only
//! where an object of its apiVersion and kind, name and uid exists in the dependent's namespace,
//! or cluster-wide for a cluster-scoped owner: a namespaced object cannot be owned from another
//! namespace, and a cluster-scoped one not by a namespaced object, so such a reference (or one
//! with a stale uid) counts as absent from the moment it is written, as it does for the real
//! collector. A reference to a kind the server does not serve is left alone (the real collector
//! cannot resolve it either, and retries).

use serde_json::Value;

use super::{ApiError, Path, Store, text};

/// Whether the owner a reference names exists, seen from a dependent in `namespace` (empty for a
/// cluster-scoped dependent); `None` for a kind the server does not serve.
fn owner_present(store: &Store, reference: &Value, namespace: &str) -> Option<bool> {
    let field = |name: &str| reference[name].as_str().unwrap_or_default();
    let (plural, resource) = store.resources.of_kind(field("apiVersion"), field("kind"))?;
    let owner_namespace = match (resource.namespaced, namespace) {
        (true, "") => return Some(false),
        (true, namespace) => namespace,
        (false, _) => "",
    };
    let bucket = (field("apiVersion").to_owned(), plural.to_owned(), String::new());
    let owner = store.objects.get(&bucket).and_then(|m| m.get(&(owner_namespace.to_owned(), field("name").to_owned())));
    Some(owner.is_some_and(|owner| text(owner, "/metadata/uid").as_deref() == Some(field("uid"))))
}

/// What the API server's validation of `metadata.ownerReferences` refuses: a reference without
/// apiVersion, kind, name or uid, and more than one reference with `controller: true`.
pub fn check_references(object: &Value) -> Result<(), ApiError> {
    let references = object["metadata"]["ownerReferences"].as_array().map(Vec::as_slice).unwrap_or_default();
    for reference in references {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if reference[field].as_str().is_none_or(str::is_empty) {
                let message =
                    format!("metadata.ownerReferences.{field}: Invalid value: \"\": {field} must not be empty");
                return Err(ApiError::new(422, "Invalid", &message));
            }
        }
    }
    if references.iter().filter(|r| r["controller"] == true).count() > 1 {
        return Err(ApiError::new(
            422,
            "Invalid",
            "metadata.ownerReferences: Invalid value: only one reference can have Controller set to true",
        ));
    }
    Ok(())
}

impl Store {
    /// Deletes every object whose owners are all gone (through `delete`, so its finalizers hold
    /// it as they would), and drops the absent references of objects with owners left, until
    /// nothing more changes.
    pub fn collect_garbage(&mut self) {
        loop {
            let mut orphaned = Vec::new();
            let mut trimmed = Vec::new();
            for ((group_version, plural, _), objects) in &self.objects {
                for ((namespace, name), object) in objects {
                    let references = object["metadata"]["ownerReferences"].as_array().map(Vec::as_slice);
                    let Some(references) = references.filter(|r| !r.is_empty()) else { continue };
                    let present: Option<Vec<bool>> =
                        references.iter().map(|r| owner_present(self, r, namespace)).collect();
                    let Some(present) = present else { continue };
                    let path = Path {
                        group_version: group_version.clone(),
                        plural: plural.clone(),
                        namespace: Some(namespace.clone()).filter(|ns| !ns.is_empty()),
                        name: Some(name.clone()),
                        subresource: None,
                    };
                    if present.iter().all(|p| !p) {
                        if object["metadata"].get("deletionTimestamp").is_none() {
                            orphaned.push(path);
                        }
                    } else if present.iter().any(|p| !p) {
                        let kept: Vec<Value> =
                            references.iter().zip(&present).filter(|(_, p)| **p).map(|(r, _)| r.clone()).collect();
                        trimmed.push((path, object.clone(), kept));
                    }
                }
            }
            if orphaned.is_empty() && trimmed.is_empty() {
                return;
            }
            for path in orphaned {
                let _ = self.delete(&path);
            }
            for (path, current, kept) in trimmed {
                let mut updated = current.clone();
                updated["metadata"]["ownerReferences"] = Value::Array(kept);
                let _ = self.store(&path, current, updated);
            }
        }
    }
}
