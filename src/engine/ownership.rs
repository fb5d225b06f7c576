//! The tag that marks a key as created by this operator, for one cluster, namespace and name.

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

/// Whether `owner` (an ownership tag value) belongs to this cluster, whichever object it names.
pub fn is_this_cluster(cluster: &str, owner: &str) -> bool {
    owner.strip_prefix(cluster).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    #[test]
    fn owner_names_cluster_namespace_and_name() {
        let object = ObjectName::new(Kind::KmsKey, Some("platform-kms"), "logs");
        let value = owner_value("prod", &object);
        assert_eq!(value, "prod/platform-kms/logs");
        assert!(is_this_cluster("prod", &value));
        assert!(!is_this_cluster("pro", &value));
        assert!(!is_this_cluster("staging", &value));
    }
}
