//! What every reconcile shares, and the steps every kind takes alike.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::backoff::Requeue;
use super::caches::Caches;
use super::decision::{Retry, Standing, decide};
use super::events;
use super::metrics::Metrics;
use super::recorder::EventRecorder;
use super::seen::SeenInputs;
use super::status::{next_status, patch_status};
use crate::api::ObjectName;
use crate::api::Reason;
use crate::api::conditions::{ConditionUpdate, READY, SYNCED};
use crate::api::status::CommonStatus;
use crate::engine::{Engine, Report};

/// How soon a pass that met a newer version of its object runs again: the cache catches up
/// within moments, and the failure backoff is for failures.
const STALE_RETRY: Duration = Duration::from_secs(1);

/// How soon a pass that waits for other objects looks again.
const WAIT_RETRY: Duration = Duration::from_secs(5);

/// Failures of the controller itself (the Kubernetes API), not of the resource.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The object changed since this pass read it (a write made on an old view was refused).
    #[error("the object changed since it was read: {0}")]
    Stale(kube::Error),
    /// The pass cannot go on before other objects change (a key's deletion waits for the aliases
    /// and grants that use it): looked at again shortly.
    #[error("{message}")]
    Waiting { reason: Reason, message: String },
    /// An object the pass refers to (its account, its key) cannot be decoded by this binary.
    #[error("{object} cannot be read: {error}")]
    Unreadable { object: String, error: String },
    /// The controllers stopped before their stores had listed.
    #[error("the controllers are stopping")]
    Stopped,
}

pub struct Context {
    pub client: Client,
    pub engine: Engine,
    pub recorder: EventRecorder,
    pub metrics: Metrics,
    pub requeue: Requeue,
    /// Transient failures (throttling that outlasted its retries, a lost connection) are
    /// retried quietly this many times before they show in status.
    pub quiet_retries: u32,
    /// Where passes read the objects they refer to.
    pub caches: Caches,
    /// What passes have seen of each object: a watch event that brings nothing new starts none.
    pub seen: SeenInputs,
}

/// Why a resource cannot be reconciled before any call to AWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
    /// Whether waiting can help (a referenced object may appear); else only a spec change can.
    pub retry: bool,
    /// The object the refusal is about (the AwsAccount whose rules refuse or that is missing,
    /// the KmsKey that is missing or has no key yet): the Event's `related`.
    pub related: Option<ObjectReference>,
}

impl Refusal {
    pub fn new(reason: Reason, message: impl Into<String>, retry: bool) -> Self {
        Refusal { reason, message: message.into(), retry, related: None }
    }

    pub fn about(self, related: ObjectReference) -> Self {
        Refusal { related: Some(related), ..self }
    }

    pub fn conditions(&self) -> Vec<ConditionUpdate> {
        vec![
            ConditionUpdate::new(READY, false, self.reason, self.message.clone()),
            ConditionUpdate::new(SYNCED, false, self.reason, self.message.clone()),
        ]
    }
}

pub fn now() -> Time {
    Time(jiff::Timestamp::now())
}

pub fn object_name<K: Resource<DynamicType = ()>>(kind: crate::api::Kind, object: &K) -> ObjectName {
    ObjectName::of(kind, object.meta())
}

impl ControllerError {
    /// A write refused because the object changed since it was read (409 Conflict).
    pub fn is_stale_write(&self) -> bool {
        match self {
            ControllerError::Stale(_) => true,
            ControllerError::Kube(kube::Error::Api(status)) => status.code == 409,
            _ => false,
        }
    }
}

