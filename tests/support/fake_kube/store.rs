//! The objects, their versions, and the write rules of the API server.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::patch::{FieldOwners, apply, json_patch, merge_patch};

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

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// `v1` for the core group, else `group/version`.
    pub group_version: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Path {
    pub fn parse(path: &str) -> Option<Path> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group_version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ((*version).to_owned(), rest),
            ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
            _ => return None,
        };
        let owned = |s: &&str| (*s).to_owned();
        let path = match rest {
            // Namespaces themselves are cluster-scoped objects under /api/v1/namespaces.
            ["namespaces"] => {
                Path { group_version, plural: "namespaces".into(), namespace: None, name: None, subresource: None }
            }
            ["namespaces", name] if group_version == "v1" => Path {
                group_version,
                plural: "namespaces".into(),
                namespace: None,
                name: Some(owned(name)),
                subresource: None,
            },
            ["namespaces", ns, plural, tail @ ..] => Path {
                group_version,
                plural: owned(plural),
                namespace: Some(owned(ns)),
                name: tail.first().map(owned),
                subresource: tail.get(1).map(owned),
            },
            [plural, tail @ ..] => Path {
                group_version,
                plural: owned(plural),
                namespace: None,
                name: tail.first().map(owned),
                subresource: tail.get(1).map(owned),
            },
            [] => return None,
        };
        Some(path)
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

#[derive(Default)]
pub struct Store {
    version: u64,
    objects: BTreeMap<Key, BTreeMap<(String, String), Value>>,
    owners: HashMap<(Key, String, String), FieldOwners>,
    pub log: Vec<Change>,
    kinds: HashMap<(String, String), String>,
    uid: u64,
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(str::to_owned)
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
    ApiError::new(404, "NotFound", &format!("{} {:?} not found", path.plural, path.name))
}

impl Store {
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

    pub fn get_or_list(&self, path: &Path) -> Result<Value, ApiError> {
        let bucket = self.objects.get(&Self::bucket(path));
        match &path.name {
            Some(name) => {
                bucket.and_then(|m| m.get(&(Self::ns(path), name.clone()))).cloned().ok_or_else(|| not_found(path))
            }
            None => {
                let items: Vec<Value> = bucket
                    .map(|m| {
                        m.iter()
                            .filter(|((ns, _), _)| path.namespace.as_ref().is_none_or(|want| want == ns))
                            .map(|(_, v)| v.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let kind =
                    self.kinds.get(&(path.group_version.clone(), path.plural.clone())).cloned().unwrap_or_default();
                Ok(json!({
                    "apiVersion": path.group_version,
                    "kind": format!("{kind}List"),
                    "metadata": {"resourceVersion": self.version.to_string()},
                    "items": items,
                }))
            }
        }
    }

    pub fn create(&mut self, path: &Path, body: &[u8]) -> Result<Value, ApiError> {
        let mut object: Value = super::limits::parse(body)?;
        let name = text(&object, "/metadata/name")
            .or_else(|| text(&object, "/metadata/generateName").map(|prefix| format!("{prefix}{}", self.uid + 1)))
            .ok_or_else(|| ApiError::new(422, "Invalid", "metadata.name is required"))?;
        let namespace = Self::ns(path);
        let key = (namespace.clone(), name.clone());
        if self.objects.get(&Self::bucket(path)).is_some_and(|m| m.contains_key(&key)) {
            return Err(ApiError::new(409, "AlreadyExists", &format!("{} {name} already exists", path.plural)));
        }
        self.uid += 1;
        object["metadata"]["name"] = json!(name);
        if path.namespace.is_some() {
            object["metadata"]["namespace"] = json!(namespace);
        }
        object["metadata"]["uid"] = json!(format!("uid-{}", self.uid));
        object["metadata"]["generation"] = json!(1);
        object["metadata"]["creationTimestamp"] =
            json!(jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        super::limits::admit(path, None, &object)?;
        if let Some(kind) = object.get("kind").and_then(Value::as_str) {
            self.kinds.insert((path.group_version.clone(), path.plural.clone()), kind.to_owned());
        }
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

    /// Stores `updated` for `path`, following the status-subresource, generation and
    /// finalizer rules.
    fn store(&mut self, path: &Path, current: Value, mut updated: Value) -> Result<Value, ApiError> {
        if path.subresource.as_deref() == Some("status") {
            let status = updated.get("status").cloned();
            updated = current.clone();
            match status {
                Some(status) => updated["status"] = status,
                None => drop(updated.as_object_mut().map(|o| o.remove("status"))),
            }
        } else {
            if let Some(status) = current.get("status") {
                updated["status"] = status.clone();
            }
            for immutable in ["uid", "creationTimestamp", "generation", "deletionTimestamp"] {
                match current["metadata"].get(immutable) {
                    Some(value) => updated["metadata"][immutable] = value.clone(),
                    None => drop(updated["metadata"].as_object_mut().map(|o| o.remove(immutable))),
                }
            }
            if updated.get("spec") != current.get("spec") {
                let generation = current["metadata"]["generation"].as_i64().unwrap_or(1) + 1;
                updated["metadata"]["generation"] = json!(generation);
            }
        }
        super::limits::admit(path, Some(&current), &updated)?;
        if updated == current {
            return Ok(current);
        }
        self.bump(&mut updated);
        let key = (Self::ns(path), path.name.clone().unwrap_or_default());
        let finalizers_empty = updated["metadata"]["finalizers"].as_array().is_none_or(Vec::is_empty);
        if updated["metadata"].get("deletionTimestamp").is_some() && finalizers_empty {
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

    pub fn replace(&mut self, path: &Path, body: &[u8]) -> Result<Value, ApiError> {
        let current = self.current(path)?;
        let updated: Value = super::limits::parse(body)?;
        still_at(&updated, &current)?;
        self.store(path, current, updated)
    }

    pub fn patch(
        &mut self,
        path: &Path,
        content_type: &str,
        body: &[u8],
        manager: &str,
        force: bool,
    ) -> Result<Value, ApiError> {
        let patch: Value = super::limits::parse(body)?;
        let key = (Self::bucket(path), Self::ns(path), path.name.clone().unwrap_or_default());
        let current = match self.current(path) {
            Ok(current) => current,
            // Server-side apply creates what does not exist yet.
            Err(_) if content_type.starts_with("application/apply-patch") => {
                let created = self.create(path, body)?;
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

    pub fn delete(&mut self, path: &Path) -> Result<Value, ApiError> {
        let current = self.current(path)?;
        let has_finalizers = current["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if current["metadata"].get("deletionTimestamp").is_some() {
                return Ok(current);
            }
            let mut marked = current.clone();
            marked["metadata"]["deletionTimestamp"] =
                json!(jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
            self.bump(&mut marked);
            let key = (Self::ns(path), path.name.clone().unwrap_or_default());
            self.objects.entry(Self::bucket(path)).or_default().insert(key.clone(), marked.clone());
            self.record(path, &key.0, "MODIFIED", &marked);
            return Ok(marked);
        }
        let key = (Self::ns(path), path.name.clone().unwrap_or_default());
        if let Some(bucket) = self.objects.get_mut(&Self::bucket(path)) {
            bucket.remove(&key);
        }
        let mut gone = current;
        self.bump(&mut gone);
        self.record(path, &key.0, "DELETED", &gone);
        Ok(gone)
    }
}
