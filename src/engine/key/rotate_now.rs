//! `rotation.rotateNow`: one on-demand rotation per new value, exactly once.
//!
//! The key itself remembers what was done, in tags, so that local mode and the controller
//! agree and a crash at any point neither loses nor repeats a rotation:
//! 1. TagResource `rotate-now = <value>` and `rotate-now-base = <on-demand rotations so far>`;
//! 2. RotateKeyOnDemand;
//! 3. UntagResource `rotate-now-base`.
//!
//! A pass that finds the base tag (a run stopped after step 1 or 2) reads the rotation history:
//! more on-demand rotations than the base, or one in progress, means step 2 happened and only
//! step 3 is left; otherwise it rotates. The history (ListKeyRotations) is read only when a
//! rotation is due or under way, or KMS shows one since the last pass, so an in-sync key costs
//! no extra call.

use super::observed::ObservedKey;
use sha2::{Digest, Sha256};

use crate::api::Reason;
use crate::api::catalog::{MAX_ON_DEMAND_ROTATIONS, MAX_TAG_VALUE_CHARS, ROTATE_NOW_BASE_TAG, ROTATE_NOW_TAG};
use crate::api::{RotationRecord, RotationStatus};
use crate::aws::model::{RotationEntry, RotationState};
use crate::engine::change::{Action, Change, Finding};
use crate::engine::desired::DesiredKey;
use crate::engine::plan::Plan;

/// How a `rotateNow` value is kept in a tag: as written when a tag value may hold it, else as
/// its SHA-256 (the field takes any text; a tag value takes 256 characters of a few kinds).
pub fn tag_value(value: &str) -> String {
    let fits = value.chars().count() <= MAX_TAG_VALUE_CHARS
        && !value.starts_with(HASHED)
        && value.chars().all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c));
    if fits {
        return value.to_owned();
    }
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{HASHED}{hex}")
}

const HASHED: &str = "sha256:";

/// What `status.rotation.rotateNowApplied` shows for a tag: the spec's value when the tag
/// holds it (perhaps hashed), else the tag as it is.
pub fn applied_value(tag: &str, desired: Option<&str>) -> String {
    match desired {
        Some(value) if tag_value(value) == tag => value.to_owned(),
        _ => tag.to_owned(),
    }
}

/// Rotations shown in `status.rotation.recent`.
const RECENT: usize = 5;

/// Where a key stands with the `rotateNow` value its spec asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateNow {
    /// No value asked for, or the key records it done.
    Done,
    /// A new value: the key has not been rotated for it.
    Due,
    /// Started by an earlier pass (step 1 done): the key had `base` on-demand rotations before.
    Started { base: u32 },
}

impl RotateNow {
    pub fn of(desired: &DesiredKey, tags: &std::collections::BTreeMap<String, String>) -> RotateNow {
        let Some(value) = desired.rotate_now() else {
            return RotateNow::Done;
        };
        if tags.get(ROTATE_NOW_TAG) != Some(&tag_value(value)) {
            return RotateNow::Due;
        }
        match tags.get(ROTATE_NOW_BASE_TAG) {
            None => RotateNow::Done,
            // A base that does not parse cannot prove the rotation happened: count from zero,
            // which proves it as soon as the key has any on-demand rotation.
            Some(base) => RotateNow::Started { base: base.parse().unwrap_or(0) },
        }
    }
}

/// The tags only the operator writes for `rotateNow`: never drift, never removed as undeclared.
pub fn is_rotation_tag(key: &str) -> bool {
    key == ROTATE_NOW_TAG || key == ROTATE_NOW_BASE_TAG
}

/// Whether this observation must read the rotation history: a rotation is due or under way,
/// this pass rotated, or KMS shows a rotation since the pass that wrote `recorded` (the next
/// automatic rotation date moved). Rotations made by hand with RotateKeyOnDemand show up with
/// the next one the operator sees: KMS reports nothing else of them to a cheap read.
pub fn needs_history(
    state: &RotateNow,
    live: &RotationState,
    recorded: Option<&RotationStatus>,
    rotated_this_pass: bool,
) -> bool {
    if *state != RotateNow::Done || rotated_this_pass {
        return true;
    }
    match recorded {
        // The next automatic rotation moved: one happened (or the period changed).
        Some(recorded) => recorded.next_rotation_date != live.next_rotation_date,
        None => false,
    }
}

