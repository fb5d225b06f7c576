//! What the API server knows about each resource it serves: its kind, whether it is namespaced,
//! whether it has a status subresource, and for custom resources the CRD's structural schema,
//! by which it prunes every field the schema does not declare.

use std::collections::HashMap;

use serde_json::Value;

pub struct Resource {
    pub kind: String,
    pub namespaced: bool,
    /// Writes to the object ignore `status`, and writes to `/status` ignore everything else.
    pub status_subresource: bool,
    /// The structural schema (`openAPIV3Schema`) of a custom resource's served version.
    pub schema: Option<Value>,
}

/// The resources of this server: the built-in ones the operator touches, and the operator's
/// CRDs exactly as `kms-operator crds` prints them.
pub struct Resources(HashMap<(String, String), Resource>);

impl Resources {
    pub fn standard() -> Resources {
        let mut resources = HashMap::new();
        let builtin = [
            ("v1", "namespaces", "Namespace", false, true),
            ("v1", "configmaps", "ConfigMap", true, false),
            ("v1", "events", "Event", true, false),
            ("events.k8s.io/v1", "events", "Event", true, false),
            ("coordination.k8s.io/v1", "leases", "Lease", true, false),
        ];
        for (group_version, plural, kind, namespaced, status_subresource) in builtin {
            let resource = Resource { kind: kind.to_owned(), namespaced, status_subresource, schema: None };
            resources.insert((group_version.to_owned(), plural.to_owned()), resource);
        }
        for crd in kms_operator::api::crds::all() {
            let crd = serde_json::to_value(crd).expect("CRD as JSON");
            let spec = &crd["spec"];
            for version in spec["versions"].as_array().into_iter().flatten().filter(|v| v["served"] == true) {
                let group_version = format!(
                    "{}/{}",
                    spec["group"].as_str().unwrap_or_default(),
                    version["name"].as_str().unwrap_or_default()
                );
                let resource = Resource {
                    kind: spec["names"]["kind"].as_str().unwrap_or_default().to_owned(),
                    namespaced: spec["scope"] == "Namespaced",
                    status_subresource: version["subresources"].get("status").is_some(),
                    schema: Some(version["schema"]["openAPIV3Schema"].clone()),
                };
                let plural = spec["names"]["plural"].as_str().unwrap_or_default().to_owned();
                resources.insert((group_version, plural), resource);
            }
        }
        Resources(resources)
    }

    /// Serves a newer CRD than the binary's, as a cluster does after the operator was rolled
    /// back: `patch` (a JSON merge patch) is merged into the resource's schema.
    pub fn extend_schema(&mut self, group_version: &str, plural: &str, patch: &Value) {
        let resource = self.0.get_mut(&(group_version.to_owned(), plural.to_owned())).expect("a served resource");
        json_patch::merge(resource.schema.as_mut().expect("a custom resource"), patch);
    }

    pub fn get(&self, group_version: &str, plural: &str) -> Option<&Resource> {
        self.0.get(&(group_version.to_owned(), plural.to_owned()))
    }

    /// The plural and resource of `kind` in `group_version`, as an ownerReference names it.
    pub fn of_kind(&self, group_version: &str, kind: &str) -> Option<(&str, &Resource)> {
        self.0
            .iter()
            .find(|((gv, _), resource)| gv == group_version && resource.kind == kind)
            .map(|((_, plural), resource)| (plural.as_str(), resource))
    }
}

/// Removes from `object` every field its structural schema does not declare, as the API server
/// does before it stores a custom resource (`apiVersion`, `kind` and `metadata` stay); returns
/// the paths of the fields it removed.
pub fn prune(object: &mut Value, schema: &Value) -> Vec<String> {
    let mut pruned = Vec::new();
    if let Value::Object(fields) = object {
        for (name, value) in fields.iter_mut() {
            if let Some(field_schema) = schema["properties"].get(name.as_str()) {
                prune_value(value, field_schema, &format!(".{name}"), &mut pruned);
            }
        }
        fields.retain(|name, _| {
            let kept = matches!(name.as_str(), "apiVersion" | "kind" | "metadata")
                || schema["properties"].get(name.as_str()).is_some();
            if !kept {
                pruned.push(format!(".{name}"));
            }
            kept
        });
    }
    pruned
}

fn prune_value(value: &mut Value, schema: &Value, path: &str, pruned: &mut Vec<String>) {
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (name, child) in fields.iter_mut() {
                let child_schema = properties.and_then(|p| p.get(name)).or(additional);
                if let Some(child_schema) = child_schema {
                    prune_value(child, child_schema, &format!("{path}.{name}"), pruned);
                }
            }
            if !preserve {
                fields.retain(|name, _| {
                    let declared = properties.is_some_and(|p| p.contains_key(name))
                        || additional.is_some()
                        || schema["additionalProperties"] == true;
                    if !declared {
                        pruned.push(format!("{path}.{name}"));
                    }
                    declared
                });
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_value(item, item_schema, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}
