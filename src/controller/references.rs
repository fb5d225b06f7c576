//! Which objects to look at again when another one changes: the aliases and grants of a key,
//! the keys of an account.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::{AwsAccount, KeyReference, KmsAlias, KmsGrant, KmsKey};

fn points_at(key: &KmsKey, namespace: Option<String>, key_ref: Option<&KeyReference>) -> bool {
    key_ref.is_some_and(|r| r.name == key.name_any()) && namespace == key.namespace()
}

pub fn aliases_of(key: &KmsKey, aliases: &[Arc<KmsAlias>]) -> Vec<ObjectRef<KmsAlias>> {
    aliases
        .iter()
        .filter(|a| points_at(key, a.namespace(), a.spec.key_ref.as_ref()))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

pub fn grants_of(key: &KmsKey, grants: &[Arc<KmsGrant>]) -> Vec<ObjectRef<KmsGrant>> {
    grants
        .iter()
        .filter(|g| points_at(key, g.namespace(), g.spec.key_ref.as_ref()))
        .map(|g| ObjectRef::from_obj(g.as_ref()))
        .collect()
}

pub fn keys_of(account: &AwsAccount, keys: &[Arc<KmsKey>]) -> Vec<ObjectRef<KmsKey>> {
    keys.iter().filter(|k| k.spec.account_ref == account.name_any()).map(|k| ObjectRef::from_obj(k.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{KmsAliasSpec, KmsKeySpec};

    fn key(namespace: &str, name: &str) -> KmsKey {
        let spec: KmsKeySpec = serde_json::from_value(serde_json::json!({"accountRef": "sec"})).unwrap();
        let mut key = KmsKey::new(name, spec);
        key.metadata.namespace = Some(namespace.into());
        key
    }

    fn alias(namespace: &str, name: &str, key: &str) -> Arc<KmsAlias> {
        let spec: KmsAliasSpec =
            serde_json::from_value(serde_json::json!({"name": "alias/x", "keyRef": {"name": key}})).unwrap();
        let mut alias = KmsAlias::new(name, spec);
        alias.metadata.namespace = Some(namespace.into());
        Arc::new(alias)
    }

    #[test]
    fn a_key_change_wakes_its_aliases_in_its_namespace_only() {
        let aliases = vec![alias("apps", "a", "k"), alias("apps", "b", "other"), alias("team", "c", "k")];
        let woken: Vec<String> = aliases_of(&key("apps", "k"), &aliases).into_iter().map(|r| r.name).collect();
        assert_eq!(woken, vec!["a"]);
    }

    #[test]
    fn an_account_change_wakes_its_keys() {
        let keys = vec![Arc::new(key("apps", "k1")), Arc::new(key("team", "k2"))];
        let spec =
            serde_json::from_value(serde_json::json!({"accountId": "111122223333", "region": "eu-west-1"})).unwrap();
        assert_eq!(keys_of(&AwsAccount::new("sec", spec), &keys).len(), 2);
        let spec =
            serde_json::from_value(serde_json::json!({"accountId": "111122223333", "region": "eu-west-1"})).unwrap();
        assert!(keys_of(&AwsAccount::new("other", spec), &keys).is_empty());
    }
}
