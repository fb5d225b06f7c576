//! One change the engine plans or makes, and how it reads in `plan` output and JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::ObjectName;
use crate::api::Reason;
use crate::aws::Op;
use crate::aws::model::{GrantConstraintsView, KeyMaterial, RotationState};
use crate::engine::monitoring::MonitoringAction;
use crate::policy;

/// The key a change applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyHandle {
    Existing(String),
    /// The key a `CreateKey` earlier in the same plan creates.
    New,
    /// A key another `KmsKey` of the same run will create (only in plans, never executed).
    Pending(ObjectName),
    /// No key: a change to an `AwsAccount`'s own alarms and filters.
    Account,
}

impl KeyHandle {
    fn describe(&self) -> String {
        match self {
            KeyHandle::Existing(id) => id.clone(),
            KeyHandle::New => "(new key)".to_owned(),
            KeyHandle::Pending(object) => format!("(key of {object}, to be created)"),
            KeyHandle::Account => "(account)".to_owned(),
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            KeyHandle::Existing(id) => Some(id),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TagChange {
    pub key: String,
    pub from: Option<String>,
    pub to: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewKeyPlan {
    pub description: String,
    pub key_spec: String,
    pub key_usage: String,
    pub multi_region: bool,
    pub material: KeyMaterial,
    pub policy: Value,
    pub tags: BTreeMap<String, String>,
    pub bypass_lockout_check: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewReplicaPlan {
    pub region: String,
    pub description: String,
    pub policy: Value,
    pub tags: BTreeMap<String, String>,
    pub bypass_lockout_check: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GrantPlan {
    pub name: String,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub constraints: GrantConstraintsView,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    CreateKey(NewKeyPlan),
    ReplicateKey(NewReplicaPlan),
    EnableKey,
    DisableKey,
    UpdateDescription {
        from: String,
        to: String,
    },
    PutPolicy {
        from: Option<Value>,
        to: Value,
        bypass_lockout_check: bool,
    },
    EnableRotation {
        period_days: i32,
        was: Option<RotationState>,
    },
    DisableRotation,
    /// Rotates the key's material now for `rotation.rotateNow` = `value`, recording it on the
    /// key first unless an earlier pass did (`recorded`).
    RotateOnDemand {
        value: String,
        /// On-demand rotations the key had before this one.
        on_demand_before: u32,
        recorded: bool,
    },
    Tag(Vec<TagChange>),
    Untag(Vec<(String, String)>),
    ScheduleDeletion {
        pending_window_days: i32,
    },
    /// Restores a key of this object that is pending deletion: a re-created KmsKey asks for it.
    CancelDeletion,
    /// Disables a second key created for the same object, then schedules its deletion.
    RemoveDuplicate {
        kept: String,
        pending_window_days: i32,
    },
    CreateAlias {
        name: String,
    },
    UpdateAlias {
        name: String,
        from: String,
    },
    DeleteAlias {
        name: String,
    },
    CreateGrant(GrantPlan),
    RetireGrant {
        grant_id: String,
        name: String,
        reason: String,
    },
    /// An alarm or metric filter watching the key's use (docs/monitoring.md).
    Monitoring(MonitoringAction),
}

/// An action on the key `key` in `region`. For aliases and grants, `key` is the key the alias
/// points at or the grant is on.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub region: String,
    pub key: KeyHandle,
    pub action: Action,
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn tag_list(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return "(none)".to_owned();
    }
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn statement_ids(policy: &Value) -> String {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    };
    let sids: Vec<&str> = statements.iter().filter_map(|s| s.get("Sid").and_then(Value::as_str)).collect();
    if sids.len() == statements.len() && !sids.is_empty() {
        format!("{} statements ({})", statements.len(), sids.join(", "))
    } else {
        format!("{} statements", statements.len())
    }
}

/// `, origin EXTERNAL` for key material KMS does not make; nothing for the default.
fn origin_text(material: &KeyMaterial) -> String {
    if material.origin == crate::api::catalog::ORIGIN_AWS_KMS {
        return String::new();
    }
    format!(", origin {}", material.origin)
}

fn rotation_text(state: &RotationState) -> String {
    match (state.enabled, state.period_days) {
        (false, _) => "disabled".to_owned(),
        (true, Some(days)) => format!("every {days} days"),
        (true, None) => "enabled".to_owned(),
    }
}

impl Change {
    /// The AWS API operation the change is made with.
    pub fn operation(&self) -> Op {
        match &self.action {
            Action::CreateKey(_) => Op::CreateKey,
            Action::ReplicateKey(_) => Op::ReplicateKey,
            Action::EnableKey => Op::EnableKey,
            Action::DisableKey => Op::DisableKey,
            Action::UpdateDescription { .. } => Op::UpdateKeyDescription,
            Action::PutPolicy { .. } => Op::PutKeyPolicy,
            Action::EnableRotation { .. } => Op::EnableKeyRotation,
            Action::DisableRotation => Op::DisableKeyRotation,
            Action::RotateOnDemand { .. } => Op::RotateKeyOnDemand,
            Action::Tag(_) => Op::TagResource,
            Action::Untag(_) => Op::UntagResource,
            Action::ScheduleDeletion { .. } => Op::ScheduleKeyDeletion,
            Action::CancelDeletion => Op::CancelKeyDeletion,
            Action::RemoveDuplicate { .. } => Op::ScheduleKeyDeletion,
            Action::CreateAlias { .. } => Op::CreateAlias,
            Action::UpdateAlias { .. } => Op::UpdateAlias,
            Action::DeleteAlias { .. } => Op::DeleteAlias,
            Action::CreateGrant(_) => Op::CreateGrant,
            Action::RetireGrant { .. } => Op::RetireGrant,
            Action::Monitoring(action) => action.operation(),
        }
    }

    /// The reason of the Event that records the change: the operation's name, except where a
    /// word says more.
    pub fn event_reason(&self) -> &'static str {
        match &self.action {
            Action::CancelDeletion => Reason::Restored.as_str(),
            Action::RemoveDuplicate { .. } => Reason::DuplicateRemoved.as_str(),
            _ => self.operation().name(),
        }
    }

    /// `+` adds, `~` changes, `-` removes.
    pub fn symbol(&self) -> char {
        match &self.action {
            Action::Monitoring(action) => action.symbol(),
            Action::CreateKey(_) | Action::ReplicateKey(_) | Action::CreateAlias { .. } | Action::CreateGrant(_) => '+',
            Action::EnableRotation { was: None, .. } => '+',
            Action::ScheduleDeletion { .. }
            | Action::RemoveDuplicate { .. }
            | Action::DeleteAlias { .. }
            | Action::RetireGrant { .. }
            | Action::Untag(_) => '-',
            Action::Tag(changes) if changes.iter().all(|c| c.from.is_none()) => '+',
            _ => '~',
        }
    }

    /// One line saying what the change does.
    pub fn summary(&self) -> String {
        let key = self.key.describe();
        match &self.action {
            Action::CreateKey(new) => format!(
                "create key in {} ({}, {}, {}{})",
                self.region,
                new.key_spec,
                new.key_usage,
                if new.multi_region { "multi-Region" } else { "single-Region" },
                origin_text(&new.material)
            ),
            Action::ReplicateKey(replica) => format!("replicate key {key} from {} to {}", self.region, replica.region),
            Action::EnableKey => format!("enable key {key} in {}", self.region),
            Action::DisableKey => format!("disable key {key} in {}", self.region),
            Action::UpdateDescription { from, to } => format!("description: {} -> {}", quoted(from), quoted(to)),
            Action::PutPolicy { from: None, .. } => format!("set key policy of {key} in {}", self.region),
            Action::PutPolicy { .. } => format!("update key policy of {key} in {}", self.region),
            Action::EnableRotation { period_days, was: Some(was) } => {
                format!("rotation: {} -> every {period_days} days", rotation_text(was))
            }
            Action::EnableRotation { period_days, was: None } => format!("enable rotation every {period_days} days"),
            Action::DisableRotation => "rotation: enabled -> disabled".to_owned(),
            Action::RotateOnDemand { value, on_demand_before, .. } => format!(
                "rotate the material of key {key} now for rotation.rotateNow {} (on-demand rotation {} of {})",
                quoted(value),
                on_demand_before + 1,
                crate::api::catalog::MAX_ON_DEMAND_ROTATIONS
            ),
            Action::Tag(changes) => {
                let parts: Vec<String> = changes
                    .iter()
                    .map(|c| match &c.from {
                        Some(from) => format!("{}: {} -> {}", c.key, quoted(from), quoted(&c.to)),
                        None => format!("{}={}", c.key, quoted(&c.to)),
                    })
                    .collect();
                format!("tags: {}", parts.join(", "))
            }
            Action::Untag(removed) => {
                let parts: Vec<String> = removed.iter().map(|(k, v)| format!("{k}={}", quoted(v))).collect();
                format!("remove tags: {}", parts.join(", "))
            }
            Action::ScheduleDeletion { pending_window_days } => {
                format!("schedule deletion of key {key} in {} after {pending_window_days} days", self.region)
            }
            Action::CancelDeletion => format!("restore key {key} in {}: cancel its scheduled deletion", self.region),
            Action::RemoveDuplicate { kept, pending_window_days } => format!(
                "remove duplicate key {key} in {} (created twice for one object; {kept} is kept): disable it and schedule its deletion after {pending_window_days} days",
                self.region
            ),
            Action::CreateAlias { name } => format!("create alias {name} in {} -> {key}", self.region),
            Action::UpdateAlias { name, from } => format!("repoint alias {name} in {}: {from} -> {key}", self.region),
            Action::DeleteAlias { name } => format!("delete alias {name} in {} (pointing at {key})", self.region),
            Action::CreateGrant(grant) => format!(
                "create grant {} on {key} in {} for {}: {}",
                grant.name,
                self.region,
                grant.grantee_principal,
                grant.operations.join(", ")
            ),
            Action::RetireGrant { grant_id, name, reason } => {
                format!("retire grant {name} ({grant_id}) on {key} in {}: {reason}", self.region)
            }
            Action::Monitoring(action) => action.summary(&self.region),
        }
    }

    /// The summary plus indented details and policy diff, as `plan` prints them.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!("{} {}", self.symbol(), self.summary())];
        lines.extend(self.details().into_iter().map(|l| format!("    {l}")));
        lines.extend(self.policy_diff().into_iter().map(|l| format!("    {l}")));
        lines
    }

    /// What the summary leaves out, one `label: value` per line.
    pub fn details(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut detail = |label: &str, value: String| lines.push(format!("{label}: {value}"));
        match &self.action {
            Action::CreateKey(new) => {
                detail("description", quoted(&new.description));
                if let Some(store) = &new.material.custom_key_store_id {
                    detail("custom key store", store.clone());
                }
                if let Some(xks) = &new.material.xks_key_id {
                    detail("external key", xks.clone());
                }
                detail("tags", tag_list(&new.tags));
                detail("policy", statement_ids(&new.policy));
            }
            Action::ReplicateKey(replica) => {
                detail("description", quoted(&replica.description));
                detail("tags", tag_list(&replica.tags));
                detail("policy", statement_ids(&replica.policy));
            }
            Action::PutPolicy { from: None, to, .. } => detail("policy", statement_ids(to)),
            Action::CreateGrant(grant) => {
                if let Some(retiring) = &grant.retiring_principal {
                    detail("retiring principal", retiring.clone());
                }
                if !grant.constraints.encryption_context_equals.is_empty() {
                    detail("encryption context equals", tag_list(&grant.constraints.encryption_context_equals));
                }
                if !grant.constraints.encryption_context_subset.is_empty() {
                    detail("encryption context subset", tag_list(&grant.constraints.encryption_context_subset));
                }
            }
            Action::Monitoring(action) => lines.extend(action.details()),
            _ => {}
        }
        lines
    }

    /// The lines of a policy change as a diff (see `policy::diff`); empty for other changes.
    pub fn policy_diff(&self) -> Vec<String> {
        match &self.action {
            Action::PutPolicy { from: Some(from), to, .. } => policy::diff(from, to),
            _ => Vec::new(),
        }
    }

    /// The change in `--output json`.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "operation": self.operation().name(),
            "region": self.region,
            "summary": self.summary(),
        });
        if let Some(id) = self.key.id() {
            value["keyId"] = json!(id);
        }
        value
    }
}

