//! The Helm chart rendered by Helm's own SDK (tests/chart/chart.py), for tests that check what
//! it installs against what the controller does.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use super::fake_kube::{Path, Seen};
use super::moto::{ensure_venv, project_root};

/// The objects the chart renders for `values` (templates only, as `helm install` would).
pub fn render(values: &Value) -> Vec<Value> {
    let venv = ensure_venv();
    let output = Command::new(venv.join("bin/python"))
        .arg(project_root().join("tests/chart/chart.py"))
        .arg(values.to_string())
        .output()
        .expect("render the chart");
    assert!(output.status.success(), "chart.py failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("rendered JSON")
}

pub type Permission = (String, String, String);

/// The RBAC permission a request needs: (API group, resource[/subresource], verb).
pub fn permission(request: &Seen) -> Permission {
    let path = Path::parse(&request.path).expect("a Kubernetes API path");
    let group = path.group_version.rsplit_once('/').map(|(group, _)| group.to_owned()).unwrap_or_default();
    let resource = match &path.subresource {
        Some(sub) => format!("{}/{sub}", path.plural),
        None => path.plural.clone(),
    };
    let verb = match (request.method.as_str(), &path.name) {
        ("GET", Some(_)) => "get",
        ("GET", None) if request.query.contains("watch=true") || request.query.contains("watch=1") => "watch",
        ("GET", None) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        (other, _) => panic!("unexpected method {other}"),
    };
    (group, resource, verb.to_owned())
}

/// Every permission the chart's Roles and ClusterRoles grant its ServiceAccount for `values`
/// (the roles it ships for tenants are bound to nobody by the chart).
pub fn granted(values: &Value) -> BTreeSet<Permission> {
    let objects = render(values);
    let role = |kind: &Value, name: &Value| format!("{}/{}", kind.as_str().unwrap_or(""), name.as_str().unwrap_or(""));
    let bound: BTreeSet<String> = objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRoleBinding" || o["kind"] == "RoleBinding")
        .filter(|o| o["subjects"].as_array().is_some_and(|s| s.iter().any(|s| s["kind"] == "ServiceAccount")))
        .map(|o| role(&o["roleRef"]["kind"], &o["roleRef"]["name"]))
        .collect();
    let mut permissions = BTreeSet::new();
    for object in objects.iter().filter(|o| bound.contains(&role(&o["kind"], &o["metadata"]["name"]))) {
        for rule in object["rules"].as_array().expect("rules") {
            for group in rule["apiGroups"].as_array().expect("apiGroups") {
                for resource in rule["resources"].as_array().expect("resources") {
                    for verb in rule["verbs"].as_array().expect("verbs") {
                        let text = |v: &Value| v.as_str().expect("string").to_owned();
                        permissions.insert((text(group), text(resource), text(verb)));
                    }
                }
            }
        }
    }
    permissions
}
