//! A multi-Region key family has one owner: its primary's. A replica carries the ownership tag
//! of the object that created it, but one someone made by hand carries none, and read on its
//! own it would look like a key nobody owns, open to adoption namespaces. So where a key has no
//! ownership tag and DescribeKey names a primary elsewhere, the primary's tag decides.

use std::collections::BTreeMap;

use super::Engine;
use super::ownership::owner_of;
use crate::aws::model::KeyDescription;
use crate::aws::{AwsError, KmsClient};

impl Engine {
    /// The ownership tag of `key`'s primary when `key` is a replica in another region, read
    /// there; `None` for a primary, a single-Region key, or an untagged primary.
    pub(crate) async fn primary_owner(
        &self,
        client: &KmsClient,
        key: &KeyDescription,
    ) -> Result<Option<String>, AwsError> {
        let Some(primary_region) = key.primary_elsewhere() else {
            return Ok(None);
        };
        let primary = client.in_region(primary_region);
        let tags = self.tolerate_new_key(&key.key_id, || primary.list_tags(&key.key_id)).await?;
        Ok(owner_of(&tags).map(str::to_owned))
    }

    /// The ownership tag that decides whose the key `key_id` (with its own `tags`) is: its
    /// own, else, for a replica, its primary's. Costs a DescribeKey, and a ListResourceTags of
    /// the primary, only for keys without a tag of their own.
    pub(crate) async fn family_owner(
        &self,
        client: &KmsClient,
        key_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Option<String>, AwsError> {
        if let Some(owner) = owner_of(tags) {
            return Ok(Some(owner.to_owned()));
        }
        let key = self.describe(client, key_id).await?;
        self.primary_owner(client, &key).await
    }
}
