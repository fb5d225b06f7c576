//! CloudWatch alarms and CloudWatch Logs metric filters for one account and region, beside
//! KMS's client: every method goes through [`CallContext::call`], so these calls are paced at
//! their own quotas, counted, classified and retried like KMS's.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::types::{AlarmType, ComparisonOperator, Dimension, Statistic, Tag};
use aws_sdk_cloudwatchlogs::types::MetricTransformation;

use super::caller::CallContext;
use super::convert;
use super::error::{AwsError, ErrorKind};
use super::model::{AlarmEntry, MetricAlarm, MetricFilter};
use super::operation::Op;

/// DeleteAlarms takes at most 100 names.
const DELETE_ALARMS_BATCH: usize = 100;

#[derive(Clone, Debug)]
pub struct AlarmClient {
    inner: aws_sdk_cloudwatch::Client,
    account_id: String,
    region: String,
    ctx: CallContext,
}

impl AlarmClient {
    pub fn new(inner: aws_sdk_cloudwatch::Client, account_id: &str, region: &str, ctx: CallContext) -> Self {
        AlarmClient { inner, account_id: account_id.to_owned(), region: region.to_owned(), ctx }
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Every metric alarm whose name starts with `prefix`, all pages.
    pub async fn describe_alarms(&self, prefix: &str) -> Result<Vec<AlarmEntry>, AwsError> {
        let mut alarms = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .ctx
                .call(&self.account_id, &self.region, Op::DescribeAlarms, || {
                    self.inner
                        .describe_alarms()
                        .alarm_name_prefix(prefix)
                        .alarm_types(AlarmType::MetricAlarm)
                        .max_records(100)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            alarms.extend(out.metric_alarms().iter().filter_map(|a| {
                let alarm = MetricAlarm {
                    name: a.alarm_name()?.to_owned(),
                    description: a.alarm_description().unwrap_or_default().to_owned(),
                    namespace: a.namespace().unwrap_or_default().to_owned(),
                    metric: a.metric_name().unwrap_or_default().to_owned(),
                    dimensions: a
                        .dimensions()
                        .iter()
                        .filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned())))
                        .collect(),
                    statistic: a.statistic().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    period: a.period().unwrap_or_default(),
                    evaluation_periods: a.evaluation_periods().unwrap_or_default(),
                    // Absent means "all of the evaluation periods".
                    datapoints_to_alarm: a.datapoints_to_alarm().or(a.evaluation_periods()).unwrap_or_default(),
                    threshold: a.threshold().unwrap_or_default(),
                    comparison: a.comparison_operator().map(|c| c.as_str().to_owned()).unwrap_or_default(),
                    treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_owned(),
                    alarm_actions: sorted(a.alarm_actions()),
                    ok_actions: sorted(a.ok_actions()),
                    actions_enabled: a.actions_enabled().unwrap_or(true),
                };
                Some(AlarmEntry {
                    alarm,
                    arn: a.alarm_arn().map(str::to_owned),
                    state: a.state_value().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    since: convert::date(a.state_updated_timestamp()),
                })
            }));
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(alarms),
            }
        }
    }

    /// Creates or replaces the alarm. `tags` apply only when it is created: CloudWatch ignores
    /// them on an existing alarm.
    pub async fn put_alarm(&self, alarm: &MetricAlarm, tags: &BTreeMap<String, String>) -> Result<(), AwsError> {
        let dimensions: Vec<Dimension> =
            alarm.dimensions.iter().map(|(k, v)| Dimension::builder().name(k).value(v).build()).collect();
        let tags: Vec<Tag> = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        self.ctx
            .call(&self.account_id, &self.region, Op::PutMetricAlarm, || {
                self.inner
                    .put_metric_alarm()
                    .alarm_name(&alarm.name)
                    .alarm_description(&alarm.description)
                    .namespace(&alarm.namespace)
                    .metric_name(&alarm.metric)
                    .set_dimensions(Some(dimensions.clone()))
                    .statistic(Statistic::from(alarm.statistic.as_str()))
                    .period(alarm.period)
                    .evaluation_periods(alarm.evaluation_periods)
                    .datapoints_to_alarm(alarm.datapoints_to_alarm)
                    .threshold(alarm.threshold)
                    .comparison_operator(ComparisonOperator::from(alarm.comparison.as_str()))
                    .treat_missing_data(&alarm.treat_missing_data)
                    .set_alarm_actions(Some(alarm.alarm_actions.clone()))
                    .set_ok_actions(Some(alarm.ok_actions.clone()))
                    .actions_enabled(alarm.actions_enabled)
                    .set_tags((!tags.is_empty()).then(|| tags.clone()))
                    .send()
            })
            .await?;
        Ok(())
    }

    pub async fn delete_alarms(&self, names: &[String]) -> Result<(), AwsError> {
        for batch in names.chunks(DELETE_ALARMS_BATCH) {
            let result = self
                .ctx
                .call(&self.account_id, &self.region, Op::DeleteAlarms, || {
                    self.inner.delete_alarms().set_alarm_names(Some(batch.to_vec())).send()
                })
                .await;
            match result {
                // Gone already (an earlier attempt whose answer was lost): what was wanted.
                Err(e) if e.kind == ErrorKind::NotFound => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }
}

fn sorted(actions: &[String]) -> Vec<String> {
    let mut actions = actions.to_vec();
    actions.sort();
    actions
}

#[derive(Clone, Debug)]
pub struct LogsClient {
    inner: aws_sdk_cloudwatchlogs::Client,
    account_id: String,
    region: String,
    ctx: CallContext,
}

impl LogsClient {
    pub fn new(inner: aws_sdk_cloudwatchlogs::Client, account_id: &str, region: &str, ctx: CallContext) -> Self {
        LogsClient { inner, account_id: account_id.to_owned(), region: region.to_owned(), ctx }
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Every metric filter of `log_group`, the operator's and others', all pages.
    pub async fn describe_filters(&self, log_group: &str) -> Result<Vec<MetricFilter>, AwsError> {
        let mut filters = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .ctx
                .call(&self.account_id, &self.region, Op::DescribeMetricFilters, || {
                    self.inner
                        .describe_metric_filters()
                        .log_group_name(log_group)
                        .limit(50)
                        .set_next_token(token.clone())
                        .send()
                })
                .await?;
            filters.extend(out.metric_filters().iter().filter_map(|f| {
                let transformation = f.metric_transformations().first();
                Some(MetricFilter {
                    log_group: f.log_group_name().unwrap_or(log_group).to_owned(),
                    name: f.filter_name()?.to_owned(),
                    pattern: f.filter_pattern().unwrap_or_default().to_owned(),
                    namespace: transformation.map(|t| t.metric_namespace().to_owned()).unwrap_or_default(),
                    metric: transformation.map(|t| t.metric_name().to_owned()).unwrap_or_default(),
                    value: transformation.map(|t| t.metric_value().to_owned()).unwrap_or_default(),
                    dimensions: transformation
                        .and_then(|t| t.dimensions())
                        .map(|d| d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                })
            }));
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(filters),
            }
        }
    }

    /// Creates or replaces the filter.
    pub async fn put_filter(&self, filter: &MetricFilter) -> Result<(), AwsError> {
        let dimensions: HashMap<String, String> =
            filter.dimensions.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let transformation = MetricTransformation::builder()
            .metric_name(&filter.metric)
            .metric_namespace(&filter.namespace)
            .metric_value(&filter.value)
            .set_dimensions((!dimensions.is_empty()).then_some(dimensions))
            .build()
            .map_err(|e| AwsError::new(Op::PutMetricFilter, ErrorKind::Invalid, e.to_string()))?;
        self.ctx
            .call(&self.account_id, &self.region, Op::PutMetricFilter, || {
                self.inner
                    .put_metric_filter()
                    .log_group_name(&filter.log_group)
                    .filter_name(&filter.name)
                    .filter_pattern(&filter.pattern)
                    .metric_transformations(transformation.clone())
                    .send()
            })
            .await?;
        Ok(())
    }

    pub async fn delete_filter(&self, log_group: &str, name: &str) -> Result<(), AwsError> {
        let result = self
            .ctx
            .call(&self.account_id, &self.region, Op::DeleteMetricFilter, || {
                self.inner.delete_metric_filter().log_group_name(log_group).filter_name(name).send()
            })
            .await;
        match result {
            // Gone already (an earlier attempt whose answer was lost): what was wanted.
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