impl Context {
    /// Carries out what the end of a pass calls for (`decision::decide`): status (only if
    /// changed), Events, metrics; returns when to come back.
    // The arguments are one pass's end, each needed once.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish<K, S>(
        &self,
        api: &Api<K>,
        object: &K,
        name: &ObjectName,
        previous: Option<&S>,
        report: Report<S>,
        related: Option<&ObjectReference>,
        started: Instant,
    ) -> Result<Action, ControllerError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
        S: CommonStatus,
    {
        let quiet_retries_left = self.requeue.failures(name) < self.quiet_retries;
        let decision = decide(previous, &report, object.meta().generation, &now(), quiet_retries_left, related);
        if decision.drift_found {
            self.metrics.drift(name);
        }
        if let Some(status) = &decision.status {
            patch_status(api, object, previous, status).await?;
        }
        events::publish(&self.recorder, object, decision.events).await;
        match &decision.standing {
            Standing::Quiet { why } => tracing::info!(object = %name, why, "retrying without reporting it yet"),
            Standing::Refused => self.metrics.refused(name),
            Standing::Counted { ready, synced, drifting } => {
                self.metrics.conditions(name, *ready, *synced);
                let conditions =
                    decision.status.as_ref().or(previous).map(CommonStatus::conditions).unwrap_or_default();
                self.track_drift(name, *drifting || self.metrics.is_drifting(name), conditions);
            }
        }
        if let Some(reason) = decision.error {
            self.metrics.error(name, reason);
        }
        let delay = match decision.retry {
            Retry::Resync => self.requeue.success(name),
            Retry::Backoff => self.requeue.failure(name),
            Retry::Soon => STALE_RETRY,
        };
        self.metrics.reconciled(name, decision.result, started.elapsed());
        Ok(Action::requeue(delay))
    }

    /// Records a refusal in status (keeping the rest of it) and decides when to look again.
    pub async fn refuse<K, S>(
        &self,
        api: &Api<K>,
        object: &K,
        name: &ObjectName,
        previous: Option<&S>,
        refusal: Refusal,
        started: Instant,
    ) -> Result<Action, ControllerError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
        S: CommonStatus,
    {
        let fresh = previous.cloned().unwrap_or_default();
        self.refuse_as(api, object, name, previous, fresh, refusal, started).await
    }

    /// Records a refusal with `fresh` as the rest of status.
    // The arguments are one status write's inputs, each needed once.
    #[allow(clippy::too_many_arguments)]
    pub async fn refuse_as<K, S>(
        &self,
        api: &Api<K>,
        object: &K,
        name: &ObjectName,
        previous: Option<&S>,
        fresh: S,
        refusal: Refusal,
        started: Instant,
    ) -> Result<Action, ControllerError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
        S: CommonStatus,
    {
        if let Some(status) = next_status(previous, fresh, &refusal.conditions(), object.meta().generation, &now()) {
            patch_status(api, object, previous, &status).await?;
            let event = events::event(
                kube::runtime::events::EventType::Warning,
                refusal.reason,
                "Reconcile",
                refusal.message.clone(),
            );
            let event = kube::runtime::events::Event { secondary: refusal.related.clone(), ..event };
            events::publish(&self.recorder, object, vec![event]).await;
        }
        self.metrics.error(name, refusal.reason);
        self.metrics.refused(name);
        self.metrics.reconciled(name, "refused", started.elapsed());
        Ok(if refusal.retry { Action::requeue(self.requeue.refusal(name)) } else { Action::await_change() })
    }

    /// Drift lasts from the pass that found it until a pass ends in sync. It started when
    /// `Synced` turned False, which the object's status keeps, so a drift that outlives a
    /// restart of the controller keeps its age (the passes of an Observe key find it again).
    fn track_drift(&self, name: &ObjectName, drifting: bool, conditions: &[Condition]) {
        let synced = conditions.iter().find(|c| c.type_ == SYNCED);
        match synced {
            Some(synced) if drifting && synced.status == "False" => {
                self.metrics.drifting(name, synced.last_transition_time.0);
            }
            _ => self.metrics.drift_over(name),
        }
    }

    /// Once the object is gone (its finalizer ran, or its delete event came): forget it in
    /// metrics and backoff.
    pub fn forget(&self, name: &ObjectName) {
        self.metrics.forget(name);
        self.requeue.forget(name);
        self.seen.forget(name);
    }

    /// Forgets every object of `kind` but `live` (after a relist: the ones that still exist).
    pub fn forget_all_but(&self, kind: crate::api::Kind, live: &[ObjectName]) {
        let gone = |name: &ObjectName| name.kind == kind && !live.contains(name);
        self.metrics.forget_where(gone);
        self.requeue.forget_where(gone);
        self.seen.forget_where(gone);
    }

    pub fn error_policy(&self, name: &ObjectName, error: &ControllerError) -> Action {
        if let ControllerError::Waiting { reason, message } = error {
            tracing::info!(object = %name, %reason, message, "waiting");
            self.metrics.error(name, *reason);
            return Action::requeue(WAIT_RETRY);
        }
        if error.is_stale_write() {
            // Someone wrote the object after this pass read it: the pass's view is old, not
            // wrong; the next one reads the new version.
            tracing::info!(object = %name, "the object changed during the pass; reconciling again");
            self.metrics.error(name, Reason::StaleObject);
            return Action::requeue(STALE_RETRY);
        }
        tracing::warn!(object = %name, %error, "reconcile failed");
        let reason = if matches!(error, ControllerError::Unreadable { .. }) {
            Reason::InvalidObject
        } else {
            Reason::KubernetesApi
        };
        self.metrics.error(name, reason);
        Action::requeue(self.requeue.failure(name))
    }
}

/// Seconds as a Duration, for flags.
pub fn seconds(value: u64) -> Duration {
    Duration::from_secs(value)
}
