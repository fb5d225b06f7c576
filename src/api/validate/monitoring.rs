//! Rules on `spec.monitoring` of an AwsAccount and of a KmsKey (docs/monitoring.md): what
//! CloudWatch and CloudWatch Logs would refuse, refused first, with the field and the fix.

use super::issue::{Issues, quote};
use super::names::{check_region, is_account_id, parse_arn};
use super::path;
use crate::api::AwsAccountSpec;
use crate::api::catalog::DEFAULT_KEY_USAGE;
use crate::api::monitoring::{
    AccountMonitoring, KeyMonitoring, MAX_ALARM_ACTIONS, MAX_EVALUATION_PERIODS, MAX_EVALUATION_SECONDS,
    MAX_PERIOD_SECONDS, MAX_SHORT_EVALUATION_SECONDS, MAX_THRESHOLD,
};

const MAX_LOG_GROUP_NAME: usize = 512;

/// An SNS topic ARN: `arn:<partition>:sns:<region>:<account>:<name>`, and its region.
fn topic_problem(value: &str) -> Result<&str, String> {
    let arn = parse_arn(value).filter(|a| a.service == "sns" && is_account_id(a.account));
    let name_ok = arn.is_some_and(|a| {
        !a.resource.is_empty()
            && a.resource.len() <= 256
            && a.resource.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    });
    match arn {
        Some(arn) if name_ok => Ok(arn.region),
        _ => Err(format!("{} is not an SNS topic ARN", quote(value))),
    }
}

pub(super) fn check_account_monitoring(issues: &mut Issues, spec: &AwsAccountSpec, monitoring: &AccountMonitoring) {
    let group = &monitoring.cloud_trail_log_group;
    let group_ok = !group.is_empty()
        && group.len() <= MAX_LOG_GROUP_NAME
        && group.chars().all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
    if !group_ok {
        issues.add(
            "spec.monitoring.cloudTrailLogGroup",
            format!("{} is not a CloudWatch Logs group name", quote(group)),
            "name the log group your CloudTrail trail delivers to: 1 to 512 of letters, digits and . _ - / #",
        );
    }
    if let Some(region) = &monitoring.region {
        check_region(issues, "spec.monitoring.region", region);
    }
    let region = monitoring.region_or(&spec.region);
    for (i, topic) in monitoring.alarm_topics.iter().enumerate() {
        let field = path::item("spec.monitoring.alarmTopics", i);
        match topic_problem(topic) {
            Err(problem) => issues.add(field, problem, "use arn:aws:sns:<region>:<account id>:<topic name>"),
            Ok(topic_region) if topic_region != region => issues.add(
                field,
                format!("is in {topic_region}, but the alarms live in {region}, and CloudWatch notifies topics of its own region only"),
                format!("use a topic in {region}, or set spec.monitoring.region to the topic's region"),
            ),
            Ok(_) => {}
        }
    }
}

