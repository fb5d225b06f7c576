//! A pass over one `KmsKey`.

use std::sync::Mutex;

use futures::FutureExt;

use super::execute::Recording;
use super::intent::IntentRecorder;
use super::observe::Lookup;
use super::observed::KeyObservation;
use super::plan::{plan_key, plan_key_deletion};
use super::status::{key_ready, key_status};
use crate::api::CreateIntent;
use crate::api::Reason;
use crate::api::monitoring::AccountMonitoring;
use crate::api::{KmsKey, KmsKeyStatus, RotationStatus};
use crate::aws::AccountConfig;
use crate::engine::admission::Tenant;
use crate::engine::cache::lock;
use crate::engine::change::{Action, KeyHandle};
use crate::engine::converge::Converged;
use crate::engine::desired::{DesiredKey, Mandate, desired_key};
use crate::engine::monitoring::plan_monitoring_removal;
use crate::engine::report::{Outcome, Report, ready_unless_refused, synced_condition};
use crate::engine::{Engine, EngineError, Mode, noting_unverified};

pub type KeyReport = Report<KmsKeyStatus>;

pub struct KeyRequest<'a> {
    pub key: &'a KmsKey,
    pub account: &'a AccountConfig,
    /// The account's `spec.monitoring`: where the key's alarms live.
    pub monitoring: Option<&'a AccountMonitoring>,
    /// What the key's namespace may do, from admission.
    pub tenant: &'a Tenant,
    /// What the controller's status remembers; local mode remembers nothing.
    pub memory: Memory<'a>,
    /// Where an intent to create is recorded before CreateKey leaves (the controller's status);
    /// `None` in local mode, which has nowhere to keep one.
    pub recorder: Option<&'a dyn IntentRecorder>,
}

/// What a front door remembers of earlier passes over one KmsKey.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory<'a> {
    /// The key id recorded in status.
    pub key_id: Option<&'a str>,
    /// The spec changed since the last pass (a new generation): the user asked for this pass.
    pub spec_changed: bool,
    /// The recorded key id the user allows to be replaced by a new key, because it is deleted
    /// (the annotation `kmsoperator.dev/replace-deleted-key`).
    pub replace_deleted: Option<&'a str>,
    /// A CreateKey recorded as about to leave, whose key is not on record yet.
    pub creating: Option<&'a CreateIntent>,
    /// `status.rotation` as recorded: rotation history is carried from it, and read again only
    /// when KMS shows a rotation since.
    pub rotation: Option<&'a RotationStatus>,
}

/// The annotation by which a user allows a KmsKey whose key was deleted outside the operator
/// to get a new key; its value must be the deleted key's id, so it cannot outlive its purpose.
pub const REPLACE_DELETED_KEY: &str = "kmsoperator.dev/replace-deleted-key";

impl Memory<'_> {
    /// A key taken out of service outside the operator is brought back only on the user's
    /// request: a KmsKey with no key on record (re-created, or a local run) restores a key of
    /// its own that is pending deletion, and re-enables a disabled one, as does a changed spec.
    /// A resync of an unchanged KmsKey only reports them.
    fn mandate(&self) -> Mandate {
        let fresh = self.key_id.is_none();
        Mandate { restore: fresh, reenable: fresh || self.spec_changed }
    }
}

