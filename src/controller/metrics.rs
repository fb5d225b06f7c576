//! Prometheus metrics: reconciles, errors by reason, durations, AWS calls by operation, drift
//! found, and resources by condition.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::{Kind, ObjectName};
use crate::aws::{CallStats, Op};

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

/// Ready and Synced of every resource seen, for the resources-by-condition gauge.
type Conditions = Arc<Mutex<BTreeMap<ObjectName, (bool, bool)>>>;

#[derive(Clone)]
pub struct Metrics {
    reconciles: Family<ResultLabel, Counter>,
    errors: Family<ReasonLabel, Counter>,
    drift: Family<KindLabel, Counter>,
    duration: Family<KindLabel, Histogram>,
    conditions: Conditions,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct CallCollector(Arc<CallStats>);

impl prometheus_client::collector::Collector for CallCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        type Read = fn(&CallStats, Op) -> u64;
        let series: [(&str, &str, Read); 3] = [
            ("kms_operator_aws_calls", "AWS API calls, by operation", CallStats::calls),
            (
                "kms_operator_aws_throttles",
                "AWS API calls answered with throttling, by operation",
                CallStats::throttles,
            ),
            ("kms_operator_aws_call_failures", "AWS API calls that failed, by operation", CallStats::failures),
        ];
        for (name, help, read) in series {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for op in Op::ALL {
                let labels = [("operation", op.name())];
                ConstCounter::new(read(&self.0, *op)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct ConditionCollector(Conditions);

impl prometheus_client::collector::Collector for ConditionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut counts: BTreeMap<(&'static str, &'static str, &'static str), i64> = BTreeMap::new();
        for kind in Kind::ALL {
            for condition in ["Ready", "Synced"] {
                for status in ["True", "False"] {
                    counts.insert((kind.as_str(), condition, status), 0);
                }
            }
        }
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let text = |b: bool| if b { "True" } else { "False" };
        for (object, (ready, synced)) in seen.iter() {
            *counts.entry((object.kind.as_str(), "Ready", text(*ready))).or_default() += 1;
            *counts.entry((object.kind.as_str(), "Synced", text(*synced))).or_default() += 1;
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
}

impl Metrics {
    pub fn new(calls: Arc<CallStats>) -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabel, Counter>::default();
        let errors = Family::<ReasonLabel, Counter>::default();
        let drift = Family::<KindLabel, Counter>::default();
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
            "kms_operator_reconcile_duration_seconds",
            "Time spent in one reconcile pass",
            duration.clone(),
        );
        let conditions: Conditions = Arc::default();
        registry.register_collector(Box::new(CallCollector(calls)));
        registry.register_collector(Box::new(ConditionCollector(conditions.clone())));
        Metrics { reconciles, errors, drift, duration, conditions, registry: Arc::new(registry) }
    }

    pub fn reconciled(&self, object: &ObjectName, result: &str, took: Duration) {
        let kind = object.kind.to_string();
        self.reconciles.get_or_create(&ResultLabel { kind: kind.clone(), result: result.to_owned() }).inc();
        self.duration.get_or_create(&KindLabel { kind }).observe(took.as_secs_f64());
    }

    pub fn error(&self, object: &ObjectName, reason: &str) {
        self.errors.get_or_create(&ReasonLabel { kind: object.kind.to_string(), reason: reason.to_owned() }).inc();
    }

    pub fn drift(&self, object: &ObjectName) {
        self.drift.get_or_create(&KindLabel { kind: object.kind.to_string() }).inc();
    }

    pub fn conditions(&self, object: &ObjectName, ready: bool, synced: bool) {
        self.conditions.lock().unwrap_or_else(|e| e.into_inner()).insert(object.clone(), (ready, synced));
    }

    pub fn forget(&self, object: &ObjectName) {
        self.conditions.lock().unwrap_or_else(|e| e.into_inner()).remove(object);
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

    #[test]
    fn rendering_includes_calls_conditions_and_reconciles() {
        let calls = Arc::new(CallStats::default());
        calls.record_call(Op::CreateKey);
        calls.record_throttle(Op::CreateKey);
        let metrics = Metrics::new(calls);
        let key = ObjectName::new(Kind::KmsKey, Some("ns"), "k");
        metrics.reconciled(&key, "changed", Duration::from_millis(120));
        metrics.error(&key, "AccessDenied");
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
}
