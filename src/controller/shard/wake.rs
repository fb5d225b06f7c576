//! What a relabelled AwsAccount wakes when sharded: the account itself and the aliases and
//! grants on its keys (its keys follow their account's labels already,
//! `watched::account_inputs`), so the shard that loses them gives them back, and the one that
//! gains them claims them, at once rather than at the next resync. Without shards nothing here
//! is wired.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::super::on_key::OnKeyResource;
use super::super::watched::{self, Followed, Watched};
use crate::api::{AwsAccount, Kind, KmsKey};
use crate::engine::on_key::OnKey;

/// An account's labels, as one hash: only their change moves objects between shards.
pub fn labels(account: &Watched<AwsAccount>) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    account.labels().hash(&mut hasher);
    Some(hasher.finish())
}

/// The objects among `objects` whose account is `account`: through their KmsKey, or named
/// beside `targetKeyId`.
pub fn on_account<T>(
    account: &Watched<AwsAccount>,
    keys: &[Arc<Watched<KmsKey>>],
    objects: &[Arc<Watched<T>>],
) -> Vec<ObjectRef<Watched<T>>>
where
    T: OnKey + kube::Resource<DynamicType = ()>,
{
    let account = account.name_any();
    let keys_of_account: BTreeSet<(Option<String>, String)> = keys
        .iter()
        .filter(|k| k.0.as_ref().is_ok_and(|k| k.spec.account_ref == account))
        .map(|k| (k.namespace(), k.name_any()))
        .collect();
    let on_it = |object: &T| {
        let pointer = object.pointer();
        match pointer.key_ref {
            Some(key) => keys_of_account.contains(&(object.meta().namespace.clone(), key.name.clone())),
            None => pointer.account_ref == Some(account.as_str()),
        }
    };
    objects.iter().filter(|o| o.0.as_ref().is_ok_and(on_it)).map(|o| ObjectRef::from_obj(o.as_ref())).collect()
}

type Relabels = futures::stream::BoxStream<'static, Result<Watched<AwsAccount>, watcher::Error>>;

/// The accounts' watch, followed for relabelling by the controllers that need it when sharded.
#[derive(Default)]
pub struct Relabelled {
    /// To hand to the accounts' watch.
    pub followers: Vec<UnboundedSender<Watched<AwsAccount>>>,
    streams: BTreeMap<Kind, Relabels>,
}

impl Relabelled {
    pub fn new(sharded: bool) -> Relabelled {
        let mut relabelled = Relabelled::default();
        if sharded {
            for follower in [Kind::AwsAccount, Kind::KmsAlias, Kind::KmsGrant] {
                let (sender, accounts): (_, Followed<AwsAccount>) = watched::follow();
                relabelled.followers.push(sender);
                relabelled.streams.insert(follower, accounts.predicate_filter(labels, Default::default()).boxed());
            }
        }
        relabelled
    }

    pub fn accounts(&mut self, controller: Controller<Watched<AwsAccount>>) -> Controller<Watched<AwsAccount>> {
        match self.streams.remove(&Kind::AwsAccount) {
            Some(relabels) => controller.watches_stream(relabels, |account| Some(ObjectRef::from_obj(&account))),
            None => controller,
        }
    }

    /// For the aliases' or the grants' controller: those of the relabelled account's keys.
    pub fn on_keys<T: OnKeyResource + Send + Sync>(
        &mut self,
        controller: Controller<Watched<T>>,
        keys: Store<Watched<KmsKey>>,
        objects: Store<Watched<T>>,
    ) -> Controller<Watched<T>> {
        match self.streams.remove(&T::KIND) {
            Some(relabels) => controller
                .watches_stream(relabels, move |account| on_account(&account, &keys.state(), &objects.state())),
            None => controller,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::KmsAlias;
    use kube::core::DeserializeGuard;

    fn key(namespace: &str, name: &str, account: &str) -> Arc<Watched<KmsKey>> {
        let spec = serde_json::from_value(serde_json::json!({"accountRef": account})).unwrap();
        let mut key = KmsKey::new(name, spec);
        key.metadata.namespace = Some(namespace.into());
        Arc::new(DeserializeGuard(Ok(key)))
    }

    fn alias(namespace: &str, name: &str, spec: serde_json::Value) -> Arc<Watched<KmsAlias>> {
        let mut alias = KmsAlias::new(name, serde_json::from_value(spec).unwrap());
        alias.metadata.namespace = Some(namespace.into());
        Arc::new(DeserializeGuard(Ok(alias)))
    }

    fn account(name: &str, labels: &[(&str, &str)]) -> Watched<AwsAccount> {
        let spec =
            serde_json::from_value(serde_json::json!({"accountId": "111122223333", "region": "eu-west-1"})).unwrap();
        let mut account = AwsAccount::new(name, spec);
        account.metadata.labels = Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect());
        DeserializeGuard(Ok(account))
    }

    #[test]
    fn a_relabelled_account_wakes_the_aliases_on_its_keys_and_those_naming_it() {
        let keys = vec![key("apps", "k", "prod"), key("apps", "d", "dev"), key("team", "k", "dev")];
        let aliases = vec![
            alias("apps", "on-k", serde_json::json!({"name": "alias/a", "keyRef": {"name": "k"}})),
            alias("apps", "on-d", serde_json::json!({"name": "alias/b", "keyRef": {"name": "d"}})),
            alias("team", "on-team-k", serde_json::json!({"name": "alias/c", "keyRef": {"name": "k"}})),
            alias("apps", "by-id", serde_json::json!({"name": "alias/d", "targetKeyId": "1234", "accountRef": "prod"})),
        ];
        let mut woken: Vec<String> =
            on_account(&account("prod", &[]), &keys, &aliases).into_iter().map(|r| r.name).collect();
        woken.sort();
        assert_eq!(woken, ["by-id", "on-k"]);
    }

    #[test]
    fn only_labels_count() {
        let before = account("prod", &[("env", "prod")]);
        let mut after = account("prod", &[("env", "prod")]);
        if let Ok(account) = after.0.as_mut() {
            account.spec.region = "us-east-1".into();
        }
        assert_eq!(labels(&before), labels(&after));
        assert_ne!(labels(&before), labels(&account("prod", &[("env", "dev")])));
    }
}
