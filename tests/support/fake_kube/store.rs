//! The objects, their versions, and the write rules of the API server: resources and their
//! scope, namespaces that must exist, status subresources, generations, finalizers, pruning by
//! the CRD schema, conflicts on stale versions, a history that compaction cuts short, and the
//! garbage collector (`store/garbage.rs`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::patch::{FieldOwners, apply, json_patch, merge_patch};
use super::path::Path;
use super::schema::{Resource, Resources, prune};
use super::selector::Selector;

mod garbage;

/// A Kubernetes `Status` failure, turned into a response at the edge.
#[derive(Debug)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: &str) -> Self {
        ApiError { code, reason, message: message.to_owned() }
    }
}

type Key = (String, String, String);

#[derive(Clone, Debug)]
pub struct Change {
    pub version: u64,
    pub group_version: String,
    pub plural: String,
    pub namespace: String,
    pub kind: &'static str,
    pub object: Value,
}

/// The namespaces every cluster has.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

pub struct Store {
    version: u64,
    objects: BTreeMap<Key, BTreeMap<(String, String), Value>>,
    owners: HashMap<(Key, String, String), FieldOwners>,
    /// Changes after `compacted`, oldest first.
    pub log: Vec<Change>,
    /// Versions up to here are gone from the history: a watch from one of them is too old.
    pub compacted: u64,
    pub resources: Resources,
    /// Fields the last write pruned, as `plural/namespace/name: .path`.
    pub pruned: Vec<String>,
    uid: u64,
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(str::to_owned)
}

