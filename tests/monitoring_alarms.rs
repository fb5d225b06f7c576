//! Key usage alarms against the local AWS server (docs/monitoring.md): moto holds the alarms and
//! metric filters; the test proxy translates CloudWatch's CBOR and makes PutMetricFilter replace
//! as CloudWatch Logs does. One apply converges, a second writes nothing, each drift is
//! repaired, an alarm in ALARM shows in status, deletion leaves nothing of the key's, a topic
//! the account does not list is refused before any call, and an in-sync fleet costs less than
//! one extra read per key.

mod support;

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use kms_operator::aws::{CallSummary, Op};
use kms_operator::local::runner::{Command, RunOutput};
use serde_json::Value;
use support::engine::{assert_ok, engine, run};
use support::manifests::{ACCOUNT_ID, REGION, Workspace, account_with, key};
use support::moto::Moto;
use support::proxy::FaultProxy;

const LOG_GROUP: &str = "aws-cloudtrail-logs";
const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:kms-alarms";
const MONITORING_OPS: [Op; 6] = [
    Op::DescribeAlarms,
    Op::PutMetricAlarm,
    Op::DeleteAlarms,
    Op::DescribeMetricFilters,
    Op::PutMetricFilter,
    Op::DeleteMetricFilter,
];

struct Aws {
    _moto: Moto,
    proxy: FaultProxy,
    cloudwatch: aws_sdk_cloudwatch::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
}

async fn config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .load()
        .await
}

async fn aws() -> Aws {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    // CloudWatch through the proxy (CBOR translated), CloudWatch Logs straight to moto.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config(&proxy.endpoint()).await);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config(&moto.endpoint()).await);
    logs.create_log_group().log_group_name(LOG_GROUP).send().await.expect("CreateLogGroup");
    Aws { _moto: moto, proxy, cloudwatch, logs }
}

fn account(endpoint: &str, extra: &str) -> String {
    account_with(
        endpoint,
        &format!(
            "allowedNamespaces: {{}}\nmonitoring:\n  cloudTrailLogGroup: {LOG_GROUP}\n  alarmTopics: [\"{TOPIC}\"]\n  keyDeletionAlarm: true\n{extra}"
        ),
    )
}

fn monitored_key(name: &str, notify: &str) -> String {
    key(
        name,
        &format!(
            "monitoring:\n  notify: [\"{notify}\"]\n  decrypt: {{threshold: 50, periodSeconds: 300, evaluationPeriods: 3, datapointsToAlarm: 2}}"
        ),
    )
}

fn workspace(aws: &Aws, keys: &[&str]) -> Workspace {
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&aws.proxy.endpoint(), ""));
    for name in keys {
        ws.write(&format!("{name}.yaml"), &monitored_key(name, TOPIC));
    }
    ws
}

async fn alarm_names(aws: &Aws) -> Vec<String> {
    let out = aws.cloudwatch.describe_alarms().send().await.expect("DescribeAlarms");
    let mut names: Vec<String> = out.metric_alarms().iter().filter_map(|a| a.alarm_name().map(str::to_owned)).collect();
    names.sort();
    names
}

async fn filter_names(aws: &Aws) -> Vec<String> {
    let out = aws.logs.describe_metric_filters().log_group_name(LOG_GROUP).send().await.expect("DescribeMetricFilters");
    let mut names: Vec<String> =
        out.metric_filters().iter().filter_map(|f| f.filter_name().map(str::to_owned)).collect();
    names.sort();
    names
}

fn monitoring_writes(calls: &CallSummary) -> u64 {
    [Op::PutMetricAlarm, Op::DeleteAlarms, Op::PutMetricFilter, Op::DeleteMetricFilter]
        .iter()
        .map(|op| calls.count(*op))
        .sum()
}

fn key_status<'a>(output: &'a RunOutput, name: &str) -> &'a Value {
    &output.results.iter().find(|r| r.object.name == name).expect("the key's result").status
}

