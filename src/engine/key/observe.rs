//! Reading a key's live state: find it, then read its policy, rotation, tags and replicas with
//! as few calls as that state needs.

use std::collections::BTreeMap;

use futures::future::try_join_all;

use super::duplicates::keeper;
use super::observed::{Duplicate, KeyObservation, ObservedKey, ObservedReplica, parse_policy};
use super::rotate_now::{RotateNow, needs_history};
use crate::api::catalog::{ORIGIN_AWS_KMS, ROTATABLE_KEY_SPEC};
use crate::api::{CreateIntent, RotationStatus};
use crate::aws::model::KeyDescription;
use crate::aws::{AwsError, ErrorKind, KmsClient};
use crate::engine::desired::{DesiredKey, Origin};
use crate::engine::ownership::owner_of;
use crate::engine::{Engine, EngineError};

/// How to find an object's key: what the front door has on record.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookup {
    pub key_id: Option<String>,
    pub replace_deleted: Option<String>,
    pub creating: Option<CreateIntent>,
    /// `status.rotation` as the controller recorded it; `None` in local mode.
    pub recorded_rotation: Option<RotationStatus>,
    /// This pass rotated the key on demand: read the history to show it.
    pub rotated: bool,
}

/// KMS answers rotation calls only for material it made: UnsupportedOperationException for
/// imported material and custom key stores (Developer Guide, "Key states of AWS KMS keys").
/// A server that leaves the origin out is taken to mean AWS_KMS.
fn material_from_kms(key: &KeyDescription) -> bool {
    key.origin.is_empty() || key.origin == ORIGIN_AWS_KMS
}

/// What several keys carrying one object's tag come to.
enum Sorted {
    None,
    One(Box<KeyDescription>),
    Many(Vec<Duplicate>),
}

