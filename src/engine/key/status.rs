//! A key's status and `Ready` condition, from what was observed.

use super::observed::KeyObservation;
use super::rotate_now::{applied_value, record_history};
use crate::api::Reason;
use crate::api::catalog::{ROTATE_NOW_BASE_TAG, ROTATE_NOW_TAG};
use crate::api::conditions::ConditionUpdate;
use crate::api::monitoring::MonitoringStatus;
use crate::api::{KmsKeyStatus, MultiRegionConfiguration, RegionalKey, ReplicaStatus, RotationStatus};
use crate::aws::model::KeyDescription;
use crate::engine::desired::DesiredKey;
use crate::engine::report::ready;

pub fn key_status(desired: &DesiredKey, observation: Option<&KeyObservation>) -> KmsKeyStatus {
    let mut status = KmsKeyStatus {
        account_id: Some(desired.account.account_id.clone()),
        region: Some(desired.region.clone()),
        ..KmsKeyStatus::default()
    };
    let observed = match observation {
        Some(KeyObservation::Found(observed)) => observed,
        // The key on record stays on record: forgetting it would make the next pass look the
        // key up by its tag, find nothing, and create a replacement nobody asked for.
        Some(KeyObservation::Gone { key_id }) => {
            status.key_id = Some(key_id.clone());
            return status;
        }
        Some(KeyObservation::NotOwned { key, .. }) => {
            status.key_id = Some(key.key_id.clone());
            return status;
        }
        _ => return status,
    };
    let key = &observed.key;
    status.key_id = Some(key.key_id.clone());
    status.arn = Some(key.arn.clone()).filter(|a| !a.is_empty());
    status.key_state = Some(key.state.clone());
    status.deletion_date = key.deletion_date.clone();
    describe_into(&mut status, key);
    status.rotation = observed.rotation.as_ref().map(|r| {
        let mut rotation = RotationStatus {
            enabled: r.enabled,
            period_days: r.period_days,
            next_rotation_date: r.next_rotation_date.clone(),
            ..RotationStatus::default()
        };
        // While the base tag is on, the rotation for the tag's value is not finished.
        if !observed.tags.contains_key(ROTATE_NOW_BASE_TAG) {
            rotation.rotate_now_applied =
                observed.tags.get(ROTATE_NOW_TAG).map(|t| applied_value(t, desired.rotate_now()));
        }
        if let Some(history) = &observed.rotation_history {
            record_history(&mut rotation, history);
        }
        rotation
    });
    status.monitoring = observed
        .monitoring
        .as_ref()
        .map(|m| MonitoringStatus { alarms: m.statuses() })
        .filter(|m| !m.alarms.is_empty());
    status.replicas = key
        .replicas
        .iter()
        .filter(|r| r.region != desired.region)
        .map(|r| {
            let live = observed.replica(&r.region);
            ReplicaStatus {
                region: r.region.clone(),
                key_id: live.map(|l| l.key.key_id.clone()),
                arn: Some(r.arn.clone()),
                key_state: live.map(|l| l.key.state.clone()),
            }
        })
        .collect();
    status
}

/// The fields of status that DescribeKey gives as they are.
fn describe_into(status: &mut KmsKeyStatus, key: &KeyDescription) {
    let text = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
    status.creation_date.clone_from(&key.creation_date);
    status.key_manager = text(&key.key_manager);
    status.origin = text(&key.origin);
    status.encryption_algorithms.clone_from(&key.encryption_algorithms);
    status.signing_algorithms.clone_from(&key.signing_algorithms);
    status.mac_algorithms.clone_from(&key.mac_algorithms);
    status.multi_region_configuration = key.multi_region.then(|| MultiRegionConfiguration {
        multi_region_key_type: key.multi_region_key_type.clone(),
        primary_key: key
            .primary_arn
            .as_ref()
            .zip(key.primary_region.as_ref())
            .map(|(arn, region)| RegionalKey { arn: arn.clone(), region: region.clone() }),
        replica_keys: key
            .replicas
            .iter()
            .map(|r| RegionalKey { arn: r.arn.clone(), region: r.region.clone() })
            .collect(),
    });
}

/// `Ready`: the key exists and is usable.
pub fn key_ready(
    desired: &DesiredKey,
    observation: Option<&KeyObservation>,
    pending_creation: bool,
) -> ConditionUpdate {
    match observation {
        Some(KeyObservation::Found(observed)) => {
            let key = &observed.key;
            match key.state.as_str() {
                "Enabled" => {
                    ready(true, Reason::Available, format!("key {} is enabled in {}", key.key_id, desired.region))
                }
                "Disabled" if !desired.enabled => ready(
                    false,
                    Reason::KeyDisabled,
                    format!("key {} is disabled, as spec.enabled: false asks", key.key_id),
                ),
                "Disabled" => ready(
                    false,
                    Reason::KeyDisabledOutside,
                    format!("key {} was disabled outside kms-operator while spec.enabled is true", key.key_id),
                ),
                "PendingImport" => ready(
                    false,
                    Reason::PendingImport,
                    format!("key {} waits for its imported key material; it cannot be used until then", key.key_id),
                ),
                "PendingDeletion" | "PendingReplicaDeletion" => ready(
                    false,
                    Reason::KeyPendingDeletion,
                    format!(
                        "key {} is scheduled for deletion{}",
                        key.key_id,
                        key.deletion_date.as_ref().map(|d| format!(" on {d}")).unwrap_or_default()
                    ),
                ),
                other => ready(false, Reason::KeyNotUsable, format!("key {} is in state {other}", key.key_id)),
            }
        }
        Some(KeyObservation::Missing) if pending_creation => {
            ready(false, Reason::KeyNotCreated, format!("no key exists yet; apply creates one in {}", desired.region))
        }
        Some(KeyObservation::Missing) => ready(false, Reason::KeyNotFound, "no key exists"),
        Some(KeyObservation::NotOwned { key, .. }) => {
            ready(false, Reason::NotOwned, format!("key {} is not owned by this object", key.key_id))
        }
        Some(KeyObservation::Duplicates(duplicates)) => {
            let ids: Vec<&str> = duplicates.iter().map(|d| d.key.key_id.as_str()).collect();
            ready(false, Reason::OwnershipConflict, format!("several keys claim this object: {}", ids.join(", ")))
        }
        Some(KeyObservation::ImportNotFound { key_id }) => {
            ready(false, Reason::ImportNotFound, format!("key {key_id} does not exist"))
        }
        Some(KeyObservation::Gone { key_id }) => {
            ready(false, Reason::KeyDeleted, format!("key {key_id} no longer exists"))
        }
        None => ready(false, Reason::Unknown, "the key could not be read"),
    }
}