/// `account`: the referenced AwsAccount's spec, when known.
pub(super) fn check_key_monitoring(
    issues: &mut Issues,
    monitoring: &KeyMonitoring,
    key_usage: &str,
    account: Option<(&str, &AwsAccountSpec)>,
) {
    if let Some((name, spec)) = account
        && spec.monitoring.is_none()
    {
        issues.add(
            "spec.monitoring",
            format!("is set, but AwsAccount {name} has no spec.monitoring, so there is no log group to watch the key's use in"),
            format!("ask the platform team to set spec.monitoring.cloudTrailLogGroup on AwsAccount {name}, or remove spec.monitoring"),
        );
    }
    if monitoring.notify.len() > MAX_ALARM_ACTIONS {
        issues.add(
            "spec.monitoring.notify",
            format!(
                "lists {} topics; CloudWatch allows {MAX_ALARM_ACTIONS} actions per alarm",
                monitoring.notify.len()
            ),
            format!("notify at most {MAX_ALARM_ACTIONS} topics (one topic can fan out to many subscribers)"),
        );
    }
    for (i, topic) in monitoring.notify.iter().enumerate() {
        if let Err(problem) = topic_problem(topic) {
            issues.add(
                path::item("spec.monitoring.notify", i),
                problem,
                "use an ARN listed in the AwsAccount's spec.monitoring.alarmTopics",
            );
        }
    }
    let Some(decrypt) = &monitoring.decrypt else {
        return;
    };
    if key_usage != DEFAULT_KEY_USAGE {
        issues.add(
            "spec.monitoring.decrypt",
            format!("is set, but a key with keyUsage {key_usage} is never decrypted"),
            "remove spec.monitoring.decrypt (the AccessDenied alarm still watches the key)",
        );
    }
    let mut range = |field: &str, value: Option<i64>, min: i64, max: i64| {
        if let Some(value) = value.filter(|v| !(min..=max).contains(v)) {
            issues.add(
                path::child("spec.monitoring.decrypt", field),
                format!("{value} is outside {min}..{max}"),
                format!("set a value from {min} to {max}"),
            );
        }
    };
    range("threshold", decrypt.threshold, 0, MAX_THRESHOLD);
    range("periodSeconds", decrypt.period_seconds.map(i64::from), 60, i64::from(MAX_PERIOD_SECONDS));
    range("evaluationPeriods", decrypt.evaluation_periods.map(i64::from), 1, i64::from(MAX_EVALUATION_PERIODS));
    range("datapointsToAlarm", decrypt.datapoints_to_alarm.map(i64::from), 1, i64::from(MAX_EVALUATION_PERIODS));
    let period = i64::from(decrypt.period_seconds());
    if period % 60 != 0 {
        issues.add(
            "spec.monitoring.decrypt.periodSeconds",
            format!("{period} is not a multiple of 60; metric filters publish one-minute data"),
            "use a whole number of minutes in seconds, e.g. 300",
        );
    }
    if decrypt.datapoints_to_alarm() > decrypt.evaluation_periods() {
        issues.add(
            "spec.monitoring.decrypt.datapointsToAlarm",
            format!(
                "{} is more than evaluationPeriods ({})",
                decrypt.datapoints_to_alarm(),
                decrypt.evaluation_periods()
            ),
            "make datapointsToAlarm at most evaluationPeriods",
        );
    }
    let limit = if period < 3600 { MAX_SHORT_EVALUATION_SECONDS } else { MAX_EVALUATION_SECONDS };
    let total = period * i64::from(decrypt.evaluation_periods());
    if total > limit {
        issues.add(
            "spec.monitoring.decrypt.evaluationPeriods",
            format!("× periodSeconds is {total} s; CloudWatch evaluates at most {limit} s (1 day for periods under an hour, 7 days otherwise)"),
            format!("use at most {} evaluation periods of {period} s", limit / period.max(1)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{account, assert_clean, assert_issue, key};
    use super::super::{validate_account, validate_key};

    const ACCOUNT: &str = "AwsAccount core-security";
    const KEY: &str = "KmsKey platform-kms/datamesh";

    fn monitored_account() -> crate::api::AwsAccount {
        account(
            "{accountId: '484357440923', region: ap-southeast-2, monitoring: {cloudTrailLogGroup: aws-cloudtrail-logs-484357440923, alarmTopics: ['arn:aws:sns:ap-southeast-2:484357440923:kms-alarms'], keyDeletionAlarm: true}}",
        )
    }

    #[test]
    fn the_api_example_is_valid() {
        let account = monitored_account();
        assert_clean(&validate_account(&account));
        let key = key(
            "{accountRef: core-security, monitoring: {notify: ['arn:aws:sns:ap-southeast-2:484357440923:kms-alarms'], decrypt: {threshold: 100, periodSeconds: 300, evaluationPeriods: 3, datapointsToAlarm: 2}, accessDenied: {enabled: true}}}",
        );
        assert_clean(&validate_key(&key, Some(&account.spec)));
    }

    #[test]
    fn topics_must_be_sns_arns_in_the_alarms_region() {
        let issues = validate_account(&account(
            "{accountId: '484357440923', region: ap-southeast-2, monitoring: {cloudTrailLogGroup: 'bad group', alarmTopics: ['arn:aws:sns:us-east-1:484357440923:t', 'arn:aws:sqs:ap-southeast-2:484357440923:q']}}",
        ));
        assert_issue(
            &issues,
            ACCOUNT,
            "spec.monitoring.cloudTrailLogGroup",
            &["not a CloudWatch Logs group name"],
            "log group",
        );
        assert_issue(
            &issues,
            ACCOUNT,
            "spec.monitoring.alarmTopics[0]",
            &["us-east-1", "ap-southeast-2"],
            "topic in ap-southeast-2",
        );
        assert_issue(&issues, ACCOUNT, "spec.monitoring.alarmTopics[1]", &["not an SNS topic ARN"], "arn:aws:sns:");
    }

    #[test]
    fn a_key_needs_its_accounts_monitoring() {
        let plain = account("{accountId: '484357440923', region: ap-southeast-2}");
        let issues = validate_key(&key("{accountRef: core-security, monitoring: {}}"), Some(&plain.spec));
        assert_issue(
            &issues,
            KEY,
            "spec.monitoring",
            &["AwsAccount core-security has no spec.monitoring"],
            "cloudTrailLogGroup",
        );
    }

    #[test]
    fn alarm_numbers_are_cloudwatchs() {
        let account = monitored_account();
        let issues = validate_key(
            &key(
                "{accountRef: core-security, monitoring: {decrypt: {threshold: -1, periodSeconds: 90, evaluationPeriods: 2, datapointsToAlarm: 3}}}",
            ),
            Some(&account.spec),
        );
        assert_issue(
            &issues,
            KEY,
            "spec.monitoring.decrypt.threshold",
            &["-1 is outside 0..9007199254740991"],
            "from 0",
        );
        assert_issue(&issues, KEY, "spec.monitoring.decrypt.periodSeconds", &["not a multiple of 60"], "300");
        assert_issue(
            &issues,
            KEY,
            "spec.monitoring.decrypt.datapointsToAlarm",
            &["more than evaluationPeriods (2)"],
            "at most",
        );
        let issues = validate_key(
            &key(
                "{accountRef: core-security, monitoring: {decrypt: {periodSeconds: 600, evaluationPeriods: 145, datapointsToAlarm: 1}}}",
            ),
            Some(&account.spec),
        );
        assert_issue(&issues, KEY, "spec.monitoring.decrypt.evaluationPeriods", &["87000 s", "86400"], "at most 144");
        let six =
            (1..=6).map(|i| format!("'arn:aws:sns:ap-southeast-2:484357440923:t{i}'")).collect::<Vec<_>>().join(", ");
        let issues = validate_key(
            &key(&format!("{{accountRef: core-security, monitoring: {{notify: [{six}]}}}}")),
            Some(&account.spec),
        );
        assert_issue(&issues, KEY, "spec.monitoring.notify", &["6 topics", "5 actions per alarm"], "at most 5");
    }

    #[test]
    fn a_key_that_is_never_decrypted_has_no_decrypt_alarm() {
        let account = monitored_account();
        let issues = validate_key(
            &key(
                "{accountRef: core-security, keySpec: ECC_NIST_P256, keyUsage: SIGN_VERIFY, rotation: {enabled: false}, monitoring: {decrypt: {threshold: 5}}}",
            ),
            Some(&account.spec),
        );
        assert_issue(
            &issues,
            KEY,
            "spec.monitoring.decrypt",
            &["SIGN_VERIFY is never decrypted"],
            "remove spec.monitoring.decrypt",
        );
    }
}