fn alarm_states(output: &RunOutput, name: &str) -> Vec<(String, String)> {
    key_status(output, name)["monitoring"]["alarms"]
        .as_array()
        .map(|alarms| {
            alarms
                .iter()
                .map(|a| (a["signal"].as_str().unwrap_or("").to_owned(), a["state"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

const KEY_PREFIX: &str = "kms-operator/kms-operator/key/apps/orders/";

#[tokio::test]
async fn a_monitored_key_converges_in_one_apply_and_a_second_apply_writes_nothing() {
    let aws = aws().await;
    let ws = workspace(&aws, &["orders"]);
    let applied = run(&engine().await, ws.path(), Command::Apply).await;
    assert_ok(&applied);
    assert_eq!(
        alarm_names(&aws).await,
        [
            "kms-operator/kms-operator/account/test/key-deletion".to_owned(),
            format!("{KEY_PREFIX}{REGION}/accessdenied"),
            format!("{KEY_PREFIX}{REGION}/decrypt"),
        ]
    );
    assert_eq!(
        filter_names(&aws).await,
        [
            "kms-operator/kms-operator/account/test/key-deletion".to_owned(),
            format!("{KEY_PREFIX}accessdenied"),
            format!("{KEY_PREFIX}decrypt"),
        ]
    );
    assert_eq!(applied.calls.count(Op::PutMetricAlarm), 3);
    assert_eq!(applied.calls.count(Op::PutMetricFilter), 3);
    let decrypt =
        aws.cloudwatch.describe_alarms().alarm_names(format!("{KEY_PREFIX}{REGION}/decrypt")).send().await.unwrap();
    let decrypt = &decrypt.metric_alarms()[0];
    assert_eq!(
        (decrypt.threshold(), decrypt.period(), decrypt.evaluation_periods(), decrypt.datapoints_to_alarm()),
        (Some(50.0), Some(300), Some(3), Some(2))
    );
    assert_eq!(decrypt.alarm_actions(), [TOPIC]);
    assert_eq!(decrypt.ok_actions(), [TOPIC]);
    assert_eq!(decrypt.treat_missing_data(), Some("notBreaching"));
    let key_arn = key_status(&applied, "orders")["arn"].as_str().expect("the key's ARN").to_owned();
    assert_eq!(decrypt.dimensions()[0].value(), Some(key_arn.as_str()));
    let tags = aws.cloudwatch.list_tags_for_resource().resource_arn(decrypt.alarm_arn().unwrap()).send().await.unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("kmsoperator.dev/owner") && t.value() == Some("kms-operator/apps/orders")),
        "the alarm carries the key's ownership: {tags:?}"
    );
    assert_eq!(
        alarm_states(&applied, "orders"),
        [
            ("AccessDenied".to_owned(), "INSUFFICIENT_DATA".to_owned()),
            ("Decrypt".to_owned(), "INSUFFICIENT_DATA".to_owned())
        ]
    );

    let again = run(&engine().await, ws.path(), Command::Apply).await;
    assert_ok(&again);
    assert_eq!(again.calls.writes, 0, "{:?}", again.calls);
    let plan = run(&engine().await, ws.path(), Command::Plan).await;
    assert_eq!(plan.exit_code(), 0, "in sync");
}

#[tokio::test]
async fn drift_in_the_console_is_planned_and_repaired_and_an_alarm_in_alarm_shows() {
    let aws = aws().await;
    let ws = workspace(&aws, &["orders"]);
    assert_ok(&run(&engine().await, ws.path(), Command::Apply).await);
    let decrypt = format!("{KEY_PREFIX}{REGION}/decrypt");
    let live = aws.cloudwatch.describe_alarms().alarm_names(&decrypt).send().await.unwrap();
    let live = &live.metric_alarms()[0];
    // Someone raises the threshold and drops the notification, deletes a filter and an alarm.
    aws.cloudwatch
        .put_metric_alarm()
        .alarm_name(&decrypt)
        .namespace(live.namespace().unwrap())
        .metric_name(live.metric_name().unwrap())
        .set_dimensions(Some(live.dimensions().to_vec()))
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(300)
        .evaluation_periods(3)
        .threshold(100000.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("PutMetricAlarm by hand");
    aws.logs
        .delete_metric_filter()
        .log_group_name(LOG_GROUP)
        .filter_name(format!("{KEY_PREFIX}decrypt"))
        .send()
        .await
        .unwrap();
    aws.cloudwatch.delete_alarms().alarm_names(format!("{KEY_PREFIX}{REGION}/accessdenied")).send().await.unwrap();

    let plan = run(&engine().await, ws.path(), Command::Plan).await;
    assert_eq!(plan.exit_code(), 2, "drift is a pending change");
    let key = plan.results.iter().find(|r| r.object.name == "orders").unwrap();
    let summaries: Vec<String> = key.changes.iter().map(|c| c.summary()).collect();
    assert_eq!(summaries.len(), 3, "{summaries:#?}");
    assert!(
        summaries.iter().any(|s| s.starts_with("create metric filter") && s.contains("/decrypt")),
        "{summaries:#?}"
    );
    assert!(
        summaries
            .iter()
            .any(|s| s.starts_with("update alarm") && s.contains("100000 over 300 s") && s.contains("> 50")),
        "{summaries:#?}"
    );
    assert!(summaries.iter().any(|s| s.starts_with("create alarm") && s.contains("accessdenied")), "{summaries:#?}");

    let repaired = run(&engine().await, ws.path(), Command::Apply).await;
    assert_ok(&repaired);
    assert_eq!(monitoring_writes(&repaired.calls), 3, "{:?}", repaired.calls);
    assert_eq!(run(&engine().await, ws.path(), Command::Plan).await.exit_code(), 0);

    aws.cloudwatch
        .set_alarm_state()
        .alarm_name(&decrypt)
        .state_value(StateValue::Alarm)
        .state_reason("threshold crossed")
        .send()
        .await
        .expect("SetAlarmState");
    let observed = run(&engine().await, ws.path(), Command::Plan).await;
    assert!(alarm_states(&observed, "orders").contains(&("Decrypt".to_owned(), "ALARM".to_owned())));
    assert_eq!(observed.exit_code(), 0, "an alarm in ALARM is not drift");
}

#[tokio::test]
async fn deleting_the_key_deletes_its_alarms_and_filters_whatever_its_deletion_policy() {
    let aws = aws().await;
    let ws = workspace(&aws, &["orders"]);
    assert_ok(&run(&engine().await, ws.path(), Command::Apply).await);
    let deleted = run(&engine().await, ws.path(), Command::Delete).await;
    assert_ok(&deleted);
    assert!(alarm_names(&aws).await.iter().all(|n| !n.starts_with(KEY_PREFIX)), "{:?}", alarm_names(&aws).await);
    assert!(filter_names(&aws).await.iter().all(|n| !n.starts_with(KEY_PREFIX)), "{:?}", filter_names(&aws).await);
    assert_eq!(
        alarm_names(&aws).await,
        ["kms-operator/kms-operator/account/test/key-deletion"],
        "the account's CIS alarm stays with the account"
    );
}

#[tokio::test]
async fn removing_a_monitored_key_from_the_manifests_plans_its_alarms_and_filters_away() {
    let aws = aws().await;
    let before = workspace(&aws, &["orders", "billing"]);
    assert_ok(&run(&engine().await, before.path(), Command::Apply).await);
    let after = workspace(&aws, &["billing"]);
    let (before_set, after_set) = (support::engine::load(before.path()), support::engine::load(after.path()));
    let removals = kms_operator::local::removals::removals(&before_set, &after_set);
    let engine = engine().await;
    let planned = kms_operator::local::runner::Runner::new(&engine, &removals.set, 8)
        .with_reference(&after_set)
        .plan_deletion()
        .await;
    let orders = planned.results.iter().find(|r| r.object.name == "orders").expect("the removed key");
    let operations: Vec<Op> = orders.actions().iter().map(|c| c.operation()).collect();
    assert!(operations.contains(&Op::DeleteAlarms) && operations.contains(&Op::DeleteMetricFilter), "{operations:?}");
    assert!(planned.results.iter().all(|r| r.object.name != "billing"), "what stays is not deleted");
    assert_eq!(planned.calls.writes, 0, "a plan");
    assert!(alarm_names(&aws).await.iter().any(|n| n.contains("/orders/")), "nothing was deleted");
}

#[tokio::test]
async fn a_topic_the_account_does_not_list_is_refused_before_any_call() {
    let aws = aws().await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&aws.proxy.endpoint(), ""));
    ws.write("key.yaml", &monitored_key("orders", &format!("arn:aws:sns:eu-west-1:{ACCOUNT_ID}:attacker")));
    let output = run(&engine().await, ws.path(), Command::Apply).await;
    let key = output.results.iter().find(|r| r.object.name == "orders").unwrap();
    let kms_operator::engine::Outcome::Refused(refusal) = &key.outcome else { panic!("refused: {:?}", key.outcome) };
    assert_eq!(refusal.reason, kms_operator::api::Reason::NotPermitted);
    assert!(refusal.message.contains("not in spec.monitoring.alarmTopics"), "{}", refusal.message);
    assert_eq!(output.calls.count(Op::CreateKey), 0);
    assert!(alarm_names(&aws).await.iter().all(|n| !n.contains("/key/")), "no alarm of the key");
}

const FLEET: usize = 8;

#[tokio::test]
async fn an_in_sync_monitored_fleet_costs_less_than_one_extra_read_per_key() {
    let aws = aws().await;
    let names: Vec<String> = (0..FLEET).map(|i| format!("k{i}")).collect();
    let ws = workspace(&aws, &names.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ok(&run(&engine().await, ws.path(), Command::Apply).await);
    let plan = run(&engine().await, ws.path(), Command::Plan).await;
    assert_eq!(plan.exit_code(), 0);
    let extra: u64 = MONITORING_OPS.iter().filter(|op| !op.is_write()).map(|op| plan.calls.count(*op)).sum();
    let per_key = extra as f64 / FLEET as f64;
    println!(
        "extra reads for {FLEET} in-sync monitored keys: {extra} ({per_key:.3} per key): {:?}",
        plan.calls.by_operation
    );
    assert!(per_key <= 1.0, "{extra} monitoring reads for {FLEET} keys");
    assert_eq!(plan.calls.count(Op::DescribeAlarms), 1, "one listing of the cluster's alarms for the whole pass");
    assert_eq!(plan.calls.count(Op::DescribeMetricFilters), 1, "one listing of the log group's filters");
}

#[test]
fn cbor_documents_round_trip_and_timestamps_are_tagged() {
    use support::cbor::{cbor_to_json, json_to_cbor, rpc_v2_operation};
    let json =
        br#"{"MetricAlarms":[{"AlarmName":"a","Threshold":100.0,"Period":300,"StateUpdatedTimestamp":1700000000.5}]}"#;
    let cbor = json_to_cbor(json).unwrap();
    let value: ciborium::Value = ciborium::from_reader(cbor.as_slice()).unwrap();
    let text = format!("{value:?}");
    assert!(text.contains("Tag(1, Float(1700000000.5))"), "{text}");
    assert!(text.contains("Float(100.0)") && text.contains("Integer(Integer(300))"), "{text}");
    let back: Value = serde_json::from_slice(&cbor_to_json(&cbor).unwrap()).unwrap();
    assert_eq!(back["MetricAlarms"][0]["Period"], 300);
    assert_eq!(
        rpc_v2_operation("/service/GraniteServiceVersion20100801/operation/PutMetricAlarm"),
        Some(("GraniteServiceVersion20100801", "PutMetricAlarm"))
    );
}
