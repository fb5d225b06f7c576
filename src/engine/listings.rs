//! The listings a pass shares: keys by owner, aliases, grants, and who each account's
//! credentials are.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};

use super::cache::{Shared, SharedCache, lock};
use super::monitoring::MonitoringListings;
use super::ownership::owner_of;
use crate::aws::model::{AliasEntry, CallerIdentity, GrantEntry};
use crate::aws::{AccountConfig, AwsError, ClientPool, ErrorKind, KmsClient};

/// Every multi-Region key's id starts so, in all its regions (KMS's documented format).
const MULTI_REGION_KEY_PREFIX: &str = "mrk-";

/// Tags of every readable key in one account and region, indexed by ownership tag.
#[derive(Debug, Default)]
pub struct KeyIndex {
    keys: HashMap<String, IndexedTags>,
}

#[derive(Debug, Clone)]
struct IndexedTags {
    tags: BTreeMap<String, String>,
    read_at: Instant,
}

impl IndexedTags {
    fn read_now(tags: BTreeMap<String, String>) -> Self {
        IndexedTags { tags, read_at: Instant::now() }
    }

    fn younger_than(&self, age: Option<Duration>) -> bool {
        age.is_none_or(|age| self.read_at.elapsed() < age)
    }
}

impl KeyIndex {
    pub fn owned_by(&self, owner: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, entry)| owner_of(&entry.tags) == Some(owner))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Multi-Region keys (`mrk-` ids) that carry no ownership tag: replicas made by hand among
    /// them belong to their primary's owner.
    pub fn untagged_multi_region(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .keys
            .iter()
            .filter(|(id, entry)| id.starts_with(MULTI_REGION_KEY_PREFIX) && owner_of(&entry.tags).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Tags of `key_id` if they were read less than `max_age` ago.
    pub fn tags(&self, key_id: &str, max_age: Option<Duration>) -> Option<&BTreeMap<String, String>> {
        self.keys.get(key_id).filter(|entry| entry.younger_than(max_age)).map(|entry| &entry.tags)
    }

    pub fn set_tags(&mut self, key_id: &str, tags: BTreeMap<String, String>) {
        self.keys.insert(key_id.to_owned(), IndexedTags::read_now(tags));
    }

    pub fn apply_tag_change(&mut self, key_id: &str, set: &BTreeMap<String, String>, removed: &[String]) {
        if let Some(entry) = self.keys.get_mut(key_id) {
            entry.tags.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            entry.tags.retain(|k, _| !removed.contains(k));
        }
    }

    /// Of the keys `listed` now, those whose tags this index does not hold or read more than
    /// `reread_after` ago.
    fn unread(&self, listed: &[String], reread_after: Option<Duration>) -> Vec<String> {
        let held = |id: &String| self.keys.get(id).is_some_and(|entry| entry.younger_than(reread_after));
        listed.iter().filter(|id| !held(id)).cloned().collect()
    }

    /// The index of the keys `listed`, with the tags just `read`, the rest from `self`.
    fn refreshed(&self, listed: Vec<String>, read: HashMap<String, BTreeMap<String, String>>) -> KeyIndex {
        let mut index = KeyIndex::default();
        for id in listed {
            let entry = match read.get(&id) {
                Some(tags) => IndexedTags::read_now(tags.clone()),
                None => match self.keys.get(&id) {
                    Some(entry) => entry.clone(),
                    // Its tags could not be read: not a key we created (see `refresh_key_index`).
                    None => continue,
                },
            };
            index.keys.insert(id, entry);
        }
        index
    }
}

type Scope = (String, String);

const TAG_READS_IN_FLIGHT: usize = 16;

/// A refresh of a key index reads again the tags of a key it already holds only once they are
/// this many listing lifetimes old. Tags are read from KMS when they matter: a key's own pass,
/// or an alias's check of whom its key belongs to, reads them when the index's copy is older
/// than one lifetime. What the index alone answers, which keys carry an ownership tag, only
/// changes by hand on keys no object names; that is seen within this many lifetimes. Reading
/// every key's tags at every refresh made a fleet's ListResourceTags grow with its square while
/// it converged (docs/performance.md).
const TAG_REREAD_LIFETIMES: u32 = 10;

pub struct Listings {
    ttl: Option<Duration>,
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
            ttl,
            keys: SharedCache::new(ttl),
            aliases: SharedCache::new(ttl),
            grants: SharedCache::new(ttl),
            identities: SharedCache::new(ttl),
            monitoring: MonitoringListings::new(ttl),
        }
    }

    async fn key_index(&self, client: &KmsClient) -> Result<Shared<KeyIndex>, AwsError> {
        let reread_after = self.ttl.map(|ttl| ttl * TAG_REREAD_LIFETIMES);
        self.keys.get_or_refresh(&scope(client), |previous| refresh_key_index(client, previous, reread_after)).await
    }

    /// Key ids carrying ownership tag `owner`, from a listing of the whole region.
    pub async fn keys_owned_by(&self, client: &KmsClient, owner: &str) -> Result<Vec<String>, AwsError> {
        Ok(lock(&*self.key_index(client).await?).owned_by(owner))
    }

    pub async fn untagged_multi_region_keys(&self, client: &KmsClient) -> Result<Vec<String>, AwsError> {
        Ok(lock(&*self.key_index(client).await?).untagged_multi_region())
    }

    /// Tags of `key_id` if the region's index is loaded and read them less than a listing
    /// lifetime ago (saves a ListResourceTags per key). Whoever reads them instead records them.
    fn indexed_tags(&self, client: &KmsClient, key_id: &str) -> Option<BTreeMap<String, String>> {
        let index = self.keys.peek(&scope(client))?;
        lock(&index).tags(key_id, self.ttl).cloned()
    }

    /// Tags of `key_id`: from the index when it read them within a listing lifetime, else by
    /// `read` (one ListResourceTags), kept in the index for the other passes.
    pub async fn key_tags<F, Fut>(
        &self,
        client: &KmsClient,
        key_id: &str,
        read: F,
    ) -> Result<BTreeMap<String, String>, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<BTreeMap<String, String>, AwsError>>,
    {
        if let Some(tags) = self.indexed_tags(client, key_id) {
            return Ok(tags);
        }
        let tags = read().await?;
        self.record_key_tags(client, key_id, &tags);
        Ok(tags)
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

    /// After a create whose outcome is unknown: the next lookup must list again (reading the
    /// tags of new keys only).
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

/// Lists the region's keys and reads the tags of those `previous` does not hold (or holds
/// from longer than `reread_after` ago).
async fn refresh_key_index(
    client: &KmsClient,
    previous: Option<Shared<KeyIndex>>,
    reread_after: Option<Duration>,
) -> Result<KeyIndex, AwsError> {
    let listed = client.list_key_ids().await?;
    let previous = previous.unwrap_or_default();
    let unread = lock(&previous).unread(&listed, reread_after);
    let read: Vec<Option<(String, BTreeMap<String, String>)>> = futures::stream::iter(unread)
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
    // Carried over only now: tags the engine wrote while this refresh read went to `previous`.
    Ok(lock(&previous).refreshed(listed, read.into_iter().flatten().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ownership::OWNER_TAG;

    fn tagged(owner: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(OWNER_TAG.to_owned(), owner.to_owned())])
    }

    #[test]
    fn a_refresh_reads_only_new_and_old_entries_and_drops_deleted_keys() {
        let mut previous = KeyIndex::default();
        previous.set_tags("kept", tagged("c/apps/kept"));
        previous.set_tags("deleted", tagged("c/apps/gone"));
        previous.set_tags("aged", tagged("c/apps/aged"));
        if let Some(entry) = previous.keys.get_mut("aged") {
            entry.read_at = Instant::now() - Duration::from_secs(700);
        }
        let listed = vec!["kept".to_owned(), "aged".to_owned(), "new".to_owned()];
        let reread_after = Some(Duration::from_secs(600));
        let unread = previous.unread(&listed, reread_after);
        assert_eq!(unread, vec!["aged", "new"]);
        // The aged key's tag was changed by hand; the new key is unreadable to us.
        let read = HashMap::from([("aged".to_owned(), tagged("c/apps/other"))]);
        let index = previous.refreshed(listed, read);
        assert_eq!(index.owned_by("c/apps/kept"), vec!["kept"]);
        assert_eq!(index.owned_by("c/apps/other"), vec!["aged"]);
        assert!(index.owned_by("c/apps/aged").is_empty());
        assert!(index.owned_by("c/apps/gone").is_empty(), "a key no longer listed leaves the index");
        assert!(index.tags("new", None).is_none());
    }

    #[test]
    fn tags_read_longer_ago_than_asked_are_not_served() {
        let mut index = KeyIndex::default();
        index.set_tags("k", tagged("c/apps/k"));
        assert!(index.tags("k", Some(Duration::from_secs(60))).is_some());
        assert!(index.tags("k", Some(Duration::ZERO)).is_none());
        assert!(index.tags("k", None).is_some(), "without a lifetime, for the whole pass");
    }

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
