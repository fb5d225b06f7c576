//! Admission: whether an object may use its account at all, decided before the engine reads
//! or writes anything for it. Both front doors call these functions with what they know (the
//! account's spec, the namespace's labels from the cluster or from `Namespace` manifests); the
//! engine then applies the rules that need KMS's answer (who owns the key) with the `Tenant`
//! an admitted object gets.

use crate::api::tenancy::{self, Labels, Permitted, Refusal};
use crate::api::{AwsAccountSpec, Kind, KmsKey, ObjectName};
use crate::engine::on_key::OnKey;

/// What an admitted object may do that depends on its namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub namespace: String,
    /// Whether the namespace may adopt or target keys the operator did not create
    /// (`permissions.adoptionNamespaces`).
    pub may_adopt: bool,
}

/// The `AwsAccount` an object uses, by name and spec.
#[derive(Clone, Copy, Debug)]
pub struct AccountRef<'a> {
    pub name: &'a str,
    pub spec: &'a AwsAccountSpec,
}

impl<'a> AccountRef<'a> {
    fn permitted(self) -> Permitted<'a> {
        Permitted { account: self.name, spec: self.spec }
    }
}

/// The namespace rule first (when it refuses, nothing else about the object matters to its
/// account), then the object's own rules.
fn admit(
    object: &ObjectName,
    account: AccountRef<'_>,
    labels: &Labels,
    rules: impl FnOnce(Permitted<'_>) -> Vec<Refusal>,
) -> Result<Tenant, Vec<Refusal>> {
    if let Some(refusal) = tenancy::namespace_refusal(object, account.name, account.spec, labels) {
        return Err(vec![refusal]);
    }
    let refusals = rules(account.permitted());
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let adoption = account.spec.permissions.as_ref().and_then(|p| p.adoption_namespaces.as_ref());
    Ok(Tenant {
        namespace: object.namespace.clone().unwrap_or_else(|| "default".to_owned()),
        may_adopt: tenancy::selects(adoption, labels),
    })
}

/// A `KmsKey` in a namespace with `labels`, using `account`.
pub fn admit_key(key: &KmsKey, account: AccountRef<'_>, labels: &Labels) -> Result<Tenant, Vec<Refusal>> {
    let object = ObjectName::of(Kind::KmsKey, &key.metadata);
    admit(&object, account, labels, |permitted| tenancy::check_key(key, &object, permitted))
}

/// A `KmsAlias` or `KmsGrant`, using the account of the key it points at.
pub fn admit_on_key<T: OnKey>(object: &T, account: AccountRef<'_>, labels: &Labels) -> Result<Tenant, Vec<Refusal>> {
    let name = object.object_name();
    admit(&name, account, labels, |permitted| object.refusals(&name, permitted))
}

/// Whether an alias or grant may remove what it made in `account`: only whether its namespace
/// may use the account at all. Removing opens nothing, so the object's own rules (which
/// principals a grant may name, say) do not keep a grant live after the account narrowed them.
pub fn admit_removal<T: OnKey>(object: &T, account: AccountRef<'_>, labels: &Labels) -> Result<Tenant, Vec<Refusal>> {
    admit(&object.object_name(), account, labels, |_| Vec::new())
}

/// One line for all refusals of an object: the first reason, every message (each a sentence).
pub fn summary(refusals: &[Refusal]) -> Option<(&'static str, String)> {
    let first = refusals.first()?;
    let message = refusals.iter().map(|r| r.issue.to_string()).collect::<Vec<_>>().join(" ");
    Some((first.reason.as_str(), message))
}
