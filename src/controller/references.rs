//! Which objects to look at again when another one changes: the aliases and grants of a key,
//! the keys of an account.

use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::watched::Watched;
use crate::api::{AwsAccount, KeyReference, KmsAlias, KmsGrant, KmsKey};

/// Objects that cannot be read name no reference: nothing can be followed from them.
fn points_at(key: &Watched<KmsKey>, namespace: Option<String>, key_ref: Option<&KeyReference>) -> bool {
    key_ref.is_some_and(|r| r.name == key.name_any()) && namespace == key.namespace()
}

pub fn aliases_of(key: &Watched<KmsKey>, aliases: &[Arc<Watched<KmsAlias>>]) -> Vec<ObjectRef<Watched<KmsAlias>>> {
    aliases
        .iter()
        .filter(|a| a.0.as_ref().is_ok_and(|a| points_at(key, a.namespace(), a.spec.key_ref.as_ref())))
        .map(|a| ObjectRef::from_obj(a.as_ref()))
        .collect()
}

pub fn grants_of(key: &Watched<KmsKey>, grants: &[Arc<Watched<KmsGrant>>]) -> Vec<ObjectRef<Watched<KmsGrant>>> {
    grants
        .iter()
        .filter(|g| g.0.as_ref().is_ok_and(|g| points_at(key, g.namespace(), g.spec.key_ref.as_ref())))
        .map(|g| ObjectRef::from_obj(g.as_ref()))
        .collect()
}

/// The KmsKey an alias names, where that key exports a ConfigMap: the ConfigMap lists the
/// alias, so an alias that changes wakes the key; a key that exports nothing is left alone.
pub fn exporting_key_of(
    alias: &Watched<KmsAlias>,
    keys: &[Arc<Watched<KmsKey>>],
) -> Option<ObjectRef<Watched<KmsKey>>> {
    let alias = alias.0.as_ref().ok()?;
    let key_ref = alias.spec.key_ref.as_ref()?;
    let exports = |k: &Arc<Watched<KmsKey>>| {
        points_at(k, alias.namespace(), Some(key_ref))
            && k.0.as_ref().is_ok_and(|k| k.spec.export_config_map().is_some())
    };
    keys.iter().find(|k| exports(k)).map(|k| ObjectRef::from_obj(k.as_ref()))
}

pub fn keys_of(account: &Watched<AwsAccount>, keys: &[Arc<Watched<KmsKey>>]) -> Vec<ObjectRef<Watched<KmsKey>>> {
    keys.iter()
        .filter(|k| k.0.as_ref().is_ok_and(|k| k.spec.account_ref == account.name_any()))
        .map(|k| ObjectRef::from_obj(k.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{KmsAliasSpec, KmsKeySpec};
    use kube::core::DeserializeGuard;

    fn key(namespace: &str, name: &str) -> Watched<KmsKey> {
        let spec: KmsKeySpec = serde_json::from_value(serde_json::json!({"accountRef": "sec"})).unwrap();
        let mut key = KmsKey::new(name, spec);
        key.metadata.namespace = Some(namespace.into());
        DeserializeGuard(Ok(key))
    }

    fn alias(namespace: &str, name: &str, key: &str) -> Arc<Watched<KmsAlias>> {
        let spec: KmsAliasSpec =
            serde_json::from_value(serde_json::json!({"name": "alias/x", "keyRef": {"name": key}})).unwrap();
        let mut alias = KmsAlias::new(name, spec);
        alias.metadata.namespace = Some(namespace.into());
        Arc::new(DeserializeGuard(Ok(alias)))
    }

    #[test]
    fn a_key_change_wakes_its_aliases_in_its_namespace_only() {
        let aliases = vec![alias("apps", "a", "k"), alias("apps", "b", "other"), alias("team", "c", "k")];
        let woken: Vec<String> = aliases_of(&key("apps", "k"), &aliases).into_iter().map(|r| r.name).collect();
        assert_eq!(woken, vec!["a"]);
    }

    #[test]
    fn an_alias_wakes_the_key_it_names_when_that_key_exports() {
        let mut exporting = key("apps", "logs");
        if let Ok(key) = exporting.0.as_mut() {
            key.spec.export = serde_json::from_value(serde_json::json!({"configMapName": "logs-kms"})).unwrap();
        }
        let keys = vec![Arc::new(exporting), Arc::new(key("apps", "quiet")), Arc::new(key("team", "logs"))];
        let woken = exporting_key_of(&alias("apps", "a", "logs"), &keys).expect("a key");
        assert_eq!((woken.name.as_str(), woken.namespace.as_deref()), ("logs", Some("apps")));
        assert!(exporting_key_of(&alias("apps", "b", "quiet"), &keys).is_none(), "exports nothing");
        assert!(exporting_key_of(&alias("other", "c", "logs"), &keys).is_none(), "another namespace");
        let by_id = KmsAlias::new(
            "d",
            serde_json::from_value(serde_json::json!({"name": "alias/d", "targetKeyId": "k", "accountRef": "sec"}))
                .unwrap(),
        );
        assert!(exporting_key_of(&DeserializeGuard(Ok(by_id)), &keys).is_none());
    }

    #[test]
    fn an_account_change_wakes_its_keys() {
        let keys = vec![Arc::new(key("apps", "k1")), Arc::new(key("team", "k2"))];
        let account = |name: &str| {
            let spec = serde_json::from_value(serde_json::json!({"accountId": "111122223333", "region": "eu-west-1"}))
                .unwrap();
            DeserializeGuard(Ok(AwsAccount::new(name, spec)))
        };
        assert_eq!(keys_of(&account("sec"), &keys).len(), 2);
        assert!(keys_of(&account("other"), &keys).is_empty());
    }
}
