//! What the metrics remember of each resource: its Ready and Synced conditions, its key's state
//! in KMS, and since when it has drifted. Conditions are exported as counts; key states and
//! drift as one series per resource, since the alerts on them must name the resource. A
//! resource's series go when the operator forgets it (its finalizer was removed).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::api::{Kind, ObjectName};

/// A key's state as KMS reported it in the last pass that read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct KeyState {
    pub state: String,
    pub spec_enabled: bool,
}

/// One alarm of a KmsKey, as the last pass that read it saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct AlarmState {
    pub signal: String,
    pub region: String,
    pub state: String,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Seen {
    /// Ready and Synced.
    pub conditions: Option<(bool, bool)>,
    pub key: Option<KeyState>,
    pub drift_started: Option<jiff::Timestamp>,
    pub alarms: Vec<AlarmState>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Resources(Arc<Mutex<BTreeMap<ObjectName, Seen>>>);

impl Resources {
    pub fn lock(&self) -> MutexGuard<'_, BTreeMap<ObjectName, Seen>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn update(&self, object: &ObjectName, change: impl FnOnce(&mut Seen)) {
        change(self.lock().entry(object.clone()).or_default());
    }
}

#[derive(Debug)]
pub(super) struct ResourceCollector(pub Resources);

const TEXT: [&str; 2] = ["False", "True"];

fn text(value: bool) -> &'static str {
    TEXT[usize::from(value)]
}

/// The labels that name one resource; `resource_` because `namespace` is the scrape target's
/// own label, which Prometheus would keep and rename this one for.
fn resource_labels(object: &ObjectName) -> [(&'static str, &str); 2] {
    [("resource_namespace", object.namespace.as_deref().unwrap_or_default()), ("resource_name", object.name.as_str())]
}

impl Collector for ResourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let seen = self.0.lock();
        encode_conditions(&mut encoder, &seen)?;
        encode_key_states(&mut encoder, &seen)?;
        encode_alarms(&mut encoder, &seen)?;
        encode_drift(&mut encoder, &seen)
    }
}

fn encode_alarms(encoder: &mut DescriptorEncoder, seen: &BTreeMap<ObjectName, Seen>) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        "kms_operator_key_alarm_state",
        "1 for each alarm of a KmsKey (docs/monitoring.md): its signal, the region of the key copy it watches, and its state in CloudWatch (OK, ALARM, INSUFFICIENT_DATA)",
        None,
        MetricType::Gauge,
    )?;
    for (object, alarm) in seen.iter().flat_map(|(o, s)| s.alarms.iter().map(move |a| (o, a))) {
        let [namespace, name] = resource_labels(object);
        let labels = [
            namespace,
            name,
            ("signal", alarm.signal.as_str()),
            ("region", alarm.region.as_str()),
            ("state", alarm.state.as_str()),
        ];
        ConstGauge::new(1).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn encode_key_states(encoder: &mut DescriptorEncoder, seen: &BTreeMap<ObjectName, Seen>) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        "kms_operator_key_state",
        "1 for each KmsKey whose key was read: its state in KMS, and whether spec.enabled asks for it enabled",
        None,
        MetricType::Gauge,
    )?;
    for (object, key) in seen.iter().filter_map(|(o, s)| s.key.as_ref().map(|k| (o, k))) {
        let [namespace, name] = resource_labels(object);
        let enabled = if key.spec_enabled { "true" } else { "false" };
        let labels = [namespace, name, ("state", key.state.as_str()), ("spec_enabled", enabled)];
        ConstGauge::new(1).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn encode_drift(encoder: &mut DescriptorEncoder, seen: &BTreeMap<ObjectName, Seen>) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        "kms_operator_drift_started_timestamp_seconds",
        "For each resource whose live state differs from its spec and has not been brought back: when Synced turned False on it",
        None,
        MetricType::Gauge,
    )?;
    for (object, started) in seen.iter().filter_map(|(o, s)| s.drift_started.map(|t| (o, t))) {
        let [namespace, name] = resource_labels(object);
        let labels = [("kind", object.kind.as_str()), namespace, name];
        // Whole seconds, as the object's status keeps condition times: the same drift read again
        // after a restart has the same start.
        ConstGauge::new(started.as_second()).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Resources by kind and condition; every combination is present, zero or not, so that a
/// dashboard shows zero rather than no data.
fn encode_conditions(encoder: &mut DescriptorEncoder, seen: &BTreeMap<ObjectName, Seen>) -> std::fmt::Result {
    let mut counts: BTreeMap<(&'static str, &'static str, &'static str), i64> = BTreeMap::new();
    for kind in Kind::ALL {
        for condition in ["Ready", "Synced"] {
            for status in TEXT {
                counts.insert((kind.as_str(), condition, status), 0);
            }
        }
    }
    for (object, (ready, synced)) in seen.iter().filter_map(|(o, s)| s.conditions.map(|c| (o, c))) {
        *counts.entry((object.kind.as_str(), "Ready", text(ready))).or_default() += 1;
        *counts.entry((object.kind.as_str(), "Synced", text(synced))).or_default() += 1;
    }
    let mut family = encoder.encode_descriptor(
        "kms_operator_resources",
        "Resources by kind and the status of their Ready and Synced conditions",
        None,
        MetricType::Gauge,
    )?;
    for ((kind, condition, status), count) in counts {
        let labels = [("kind", kind), ("condition", condition), ("status", status)];
        ConstGauge::new(count).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
