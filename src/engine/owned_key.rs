//! The key of a `KmsKey` whose manifest is not at hand (local `delete` of an alias or grant
//! alone, the deletions of `plan --base`), found the way the key's own pass finds it: by the
//! ownership tag `<cluster>/<namespace>/<name>` in an index of the region's keys. The tag names
//! the namespace, so an object can only ever find its own namespace's keys this way.

use super::alias::KeyTarget;
use super::ownership::owner_value;
use super::{Engine, EngineError, KeyHandle};
use crate::api::{Kind, ObjectName};
use crate::aws::model::KeyDescription;
use crate::aws::{AccountConfig, AwsError, ErrorKind, KmsClient};

impl Engine {
    /// The key carrying the ownership tag of KmsKey `namespace/name` in `account` and
    /// `region`, with its family's regions; `None` when no key carries it.
    pub async fn key_by_owner(
        &self,
        account: &AccountConfig,
        region: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<KeyTarget>, EngineError> {
        self.verify_account(account).await?;
        let object = ObjectName::new(Kind::KmsKey, Some(namespace), name);
        let owner = owner_value(&self.settings.cluster_name, &object);
        let client = self.kms(account, region).await;
        let several = |ids: Vec<&str>| {
            EngineError::Unresolved(format!(
                "several keys in account {} {region} carry the ownership tag of {object} ({}): apply the KmsKey first, which sorts them out",
                account.account_id,
                ids.join(", ")
            ))
        };
        let tagged = self.listings.keys_owned_by(&client, &owner).await.map_err(EngineError::aws)?;
        let key = match tagged.as_slice() {
            [key_id] => client.describe_key(key_id).await.map_err(EngineError::aws)?,
            [] => {
                let mut replicas = self.untagged_replicas_owned_by(&client, &owner).await?;
                match replicas.len() {
                    0 => return Ok(None),
                    1 => replicas.remove(0),
                    _ => return Err(several(replicas.iter().map(|k| k.key_id.as_str()).collect())),
                }
            }
            ids => return Err(several(ids.iter().map(String::as_str).collect())),
        };
        let mut replica_regions: Vec<String> = key.replicas.iter().map(|r| r.region.clone()).collect();
        let primary_region = key.primary_region.clone().unwrap_or_else(|| region.to_owned());
        replica_regions.retain(|r| *r != primary_region);
        if region != primary_region && !replica_regions.iter().any(|r| r == region) {
            replica_regions.push(region.to_owned());
        }
        Ok(Some(KeyTarget {
            account: account.clone(),
            key: KeyHandle::Existing(key.key_id),
            primary_region,
            replica_regions,
        }))
    }

    /// Replicas in `client`'s region without an ownership tag of their own (made by hand)
    /// whose primary, in another region, carries `owner`: a multi-Region key family belongs to
    /// its primary's owner. Asked only when no key of the region carries the tag itself; costs
    /// a DescribeKey per untagged multi-Region key of the region, and a ListResourceTags of the
    /// primary for each that is a replica.
    async fn untagged_replicas_owned_by(
        &self,
        client: &KmsClient,
        owner: &str,
    ) -> Result<Vec<KeyDescription>, EngineError> {
        // Nothing proves a key that cannot be read is the namespace's: it is passed.
        let unreadable = |e: &AwsError| matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::NotFound);
        let mut found = Vec::new();
        for key_id in self.listings.untagged_multi_region_keys(client).await.map_err(EngineError::aws)? {
            let key = match self.describe(client, &key_id).await {
                Ok(key) => key,
                Err(e) if unreadable(&e) => continue,
                Err(e) => return Err(EngineError::aws(e)),
            };
            match self.primary_owner(client, &key).await {
                Ok(primary) if primary.as_deref() == Some(owner) => found.push(key),
                Ok(_) => {}
                Err(e) if unreadable(&e) => {}
                Err(e) => return Err(EngineError::aws(e)),
            }
        }
        Ok(found)
    }
}
