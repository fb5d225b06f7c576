//! Manifests written into a temporary directory, pointing at the test's KMS server.

use std::path::Path;

use tempfile::TempDir;

/// moto's default account, reached with plain test credentials.
pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

pub struct Workspace {
    pub dir: TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, yaml: &str) {
        std::fs::write(self.dir.path().join(name), yaml).expect("write manifest");
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).expect("remove manifest");
    }
}

/// An AwsAccount named `test` for the server at `endpoint`, open to every namespace, which may
/// also adopt keys the operator did not create (tests/tenancy.rs narrows both).
pub fn account(endpoint: &str) -> String {
    account_with(endpoint, "allowedNamespaces: {}\npermissions: {adoptionNamespaces: {}}")
}

/// An AwsAccount named `test` with `spec` lines appended (indented 2 spaces). The server at
/// `endpoint` answers STS too (as moto does, in its own account, `ACCOUNT_ID`), so the account
/// is verified there, unless `spec` names its own `stsEndpointUrl`.
pub fn account_with(endpoint: &str, spec: &str) -> String {
    let mut yaml = format!(
        "apiVersion: kmsoperator.dev/v1alpha1\nkind: AwsAccount\nmetadata:\n  name: test\nspec:\n  accountId: \"{ACCOUNT_ID}\"\n  region: {REGION}\n  endpointUrl: {endpoint}\n"
    );
    if !spec.lines().any(|line| line.trim_start().starts_with("stsEndpointUrl:")) {
        yaml.push_str(&format!("  stsEndpointUrl: {endpoint}\n"));
    }
    for line in spec.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str("  ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

/// A Namespace manifest with `labels` (a YAML flow mapping).
pub fn namespace(name: &str, labels: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels: {labels}\n")
}

/// A KmsKey named `name` in namespace `apps` with `spec` lines appended (indented 2 spaces).
pub fn key(name: &str, spec: &str) -> String {
    key_in("apps", name, spec)
}

/// A KmsKey of account `test` named `name` in `namespace`.
pub fn key_in(namespace: &str, name: &str, spec: &str) -> String {
    object_in("KmsKey", namespace, name, &format!("accountRef: test\n{spec}"))
}

fn object(kind: &str, name: &str, spec: &str) -> String {
    object_in(kind, "apps", name, spec)
}

/// A `kind` object named `name` in `namespace`, with `spec` lines (indented 2 spaces).
pub fn object_in(kind: &str, namespace: &str, name: &str, spec: &str) -> String {
    let mut yaml = format!(
        "apiVersion: kmsoperator.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n"
    );
    for line in spec.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str("  ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

/// A KmsAlias named `name` in namespace `apps`.
pub fn alias(name: &str, spec: &str) -> String {
    object("KmsAlias", name, spec)
}

/// A KmsGrant named `name` in namespace `apps`.
pub fn grant(name: &str, spec: &str) -> String {
    object("KmsGrant", name, spec)
}
