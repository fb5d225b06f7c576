//! Admission in local mode: the same rules the controller applies, with the namespaces' labels
//! taken from the `Namespace` manifests of the set. The runner asks per object before any AWS
//! call; `validate` asks for the whole set.

use super::manifests::ManifestSet;
use crate::api::tenancy::{Reason, Refusal};
use crate::api::validate::Issue;
use crate::api::{KeyPointer, KmsKey, ObjectName};
use crate::engine::admission::{self, AccountRef, Tenant};
use crate::engine::on_key::OnKey;

/// Why an object does not reach the engine.
#[derive(Clone, Debug, PartialEq)]
pub enum Unadmitted {
    /// Its account is not among the manifests (validation reports that first).
    NoAccount(String),
    Refused(Vec<Refusal>),
}

pub struct Admission<'a> {
    set: &'a ManifestSet,
}

fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.namespace.clone().filter(|ns| !ns.is_empty()).unwrap_or_else(|| "default".to_owned())
}

impl<'a> Admission<'a> {
    pub fn new(set: &'a ManifestSet) -> Self {
        Admission { set }
    }

    fn account(&self, name: &'a str) -> Result<AccountRef<'a>, Unadmitted> {
        let account = self
            .set
            .account(name)
            .ok_or_else(|| Unadmitted::NoAccount(format!("AwsAccount {name} is not among the manifests")))?;
        Ok(AccountRef { name, spec: &account.object.spec })
    }

    pub fn key(&self, key: &'a KmsKey) -> Result<Tenant, Unadmitted> {
        let account = self.account(&key.spec.account_ref)?;
        let labels = self.set.labels(&namespace_of(&key.metadata));
        admission::admit_key(key, account, &labels).map_err(Unadmitted::Refused)
    }

    /// An alias or grant, against the account of the key it points at: its KmsKey's, or
    /// `accountRef`.
    pub fn on_key<T: OnKey + kube::Resource>(&self, object: &'a T) -> Result<Tenant, Unadmitted> {
        let namespace = namespace_of(object.meta());
        match self.pointed_account(&namespace, object.pointer()) {
            Some(name) => self.on_key_in(object, name),
            None => Err(Unadmitted::NoAccount("its key's AwsAccount is not among the manifests".to_owned())),
        }
    }

    /// An alias or grant, against the AwsAccount `name` (where its key is looked for when its
    /// KmsKey is not among the manifests).
    pub fn on_key_in<T: OnKey + kube::Resource>(&self, object: &'a T, name: &'a str) -> Result<Tenant, Unadmitted> {
        let namespace = namespace_of(object.meta());
        let account = self.account(name)?;
        admission::admit_on_key(object, account, &self.set.labels(&namespace)).map_err(Unadmitted::Refused)
    }

    fn pointed_account(&self, namespace: &str, pointer: KeyPointer<'a>) -> Option<&'a str> {
        match (pointer.key_ref, pointer.account_ref) {
            (Some(key_ref), _) => self.set.key(namespace, &key_ref.name).map(|k| k.object.spec.account_ref.as_str()),
            (None, account) => account,
        }
    }

    /// Every refusal of the set, each placed in its file: what `validate` reports. Objects whose
    /// account is missing are left to validation, which names that problem itself.
    pub fn refusals(&self) -> Vec<(Reason, Issue)> {
        let mut found = Vec::new();
        let mut place = |refusals: Result<Tenant, Unadmitted>, source: &super::manifests::Source| {
            if let Err(Unadmitted::Refused(refusals)) = refusals {
                found.extend(refusals.into_iter().map(|r| (r.reason, source.locate(r.issue))));
            }
        };
        for key in &self.set.keys {
            place(self.key(&key.object), &key.source);
        }
        for alias in &self.set.aliases {
            place(self.on_key(&alias.object), &alias.source);
        }
        for grant in &self.set.grants {
            place(self.on_key(&grant.object), &grant.source);
        }
        found.sort_by(|(_, a), (_, b)| (&a.file, a.line).cmp(&(&b.file, b.line)));
        found
    }
}

/// The row an unadmitted object gets in a run's results.
pub fn unadmitted_result(object: ObjectName, why: Unadmitted) -> super::result::ResourceResult {
    use super::result::ResourceResult;
    match why {
        Unadmitted::NoAccount(reason) => ResourceResult::unresolved(object, reason),
        Unadmitted::Refused(refusals) => match admission::summary(&refusals) {
            Some((reason, message)) => ResourceResult::refused(object, reason, message),
            None => ResourceResult::unresolved(object, "refused without a reason".to_owned()),
        },
    }
}
