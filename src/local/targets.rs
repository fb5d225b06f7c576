//! Resolving what an alias or grant points at, from the keys of the same run. Each key's
//! entry is published the moment its pass ends, so an alias waits for its own key only.

use std::collections::HashMap;

use tokio::sync::watch;

use crate::api::{Kind, KmsKey, ObjectName};
use crate::aws::AccountConfig;
use crate::engine::alias::KeyTarget;
pub use crate::engine::alias::explicit_target;
use crate::engine::key::KeyReport;
use crate::engine::{KeyHandle, Outcome};

type Entry = Option<Result<KeyTarget, String>>;

/// Keys of this run, by namespace and name, as aliases and grants see them.
pub struct KeyDirectory {
    keys: HashMap<(String, String), watch::Sender<Entry>>,
}

fn key_name(key: &KmsKey) -> (String, String) {
    (key.metadata.namespace.clone().unwrap_or_default(), key.metadata.name.clone().unwrap_or_default())
}

impl KeyDirectory {
    /// An empty slot for every key of the run.
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a KmsKey>) -> Self {
        KeyDirectory { keys: keys.into_iter().map(|k| (key_name(k), watch::Sender::new(None))).collect() }
    }

    pub fn record(&self, key: &KmsKey, account: Option<&AccountConfig>, report: Result<&KeyReport, &String>) {
        let namespace = key.metadata.namespace.clone().unwrap_or_default();
        let name = key.metadata.name.clone().unwrap_or_default();
        let object = ObjectName::new(Kind::KmsKey, Some(&namespace), &name);
        let entry = match (account, report) {
            (_, Err(reason)) => Err(format!("{object}: {reason}")),
            (None, _) => Err(format!("{object} has no usable AwsAccount")),
            (Some(account), Ok(report)) => {
                let key_id = &report.status.key_id;
                let handle = match key_id {
                    Some(id) => Some(KeyHandle::Existing(id.clone())),
                    None if report.outcome == Outcome::Pending => Some(KeyHandle::Pending(object.clone())),
                    None => None,
                };
                match handle {
                    Some(handle) => Ok(KeyTarget::of_key(account, handle, &key.spec, &report.status)),
                    None => Err(format!("{object} has no key yet ({})", report.ready.message)),
                }
            }
        };
        if let Some(slot) = self.keys.get(&(namespace, name)) {
            slot.send_replace(Some(entry));
        }
    }

    /// Whether KmsKey `namespace/name` is among the keys of the run.
    pub fn has(&self, namespace: &str, name: &str) -> bool {
        self.keys.contains_key(&(namespace.to_owned(), name.to_owned()))
    }

    /// The key's entry, once its pass has ended.
    pub async fn lookup(&self, namespace: &str, name: &str) -> Result<KeyTarget, String> {
        let Some(slot) = self.keys.get(&(namespace.to_owned(), name.to_owned())) else {
            return Err(format!("KmsKey {namespace}/{name} is not among the manifests"));
        };
        let mut entry = slot.subscribe();
        match entry.wait_for(Option::is_some).await {
            Ok(entry) => entry.clone().unwrap_or_else(|| Err("unreachable: waited for Some".into())),
            Err(_) => Err(format!("KmsKey {namespace}/{name} was never reconciled")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountConfig {
        AccountConfig {
            name: "sec".into(),
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            assume_role_arn: None,
            external_id: None,
            endpoint_url: None,
            sts_endpoint_url: None,
            verify_account: true,
        }
    }

    #[test]
    fn an_arn_target_brings_its_region() {
        let target = explicit_target("arn:aws:kms:us-east-1:111122223333:key/mrk-1234", &account(), None);
        assert_eq!(target.key, KeyHandle::Existing("mrk-1234".into()));
        assert_eq!(target.primary_region, "us-east-1");
        assert_eq!(target.region_for(None).unwrap(), "us-east-1");
    }

    #[test]
    fn a_bare_id_uses_the_declared_or_account_region() {
        let target = explicit_target("1234abcd-12ab-34cd-56ef-1234567890ab", &account(), None);
        assert_eq!(target.primary_region, "eu-west-1");
        let target = explicit_target("mrk-1234", &account(), Some("us-west-2"));
        assert_eq!(target.region_for(Some("us-west-2")).unwrap(), "us-west-2");
    }
}
