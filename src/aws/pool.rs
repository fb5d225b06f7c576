//! Clients per (account, region): credentials from the SDK's default chain, then the account's
//! role if it names one. KMS goes to the account's `endpointUrl` if it names one; STS (the
//! role, the identity check) to its `stsEndpointUrl`, never to `endpointUrl`: a KMS endpoint
//! (a VPC endpoint, a local server) says nothing about whose credentials these are. Without
//! either, the standard AWS environment decides (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_KMS`,
//! `AWS_ENDPOINT_URL_STS`), as for any SDK client. Built once, then reused.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{Region, SharedCredentialsProvider};
use aws_types::origin::Origin;
use tokio::sync::Mutex;

use super::alarms::{AlarmClient, LogsClient};
use super::caller::CallContext;
use super::client::KmsClient;
use super::error::{AwsError, ErrorKind};
use super::model::CallerIdentity;
use super::operation::Op;
use crate::api::AwsAccountSpec;

/// What the operator needs to reach one AWS account, from an `AwsAccount`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountConfig {
    pub name: String,
    pub account_id: String,
    pub region: String,
    pub assume_role_arn: Option<String>,
    pub external_id: Option<String>,
    pub endpoint_url: Option<String>,
    pub sts_endpoint_url: Option<String>,
    /// Whether the credentials must be shown to belong to `account_id` before any KMS call.
    pub verify_account: bool,
}

impl AccountConfig {
    pub fn from_spec(name: &str, spec: &AwsAccountSpec) -> Self {
        AccountConfig {
            name: name.to_owned(),
            account_id: spec.account_id.clone(),
            region: spec.region.clone(),
            assume_role_arn: spec.assume_role_arn.clone(),
            external_id: spec.external_id.clone(),
            endpoint_url: spec.endpoint_url.clone(),
            sts_endpoint_url: spec.sts_endpoint_url.clone(),
            verify_account: spec.verify_account,
        }
    }

    /// The same account reached through the role `name` in it instead of `assumeRoleArn`: a
    /// read-only role for `plan` in CI (docs/gitops.md). The external id stays, and the
    /// partition is the declared role's (`aws` when none is declared).
    pub fn through_role(mut self, name: &str) -> Self {
        let partition = self
            .assume_role_arn
            .as_deref()
            .and_then(crate::api::validate::names::parse_role_arn)
            .map_or("aws", |arn| arn.partition)
            .to_owned();
        self.assume_role_arn = Some(format!("arn:{partition}:iam::{}:role/{name}", self.account_id));
        self
    }
}

/// Timeouts for every KMS request; retries are the caller's, so the SDK's own are off.
#[derive(Clone, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(5), attempt: Duration::from_secs(20) }
    }
}

struct AccountClients {
    sdk: SdkConfig,
    kms: HashMap<String, KmsClient>,
    alarms: HashMap<String, AlarmClient>,
    logs: HashMap<String, LogsClient>,
}

pub struct ClientPool {
    base: SdkConfig,
    ctx: CallContext,
    timeouts: Timeouts,
    accounts: Mutex<HashMap<AccountConfig, AccountClients>>,
}

impl ClientPool {
    /// Credentials and settings from the standard AWS environment (env, web identity, IMDS, ...).
    pub async fn from_environment(ctx: CallContext, timeouts: Timeouts) -> Self {
        let base = aws_config::defaults(BehaviorVersion::latest()).load().await;
        ClientPool::with_base_config(base, ctx, timeouts)
    }

    pub fn with_base_config(base: SdkConfig, ctx: CallContext, timeouts: Timeouts) -> Self {
        ClientPool { base, ctx, timeouts, accounts: Mutex::new(HashMap::new()) }
    }

    pub fn context(&self) -> &CallContext {
        &self.ctx
    }

    /// The account's settings for every client: its region and its credentials (after the
    /// role, assumed through its STS endpoint). Endpoints are each client's own.
    async fn account_sdk_config(&self, account: &AccountConfig) -> SdkConfig {
        let config = self.base.to_builder().region(Region::new(account.region.clone())).build();
        let Some(role) = &account.assume_role_arn else {
            return config;
        };
        let mut sts = config.to_builder();
        if let Some(url) = &account.sts_endpoint_url {
            // Set here, not in the environment: it must win over AWS_ENDPOINT_URL(_STS), as it
            // does for the identity check's client.
            sts.insert_origin("endpoint_url", Origin::shared_config());
            sts = sts.endpoint_url(url);
        }
        let mut provider = AssumeRoleProvider::builder(role).session_name("kms-operator").configure(&sts.build());
        if let Some(external_id) = &account.external_id {
            provider = provider.external_id(external_id);
        }
        let provider = provider.build().await;
        config.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build()
    }

