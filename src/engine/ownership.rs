//! The tag that marks a key as created by this operator, for one cluster, namespace and name,
//! and what it means for an object in some namespace: a key belongs to the namespace its tag
//! names, in the cluster its tag names.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::api::ObjectName;
use crate::api::catalog::MAX_TAG_VALUE_CHARS;

pub const OWNER_TAG: &str = "kmsoperator.dev/owner";

/// `<cluster>/<namespace>/<name>`. KMS keeps 256 characters of a tag value, and a namespace (63)
/// and a name (253) may hold more together: then the name is cut and ends in `+` and 16 hex
/// digits of its SHA-256, so that the value still fits, stays the same on every run, differs
/// for every name, and still names the cluster and namespace that ownership and IAM read.
/// (`+` is not in Kubernetes names, so a shortened value never equals a name written out.)
pub fn owner_value(cluster: &str, object: &ObjectName) -> String {
    let full = format!("{cluster}/{}", object.qualified());
    if full.chars().count() <= MAX_TAG_VALUE_CHARS {
        return full;
    }
    let namespace = object.namespace.as_deref().unwrap_or("default");
    let digest = Sha256::digest(object.name.as_bytes());
    let hex: String = digest.iter().take(NAME_DIGEST_BYTES).map(|b| format!("{b:02x}")).collect();
    let prefix = format!("{cluster}/{namespace}/");
    let room = MAX_TAG_VALUE_CHARS.saturating_sub(prefix.chars().count() + 1 + hex.len());
    let head: String = object.name.chars().take(room).collect();
    format!("{prefix}{head}+{hex}")
}

/// 16 hex digits: a collision between two names of one namespace is out of reach.
const NAME_DIGEST_BYTES: usize = 8;

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
    owner_from(owner_of(tags), cluster, namespace)
}

/// Whose a key with the ownership tag value `owner` (none: no tag) is, for an object in
/// `namespace` of `cluster`.
pub fn owner_from(owner: Option<&str>, cluster: &str, namespace: &str) -> KeyOwner {
    match owner {
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
    fn an_owner_too_long_for_a_tag_value_is_shortened_and_keeps_cluster_and_namespace() {
        let namespace = "n".repeat(63);
        let long = ObjectName::new(Kind::KmsKey, Some(&namespace), &"k".repeat(253));
        let value = owner_value("kms-operator", &long);
        assert_eq!(value.chars().count(), MAX_TAG_VALUE_CHARS, "{value}");
        assert_eq!(value, owner_value("kms-operator", &long), "the same on every run");
        let (cluster, ns, name) = parse_owner(&value).expect("still parses");
        assert_eq!((cluster, ns), ("kms-operator", namespace.as_str()));
        assert!(name.starts_with("kkk") && name.contains('+'), "{name}");
        assert_eq!(key_owner(&tagged(&value), "kms-operator", &namespace), KeyOwner::Namespace);
        // Names that share the kept head still get different values.
        let other = ObjectName::new(Kind::KmsKey, Some(&namespace), &format!("{}x", "k".repeat(252)));
        assert_ne!(owner_value("kms-operator", &other), value);
        // The longest cluster name the command line takes still leaves room for a name.
        let widest = owner_value(&"c".repeat(crate::engine::args::MAX_CLUSTER_NAME_CHARS), &long);
        assert_eq!(widest.chars().count(), MAX_TAG_VALUE_CHARS, "{widest}");
        assert!(parse_owner(&widest).is_some_and(|(_, _, name)| name.starts_with('k')), "{widest}");
        // A value that fits is left as it is.
        let fits = ObjectName::new(Kind::KmsKey, Some("team-a"), &"k".repeat(247));
        assert_eq!(owner_value("c", &fits), format!("c/team-a/{}", "k".repeat(247)));
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
