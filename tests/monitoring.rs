//! The chart's alerts and dashboard read only what the controller exports. The chart is
//! rendered with both on (Helm's own SDK); every alert expression, dashboard panel query and
//! dashboard variable query parses with a PromQL parser (Grafana's variables replaced by values,
//! as Grafana does before sending a query); every metric it names, and every label it matches
//! on, is one the controller's /metrics has (`up` and the scrape target's labels are
//! Prometheus's own); and every label an alert's annotations or a panel's legend shows is one
//! the expression keeps.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kms_operator::api::{Kind, ObjectName};
use kms_operator::aws::{CallStats, Op};
use kms_operator::controller::metrics::Metrics;
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde_json::{Value, json};

/// Labels every scraped series gets from its target (the Prometheus Operator's target labels).
const TARGET_LABELS: [&str; 7] = ["job", "namespace", "instance", "pod", "service", "container", "endpoint"];

/// With shards, the ServiceMonitor also copies each pod's shard onto its series (podTargetLabels).
const SHARD_TARGET_LABEL: &str = "kmsoperator_dev_shard";

/// Series Prometheus makes itself for each target.
const PROMETHEUS_OWN: &str = "up";

type Families = BTreeMap<String, BTreeSet<String>>;

/// The label names of one exposition line's label set, `a="x",b="y"` (values may hold escaped
/// quotes and commas).
fn label_names(mut text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    while let Some((name, rest)) = text.split_once("=\"") {
        names.insert(name.trim_start_matches(',').to_owned());
        let mut escaped = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            })
            .map(|(i, _)| i)
            .expect("a closed label value");
        text = &rest[end + 1..];
    }
    names
}