fn report(
    desired: &DesiredKey,
    pass: Converged<KeyObservation>,
    caller: Option<&str>,
    creating: Option<CreateIntent>,
    created: Option<String>,
) -> KeyReport {
    let outcome = match (pass.outcome, caller) {
        (Outcome::Failed(error), Some(caller)) => Outcome::Failed(error.with_caller(caller)),
        (outcome, _) => outcome,
    };
    let pending_creation = outcome == Outcome::Pending && matches!(pass.observation, Some(KeyObservation::Missing));
    // A refused key reports nothing about a key it may not use.
    let observation = pass.observation.as_ref().filter(|_| !matches!(outcome, Outcome::Refused(_)));
    let mut status = key_status(desired, observation);
    let mut ready = ready_unless_refused(&outcome, key_ready(desired, observation, pending_creation));
    // A pass that created the key and then stopped (interrupted, or failing on a later change)
    // still reports the key: it exists, and the next pass must find it by that id.
    if let (None, Some(created)) = (&status.key_id, created) {
        let why = outcome_text(&outcome);
        ready = crate::engine::report::ready(
            false,
            Reason::KeyIncomplete,
            format!("key {created} was created, but the pass ended before it converged: {why}"),
        );
        status.key_id = Some(created);
    }
    // The intent stays on record until the key it announced is: a pass that fails before
    // finding or creating the key must not forget that one may be on its way.
    if status.key_id.is_none() && !matches!(observation, Some(KeyObservation::Duplicates(_))) {
        status.creating = creating;
    }
    KeyReport {
        object: desired.object.clone(),
        status,
        ready,
        synced: synced_condition(&outcome, &pass.changes, &pass.plan.blockers),
        changes: pass.changes,
        blockers: pass.plan.blockers,
        notices: pass.plan.notices,
        outcome,
    }
}

/// A pass that did not read the rotation history keeps what the last one recorded of it, for
/// the same key.
fn carry_rotation_history(status: &mut KmsKeyStatus, memory: Memory<'_>) {
    let (Some(now), Some(recorded)) = (status.rotation.as_mut(), memory.rotation) else {
        return;
    };
    if now.on_demand_rotations.is_some() || status.key_id.as_deref() != memory.key_id {
        return;
    }
    now.last_rotation_date.clone_from(&recorded.last_rotation_date);
    now.on_demand_rotations = recorded.on_demand_rotations;
    now.recent.clone_from(&recorded.recent);
}

fn failed(desired: &DesiredKey, error: EngineError, creating: Option<&CreateIntent>) -> KeyReport {
    let pass =
        Converged { observation: None, changes: Vec::new(), plan: Default::default(), outcome: Outcome::Failed(error) };
    report(desired, pass, None, creating.cloned(), None)
}

/// An AWS error of the pass, naming the identity it ran as when that was verified.
fn aws_failure(error: crate::aws::AwsError, caller: Option<&str>) -> EngineError {
    named_caller(EngineError::aws(error), caller)
}

fn named_caller(error: EngineError, caller: Option<&str>) -> EngineError {
    match caller {
        Some(caller) => error.with_caller(caller),
        None => error,
    }
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed(error) => error.to_string(),
        other => format!("{other:?}"),
    }
}

impl Engine {
    fn desired(&self, request: &KeyRequest<'_>) -> DesiredKey {
        let mandate = request.memory.mandate();
        desired_key(request.key, request.account, request.monitoring, request.tenant, mandate, &self.settings)
    }

    /// Converges (or, in `Mode::Plan`, only plans) one `KmsKey`.
    pub async fn reconcile_key(&self, request: KeyRequest<'_>, mode: Mode) -> KeyReport {
        let account = request.account;
        noting_unverified(self.reconcile_key_pass(request, mode).await, Some(account))
    }

    async fn reconcile_key_pass(&self, request: KeyRequest<'_>, mode: Mode) -> KeyReport {
        let desired = self.desired(&request);
        let memory = request.memory;
        let caller = match self.verify_account(&desired.account).await {
            Ok(identity) => identity.caller,
            Err(error) => return failed(&desired, error, memory.creating),
        };
        let known_key_id = Mutex::new(memory.key_id.map(str::to_owned));
        let creating = Mutex::new(memory.creating.cloned());
        let rotated = Mutex::new(false);
        let pass = self
            .converge(
                mode,
                desired.observe_only,
                || {
                    let lookup = Lookup {
                        key_id: lock(&known_key_id).clone(),
                        replace_deleted: memory.replace_deleted.map(str::to_owned),
                        creating: lock(&creating).clone(),
                        recorded_rotation: memory.rotation.cloned(),
                        rotated: *lock(&rotated),
                    };
                    let desired = &desired;
                    async move { self.observe_key(desired, &lookup).await }.boxed()
                },
                |observation| plan_key(&desired, observation),
                |changes| {
                    let (desired, known_key_id, creating, rotated) = (&desired, &known_key_id, &creating, &rotated);
                    async move {
                        let mut made = Vec::new();
                        let recording = Recording { recorder: request.recorder, recorded: creating };
                        let result = self.execute_key_changes(desired, &changes, &mut made, recording).await;
                        // Also when a later change failed: the key exists from here on.
                        let created = made.iter().find(|c| matches!(c.action, Action::CreateKey(_)));
                        if let Some(id) = created.and_then(|c| c.key.id()) {
                            *lock(known_key_id) = Some(id.to_owned());
                        }
                        if made.iter().any(|c| matches!(c.action, Action::RotateOnDemand { .. })) {
                            *lock(rotated) = true;
                        }
                        (made, result.map(|_| ()))
                    }
                    .boxed()
                },
            )
            .await;
        let creating = lock(&creating).clone();
        let created = lock(&known_key_id).clone().filter(|id| memory.key_id != Some(id.as_str()));
        let mut report = report(&desired, pass, caller.as_deref(), creating, created);
        carry_rotation_history(&mut report.status, memory);
        report
    }