    async fn clients_for<'a>(
        &self,
        accounts: &'a mut HashMap<AccountConfig, AccountClients>,
        account: &AccountConfig,
    ) -> &'a mut AccountClients {
        match accounts.entry(account.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let sdk = self.account_sdk_config(account).await;
                entry.insert(AccountClients { sdk, kms: HashMap::new(), alarms: HashMap::new(), logs: HashMap::new() })
            }
        }
    }

    fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.timeouts.connect)
            .operation_attempt_timeout(self.timeouts.attempt)
            .build()
    }

    /// The KMS client for `account` in `region`.
    pub async fn kms(&self, account: &AccountConfig, region: &str) -> KmsClient {
        let mut accounts = self.accounts.lock().await;
        let clients = self.clients_for(&mut accounts, account).await;
        if let Some(client) = clients.kms.get(region) {
            return client.clone();
        }
        let mut config = aws_sdk_kms::config::Builder::from(&clients.sdk)
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(self.timeout_config());
        if let Some(url) = &account.endpoint_url {
            config = config.endpoint_url(url);
        }
        let config = config.build();
        let client =
            KmsClient::new(aws_sdk_kms::Client::from_conf(config), &account.account_id, region, self.ctx.clone());
        clients.kms.insert(region.to_owned(), client.clone());
        client
    }

    /// The CloudWatch client for `account` in `region`: the account's endpoint, as for KMS,
    /// unless `AWS_ENDPOINT_URL_CLOUDWATCH` names CloudWatch's own.
    pub async fn alarms(&self, account: &AccountConfig, region: &str) -> AlarmClient {
        let mut accounts = self.accounts.lock().await;
        let clients = self.clients_for(&mut accounts, account).await;
        if let Some(client) = clients.alarms.get(region) {
            return client.clone();
        }
        let mut config = aws_sdk_cloudwatch::config::Builder::from(&clients.sdk)
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(self.timeout_config());
        if let Some(url) = service_endpoint("AWS_ENDPOINT_URL_CLOUDWATCH").or_else(|| account.endpoint_url.clone()) {
            config = config.endpoint_url(url);
        }
        let inner = aws_sdk_cloudwatch::Client::from_conf(config.build());
        let client = AlarmClient::new(inner, &account.account_id, region, self.ctx.clone());
        clients.alarms.insert(region.to_owned(), client.clone());
        client
    }

    /// The CloudWatch Logs client for `account` in `region`: the account's endpoint, as for
    /// KMS, unless `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` names CloudWatch Logs' own.
    pub async fn logs(&self, account: &AccountConfig, region: &str) -> LogsClient {
        let mut accounts = self.accounts.lock().await;
        let clients = self.clients_for(&mut accounts, account).await;
        if let Some(client) = clients.logs.get(region) {
            return client.clone();
        }
        let mut config = aws_sdk_cloudwatchlogs::config::Builder::from(&clients.sdk)
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::disabled())
            .timeout_config(self.timeout_config());
        if let Some(url) = service_endpoint("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS").or_else(|| account.endpoint_url.clone())
        {
            config = config.endpoint_url(url);
        }
        let inner = aws_sdk_cloudwatchlogs::Client::from_conf(config.build());
        let client = LogsClient::new(inner, &account.account_id, region, self.ctx.clone());
        clients.logs.insert(region.to_owned(), client.clone());
        client
    }

    /// Who the account's credentials say we are (`sts:GetCallerIdentity`).
    pub async fn caller_identity(&self, account: &AccountConfig) -> Result<CallerIdentity, AwsError> {
        let sdk = {
            let mut accounts = self.accounts.lock().await;
            self.clients_for(&mut accounts, account).await.sdk.clone()
        };
        // Like KMS requests: bounded by our timeouts, retried by CallContext only, so that a
        // transient STS failure is paced and counted like any other call.
        let mut config = aws_sdk_sts::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .timeout_config(self.timeout_config());
        if let Some(url) = &account.sts_endpoint_url {
            config = config.endpoint_url(url);
        }
        let config = config.build();
        let sts = aws_sdk_sts::Client::from_conf(config);
        let out = self
            .ctx
            .call(&account.account_id, &account.region, Op::GetCallerIdentity, || sts.get_caller_identity().send())
            .await?;
        match (out.account(), out.arn()) {
            (Some(account_id), Some(arn)) => {
                Ok(CallerIdentity { account_id: account_id.to_owned(), arn: arn.to_owned() })
            }
            _ => Err(AwsError::new(Op::GetCallerIdentity, ErrorKind::Other, "response has no account or ARN")),
        }
    }
}

/// A service's own endpoint from the environment, which wins over the account's `endpointUrl`.
fn service_endpoint(variable: &str) -> Option<String> {
    std::env::var(variable).ok().filter(|url| !url.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Option<&str>) -> AccountConfig {
        AccountConfig {
            name: "sec".into(),
            account_id: "484357440923".into(),
            region: "ap-southeast-2".into(),
            assume_role_arn: role.map(str::to_owned),
            external_id: Some("x".into()),
            endpoint_url: None,
            sts_endpoint_url: None,
            verify_account: true,
        }
    }

    #[test]
    fn another_role_in_the_same_account_and_partition() {
        let declared = account(Some("arn:aws-cn:iam::484357440923:role/kms-operator"));
        let plan = declared.through_role("ci/kms-operator-plan");
        assert_eq!(plan.assume_role_arn.as_deref(), Some("arn:aws-cn:iam::484357440923:role/ci/kms-operator-plan"));
        assert_eq!(plan.external_id.as_deref(), Some("x"));
        let undeclared = account(None).through_role("kms-operator-plan");
        assert_eq!(undeclared.assume_role_arn.as_deref(), Some("arn:aws:iam::484357440923:role/kms-operator-plan"));
    }
}