impl Engine {
    /// Finds the key of `desired` (by the key on record, `import.keyId`, or its ownership tag)
    /// and reads its state. A recorded key that is gone is reported as gone, unless the lookup's
    /// `replace_deleted` names it: then the key is looked for as for a new object.
    pub(crate) async fn observe_key(
        &self,
        desired: &DesiredKey,
        lookup: &Lookup,
    ) -> Result<KeyObservation, EngineError> {
        let client = self.kms(&desired.account, &desired.region).await;
        let known_key_id = match lookup.key_id.as_deref() {
            Some(key_id) if lookup.replace_deleted.as_deref() == Some(key_id) => {
                match self.describe(&client, key_id).await {
                    Err(e) if e.kind == ErrorKind::NotFound => None,
                    _ => Some(key_id),
                }
            }
            other => other,
        };
        let key = match (&desired.origin, known_key_id) {
            (Origin::Import(key_id), _) => match self.describe(&client, key_id).await {
                Ok(key) => key,
                Err(e) if e.kind == ErrorKind::NotFound => {
                    return Ok(KeyObservation::ImportNotFound { key_id: key_id.clone() });
                }
                Err(e) => return Err(e.into()),
            },
            (Origin::Create, Some(key_id)) => match self.describe(&client, key_id).await {
                Ok(key) => key,
                Err(e) if e.kind == ErrorKind::NotFound => {
                    return Ok(KeyObservation::Gone { key_id: key_id.to_owned() });
                }
                Err(e) => return Err(e.into()),
            },
            (Origin::Create, None) => {
                let owner = desired.owner_value();
                let mut owned = self.listings.keys_owned_by(&client, owner).await?;
                if owned.is_empty()
                    && let Some(left) = self.in_question(owner, lookup.creating.as_ref())
                {
                    owned = self.wait_for_created(&client, owner, left).await?;
                }
                match owned.as_slice() {
                    [] => return Ok(KeyObservation::Missing),
                    [key_id] => self.describe(&client, key_id).await?,
                    _ => match self.sort_out(&client, &owned).await? {
                        Sorted::None => return Ok(KeyObservation::Missing),
                        Sorted::One(key) => *key,
                        Sorted::Many(duplicates) => return Ok(KeyObservation::Duplicates(duplicates)),
                    },
                }
            }
        };
        let tags = self.tags(&client, &key.key_id).await?;
        if desired.owns_key() && owner_of(&tags) != Some(desired.owner_value()) {
            return Ok(KeyObservation::NotOwned { owner: owner_of(&tags).map(str::to_owned), key: Box::new(key) });
        }
        // An imported key may be a replica someone made by hand: its family's owner decides.
        let primary_owner = match owner_of(&tags) {
            None => self.primary_owner(&client, &key).await?,
            Some(_) => None,
        };
        if key.is_pending_deletion() {
            let observed = ObservedKey {
                key,
                policy: None,
                rotation: None,
                rotation_history: None,
                tags,
                primary_owner,
                replicas: Vec::new(),
                monitoring: None,
            };
            return Ok(KeyObservation::Found(Box::new(observed)));
        }
        let (policy, rotation, replicas, monitoring) = futures::try_join!(
            self.tolerate_new_key(&key.key_id, || client.get_policy(&key.key_id)),
            async {
                if key.key_spec == ROTATABLE_KEY_SPEC && material_from_kms(&key) {
                    self.tolerate_new_key(&key.key_id, || client.rotation(&key.key_id)).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            self.observe_replicas(desired, &key),
            async {
                match &desired.monitoring {
                    Some(m) => self.observe_monitoring(&desired.account, &m.setup, &m.prefix).await.map(Some),
                    None => Ok(None),
                }
            },
        )?;
        let rotation_history = match &rotation {
            Some(live)
                if needs_history(
                    &RotateNow::of(desired, &tags),
                    live,
                    lookup.recorded_rotation.as_ref(),
                    lookup.rotated,
                ) =>
            {
                Some(self.tolerate_new_key(&key.key_id, || client.rotations(&key.key_id)).await?)
            }
            _ => None,
        };
        let observed = ObservedKey {
            policy: Some(parse_policy(&policy)),
            rotation,
            rotation_history,
            tags,
            primary_owner,
            replicas,
            monitoring,
            key,
        };
        Ok(KeyObservation::Found(Box::new(observed)))
    }

    /// Several keys carry one object's tag. One live key among keys pending deletion (removed
    /// duplicates) is the key; with none live, the one to restore; several live ones are
    /// duplicates, each with what refers to it.
    async fn sort_out(&self, client: &KmsClient, key_ids: &[String]) -> Result<Sorted, AwsError> {
        let mut keys = Vec::new();
        for key_id in key_ids {
            match self.describe(client, key_id).await {
                Ok(key) => keys.push(key),
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let aliases = self.listings.aliases(client).await?;
        let aliased = |key: &KeyDescription| -> Vec<String> {
            aliases
                .iter()
                .filter(|a| a.target_key_id.as_deref() == Some(key.key_id.as_str()))
                .map(|a| a.name.clone())
                .collect()
        };
        let (live, pending): (Vec<KeyDescription>, Vec<KeyDescription>) =
            keys.into_iter().partition(|k| !k.is_pending_deletion());
        if live.len() <= 1 {
            let candidates = if live.is_empty() { pending } else { live };
            let candidates: Vec<Duplicate> =
                candidates.into_iter().map(|key| Duplicate { aliases: aliased(&key), grants: 0, key }).collect();
            return Ok(match keeper(&candidates) {
                Some(i) => Sorted::One(Box::new(candidates[i].key.clone())),
                None => Sorted::None,
            });
        }
        let mut duplicates = Vec::new();
        for key in live {
            let grants = self.listings.grants(client, &key.key_id).await?.len();
            duplicates.push(Duplicate { aliases: aliased(&key), grants, key });
        }
        Ok(Sorted::Many(duplicates))
    }

    pub(crate) async fn describe(&self, client: &KmsClient, key_id: &str) -> Result<KeyDescription, AwsError> {
        self.tolerate_new_key(key_id, || client.describe_key(key_id)).await
    }

    /// From the region's key index when it read them within a listing lifetime, else one
    /// ListResourceTags, kept in the index for the other passes.
    async fn tags(&self, client: &KmsClient, key_id: &str) -> Result<BTreeMap<String, String>, AwsError> {
        self.listings.key_tags(client, key_id, || self.tolerate_new_key(key_id, || client.list_tags(key_id))).await
    }

    async fn observe_replicas(
        &self,
        desired: &DesiredKey,
        primary: &KeyDescription,
    ) -> Result<Vec<ObservedReplica>, AwsError> {
        let reads = primary
            .replicas
            .iter()
            .filter(|r| r.region != desired.region)
            .map(|replica| self.observe_replica(desired, &primary.key_id, &replica.region));
        Ok(try_join_all(reads).await?.into_iter().flatten().collect())
    }

    async fn observe_replica(
        &self,
        desired: &DesiredKey,
        key_id: &str,
        region: &str,
    ) -> Result<Option<ObservedReplica>, AwsError> {
        let client = self.kms(&desired.account, region).await;
        let key = match self.describe(&client, key_id).await {
            Ok(key) => key,
            // The primary can list a replica that is already gone.
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let tags = self.tolerate_new_key(key_id, || client.list_tags(key_id)).await?;
        let policy = if key.is_pending_deletion() {
            None
        } else {
            Some(parse_policy(&self.tolerate_new_key(key_id, || client.get_policy(key_id)).await?))
        };
        let created_here = desired.created_here(&tags) || self.replicated_here(key_id, region);
        Ok(Some(ObservedReplica { region: region.to_owned(), key, policy, tags, created_here }))
    }
}
