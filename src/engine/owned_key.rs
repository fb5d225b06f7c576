//! The key of a `KmsKey` whose manifest is not at hand (local `delete` of an alias or grant
//! alone, the deletions of `plan --base`), found the way the key's own pass finds it: by the
//! ownership tag `<cluster>/<namespace>/<name>` in an index of the region's keys. The tag names
//! the namespace, so an object can only ever find its own namespace's keys this way.

use super::alias::KeyTarget;
use super::ownership::owner_value;
use super::{Engine, EngineError, KeyHandle};
use crate::api::{Kind, ObjectName};
use crate::aws::AccountConfig;

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
        let owned = self.listings.keys_owned_by(&client, &owner).await.map_err(EngineError::aws)?;
        let key_id = match owned.as_slice() {
            [] => return Ok(None),
            [key_id] => key_id,
            several => {
                return Err(EngineError::Unresolved(format!(
                    "several keys in account {} {region} carry the ownership tag of {object} ({}): apply the KmsKey first, which sorts them out",
                    account.account_id,
                    several.join(", ")
                )));
            }
        };
        let key = client.describe_key(key_id).await.map_err(EngineError::aws)?;
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
}