/// ON_DEMAND entries of a history.
pub fn on_demand_count(history: &[RotationEntry]) -> u32 {
    u32::try_from(history.iter().filter(|r| r.is_on_demand()).count()).unwrap_or(u32::MAX)
}

/// The history's part of `status.rotation`: latest date, on-demand count, the last five.
pub fn record_history(status: &mut RotationStatus, history: &[RotationEntry]) {
    let mut newest_first: Vec<&RotationEntry> = history.iter().collect();
    // RFC 3339 dates in one format sort as text; undated entries go last.
    newest_first.sort_by(|a, b| b.date.cmp(&a.date));
    status.last_rotation_date = newest_first.first().and_then(|r| r.date.clone());
    status.on_demand_rotations = Some(on_demand_count(history));
    status.recent = newest_first
        .into_iter()
        .take(RECENT)
        .map(|r| RotationRecord { date: r.date.clone(), kind: r.kind.clone() })
        .collect();
}

/// Plans the on-demand rotation `desired` asks for, or what finishes one under way.
pub fn plan_rotate_now(
    desired: &DesiredKey,
    observed: &ObservedKey,
    plan: &mut Plan,
    on_primary: &dyn Fn(Action) -> Change,
) {
    let Some(value) = desired.rotate_now().map(str::to_owned) else {
        return;
    };
    let (Some(history), Some(live)) = (&observed.rotation_history, &observed.rotation) else {
        return;
    };
    let done_so_far = on_demand_count(history);
    match RotateNow::of(desired, &observed.tags) {
        RotateNow::Done => {}
        RotateNow::Started { base } if done_so_far > base || live.on_demand_rotation_started.is_some() => {
            plan.changes.push(on_primary(Action::Untag(vec![(ROTATE_NOW_BASE_TAG.to_owned(), base.to_string())])));
        }
        RotateNow::Started { base } => {
            plan.changes.push(on_primary(Action::RotateOnDemand { value, on_demand_before: base, recorded: true }));
        }
        RotateNow::Due => {
            if let Some(blocker) = blocker(desired, observed, done_so_far, &value) {
                plan.blockers.push(blocker);
                return;
            }
            plan.changes.push(on_primary(Action::RotateOnDemand {
                value,
                on_demand_before: done_so_far,
                recorded: false,
            }));
        }
    }
}

/// Why KMS would refuse the rotation: said before any call, with the fix.
fn blocker(desired: &DesiredKey, observed: &ObservedKey, done_so_far: u32, value: &str) -> Option<Finding> {
    let key = &observed.key;
    let field = format!("spec.rotation.rotateNow {value:?}");
    if key.origin != "AWS_KMS" && !key.origin.is_empty() {
        return Some(Finding::new(
            Reason::RotateNowUnsupported,
            format!(
                "{field}: key {} has key material of origin {}, which KMS does not rotate on demand: remove rotation.rotateNow",
                key.key_id, key.origin
            ),
        ));
    }
    if done_so_far >= MAX_ON_DEMAND_ROTATIONS {
        return Some(Finding::new(
            Reason::RotateNowLimitReached,
            format!(
                "{field}: key {} has had {done_so_far} on-demand rotations, KMS's limit of {MAX_ON_DEMAND_ROTATIONS} per key (it cannot be raised); automatic rotation goes on: set rotation.rotateNow back to {:?} or remove it",
                key.key_id,
                observed.tags.get(ROTATE_NOW_TAG).map(|t| applied_value(t, None)).unwrap_or_default()
            ),
        ));
    }
    if !key.enabled && !desired.enabled {
        return Some(Finding::new(
            Reason::RotateNowBlockedByDisabledKey,
            format!(
                "{field}: key {} is disabled and the spec keeps it disabled, and KMS rotates only enabled keys: set spec.enabled: true, or remove rotation.rotateNow",
                key.key_id
            ),
        ));
    }
    None
}
