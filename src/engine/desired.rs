//! What the spec asks for, resolved against its account: defaults applied, the policy compiled
//! for each region, ownership tag chosen. Pure.

use std::collections::BTreeMap;

use serde_json::Value;

use super::admission::Tenant;
use super::monitoring::{DesiredMonitoring, KeyAlarms, MonitoringSetup};
use super::ownership::{KeyOwner, OWNER_TAG, owner_from, owner_value, parse_owner};
use super::settings::{EngineSettings, partition_of};
use crate::api::monitoring::AccountMonitoring;
use crate::api::{DeletionPolicy, KmsKey, ObjectName, catalog};
use crate::aws::AccountConfig;
use crate::aws::model::KeyMaterial;
use crate::policy::{self, BuildContext};

#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// The operator creates the key and owns it.
    Create,
    /// The manifest adopts an existing key (`import.keyId`).
    Import(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRotation {
    pub enabled: bool,
    pub period_days: i32,
    /// `rotation.rotateNow`: rotate once now for this value, unless the key records it done.
    pub rotate_now: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredReplica {
    pub region: String,
    /// `None`: not managed (an imported key without a declared description).
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `None`: not managed.
    pub policy: Option<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DesiredKey {
    pub object: ObjectName,
    pub account: AccountConfig,
    pub region: String,
    pub origin: Origin,
    pub description: Option<String>,
    pub key_spec: String,
    pub key_usage: String,
    pub multi_region: bool,
    /// Where the key material comes from (`origin`, `customKeyStoreId`, `xksKeyId`).
    pub material: KeyMaterial,
    pub enabled: bool,
    /// `None` where rotation does not apply (asymmetric and HMAC keys).
    pub rotation: Option<DesiredRotation>,
    /// `None`: the policy is not managed (an imported key without a declared policy).
    pub policy: Option<Value>,
    pub bypass_lockout_check: bool,
    /// Declared tags; the ownership tag is separate.
    pub tags: BTreeMap<String, String>,
    /// `(key, value)` of the ownership tag the key carries when the operator created it.
    pub owner: (String, String),
    pub replicas: Vec<DesiredReplica>,
    pub observe_only: bool,
    pub deletion: DeletionPolicy,
    pub pending_window_days: i32,
    /// Whether the namespace may adopt keys the operator did not create (from admission).
    pub may_adopt: bool,
    /// Whether messages may name another key's owner (`EngineSettings::show_owners`).
    pub show_owners: bool,
    /// What this pass may bring back of a key taken out of service outside the operator.
    pub mandate: Mandate,
    /// Alarms on the key's use; `None` when the account has no `spec.monitoring`.
    pub monitoring: Option<DesiredMonitoring>,
}

/// Whether a pass runs on the user's request and so may undo what someone did to the key
/// outside the operator: cancel a deletion, or enable a disabled key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mandate {
    /// Cancel the scheduled deletion of a key of this object's own.
    pub restore: bool,
    /// Enable a key found disabled while the spec says enabled.
    pub reenable: bool,
}

impl DesiredKey {
    pub fn owns_key(&self) -> bool {
        self.origin == Origin::Create
    }

    pub fn owner_value(&self) -> &str {
        &self.owner.1
    }

    /// Whose a key with the ownership tag `owner` is, as seen from this object's namespace.
    pub fn owner_of(&self, owner: Option<&str>) -> KeyOwner {
        let owner = match parse_owner(self.owner_value()) {
            Some((cluster, namespace, _)) => owner_from(owner, cluster, namespace),
            None => KeyOwner::Foreign(Some(self.owner_value().to_owned())),
        };
        owner.told(self.show_owners)
    }

    /// The `rotation.rotateNow` value asked for, if any.
    pub fn rotate_now(&self) -> Option<&str> {
        self.rotation.as_ref().and_then(|r| r.rotate_now.as_deref())
    }

    /// Tags the key must carry: declared ones, plus ownership for created keys.
    pub fn full_tags(&self, declared: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        if self.owns_key() { self.with_owner(declared) } else { declared.clone() }
    }

    /// `declared` plus this object's ownership tag: what a key or replica the operator creates
    /// carries, so that it can tell later which ones it may remove.
    pub fn with_owner(&self, declared: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut tags = declared.clone();
        tags.insert(self.owner.0.clone(), self.owner.1.clone());
        tags
    }

    /// Whether a key or replica with `tags` was created by the operator for this object.
    pub fn created_here(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(&self.owner.0) == Some(&self.owner.1)
    }

    pub fn replica(&self, region: &str) -> Option<&DesiredReplica> {
        self.replicas.iter().find(|r| r.region == region)
    }
}

/// What the builder needs to compile `key`'s policy for a copy in `region` of account
/// `account_id`.
pub fn build_context<'a>(key: &'a KmsKey, account_id: &'a str, region: &'a str) -> BuildContext<'a> {
    BuildContext {
        account_id,
        region,
        partition: partition_of(region),
        key_spec: &key.spec.key_spec,
        key_usage: &key.spec.key_usage,
    }
}