    /// What deleting the `KmsKey` does to its key, by its deletion policy.
    pub async fn delete_key(&self, request: KeyRequest<'_>, mode: Mode) -> KeyReport {
        let account = request.account;
        noting_unverified(self.delete_key_pass(request, mode).await, Some(account))
    }

    async fn delete_key_pass(&self, request: KeyRequest<'_>, mode: Mode) -> KeyReport {
        let desired = self.desired(&request);
        let caller = match self.verify_account(&desired.account).await {
            Ok(identity) => identity.caller,
            Err(error) => return failed(&desired, error, request.memory.creating),
        };
        let lookup = Lookup {
            key_id: request.memory.key_id.map(str::to_owned),
            creating: request.memory.creating.cloned(),
            ..Lookup::default()
        };
        let observation = match self.observe_key(&desired, &lookup).await {
            Ok(observation) => observation,
            Err(error) => return failed(&desired, named_caller(error, caller.as_deref()), request.memory.creating),
        };
        let mut plan = plan_key_deletion(&desired, &observation);
        // Alarms and filters go whatever the deletion policy: they hold no data.
        if let (Some(monitoring), true) = (&desired.monitoring, plan.refusals.is_empty() && !desired.observe_only) {
            let handle = match &observation {
                KeyObservation::Found(observed) => KeyHandle::Existing(observed.key.key_id.clone()),
                _ => KeyHandle::Account,
            };
            match self.observe_monitoring(&desired.account, &monitoring.setup, &monitoring.prefix).await {
                Ok(live) => plan.changes.extend(plan_monitoring_removal(&monitoring.setup, &handle, &live).changes),
                Err(error) => {
                    return failed(&desired, aws_failure(error, caller.as_deref()), request.memory.creating);
                }
            }
        }
        let key_id = match &observation {
            KeyObservation::Found(observed) => Some(observed.key.key_id.clone()),
            _ => None,
        };
        let mut pass =
            Converged { observation: Some(observation), changes: Vec::new(), plan, outcome: Outcome::InSync };
        if let Some(refusal) = pass.plan.refusal() {
            pass.outcome = Outcome::Refused(refusal);
            return report(&desired, pass, caller.as_deref(), None, None);
        }
        if !pass.plan.blockers.is_empty() {
            pass.outcome = Outcome::Blocked;
            return report(&desired, pass, caller.as_deref(), None, None);
        }
        if pass.plan.changes.is_empty() {
            return report(&desired, pass, caller.as_deref(), None, None);
        }
        if mode == Mode::Plan {
            pass.changes = pass.plan.changes.clone();
            pass.outcome = Outcome::Pending;
            return report(&desired, pass, caller.as_deref(), None, None);
        }
        let changes = pass.plan.changes.clone();
        pass.outcome = match self.execute_key_changes(&desired, &changes, &mut pass.changes, Recording::none()).await {
            Ok(_) => Outcome::Changed,
            Err(error) => Outcome::Failed(error),
        };
        // Read back so the report shows the key as it is now (pending deletion, or untagged).
        let lookup = Lookup { key_id, ..Lookup::default() };
        if let Ok(now) = self.observe_key(&desired, &lookup).await {
            pass.observation = Some(now);
        }
        report(&desired, pass, caller.as_deref(), None, None)
    }
}
