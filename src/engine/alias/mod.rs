//! `KmsAlias`: one alias in one region.

mod plan;
mod run;

pub use plan::{AliasObservation, plan_alias, plan_alias_deletion, target_refusal};
pub use run::{AliasReport, AliasRequest};

use crate::api::{KmsKeySpec, KmsKeyStatus};
use crate::aws::AccountConfig;
use crate::engine::change::KeyHandle;

/// The key a `KmsAlias` or `KmsGrant` points at, resolved by the front door: from a `KmsKey`
/// (its status, or its report in the same run) or from `targetKeyId`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyTarget {
    pub account: AccountConfig,
    pub key: KeyHandle,
    /// Region of the primary key.
    pub primary_region: String,
    /// Regions where the key has replicas (declared or live).
    pub replica_regions: Vec<String>,
}

impl KeyTarget {
    /// The target of a `KmsKey`: its primary region from status (else spec, else the account),
    /// its replicas declared or live.
    pub fn of_key(account: &AccountConfig, key: KeyHandle, spec: &KmsKeySpec, status: &KmsKeyStatus) -> Self {
        let mut replica_regions: Vec<String> = spec.replicas.iter().map(|r| r.region.clone()).collect();
        replica_regions.extend(status.replicas.iter().map(|r| r.region.clone()));
        replica_regions.sort();
        replica_regions.dedup();
        let primary_region = status.region.clone().or(spec.region.clone()).unwrap_or_else(|| account.region.clone());
        KeyTarget { account: account.clone(), key, primary_region, replica_regions }
    }

    /// Where the alias or grant lives: `region` when set, else the primary's region; `Err` when
    /// the key has no copy there.
    pub fn region_for(&self, region: Option<&str>) -> Result<String, String> {
        match region {
            None => Ok(self.primary_region.clone()),
            Some(r) if r == self.primary_region || self.replica_regions.iter().any(|x| x == r) => Ok(r.to_owned()),
            Some(r) => Err(format!(
                "the key lives in {} (replicas: {}) and has no copy in {r}: add a replica in {r} to the KmsKey or change spec.region",
                self.primary_region,
                if self.replica_regions.is_empty() { "none".to_owned() } else { self.replica_regions.join(", ") }
            )),
        }
    }
}

/// `targetKeyId` (a key id or key ARN) in `account`.
pub fn explicit_target(target_key_id: &str, account: &AccountConfig, region: Option<&str>) -> KeyTarget {
    let (key_id, arn_region) = match target_key_id.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let region = parts.get(2).copied().filter(|r| !r.is_empty());
            let id = parts.get(4).and_then(|r| r.strip_prefix("key/")).unwrap_or(target_key_id);
            (id.to_owned(), region.map(str::to_owned))
        }
        None => (target_key_id.to_owned(), None),
    };
    let primary_region =
        arn_region.clone().or_else(|| region.map(str::to_owned)).unwrap_or_else(|| account.region.clone());
    // A multi-Region key shares its id with its replicas; the declared region selects one.
    let replica_regions = region.filter(|r| *r != primary_region).map(|r| vec![r.to_owned()]).unwrap_or_default();
    KeyTarget { account: account.clone(), key: KeyHandle::Existing(key_id), primary_region, replica_regions }
}