/// Something that stops convergence, or that the user should know, with a CamelCase reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub reason: Reason,
    pub message: String,
}

impl Finding {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Finding { reason, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: Action) -> Change {
        Change { region: "eu-west-1".into(), key: KeyHandle::Existing("k-1".into()), action }
    }

    #[test]
    fn summaries_read_like_a_plan() {
        let tag = change(Action::Tag(vec![
            TagChange { key: "Env".into(), from: Some("dev".into()), to: "prod".into() },
            TagChange { key: "Team".into(), from: None, to: "data".into() },
        ]));
        assert_eq!(tag.symbol(), '~');
        assert_eq!(tag.summary(), r#"tags: Env: "dev" -> "prod", Team="data""#);
        assert_eq!(tag.operation(), Op::TagResource);

        let rotation = change(Action::EnableRotation { period_days: 365, was: Some(RotationState::default()) });
        assert_eq!(rotation.summary(), "rotation: disabled -> every 365 days");

        let delete = change(Action::ScheduleDeletion { pending_window_days: 7 });
        assert_eq!(delete.symbol(), '-');
        assert_eq!(delete.to_json()["keyId"], "k-1");
        assert_eq!(delete.to_json()["operation"], "ScheduleKeyDeletion");
    }

    #[test]
    fn a_new_key_lists_its_details() {
        let create = Change {
            region: "ap-southeast-2".into(),
            key: KeyHandle::New,
            action: Action::CreateKey(NewKeyPlan {
                description: "logs".into(),
                key_spec: "SYMMETRIC_DEFAULT".into(),
                key_usage: "ENCRYPT_DECRYPT".into(),
                multi_region: false,
                material: KeyMaterial { origin: "AWS_KMS".into(), ..KeyMaterial::default() },
                policy: json!({"Statement": [{"Sid": "EnableRootAccess"}]}),
                tags: BTreeMap::from([("Env".into(), "prod".into())]),
                bypass_lockout_check: false,
            }),
        };
        let lines = create.lines();
        assert_eq!(lines[0], "+ create key in ap-southeast-2 (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, single-Region)");
        assert!(lines.contains(&"    tags: Env=prod".to_owned()));
        assert!(lines.contains(&"    policy: 1 statements (EnableRootAccess)".to_owned()));
        assert!(create.to_json().get("keyId").is_none());
    }
}
