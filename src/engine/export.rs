//! What `KmsKey.spec.export` publishes for the workloads of the key's namespace (a ConfigMap the
//! controller keeps; local mode prints it): the key's id and ARN, the aliases that point at it,
//! and each copy's ARN by region, so that Helm charts and other controllers read the ARN instead
//! of a person pasting it.
//!
//! | key | value |
//! | --- | --- |
//! | `keyId`, `arn`, `region` | the key (its primary, for a multi-Region key) |
//! | `aliases` | the aliases pointing at the key in its region, sorted, comma-separated |
//! | `replicaArns` | each replica's ARN, by region, comma-separated |
//! | `arn.<region>` | the ARN of the copy in that region (primary and replicas) |
//! | `aliases.<region>` | the aliases pointing at the copy in that region, for each region with any |

use std::collections::{BTreeMap, BTreeSet};

use super::{Engine, EngineError};
use crate::api::KmsKeyStatus;
use crate::aws::AccountConfig;

/// Alias names by region.
pub type AliasesByRegion = BTreeMap<String, BTreeSet<String>>;

/// The ConfigMap data for a key with `status`, or `None` before the key exists.
pub fn export_data(status: &KmsKeyStatus, aliases: &AliasesByRegion) -> Option<BTreeMap<String, String>> {
    let key_id = status.key_id.clone()?;
    let arn = status.arn.clone()?;
    let region = status.region.clone().unwrap_or_default();
    let joined = |names: Option<&BTreeSet<String>>| {
        names.map(|n| n.iter().cloned().collect::<Vec<_>>().join(",")).unwrap_or_default()
    };
    let replicas: Vec<(&str, &str)> =
        status.replicas.iter().filter_map(|r| Some((r.region.as_str(), r.arn.as_deref()?))).collect();
    let mut data = BTreeMap::from([
        ("keyId".to_owned(), key_id),
        ("region".to_owned(), region.clone()),
        ("aliases".to_owned(), joined(aliases.get(&region))),
        ("replicaArns".to_owned(), replicas.iter().map(|(_, arn)| *arn).collect::<Vec<_>>().join(",")),
        (format!("arn.{region}"), arn.clone()),
        ("arn".to_owned(), arn),
    ]);
    for (replica_region, replica_arn) in &replicas {
        data.insert(format!("arn.{replica_region}"), (*replica_arn).to_owned());
    }
    for (alias_region, names) in aliases.iter().filter(|(_, names)| !names.is_empty()) {
        data.insert(format!("aliases.{alias_region}"), joined(Some(names)));
    }
    Some(data)
}

impl Engine {
    /// The aliases pointing at the key of `status` in its region and each replica's, from the
    /// pass's shared alias listings (one ListAliases per account and region, which every alias
    /// of the pass reads anyway).
    pub async fn key_aliases(
        &self,
        account: &AccountConfig,
        status: &KmsKeyStatus,
    ) -> Result<AliasesByRegion, EngineError> {
        let mut found = AliasesByRegion::new();
        let Some(key_id) = status.key_id.as_deref() else {
            return Ok(found);
        };
        let regions = status.region.iter().chain(status.replicas.iter().map(|r| &r.region));
        for region in regions {
            let client = self.kms(account, region).await;
            let aliases = self.listings.aliases(&client).await.map_err(EngineError::aws)?;
            let names: BTreeSet<String> =
                aliases.into_iter().filter(|a| a.target_key_id.as_deref() == Some(key_id)).map(|a| a.name).collect();
            found.insert(region.clone(), names);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ReplicaStatus;

    fn status() -> KmsKeyStatus {
        KmsKeyStatus {
            key_id: Some("mrk-1".into()),
            arn: Some("arn:aws:kms:eu-west-1:111122223333:key/mrk-1".into()),
            region: Some("eu-west-1".into()),
            replicas: vec![ReplicaStatus {
                region: "us-west-2".into(),
                arn: Some("arn:aws:kms:us-west-2:111122223333:key/mrk-1".into()),
                ..ReplicaStatus::default()
            }],
            ..KmsKeyStatus::default()
        }
    }

    #[test]
    fn the_key_its_aliases_and_each_copy_s_arn() {
        let aliases = AliasesByRegion::from([
            ("eu-west-1".into(), BTreeSet::from(["alias/b".into(), "alias/a".into()])),
            ("us-west-2".into(), BTreeSet::from(["alias/a-usw2".into()])),
        ]);
        let data = export_data(&status(), &aliases).expect("a key");
        let expected: BTreeMap<String, String> = [
            ("keyId", "mrk-1"),
            ("arn", "arn:aws:kms:eu-west-1:111122223333:key/mrk-1"),
            ("region", "eu-west-1"),
            ("aliases", "alias/a,alias/b"),
            ("replicaArns", "arn:aws:kms:us-west-2:111122223333:key/mrk-1"),
            ("arn.eu-west-1", "arn:aws:kms:eu-west-1:111122223333:key/mrk-1"),
            ("arn.us-west-2", "arn:aws:kms:us-west-2:111122223333:key/mrk-1"),
            ("aliases.eu-west-1", "alias/a,alias/b"),
            ("aliases.us-west-2", "alias/a-usw2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(data, expected);
    }

    #[test]
    fn nothing_before_the_key_exists_and_empty_lists_stay_keys() {
        assert_eq!(export_data(&KmsKeyStatus::default(), &AliasesByRegion::new()), None);
        let single = KmsKeyStatus { replicas: Vec::new(), ..status() };
        let data = export_data(&single, &AliasesByRegion::new()).expect("a key");
        assert_eq!(data["aliases"], "");
        assert_eq!(data["replicaArns"], "");
        assert!(!data.contains_key("aliases.eu-west-1"));
    }
}