fn now() -> Value {
    json!(jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Like the API server: a write that names a resourceVersion applies only to that version.
fn still_at(write: &Value, current: &Value) -> Result<(), ApiError> {
    match text(write, "/metadata/resourceVersion") {
        Some(version) if Some(&version) != text(current, "/metadata/resourceVersion").as_ref() => Err(ApiError::new(
            409,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version",
        )),
        _ => Ok(()),
    }
}

fn not_found(path: &Path) -> ApiError {
    let name = path.name.as_deref().unwrap_or_default();
    ApiError::new(404, "NotFound", &format!("{} \"{name}\" not found", path.plural))
}

fn no_route(path: &Path) -> ApiError {
    ApiError::new(404, "NotFound", &format!("the server could not find the requested resource ({path:?})"))
}

fn finalizers(object: &Value) -> Vec<String> {
    let list = object["metadata"]["finalizers"].as_array();
    list.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

impl Store {
    pub fn new() -> Store {
        let mut store = Store {
            version: 0,
            objects: BTreeMap::new(),
            owners: HashMap::new(),
            log: Vec::new(),
            compacted: 0,
            resources: Resources::standard(),
            pruned: Vec::new(),
            uid: 0,
        };
        let namespaces = Path::parse("/api/v1/namespaces").expect("namespaces path");
        for name in SYSTEM_NAMESPACES {
            let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            store.create(&namespaces, namespace).expect("a system namespace");
        }
        store
    }

    fn bucket(path: &Path) -> Key {
        (path.group_version.clone(), path.plural.clone(), String::new())
    }

    fn ns(path: &Path) -> String {
        path.namespace.clone().unwrap_or_default()
    }

    pub fn all(&self, group_version: &str, plural: &str) -> Vec<Value> {
        self.objects
            .get(&(group_version.to_owned(), plural.to_owned(), String::new()))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The resource `path` addresses, if the server serves it at that scope: a cluster-scoped
    /// kind has no namespaced path, and one object of a namespaced kind needs its namespace.
    pub fn resource(&self, path: &Path) -> Result<&Resource, ApiError> {
        let resource = self.resources.get(&path.group_version, &path.plural).ok_or_else(|| no_route(path))?;
        let in_namespace = path.namespace.is_some();
        if (in_namespace && !resource.namespaced) || (resource.namespaced && !in_namespace && path.name.is_some()) {
            return Err(no_route(path));
        }
        if path.subresource.as_deref().is_some_and(|s| s != "status" || !resource.status_subresource) {
            return Err(no_route(path));
        }
        Ok(resource)
    }

    fn namespace_exists(&self, name: &str) -> bool {
        self.objects
            .get(&("v1".into(), "namespaces".into(), String::new()))
            .is_some_and(|m| m.contains_key(&(String::new(), name.to_owned())))
    }

    /// The last change of `change`'s object before it, if the history still holds it.
    pub fn previous(&self, change: &Change) -> Option<&Change> {
        let same = |c: &&Change| {
            c.version < change.version
                && c.group_version == change.group_version
                && c.plural == change.plural
                && c.namespace == change.namespace
                && c.object["metadata"]["name"] == change.object["metadata"]["name"]
        };
        self.log.iter().rev().find(same)
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Drops the history: every version handed out so far is too old to watch from (410 Gone),
    /// as after an etcd compaction far past what any client saw.
    pub fn compact(&mut self) {
        self.version += 1;
        self.compacted = self.version;
        self.log.clear();
    }

    fn record(&mut self, path: &Path, namespace: &str, kind: &'static str, object: &Value) {
        self.log.push(Change {
            version: self.version,
            group_version: path.group_version.clone(),
            plural: path.plural.clone(),
            namespace: namespace.to_owned(),
            kind,
            object: object.clone(),
        });
    }

    fn bump(&mut self, object: &mut Value) {
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
    }

    /// Prunes `object` by its resource's schema, noting what went.
    fn prune(&mut self, path: &Path, object: &mut Value) -> Result<(), ApiError> {
        let schema = self.resource(path)?.schema.clone();
        if let Some(schema) = schema {
            let name = text(object, "/metadata/name").unwrap_or_default();
            let at = format!("{}/{}/{name}", path.plural, Self::ns(path));
            self.pruned.extend(prune(object, &schema).into_iter().map(|field| format!("{at}: {field}")));
        }
        Ok(())
    }

    pub fn get_or_list(&self, path: &Path, selector: &Selector) -> Result<Value, ApiError> {
        let resource = self.resource(path)?;
        let bucket = self.objects.get(&Self::bucket(path));
        if let Some(name) = &path.name {
            return bucket.and_then(|m| m.get(&(Self::ns(path), name.clone()))).cloned().ok_or_else(|| not_found(path));
        }
        let items: Vec<Value> = bucket
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|((ns, _), object)| {
                path.namespace.as_ref().is_none_or(|want| want == ns) && selector.matches(object)
            })
            .map(|(_, v)| v.clone())
            .collect();
        Ok(json!({
            "apiVersion": path.group_version,
            "kind": format!("{}List", resource.kind),
            "metadata": {"resourceVersion": self.version.to_string()},
            "items": items,
        }))
    }

    pub fn create(&mut self, path: &Path, mut object: Value) -> Result<Value, ApiError> {
        let resource = self.resource(path)?;
        let status_subresource = resource.status_subresource;
        if path.name.is_some() && path.subresource.is_none() {
            return Err(ApiError::new(405, "MethodNotAllowed", "create names no object"));
        }
        let name = text(&object, "/metadata/name")
            .or_else(|| text(&object, "/metadata/generateName").map(|prefix| format!("{prefix}{}", self.uid + 1)))
            .ok_or_else(|| ApiError::new(422, "Invalid", "metadata.name is required"))?;
        let namespace = Self::ns(path);
        if path.namespace.is_some() && !self.namespace_exists(&namespace) {
            return Err(ApiError::new(404, "NotFound", &format!("namespaces \"{namespace}\" not found")));
        }
        let key = (namespace.clone(), name.clone());
        if self.objects.get(&Self::bucket(path)).is_some_and(|m| m.contains_key(&key)) {
            return Err(ApiError::new(409, "AlreadyExists", &format!("{} \"{name}\" already exists", path.plural)));
        }
        self.prune(path, &mut object)?;
        // Status is the controller's to write, through its own subresource.
        if status_subresource && let Some(fields) = object.as_object_mut() {
            fields.remove("status");
        }
        self.uid += 1;
        object["metadata"]["name"] = json!(name);
        if path.namespace.is_some() {
            object["metadata"]["namespace"] = json!(namespace);
        }
        object["metadata"]["uid"] = json!(format!("uid-{}", self.uid));
        object["metadata"]["generation"] = json!(1);
        object["metadata"]["creationTimestamp"] = now();
        for server_set in ["deletionTimestamp", "deletionGracePeriodSeconds"] {
            if let Some(metadata) = object["metadata"].as_object_mut() {
                metadata.remove(server_set);
            }
        }
        garbage::check_references(&object)?;
        super::limits::admit(path, None, &object)?;
        self.bump(&mut object);
        self.objects.entry(Self::bucket(path)).or_default().insert(key, object.clone());
        self.record(path, &namespace, "ADDED", &object);
        Ok(object)
    }

    fn current(&self, path: &Path) -> Result<Value, ApiError> {
        let name = path.name.clone().ok_or_else(|| ApiError::new(405, "MethodNotAllowed", "a name is required"))?;
        self.objects
            .get(&Self::bucket(path))
            .and_then(|m| m.get(&(Self::ns(path), name)))
            .cloned()
            .ok_or_else(|| not_found(path))
    }

    /// Stores `updated` for `path`, following the status-subresource, generation, finalizer and
    /// pruning rules.
    fn store(&mut self, path: &Path, current: Value, mut updated: Value) -> Result<Value, ApiError> {
        let status_subresource = self.resource(path)?.status_subresource;
        self.prune(path, &mut updated)?;
        if path.subresource.as_deref() == Some("status") {
            // Only the status changes; the rest stays as it was.
            let status = updated.get("status").cloned();
            updated = current.clone();
            match status {
                Some(status) => updated["status"] = status,
                None => drop(updated.as_object_mut().map(|o| o.remove("status"))),
            }
        } else {
            if status_subresource {
                match current.get("status") {
                    Some(status) => updated["status"] = status.clone(),
                    None => drop(updated.as_object_mut().map(|o| o.remove("status"))),
                }
            }
            for immutable in
                ["uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"]
            {
                match current["metadata"].get(immutable) {
                    Some(value) => updated["metadata"][immutable] = value.clone(),
                    None => drop(updated["metadata"].as_object_mut().map(|o| o.remove(immutable))),
                }
            }
            let added: Vec<String> =
                finalizers(&updated).into_iter().filter(|f| !finalizers(&current).contains(f)).collect();
            if current["metadata"].get("deletionTimestamp").is_some() && !added.is_empty() {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    &format!(
                        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                    ),
                ));
            }
            if updated.get("spec") != current.get("spec") {
                let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
                updated["metadata"]["generation"] = json!(generation);
            }
        }
        garbage::check_references(&updated)?;
        super::limits::admit(path, Some(&current), &updated)?;
        if updated == current {
            return Ok(current);
        }
        self.bump(&mut updated);
        let key = (Self::ns(path), path.name.clone().unwrap_or_default());
        if updated["metadata"].get("deletionTimestamp").is_some() && finalizers(&updated).is_empty() {
            if let Some(bucket) = self.objects.get_mut(&Self::bucket(path)) {
                bucket.remove(&key);
            }
            self.record(path, &key.0, "DELETED", &updated);
            return Ok(updated);
        }
        self.objects.entry(Self::bucket(path)).or_default().insert(key.clone(), updated.clone());
        self.record(path, &key.0, "MODIFIED", &updated);
        Ok(updated)
    }

    pub fn replace(&mut self, path: &Path, updated: Value) -> Result<Value, ApiError> {
        let current = self.current(path)?;
        still_at(&updated, &current)?;
        self.store(path, current, updated)
    }

    pub fn patch(
        &mut self,
        path: &Path,
        content_type: &str,
        patch: Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, ApiError> {
        let key = (Self::bucket(path), Self::ns(path), path.name.clone().unwrap_or_default());
        let current = match self.current(path) {
            Ok(current) => current,
            // Server-side apply creates what does not exist yet.
            Err(_) if content_type.starts_with("application/apply-patch") && path.subresource.is_none() => {
                let created = self.create(&Path { name: None, ..path.clone() }, patch.clone())?;
                self.owners.entry(key).or_default().claim(manager, &patch);
                return Ok(created);
            }
            Err(missing) => return Err(missing),
        };
        let mut updated = current.clone();
        if content_type.starts_with("application/json-patch") {
            json_patch(&mut updated, &patch).map_err(|e| ApiError::new(422, "Invalid", &e))?;
        } else if content_type.starts_with("application/apply-patch") {
            let owners = self.owners.entry(key.clone()).or_default();
            apply(&mut updated, &patch, owners, manager, force).map_err(|field| {
                ApiError::new(
                    409,
                    "Conflict",
                    &format!("Apply failed with 1 conflict: conflict with another manager using {field}"),
                )
            })?;
        } else {
            merge_patch(&mut updated, &patch);
            self.owners.entry(key).or_default().release(&patch);
        }
        still_at(&patch, &current)?;
        self.store(path, current, updated)
    }

    /// A DELETE with `preconditions` (its `uid` and `resourceVersion`, each optional): like the
    /// API server, 409 unless the object still has them.
    pub fn delete_if(&mut self, path: &Path, preconditions: &Value) -> Result<Value, ApiError> {
        self.resource(path)?;
        let current = self.current(path)?;
        for (field, name) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
            let Some(wanted) = preconditions[field].as_str() else { continue };
            let found = text(&current, &format!("/metadata/{field}")).unwrap_or_default();
            if found != wanted {
                let message =
                    format!("Precondition failed: {name} in precondition: {wanted}, {name} in object meta: {found}");
                return Err(ApiError::new(409, "Conflict", &message));
            }
        }
        self.delete(path)
    }

    pub fn delete(&mut self, path: &Path) -> Result<Value, ApiError> {
        self.resource(path)?;
        let current = self.current(path)?;
        let key = (Self::ns(path), path.name.clone().unwrap_or_default());
        if !finalizers(&current).is_empty() {
            if current["metadata"].get("deletionTimestamp").is_some() {
                return Ok(current);
            }
            let mut marked = current.clone();
            marked["metadata"]["deletionTimestamp"] = now();
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            self.bump(&mut marked);
            self.objects.entry(Self::bucket(path)).or_default().insert(key.clone(), marked.clone());
            self.record(path, &key.0, "MODIFIED", &marked);
            return Ok(marked);
        }
        if let Some(bucket) = self.objects.get_mut(&Self::bucket(path)) {
            bucket.remove(&key);
        }
        let mut gone = current;
        self.bump(&mut gone);
        self.record(path, &key.0, "DELETED", &gone);
        Ok(gone)
    }
}
