//! Prometheus metrics: reconciles, errors by reason, durations, AWS calls by operation, drift,
//! resources by condition, keys by KMS state, and leadership: what the chart's alerts and
//! dashboard read.

mod calls;
mod resources;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::Reason;
use crate::api::{Kind, ObjectName};
use crate::aws::CallStats;
use calls::CallCollector;
use resources::{AlarmState, KeyState, ResourceCollector, Resources, Seen};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    kind: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    kind: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UnclaimedLabel {
    kind: String,
    claim: String,
}

#[derive(Clone)]
pub struct Metrics {
    reconciles: Family<ResultLabel, Counter>,
    errors: Family<ReasonLabel, Counter>,
    drift: Family<KindLabel, Counter>,
    deferred: Family<KindLabel, Counter>,
    duration: Family<KindLabel, Histogram>,
    leader: Gauge,
    unclaimed: Family<UnclaimedLabel, Gauge>,
    resources: Resources,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(calls: Arc<CallStats>) -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabel, Counter>::default();
        let errors = Family::<ReasonLabel, Counter>::default();
        let drift = Family::<KindLabel, Counter>::default();
        let deferred = Family::<KindLabel, Counter>::default();
        let duration =
            Family::<KindLabel, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 14)));
        registry.register("kms_operator_reconciles", "Reconcile passes, by kind and result", reconciles.clone());
        registry.register(
            "kms_operator_reconcile_errors",
            "Failed reconcile passes, by kind and reason",
            errors.clone(),
        );
        registry.register(
            "kms_operator_drift_detected",
            "Passes that found live state differing from an unchanged spec",
            drift.clone(),
        );
        registry.register(
            "kms_operator_reconciles_deferred",
            "Passes that waited because their namespace held its share of a lane's workers, by kind",
            deferred.clone(),
        );
        registry.register(
            "kms_operator_reconcile_duration_seconds",
            "Time spent in one reconcile pass",
            duration.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "kms_operator_leader",
            "1 while this replica runs the controllers (it holds the leader Lease, or runs without leader election); 0 while it stands by",
            leader.clone(),
        );
        let unclaimed = Family::<UnclaimedLabel, Gauge>::default();
        registry.register(
            "kms_operator_unclaimed_resources",
            "Sharded only: objects, by kind, that have carried no live claim for longer than the grace period (claim=absent: no shard claimed them; claim=unknown_shard: the claim names a shard not in --known-shards), so no shard reconciles them",
            unclaimed.clone(),
        );
        let resources = Resources::default();
        registry.register_collector(Box::new(CallCollector(calls)));
        registry.register_collector(Box::new(ResourceCollector(resources.clone())));
        Metrics {
            reconciles,
            errors,
            drift,
            deferred,
            duration,
            leader,
            unclaimed,
            resources,
            registry: Arc::new(registry),
        }
    }

    pub fn reconciled(&self, object: &ObjectName, result: &str, took: Duration) {
        let kind = object.kind.to_string();
        self.reconciles.get_or_create(&ResultLabel { kind: kind.clone(), result: result.to_owned() }).inc();
        self.duration.get_or_create(&KindLabel { kind }).observe(took.as_secs_f64());
    }

    pub fn error(&self, object: &ObjectName, reason: Reason) {
        let label = ReasonLabel { kind: object.kind.to_string(), reason: reason.as_str().to_owned() };
        self.errors.get_or_create(&label).inc();
    }

    /// A pass found live state differing from a spec that was in sync.
    pub fn drift(&self, object: &ObjectName) {
        self.drift.get_or_create(&KindLabel { kind: object.kind.to_string() }).inc();
    }

    pub fn conditions(&self, object: &ObjectName, ready: bool, synced: bool) {
        self.resources.update(object, |seen| seen.conditions = Some((ready, synced)));
    }

    /// The state KMS reported for the object's key, and what its spec asks.
    pub fn key_state(&self, object: &ObjectName, state: &str, spec_enabled: bool) {
        let key = KeyState { state: state.to_owned(), spec_enabled };
        self.resources.update(object, |seen| seen.key = Some(key));
    }

    /// The states of the key's alarms, as the pass read them.
    pub fn key_alarms(&self, object: &ObjectName, alarms: &[crate::api::monitoring::AlarmStatus]) {
        let alarms = alarms
            .iter()
            .map(|a| AlarmState {
                signal: a.signal.clone(),
                region: a.region.clone().unwrap_or_default(),
                state: a.state.clone(),
            })
            .collect();
        self.resources.update(object, |seen| seen.alarms = alarms);
    }

    /// The object has no key (none yet, or it is gone or not its own).
    pub fn no_key(&self, object: &ObjectName) {
        self.resources.update(object, |seen| {
            seen.key = None;
            seen.alarms.clear();
        });
    }

    /// The object's drift goes on, since `started`.
    pub fn drifting(&self, object: &ObjectName, started: jiff::Timestamp) {
        self.resources.update(object, |seen| seen.drift_started = Some(started));
    }

    pub fn drift_over(&self, object: &ObjectName) {
        self.resources.update(object, |seen| seen.drift_started = None);
    }

    pub fn is_drifting(&self, object: &ObjectName) -> bool {
        self.resources.lock().get(object).is_some_and(|seen| seen.drift_started.is_some())
    }

    /// A refused object uses no key and is not converged, so it has no drift either.
    pub fn refused(&self, object: &ObjectName) {
        self.resources.update(object, |seen| *seen = Seen { conditions: Some((false, false)), ..Seen::default() });
    }

    pub fn forget(&self, object: &ObjectName) {
        self.resources.lock().remove(object);
    }

    pub fn forget_where(&self, gone: impl Fn(&ObjectName) -> bool) {
        self.resources.lock().retain(|object, _| !gone(object));
    }

    /// Objects the metrics hold series or counts for.
    pub fn tracked(&self) -> usize {
        self.resources.lock().len()
    }

    /// A pass that waited because its namespace held its share of a lane's workers.
    pub fn deferred(&self, kind: Kind) {
        self.deferred.get_or_create(&KindLabel { kind: kind.to_string() }).inc();
    }

    /// Whether this replica runs the controllers.
    pub fn leading(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// How many objects of `kind` have gone without a live claim past the grace period, by what
    /// is wrong with their claim (`absent`, `unknown_shard`).
    pub fn unclaimed(&self, kind: Kind, claim: &str, count: usize) {
        let label = UnclaimedLabel { kind: kind.to_string(), claim: claim.to_owned() };
        self.unclaimed.get_or_create(&label).set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The text exposition format, for /metrics.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(%error, "could not encode metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;
    use crate::aws::Op;

    #[test]
    fn rendering_includes_calls_conditions_and_reconciles() {
        let calls = Arc::new(CallStats::default());
        calls.record_call(Op::CreateKey);
        calls.record_throttle(Op::CreateKey);
        let metrics = Metrics::new(calls);
        let key = ObjectName::new(Kind::KmsKey, Some("ns"), "k");
        metrics.reconciled(&key, "changed", Duration::from_millis(120));
        metrics.error(&key, Reason::AccessDenied);
        metrics.drift(&key);
        metrics.conditions(&key, true, false);
        let text = metrics.render();
        assert!(text.contains(r#"kms_operator_aws_calls_total{operation="CreateKey"} 1"#), "{text}");
        assert!(text.contains(r#"kms_operator_aws_throttles_total{operation="CreateKey"} 1"#), "{text}");
        assert!(text.contains(r#"kms_operator_reconciles_total{kind="KmsKey",result="changed"} 1"#), "{text}");
        assert!(
            text.contains(r#"kms_operator_reconcile_errors_total{kind="KmsKey",reason="AccessDenied"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"kms_operator_resources{kind="KmsKey",condition="Ready",status="True"} 1"#), "{text}");
        assert!(
            text.contains(r#"kms_operator_resources{kind="KmsKey",condition="Synced",status="False"} 1"#),
            "{text}"
        );
        assert!(text.contains("kms_operator_reconcile_duration_seconds_bucket"), "{text}");
    }

    /// The lines of one metric family.
    fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))).collect()
    }

    #[test]
    fn a_key_has_one_state_series_which_goes_with_the_object() {
        let metrics = Metrics::new(Arc::new(CallStats::default()));
        let key = ObjectName::new(Kind::KmsKey, Some("apps"), "orders");
        let other = ObjectName::new(Kind::KmsKey, Some("apps"), "logs");
        metrics.key_state(&key, "Enabled", true);
        metrics.key_state(&other, "Enabled", true);
        metrics.key_state(&key, "Disabled", true);
        let text = metrics.render();
        assert_eq!(
            series(&text, "kms_operator_key_state"),
            [
                r#"kms_operator_key_state{resource_namespace="apps",resource_name="logs",state="Enabled",spec_enabled="true"} 1"#,
                r#"kms_operator_key_state{resource_namespace="apps",resource_name="orders",state="Disabled",spec_enabled="true"} 1"#,
            ]
        );
        metrics.no_key(&other);
        metrics.forget(&key);
        assert_eq!(series(&metrics.render(), "kms_operator_key_state"), Vec::<&str>::new());
    }

    #[test]
    fn drift_is_a_start_time_per_resource_until_it_is_over_or_refused() {
        let metrics = Metrics::new(Arc::new(CallStats::default()));
        let key = ObjectName::new(Kind::KmsKey, Some("apps"), "orders");
        let alias = ObjectName::new(Kind::KmsAlias, Some("apps"), "orders");
        let started = jiff::Timestamp::from_millisecond(1_800_000_000_500).expect("a time");
        metrics.drifting(&key, started);
        metrics.drifting(&alias, started);
        assert!(metrics.is_drifting(&key));
        let text = metrics.render();
        assert_eq!(
            series(&text, "kms_operator_drift_started_timestamp_seconds"),
            [
                r#"kms_operator_drift_started_timestamp_seconds{kind="KmsKey",resource_namespace="apps",resource_name="orders"} 1800000000"#,
                r#"kms_operator_drift_started_timestamp_seconds{kind="KmsAlias",resource_namespace="apps",resource_name="orders"} 1800000000"#,
            ]
        );
        metrics.drift_over(&key);
        metrics.key_state(&alias, "Enabled", true);
        metrics.refused(&alias);
        assert!(!metrics.is_drifting(&key));
        let text = metrics.render();
        assert_eq!(series(&text, "kms_operator_drift_started_timestamp_seconds"), Vec::<&str>::new());
        assert_eq!(series(&text, "kms_operator_key_state"), Vec::<&str>::new());
        assert!(
            text.contains(r#"kms_operator_resources{kind="KmsAlias",condition="Ready",status="False"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn the_leader_gauge_says_whether_this_replica_runs_the_controllers() {
        let metrics = Metrics::new(Arc::new(CallStats::default()));
        assert_eq!(series(&metrics.render(), "kms_operator_leader"), ["kms_operator_leader 0"]);
        metrics.leading(true);
        assert_eq!(series(&metrics.render(), "kms_operator_leader"), ["kms_operator_leader 1"]);
    }
}
