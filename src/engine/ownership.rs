//! The tag that marks a key as created by this operator, for one cluster, namespace and name,
//! and what it means for an object in some namespace: a key belongs to the namespace its tag
//! names, in the cluster its tag names.

use std::collections::BTreeMap;

use crate::api::ObjectName;

pub const OWNER_TAG: &str = "kmsoperator.dev/owner";

/// `<cluster>/<namespace>/<name>`.
pub fn owner_value(cluster: &str, object: &ObjectName) -> String {
    format!("{cluster}/{}", object.qualified())
}

pub fn owner_of(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(OWNER_TAG).map(String::as_str)
}

/// The cluster, namespace and name an ownership tag names. Read from the right, because
/// namespaces and names cannot hold a `/` but a cluster name may.
pub fn parse_owner(value: &str) -> Option<(&str, &str, &str)> {
    let mut parts = value.rsplitn(3, '/');
    let name = parts.next()?;
    let namespace = parts.next()?;
    let cluster = parts.next()?;
    (!cluster.is_empty() && !namespace.is_empty() && !name.is_empty()).then_some((cluster, namespace, name))
}

/// Who a key belongs to, as seen from one namespace of this cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOwner {
    /// It carries this cluster's ownership tag for the namespace asking.
    Namespace,
    /// It carries an ownership tag of another namespace or another cluster: the tag's value,
    /// where the operator may say whose it is (`--show-owners`).
    Foreign(Option<String>),
    /// It carries no ownership tag: the operator did not create it.
    Unowned,
}

impl KeyOwner {
    /// As told to a tenant: which other namespace or cluster owns a key is not said unless the
    /// platform lets the operator say it (`--show-owners`).
    pub fn told(self, show_owners: bool) -> Self {
        match self {
            KeyOwner::Foreign(_) if !show_owners => KeyOwner::Foreign(None),
            other => other,
        }
    }
}

/// Whose the key with `tags` is, for an object in `namespace` of `cluster`.
pub fn key_owner(tags: &BTreeMap<String, String>, cluster: &str, namespace: &str) -> KeyOwner {
    match owner_of(tags) {
        None => KeyOwner::Unowned,
        Some(value) => match parse_owner(value) {
            Some((c, ns, _)) if c == cluster && ns == namespace => KeyOwner::Namespace,
            _ => KeyOwner::Foreign(Some(value.to_owned())),
        },
    }
}

/// An ownership tag's value as a reader knows it: `KmsKey team-a/logs` (cluster `c`).
pub fn describe_owner(value: &str) -> String {
    match parse_owner(value) {
        Some((cluster, namespace, name)) => format!("KmsKey {namespace}/{name} (cluster {cluster})"),
        None => format!("{OWNER_TAG}={value}"),
    }
}

/// Another owner as a message may name it: the object, when the operator may say it.
pub fn describe_foreign(owner: Option<&str>) -> String {
    owner.map_or_else(|| "another namespace or cluster".to_owned(), describe_owner)
}

/// Whether `owner` (an ownership tag value) belongs to this cluster, whichever object it names.
pub fn is_this_cluster(cluster: &str, owner: &str) -> bool {
    owner.strip_prefix(cluster).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    fn tagged(value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(OWNER_TAG.to_owned(), value.to_owned()), ("Team".to_owned(), "a".to_owned())])
    }

    #[test]
    fn owner_names_cluster_namespace_and_name() {
        let object = ObjectName::new(Kind::KmsKey, Some("platform-kms"), "logs");
        let value = owner_value("prod", &object);
        assert_eq!(value, "prod/platform-kms/logs");
        assert!(is_this_cluster("prod", &value));
        assert!(!is_this_cluster("pro", &value));
        assert!(!is_this_cluster("staging", &value));
        assert_eq!(parse_owner("eu/prod/platform-kms/logs"), Some(("eu/prod", "platform-kms", "logs")));
        assert_eq!(parse_owner("logs"), None);
    }

    #[test]
    fn a_key_belongs_to_the_namespace_and_cluster_its_tag_names() {
        assert_eq!(key_owner(&tagged("prod/team-a/logs"), "prod", "team-a"), KeyOwner::Namespace);
        let foreign = |value: &str| KeyOwner::Foreign(Some(value.into()));
        assert_eq!(key_owner(&tagged("prod/team-a/logs"), "prod", "team-b"), foreign("prod/team-a/logs"));
        assert_eq!(key_owner(&tagged("staging/team-a/logs"), "prod", "team-a"), foreign("staging/team-a/logs"));
        assert_eq!(key_owner(&tagged("garbage"), "prod", "team-a"), foreign("garbage"));
        assert_eq!(key_owner(&BTreeMap::new(), "prod", "team-a"), KeyOwner::Unowned);
        assert_eq!(describe_owner("prod/team-a/logs"), "KmsKey team-a/logs (cluster prod)");
    }

    #[test]
    fn another_owner_is_named_only_where_the_platform_allows_it() {
        let seen = key_owner(&tagged("prod/team-a/logs"), "prod", "team-b");
        assert_eq!(seen.clone().told(false), KeyOwner::Foreign(None));
        assert_eq!(describe_foreign(None), "another namespace or cluster");
        let KeyOwner::Foreign(shown) = seen.told(true) else { panic!("foreign") };
        assert_eq!(describe_foreign(shown.as_deref()), "KmsKey team-a/logs (cluster prod)");
        assert_eq!(KeyOwner::Namespace.told(false), KeyOwner::Namespace);
    }
}
