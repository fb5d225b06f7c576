//! A key as the planner tests and the duplicate tests build it: one desired key, and the live
//! key exactly as it wants it, for each test to change one thing of.

use std::collections::BTreeMap;

use serde_json::json;

use super::observed::ObservedKey;
use crate::api::{DeletionPolicy, Kind, ObjectName};
use crate::aws::AccountConfig;
use crate::aws::model::{KeyDescription, KeyMaterial, RotationState};
use crate::engine::desired::{DesiredKey, DesiredRotation, Mandate, Origin};
use crate::engine::ownership::OWNER_TAG;

pub(crate) const OWNER: &str = "c/apps/logs";

pub(crate) fn desired() -> DesiredKey {
    DesiredKey {
        object: ObjectName::new(Kind::KmsKey, Some("apps"), "logs"),
        account: AccountConfig {
            name: "sec".into(),
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            assume_role_arn: None,
            external_id: None,
            endpoint_url: None,
            sts_endpoint_url: None,
            verify_account: true,
        },
        region: "eu-west-1".into(),
        origin: Origin::Create,
        description: Some("logs".into()),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        key_usage: "ENCRYPT_DECRYPT".into(),
        multi_region: false,
        material: KeyMaterial { origin: "AWS_KMS".into(), ..KeyMaterial::default() },
        enabled: true,
        rotation: Some(DesiredRotation { enabled: true, period_days: 365, rotate_now: None }),
        policy: Some(
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]}),
        ),
        bypass_lockout_check: false,
        tags: BTreeMap::from([("Env".into(), "prod".into())]),
        owner: (OWNER_TAG.into(), OWNER.into()),
        replicas: Vec::new(),
        observe_only: false,
        deletion: DeletionPolicy::Retain,
        pending_window_days: 30,
        may_adopt: true,
        show_owners: false,
        mandate: Mandate::default(),
        monitoring: None,
    }
}

/// The live key exactly as `desired` wants it.
pub(crate) fn live(desired: &DesiredKey) -> ObservedKey {
    ObservedKey {
        key: KeyDescription {
            key_id: "k1".into(),
            arn: "arn:aws:kms:eu-west-1:111122223333:key/k1".into(),
            account_id: "111122223333".into(),
            state: "Enabled".into(),
            enabled: true,
            description: "logs".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_manager: "CUSTOMER".into(),
            origin: "AWS_KMS".into(),
            multi_region: desired.multi_region,
            ..KeyDescription::default()
        },
        policy: desired.policy.clone(),
        rotation: Some(RotationState { enabled: true, period_days: Some(365), ..RotationState::default() }),
        rotation_history: None,
        tags: desired.full_tags(&desired.tags),
        primary_owner: None,
        replicas: Vec::new(),
        monitoring: None,
    }
}