/// Every sample name the controller exports, with the labels it carries: the registry
/// exercised until each family it declares has series (checked, so a family added later
/// without being exercised here fails the test instead of hiding from it).
fn exported() -> Families {
    let calls = Arc::new(CallStats::default());
    calls.record_call(Op::CreateKey);
    let metrics = Metrics::new(calls);
    let key = ObjectName::new(Kind::KmsKey, Some("apps"), "orders");
    metrics.reconciled(&key, "changed", Duration::from_millis(5));
    metrics.error(&key, kms_operator::api::Reason::AccessDenied);
    metrics.drift(&key);
    metrics.conditions(&key, true, true);
    metrics.key_state(&key, "Enabled", true);
    let alarm = kms_operator::api::monitoring::AlarmStatus {
        name: "kms-operator/c/key/apps/orders/eu-west-1/decrypt".into(),
        signal: "Decrypt".into(),
        region: Some("eu-west-1".into()),
        state: "ALARM".into(),
        ..Default::default()
    };
    metrics.key_alarms(&key, &[alarm]);
    metrics.drifting(&key, jiff::Timestamp::UNIX_EPOCH);
    metrics.leading(true);
    metrics.unclaimed(Kind::KmsKey, "absent", 1);
    let text = metrics.render();

    let mut families = Families::new();
    let mut declared = Vec::new();
    for line in text.lines() {
        if let Some(typed) = line.strip_prefix("# TYPE ") {
            declared.push(typed.split(' ').next().expect("a family name").to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, labels) = match line.split_once('{') {
            Some((name, rest)) => (name, label_names(rest.rsplit_once('}').expect("a closed label set").0)),
            None => (line.split(' ').next().expect("a sample name"), BTreeSet::new()),
        };
        families.entry(name.to_owned()).or_default().extend(labels);
    }
    for family in declared {
        assert!(
            families.keys().any(|name| ["", "_total", "_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| *name == format!("{family}{suffix}"))),
            "{family} has no series: exercise it in exported()\n{text}"
        );
    }
    families
}

/// What an expression reads and keeps.
#[derive(Default)]
struct Reads {
    /// Each selector's metric name and the labels it matches on.
    selectors: Vec<(String, BTreeSet<String>)>,
    /// Labels the result can carry: grouping labels and labels matched to one value.
    kept: BTreeSet<String>,
}

impl ExprVisitor for Reads {
    type Error = String;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        match expr {
            Expr::VectorSelector(selector) => self.selector(selector)?,
            Expr::MatrixSelector(matrix) => self.selector(&matrix.vs)?,
            Expr::Aggregate(aggregate) => {
                if let Some(LabelModifier::Include(by)) = &aggregate.modifier {
                    self.kept.extend(by.labels.iter().cloned());
                }
            }
            _ => {}
        }
        Ok(true)
    }
}

impl Reads {
    fn selector(&mut self, selector: &VectorSelector) -> Result<(), String> {
        let matchers = &selector.matchers;
        let all = matchers.matchers.iter().chain(matchers.or_matchers.iter().flatten());
        let mut name = selector.name.clone();
        let mut labels = BTreeSet::new();
        for matcher in all {
            if matcher.name == "__name__" {
                name = name.or_else(|| Some(matcher.value.clone()));
                continue;
            }
            labels.insert(matcher.name.clone());
            if matches!(matcher.op, MatchOp::Equal) {
                self.kept.insert(matcher.name.clone());
            }
        }
        let name = name.ok_or_else(|| format!("a selector without a metric name: {selector}"))?;
        self.selectors.push((name, labels));
        Ok(())
    }
}

/// Parses `query` and checks what it reads against `families`; what it keeps.
fn check(what: &str, query: &str, families: &Families) -> BTreeSet<String> {
    check_with_targets(what, query, families, &TARGET_LABELS)
}

/// `check`, for series scraped with the target labels `targets`.
fn check_with_targets(what: &str, query: &str, families: &Families, targets: &[&str]) -> BTreeSet<String> {
    let expr = parser::parse(query).unwrap_or_else(|e| panic!("{what}: `{query}` is not PromQL: {e}"));
    let mut reads = Reads::default();
    walk_expr(&mut reads, &expr).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!reads.selectors.is_empty(), "{what}: `{query}` reads no metric");
    for (name, labels) in &reads.selectors {
        let known: BTreeSet<&str> = match families.get(name) {
            Some(exported) => exported.iter().map(String::as_str).chain(targets.iter().copied()).collect(),
            None if name == PROMETHEUS_OWN => targets.iter().copied().collect(),
            None => panic!("{what}: `{name}` is not a metric the controller exports: {:?}", families.keys()),
        };
        for label in labels {
            assert!(known.contains(label.as_str()), "{what}: `{name}` has no label `{label}`");
        }
    }
    reads.kept
}

/// The chart with the alerts and the dashboard on.
fn rendered() -> Vec<Value> {
    support::chart::render(&json!({"prometheusRule": {"enabled": true}, "grafanaDashboard": {"enabled": true}}))
}

/// The alerts of the chart rendered with `values`.
fn alerts(values: &Value) -> Vec<Value> {
    let objects = support::chart::render(values);
    let rule = objects.iter().find(|o| o["kind"] == "PrometheusRule").expect("a PrometheusRule");
    let groups = rule["spec"]["groups"].as_array().expect("groups").iter();
    groups.flat_map(|g| g["rules"].as_array().expect("rules").iter().cloned()).collect()
}

/// Names in `text` written as `{prefix}name`, e.g. `$labels.kind` or `{{kind}}`.
fn named_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.split(prefix)
        .skip(1)
        .map(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or_default())
        .collect()
}

#[test]
fn every_alert_reads_exported_metrics_and_shows_labels_it_keeps() {
    let families = exported();
    let rules = alerts(&json!({"prometheusRule": {"enabled": true}}));
    assert_eq!(rules.len(), 7, "one alert for each case issue 13 names");
    // With shards, one more: objects no shard holds.
    let shards = json!([{"name": "prod", "selector": "env=prod"}, {"name": "rest", "selector": "env!=prod"}]);
    let sharded = alerts(&json!({"prometheusRule": {"enabled": true}, "shards": shards}));
    let names = |rules: &[Value]| rules.iter().map(|r| r["alert"].as_str().unwrap_or_default().to_owned()).collect();
    let (plain, with_shards): (BTreeSet<String>, BTreeSet<String>) = (names(&rules), names(&sharded));
    let added: Vec<&String> = with_shards.difference(&plain).collect();
    assert_eq!(added, ["KmsOperatorUnclaimedResources"]);
    let sharded_targets = [&TARGET_LABELS[..], &[SHARD_TARGET_LABEL]].concat();
    let targeted =
        rules.iter().map(|r| (r, &TARGET_LABELS[..])).chain(sharded.iter().map(|r| (r, &sharded_targets[..])));
    for (alert, targets) in targeted {
        let name = alert["alert"].as_str().expect("an alert name");
        let kept = check_with_targets(name, alert["expr"].as_str().expect("an expr"), &families, targets);
        for text in alert["annotations"].as_object().expect("annotations").values() {
            for label in named_after(text.as_str().expect("text"), "$labels.") {
                assert!(kept.contains(label), "{name}: its annotations show `{label}`, which its expression drops");
            }
        }
    }
}

