//! The listings a pass shares: keys by owner, aliases, grants, and who each account's
//! credentials are.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt};

use super::cache::{SharedCache, lock};
use super::monitoring::MonitoringListings;
use super::ownership::owner_of;
use crate::aws::model::{AliasEntry, CallerIdentity, GrantEntry};
use crate::aws::{AccountConfig, AwsError, ClientPool, ErrorKind, KmsClient};

/// Every multi-Region key's id starts so, in all its regions (KMS's documented format).
const MULTI_REGION_KEY_PREFIX: &str = "mrk-";

/// Tags of every readable key in one account and region, indexed by ownership tag.
#[derive(Debug, Default)]
pub struct KeyIndex {
    tags: HashMap<String, BTreeMap<String, String>>,
}

impl KeyIndex {
    pub fn owned_by(&self, owner: &str) -> Vec<String> {
        let mut ids: Vec<String> =
            self.tags.iter().filter(|(_, tags)| owner_of(tags) == Some(owner)).map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids
    }

    /// Multi-Region keys (`mrk-` ids) that carry no ownership tag: replicas made by hand among
    /// them belong to their primary's owner.
    pub fn untagged_multi_region(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .tags
            .iter()
            .filter(|(id, tags)| id.starts_with(MULTI_REGION_KEY_PREFIX) && owner_of(tags).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn tags(&self, key_id: &str) -> Option<&BTreeMap<String, String>> {
        self.tags.get(key_id)
    }

    pub fn set_tags(&mut self, key_id: &str, tags: BTreeMap<String, String>) {
        self.tags.insert(key_id.to_owned(), tags);
    }

    pub fn apply_tag_change(&mut self, key_id: &str, set: &BTreeMap<String, String>, removed: &[String]) {
        if let Some(tags) = self.tags.get_mut(key_id) {
            tags.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            tags.retain(|k, _| !removed.contains(k));
        }
    }
}

type Scope = (String, String);

const TAG_READS_IN_FLIGHT: usize = 16;

pub struct Listings {
    keys: SharedCache<Scope, KeyIndex>,
    aliases: SharedCache<Scope, Vec<AliasEntry>>,
    grants: SharedCache<(String, String, String), Vec<GrantEntry>>,
    identities: SharedCache<AccountConfig, CallerIdentity>,
    /// Alarms and metric filters (docs/monitoring.md).
    pub monitoring: MonitoringListings,
}

fn scope(client: &KmsClient) -> Scope {
    (client.account_id().to_owned(), client.region().to_owned())
}

impl Listings {
    pub fn new(ttl: Option<std::time::Duration>) -> Self {
        Listings {
            keys: SharedCache::new(ttl),
            aliases: SharedCache::new(ttl),
            grants: SharedCache::new(ttl),
            identities: SharedCache::new(ttl),
            monitoring: MonitoringListings::new(ttl),
        }
    }

    /// Key ids carrying ownership tag `owner`, from a listing of the whole region.
    pub async fn keys_owned_by(&self, client: &KmsClient, owner: &str) -> Result<Vec<String>, AwsError> {
        let index = self.keys.get_or_load(&scope(client), || load_key_index(client)).await?;
        Ok(lock(&index).owned_by(owner))
    }

    pub async fn untagged_multi_region_keys(&self, client: &KmsClient) -> Result<Vec<String>, AwsError> {
        let index = self.keys.get_or_load(&scope(client), || load_key_index(client)).await?;
        Ok(lock(&index).untagged_multi_region())
    }

    /// Tags of `key_id` if the region's index is loaded (saves a ListResourceTags per key).
    pub fn indexed_tags(&self, client: &KmsClient, key_id: &str) -> Option<BTreeMap<String, String>> {
        let index = self.keys.peek(&scope(client))?;
        lock(&index).tags(key_id).cloned()
    }

    pub fn record_key_tags(&self, client: &KmsClient, key_id: &str, tags: &BTreeMap<String, String>) {
        self.keys.update(&scope(client), |index| index.set_tags(key_id, tags.clone()));
    }

    pub fn record_tag_change(
        &self,
        client: &KmsClient,
        key_id: &str,
        set: &BTreeMap<String, String>,
        removed: &[String],
    ) {
        self.keys.update(&scope(client), |index| index.apply_tag_change(key_id, set, removed));
    }

    /// After a create whose outcome is unknown: the next lookup must list again.
    pub fn forget_keys(&self, client: &KmsClient) {
        self.keys.invalidate(&scope(client));
    }

    pub async fn aliases(&self, client: &KmsClient) -> Result<Vec<AliasEntry>, AwsError> {
        let aliases = self.aliases.get_or_load(&scope(client), || client.list_aliases()).await?;
        Ok(lock(&aliases).clone())
    }

    pub fn record_alias(&self, client: &KmsClient, name: &str, target_key_id: Option<&str>) {
        self.aliases.update(&scope(client), |aliases| {
            // CreateAlias returns nothing; every alias ARN of one account and region shares the
            // prefix before `:alias/`, and KMS always lists its predefined aws/ aliases.
            let arn = aliases.iter().find(|a| a.name == name).and_then(|a| a.arn.clone()).or_else(|| {
                aliases.iter().find_map(|a| {
                    a.arn.as_deref()?.rsplit_once(":alias/").map(|(prefix, _)| format!("{prefix}:{name}"))
                })
            });
            aliases.retain(|a| a.name != name);
            if let Some(target) = target_key_id {
                aliases.push(AliasEntry { name: name.to_owned(), arn, target_key_id: Some(target.to_owned()) });
            }
        });
    }

    pub fn forget_aliases(&self, client: &KmsClient) {
        self.aliases.invalidate(&scope(client));
    }

    pub async fn grants(&self, client: &KmsClient, key_id: &str) -> Result<Vec<GrantEntry>, AwsError> {
        let (account, region) = scope(client);
        let key = (account, region, key_id.to_owned());
        let grants = self.grants.get_or_load(&key, || client.list_grants(key_id)).await?;
        Ok(lock(&grants).clone())
    }

    pub fn record_grant(&self, client: &KmsClient, key_id: &str, grant: Option<GrantEntry>, retired: Option<&str>) {
        let (account, region) = scope(client);
        self.grants.update(&(account, region, key_id.to_owned()), |grants| {
            if let Some(retired) = retired {
                grants.retain(|g| g.grant_id != retired);
            }
            grants.extend(grant);
        });
    }

    pub fn forget_grants(&self, client: &KmsClient, key_id: &str) {
        let (account, region) = scope(client);
        self.grants.invalidate(&(account, region, key_id.to_owned()));
    }

    pub async fn identity(&self, pool: &ClientPool, account: &AccountConfig) -> Result<CallerIdentity, AwsError> {
        let identity = self.identities.get_or_load(account, || pool.caller_identity(account)).await?;
        Ok(lock(&identity).clone())
    }
}

async fn load_key_index(client: &KmsClient) -> Result<KeyIndex, AwsError> {
    let ids = client.list_key_ids().await?;
    let tagged: Vec<Option<(String, BTreeMap<String, String>)>> = futures::stream::iter(ids)
        .map(|id| async move {
            match client.list_tags(&id).await {
                Ok(tags) => Ok(Some((id, tags))),
                // A key whose policy hides it from us cannot be one we created: the operator's
                // keys always let their account administer them.
                Err(e) if matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::NotFound) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(TAG_READS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(KeyIndex { tags: tagged.into_iter().flatten().collect() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ownership::OWNER_TAG;

    #[test]
    fn untagged_multi_region_keys_are_the_replicas_a_hand_may_have_made() {
        let owned = BTreeMap::from([(OWNER_TAG.to_owned(), "c/apps/k".to_owned())]);
        let other = BTreeMap::from([("team".to_owned(), "x".to_owned())]);
        let mut index = KeyIndex::default();
        for (id, tags) in [
            ("mrk-b", other.clone()),
            ("mrk-a", BTreeMap::new()),
            ("mrk-owned", owned.clone()),
            ("1234abcd-single-region", BTreeMap::new()),
        ] {
            index.set_tags(id, tags);
        }
        assert_eq!(index.untagged_multi_region(), vec!["mrk-a", "mrk-b"]);
        assert_eq!(index.owned_by("c/apps/k"), vec!["mrk-owned"]);
    }
}
