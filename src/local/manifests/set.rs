//! The objects of one local-mode run, and the rules that need all of them at once.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use super::decode::Object;
use super::namespaces::NamespaceManifest;
use super::{Declaration, Loaded, Source};
use crate::api::KeyPointer;
use crate::api::tenancy::Labels;
use crate::api::validate::{self, Issue};
use crate::api::{AwsAccount, Kind, KmsAlias, KmsGrant, KmsKey, ObjectName};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ManifestSet {
    pub accounts: Vec<Loaded<AwsAccount>>,
    pub keys: Vec<Loaded<KmsKey>>,
    pub aliases: Vec<Loaded<KmsAlias>>,
    pub grants: Vec<Loaded<KmsGrant>>,
    /// `Namespace` manifests: their labels select which accounts a namespace may use.
    pub namespaces: Vec<Loaded<NamespaceManifest>>,
    /// Objects declared in the files that did not load (their issues are already reported).
    pub broken: BTreeSet<ObjectName>,
    /// Notes on objects of other API groups that were skipped.
    pub skipped: Vec<String>,
    /// Where each file read really is (links resolved), by the path its objects' sources show.
    pub real_paths: HashMap<PathBuf, PathBuf>,
    /// Every object the files declare, second declarations included.
    pub declarations: Vec<Declaration>,
    /// Lookups by name, so that a set of many objects is checked in time linear in its size.
    index: Index,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Index {
    accounts: HashMap<String, usize>,
    keys: HashMap<(String, String), usize>,
    keys_by_namespace: HashMap<String, Vec<usize>>,
    namespaces: HashMap<String, usize>,
}

/// How many names a message lists before it says how many more there are.
const LISTED: usize = 10;

/// `names`, at most [`LISTED`] of them, then how many were left out.
fn listed<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    let shown: Vec<&str> = names.take(LISTED).collect();
    match total - shown.len() {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Whether a `keyRef` may name a KmsKey that is not among the manifests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeysOutside {
    Refused,
    FoundByTag,
}

/// Namespaced objects without one live in `default`, as kubectl would place them.
pub(super) fn namespace_of(namespace: &Option<String>) -> &str {
    namespace.as_deref().filter(|ns| !ns.is_empty()).unwrap_or("default")
}

impl ManifestSet {
    pub fn account(&self, name: &str) -> Option<&Loaded<AwsAccount>> {
        self.index.accounts.get(name).map(|i| &self.accounts[*i])
    }

    /// The labels of `namespace` from its `Namespace` manifest; none without one, as API.md says.
    pub fn labels(&self, namespace: &str) -> Labels {
        self.namespace(namespace).map(|n| n.object.labels.clone()).unwrap_or_default()
    }

    pub fn namespace(&self, name: &str) -> Option<&Loaded<NamespaceManifest>> {
        self.index.namespaces.get(name).map(|i| &self.namespaces[*i])
    }

    pub fn key(&self, namespace: &str, name: &str) -> Option<&Loaded<KmsKey>> {
        self.index.keys.get(&(namespace.to_owned(), name.to_owned())).map(|i| &self.keys[*i])
    }

    /// The names of the KmsKeys of `namespace`, for messages.
    fn key_names_in(&self, namespace: &str) -> impl ExactSizeIterator<Item = &str> {
        let found = self.index.keys_by_namespace.get(namespace).map(Vec::as_slice).unwrap_or_default();
        found.iter().map(|i| self.keys[*i].object.metadata.name.as_deref().unwrap_or_default())
    }

    /// A key's primary region: its own, or its account's default.
    pub fn primary_region(&self, spec: &crate::api::KmsKeySpec) -> Option<String> {
        spec.region.clone().or_else(|| self.account(&spec.account_ref).map(|a| a.object.spec.region.clone()))
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.keys.is_empty() && self.aliases.is_empty() && self.grants.is_empty()
    }

    /// Declared in the files, but not loadable.
    fn is_broken(&self, kind: Kind, namespace: Option<&str>, name: &str) -> bool {
        !self.broken.is_empty() && self.broken.contains(&ObjectName::new(kind, namespace, name))
    }

    /// A set of these objects (no two of one kind, namespace and name), indexed as `load`
    /// indexes what it reads.
    pub fn of(
        accounts: Vec<Loaded<AwsAccount>>,
        keys: Vec<Loaded<KmsKey>>,
        aliases: Vec<Loaded<KmsAlias>>,
        grants: Vec<Loaded<KmsGrant>>,
        namespaces: Vec<Loaded<NamespaceManifest>>,
    ) -> ManifestSet {
        let mut set = ManifestSet::default();
        let objects = (accounts.into_iter().map(|l| (Object::Account(l.object), l.source)))
            .chain(keys.into_iter().map(|l| (Object::Key(l.object), l.source)))
            .chain(aliases.into_iter().map(|l| (Object::Alias(l.object), l.source)))
            .chain(grants.into_iter().map(|l| (Object::Grant(l.object), l.source)));
        for (object, source) in objects {
            set.push(object, source);
        }
        for namespace in namespaces {
            set.push_namespace(namespace.object, namespace.source);
        }
        set
    }

    /// Adds an object whose kind, namespace and name the set does not hold yet.
    pub(super) fn push(&mut self, object: Object, source: Source) {
        match object {
            Object::Account(object) => {
                let name = object.metadata.name.clone().unwrap_or_default();
                self.index.accounts.entry(name).or_insert(self.accounts.len());
                self.accounts.push(Loaded { object, source });
            }
            Object::Key(object) => {
                let namespace = namespace_of(&object.metadata.namespace).to_owned();
                let name = object.metadata.name.clone().unwrap_or_default();
                let at = self.keys.len();
                self.index.keys_by_namespace.entry(namespace.clone()).or_default().push(at);
                self.index.keys.entry((namespace, name)).or_insert(at);
                self.keys.push(Loaded { object, source });
            }
            Object::Alias(object) => self.aliases.push(Loaded { object, source }),
            Object::Grant(object) => self.grants.push(Loaded { object, source }),
        }
    }

    /// Adds a `Namespace` manifest whose name the set does not hold yet.
    pub(super) fn push_namespace(&mut self, namespace: NamespaceManifest, source: Source) {
        self.index.namespaces.entry(namespace.name.clone()).or_insert(self.namespaces.len());
        self.namespaces.push(Loaded { object: namespace, source });
    }

    /// Every validation rule over the whole set: each object's own rules, then its references
    /// to other objects of the set. Issues carry file and line.
    pub fn validate(&self) -> Vec<Issue> {
        self.validate_objects(KeysOutside::Refused)
    }

    /// The rules for deleting the set: an alias or grant may name a KmsKey that is not among
    /// the manifests (its key is found by its ownership tag), so that it can be deleted alone.
    pub fn validate_for_deletion(&self) -> Vec<Issue> {
        self.validate_objects(KeysOutside::FoundByTag)
    }

    fn validate_objects(&self, keys_outside: KeysOutside) -> Vec<Issue> {
        let mut issues = Vec::new();
        for account in &self.accounts {
            let found = validate::validate_account(&account.object);
            issues.extend(found.into_iter().map(|i| account.source.locate(i)));
        }
        for key in &self.keys {
            let spec = &key.object.spec;
            let account = self.account(&spec.account_ref);
            let mut found = validate::validate_key(&key.object, account.map(|a| &a.object.spec));
            if account.is_none()
                && !spec.account_ref.is_empty()
                && !self.is_broken(Kind::AwsAccount, None, &spec.account_ref)
            {
                found.push(self.missing_account(name_of(Kind::KmsKey, &key.object.metadata), &spec.account_ref));
            }
            issues.extend(found.into_iter().map(|i| key.source.locate(i)));
        }
        for alias in &self.aliases {
            let object = name_of(Kind::KmsAlias, &alias.object.metadata);
            let mut found = validate::validate_alias(&alias.object);
            found.extend(self.check_pointer(&object, &alias.object.spec.pointer(), keys_outside));
            issues.extend(found.into_iter().map(|i| alias.source.locate(i)));
        }
        for grant in &self.grants {
            let object = name_of(Kind::KmsGrant, &grant.object.metadata);
            let mut found = validate::validate_grant(&grant.object);
            found.extend(self.check_pointer(&object, &grant.object.spec.pointer(), keys_outside));
            issues.extend(found.into_iter().map(|i| grant.source.locate(i)));
        }
        issues.extend(super::claims::conflicting_claims(self));
        issues
    }

    fn missing_account(&self, object: ObjectName, account_ref: &str) -> Issue {
        let fix = if self.accounts.is_empty() {
            format!("add an AwsAccount named {account_ref} to the manifests")
        } else {
            let known = self.accounts.iter().map(|a| a.object.metadata.name.as_deref().unwrap_or_default());
            format!(
                "add an AwsAccount named {account_ref}, or use one of the AwsAccounts in the manifests: {}",
                listed(known)
            )
        };
        Issue::new(
            Some(object),
            "spec.accountRef",
            format!("names AwsAccount {account_ref:?}, which is not in the manifests"),
            fix,
        )
    }

    /// `keyRef` must name a KmsKey of the same namespace, `accountRef` an AwsAccount, and a
    /// `region` must be one the key lives in (its primary or a replica).
    fn check_pointer(&self, object: &ObjectName, pointer: &KeyPointer<'_>, keys_outside: KeysOutside) -> Vec<Issue> {
        let mut found = Vec::new();
        if pointer.target_key_id.is_some()
            && let Some(account_ref) = pointer.account_ref
            && self.account(account_ref).is_none()
            && !self.is_broken(Kind::AwsAccount, None, account_ref)
        {
            found.push(self.missing_account(object.clone(), account_ref));
        }
        let Some(key_ref) = pointer.key_ref.filter(|r| !r.name.is_empty()) else {
            return found;
        };
        let namespace = object.namespace.as_deref().unwrap_or("default");
        if self.is_broken(Kind::KmsKey, Some(namespace), &key_ref.name) {
            return found;
        }
        let Some(key) = self.key(namespace, &key_ref.name) else {
            if keys_outside == KeysOutside::FoundByTag {
                return found;
            }
            let here = self.key_names_in(namespace);
            let fix = if here.len() == 0 {
                format!(
                    "add a KmsKey named {} in namespace {namespace}; the manifests have no KmsKey there yet",
                    key_ref.name
                )
            } else {
                format!("use one of the KmsKeys in namespace {namespace}: {}", listed(here))
            };
            found.push(Issue::new(
                Some(object.clone()),
                "spec.keyRef.name",
                format!("names KmsKey {:?}, which is not in namespace {namespace} of the manifests", key_ref.name),
                fix,
            ));
            return found;
        };

        let spec = &key.object.spec;
        if let (Some(region), Some(primary)) = (pointer.region, self.primary_region(spec)) {
            let replicas: Vec<&str> = spec.replicas.iter().map(|r| r.region.as_str()).collect();
            if region != primary && !replicas.contains(&region) {
                let mut regions = vec![primary.as_str()];
                regions.extend(&replicas);
                found.push(Issue::new(
                    Some(object.clone()),
                    "spec.region",
                    format!(
                        "{region:?} is not a region KmsKey {namespace}/{} lives in",
                        key_ref.name
                    ),
                    format!(
                        "use the key's primary region or a replica region ({}), or remove spec.region to use the primary",
                        regions.join(", ")
                    ),
                ));
            }
        }
        found
    }
}

fn name_of(kind: Kind, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectName {
    ObjectName::of(kind, meta)
}