/// A dashboard query as Grafana sends it: its variables replaced by values.
fn interpolate(query: &str, variables: &[String]) -> String {
    let mut query = query.replace("$__rate_interval", "2m").replace("$__interval", "30s").replace("$__range", "6h");
    for variable in variables {
        query = query.replace(&format!("${{{variable}}}"), "value").replace(&format!("${variable}"), "value");
    }
    assert!(!query.contains('$'), "`{query}` uses a variable the dashboard does not define");
    query
}

#[test]
fn every_dashboard_query_reads_exported_metrics() {
    let families = exported();
    let objects = rendered();
    let config = objects.iter().find(|o| o["kind"] == "ConfigMap").expect("the dashboard's ConfigMap");
    let text = config["data"]["kms-operator.json"].as_str().expect("the dashboard");
    let dashboard: Value = serde_json::from_str(text).expect("the dashboard is JSON");
    let templating = dashboard["templating"]["list"].as_array().expect("variables");
    let variables: Vec<String> = templating.iter().map(|v| v["name"].as_str().expect("a name").to_owned()).collect();

    for variable in templating.iter().filter(|v| v["type"] == "query") {
        let name = variable["name"].as_str().expect("a name");
        let query = variable["query"]["query"].as_str().or(variable["query"].as_str()).expect("a query");
        // Grafana's label_values(selector, label): the selector is PromQL, the label one it has.
        let inner = query.strip_prefix("label_values(").and_then(|q| q.strip_suffix(')')).expect("label_values");
        let (selector, label) = inner.rsplit_once(',').expect("a selector and a label");
        let what = format!("variable {name}");
        check(&what, &interpolate(selector, &variables), &families);
        let metric = selector.split('{').next().expect("a metric").trim();
        let label = label.trim();
        let has = families.get(metric).is_some_and(|l| l.contains(label)) || TARGET_LABELS.contains(&label);
        assert!(has, "{what}: `{metric}` has no label `{label}`");
    }

    let panels = dashboard["panels"].as_array().expect("panels");
    let mut queries = 0;
    for panel in panels {
        let title = panel["title"].as_str().expect("a title");
        for target in panel["targets"].as_array().expect("targets") {
            let kept = check(title, &interpolate(target["expr"].as_str().expect("an expr"), &variables), &families);
            queries += 1;
            for label in named_after(target["legendFormat"].as_str().unwrap_or_default(), "{{") {
                assert!(kept.contains(label), "{title}: its legend shows `{label}`, which its query drops");
            }
        }
    }
    assert_eq!(queries, panels.len(), "a query for every panel");
}

#[test]
fn the_checks_reject_what_the_controller_does_not_export() {
    let families = exported();
    let unknown = std::panic::catch_unwind(|| check("typo", "rate(kms_operator_reconcile_total[5m])", &families));
    assert!(unknown.is_err(), "a metric name that is not exported");
    let label = std::panic::catch_unwind(|| check("label", r#"kms_operator_key_state{status="Disabled"}"#, &families));
    assert!(label.is_err(), "a label the metric does not have");
    let syntax = std::panic::catch_unwind(|| check("syntax", "sum by (kind (kms_operator_resources)", &families));
    assert!(syntax.is_err(), "text that is not PromQL");
    let kept = check("ok", r#"max by (kind) (kms_operator_resources{condition="Ready"})"#, &families);
    assert_eq!(kept, BTreeSet::from(["condition".to_owned(), "kind".to_owned()]));
}
