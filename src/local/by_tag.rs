//! An alias or grant deleted while its KmsKey is not among the manifests (`delete -f
//! alias.yaml`, or the deletions `plan --base` plans when the key stays): its key is found by
//! the KmsKey's ownership tag, in the accounts the object's namespace may use. Every tenancy
//! rule holds as for any deletion: the namespace must be admitted by the account searched (no
//! call to an account that does not admit it), the tag names the object's own namespace (so no
//! other namespace's key can be found), and the engine's deletion plan leaves an alias on any
//! other key alone.

use super::admission::{Admission, Unadmitted};
use super::manifests::ManifestSet;
use crate::api::tenancy::Refusal;
use crate::aws::AccountConfig;
use crate::engine::admission::Tenant;
use crate::engine::alias::KeyTarget;
use crate::engine::on_key::OnKey;
use crate::engine::{Engine, EngineError};

/// Why no key was found for the object.
pub enum Unfound {
    /// A tenancy rule refuses it in every account it could use.
    Refused(Unadmitted),
    /// No key carries the tag where the KmsKey would be: nothing of it to delete.
    Missing(String),
    Failed(EngineError),
}

/// Where to look: the object's own region, else where a KmsKey of that name is declared in
/// `reference` (the manifests after the change), else each account's region.
pub struct Search<'a> {
    pub engine: &'a Engine,
    pub set: &'a ManifestSet,
    pub reference: Option<&'a ManifestSet>,
}

impl Search<'_> {
    /// The key KmsKey `key_name` of the object's namespace has, and the object's tenancy in its
    /// account. `usable` gives an account's configuration, or why it cannot be used.
    pub async fn find<'s, T>(
        &'s self,
        object: &'s T,
        namespace: &str,
        key_name: &str,
        usable: impl Fn(&str) -> Result<&'s AccountConfig, String>,
    ) -> Result<(KeyTarget, Tenant), Unfound>
    where
        T: OnKey + kube::Resource,
    {
        let declared = self.reference.and_then(|r| r.key(namespace, key_name).map(|k| (r, k)));
        let names: Vec<&str> = match declared {
            Some((_, key)) => vec![key.object.spec.account_ref.as_str()],
            None => self.set.accounts.iter().filter_map(|a| a.object.metadata.name.as_deref()).collect(),
        };
        let admission = Admission::new(self.set);
        let mut refusals: Vec<Refusal> = Vec::new();
        let mut admitted = Vec::new();
        for name in names {
            match admission.on_key_in(object, name) {
                Ok(tenant) => admitted.push((name, tenant)),
                Err(Unadmitted::Refused(found)) => refusals.extend(found),
                Err(missing @ Unadmitted::NoAccount(_)) if declared.is_some() => return Err(Unfound::Refused(missing)),
                Err(Unadmitted::NoAccount(_)) => {}
            }
        }
        if admitted.is_empty() {
            return Err(Unfound::Refused(if refusals.is_empty() {
                Unadmitted::NoAccount("no AwsAccount among the manifests to look for its key in".to_owned())
            } else {
                Unadmitted::Refused(refusals)
            }));
        }
        let mut found = Vec::new();
        let mut looked = Vec::new();
        for (name, tenant) in admitted {
            let account = usable(name).map_err(|reason| Unfound::Failed(EngineError::Unresolved(reason)))?;
            let declared_region = declared.and_then(|(reference, key)| reference.primary_region(&key.object.spec));
            let region =
                object.pointer().region.map(str::to_owned).or(declared_region).unwrap_or(account.region.clone());
            looked.push(format!("AwsAccount {name} ({region})"));
            match self.engine.key_by_owner(account, &region, namespace, key_name).await {
                Ok(Some(target)) => found.push((target, tenant)),
                Ok(None) => {}
                Err(error) => return Err(Unfound::Failed(error)),
            }
        }
        let missing = || {
            format!(
                "KmsKey {namespace}/{key_name} is not among the manifests, and no key carries its ownership tag in {}: nothing of it to delete (name the key's region in spec.region if it lives elsewhere)",
                looked.join(", ")
            )
        };
        match found.len() {
            0 => Err(Unfound::Missing(missing())),
            1 => Ok(found.remove(0)),
            _ => Err(Unfound::Failed(EngineError::Unresolved(format!(
                "keys carrying the ownership tag of KmsKey {namespace}/{key_name} are in several accounts ({}): delete with the KmsKey among the manifests",
                looked.join(", ")
            )))),
        }
    }
}
