//! `KmsAlias`: one alias in one region.

mod plan;
mod run;

pub use plan::{AliasObservation, plan_alias, plan_alias_deletion};
pub use run::{AliasReport, AliasRequest};

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