/// The policy a key in `region` gets: the builder's, the raw document, or the AWS default for
/// keys the operator creates. `None` when an imported key declares no policy.
fn policy_for(key: &KmsKey, account: &AccountConfig, region: &str, creates: bool) -> Option<Value> {
    let ctx = build_context(key, &account.account_id, region);
    if let Some(spec) = &key.spec.policy {
        return Some(policy::build(spec, &ctx));
    }
    if let Some(text) = &key.spec.policy_document {
        // Validation rejected unparsable documents before the engine runs; a raw string is kept
        // only so that a bad document cannot silently become "no policy".
        return Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())));
    }
    creates.then(|| policy::default_policy(&ctx))
}

/// The key's alarms, when its account says where alarms live.
fn monitoring_for(
    key: &KmsKey,
    object: &ObjectName,
    account: &AccountConfig,
    spec: Option<&AccountMonitoring>,
    settings: &EngineSettings,
) -> Option<DesiredMonitoring> {
    let setup = MonitoringSetup::new(account, spec?, &settings.cluster_name);
    let decryptable = key.spec.key_usage == catalog::DEFAULT_KEY_USAGE;
    Some(DesiredMonitoring {
        prefix: setup.naming.key_prefix(object),
        owner: (OWNER_TAG.to_owned(), owner_value(&settings.cluster_name, object)),
        object: object.clone(),
        alarms: key.spec.monitoring.as_ref().map(|m| KeyAlarms::new(m, decryptable)),
        setup,
    })
}

pub fn desired_key(
    key: &KmsKey,
    account: &AccountConfig,
    account_monitoring: Option<&AccountMonitoring>,
    tenant: &Tenant,
    mandate: Mandate,
    settings: &EngineSettings,
) -> DesiredKey {
    let spec = &key.spec;
    let object = ObjectName::of(crate::api::Kind::KmsKey, &key.metadata);
    let region = spec.region.clone().unwrap_or_else(|| account.region.clone());
    let origin = match spec.import_key_id() {
        Some(id) => Origin::Import(id.to_owned()),
        None => Origin::Create,
    };
    let creates = origin == Origin::Create;
    let description = match (&spec.description, creates) {
        (Some(d), _) => Some(d.clone()),
        (None, true) => Some(String::new()),
        (None, false) => None,
    };
    // KMS rotates only material it made: keys with imported material or in a custom key store
    // have no rotation to converge.
    let rotatable = spec.key_spec == catalog::ROTATABLE_KEY_SPEC && spec.material_from_kms();
    let rotation = (rotatable || spec.rotation_enabled()).then(|| DesiredRotation {
        enabled: spec.rotation_enabled(),
        period_days: spec.rotation_period_days(),
        rotate_now: spec.rotate_now().map(str::to_owned),
    });
    let replicas = spec
        .replicas
        .iter()
        .map(|r| DesiredReplica {
            region: r.region.clone(),
            description: r.description.clone().or_else(|| description.clone()),
            tags: r.tags.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| spec.tags.clone()),
            policy: policy_for(key, account, &r.region, creates),
        })
        .collect();
    DesiredKey {
        monitoring: monitoring_for(key, &object, account, account_monitoring, settings),
        owner: (OWNER_TAG.to_owned(), owner_value(&settings.cluster_name, &object)),
        object,
        account: account.clone(),
        policy: policy_for(key, account, &region, creates),
        region,
        origin,
        description,
        key_spec: spec.key_spec.clone(),
        key_usage: spec.key_usage.clone(),
        multi_region: spec.multi_region,
        material: KeyMaterial {
            origin: spec.origin.clone(),
            custom_key_store_id: spec.custom_key_store_id.clone(),
            xks_key_id: spec.xks_key_id.clone(),
        },
        enabled: spec.enabled,
        rotation,
        bypass_lockout_check: spec.bypass_policy_lockout_safety_check,
        tags: spec.tags.clone(),
        replicas,
        observe_only: spec.is_observe_only(),
        deletion: spec.deletion_policy(),
        pending_window_days: spec.pending_window_days(),
        may_adopt: tenant.may_adopt,
        show_owners: settings.show_owners,
        mandate,
    }
}
