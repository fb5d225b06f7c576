use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::schema;
use crate::api::serde_helpers::{default_true, empty_as_none, is_false, is_true};

/// Where keys live: one AWS account, its default region and how to reach it.
// kube-derive's printcolumn(...) repeats its keys (type_, json_path) once per column by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kmsoperator.dev",
    version = "v1alpha1",
    kind = "AwsAccount",
    status = "AwsAccountStatus",
    shortname = "awsacct",
    category = "kms",
    derive = "PartialEq",
    doc = "An AWS account that holds KMS keys: account id, default region, optional role to assume and endpoint, and which namespaces may use it.",
    printcolumn(name = "Account", type_ = "string", json_path = ".spec.accountId"),
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(name = "Role", type_ = "string", json_path = ".spec.assumeRoleArn", priority = "1"),
    printcolumn(name = "Verified", type_ = "boolean", json_path = ".status.accountVerified"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("!has(self.externalId) || self.externalId == '' || (has(self.assumeRoleArn) && self.assumeRoleArn != '')").message("spec.externalId is only used with spec.assumeRoleArn"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsAccountSpec {
    /// The 12-digit account id; used in policy ARNs and checked against the credentials.
    #[schemars(regex(pattern = r"^\d{12}$"))]
    pub account_id: String,

    /// Default region of keys using this account.
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-\d+$"))]
    pub region: String,

    /// A role to assume (after the SDK's default credential chain).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(regex(pattern = r"^arn:[^:]+:iam::\d{12}:role/.+$"))]
    pub assume_role_arn: Option<String>,

    /// External id for `assumeRoleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    pub external_id: Option<String>,

    /// A KMS-compatible endpoint (local KMS, VPC endpoint) used instead of the public one. It
    /// is never used for STS.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(regex(pattern = r"^https?://.+$"))]
    pub endpoint_url: Option<String>,

    /// The STS endpoint that checks which account the credentials belong to
    /// (`GetCallerIdentity`) and assumes `assumeRoleArn`: a VPC endpoint for STS, or a local
    /// emulator. Default: the environment's (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`), else
    /// AWS's regional STS endpoint; never `endpointUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(regex(pattern = r"^https?://.+$"))]
    pub sts_endpoint_url: Option<String>,

    /// Whether the credentials must be shown to belong to `accountId` before any KMS call
    /// (default true): a mismatch or an identity STS cannot confirm is an error, whatever the
    /// endpoint. `false` is for local emulators only; it shows in status and in every plan.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub verify_account: bool,

    /// Label selector on Namespaces whose objects may use this account: absent admits no
    /// namespace, `{}` admits every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespaces: Option<LabelSelector>,

    /// What tenants of this account may declare: which other accounts their policies and
    /// grants may name, who may adopt keys the operator did not create, whether keys may
    /// bypass KMS's policy lockout safety check, which alias names a namespace may use, and
    /// whether policies may delegate grant creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<AccountPermissions>,

    /// Where key usage alarms live: the log group receiving the account's CloudTrail, its
    /// region, the SNS topics keys may notify, and the account-wide key deletion alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<super::monitoring::AccountMonitoring>,
}

/// What the platform team lets the tenants of one account do; everything absent is refused.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountPermissions {
    /// Accounts besides `accountId` that key policies, service callers, grantees and retiring
    /// principals may name; absent: only `accountId`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^\d{12}$")))]
    pub principal_accounts: Vec<String>,

    /// Label selector on Namespaces that may adopt (`import.keyId`) or target (`targetKeyId`)
    /// keys the operator did not create; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adoption_namespaces: Option<LabelSelector>,

    /// Whether keys of this account may set `bypassPolicyLockoutSafetyCheck`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bypass_policy_lockout_safety_check: bool,

    /// Patterns an alias created or repointed from a namespace must match: `{namespace}`
    /// stands for the object's namespace, `*` for any run of characters
    /// (`alias/{namespace}/*`); absent: any name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_names: Option<Vec<String>>,

    /// Whether key policies may give `kms:CreateGrant` to principals outside `accountId`
    /// without the condition `Bool kms:GrantIsForAWSResource: true`; with it, such a principal
    /// could grant the key to any account, out of the operator's sight.
    #[serde(default, skip_serializing_if = "is_false")]
    pub delegate_grants: bool,
}

impl AwsAccountSpec {
    /// The account's permissions, empty (everything refused) when not declared.
    pub fn permissions(&self) -> AccountPermissions {
        self.permissions.clone().unwrap_or_default()
    }

    /// Accounts whose principals tenants may name: the account itself and `principalAccounts`.
    pub fn permitted_accounts(&self) -> Vec<&str> {
        let mut accounts = vec![self.account_id.as_str()];
        if let Some(permissions) = &self.permissions {
            accounts.extend(permissions.principal_accounts.iter().map(String::as_str));
        }
        accounts
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsAccountStatus {
    /// The identity the credentials resolved to (`sts:GetCallerIdentity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_arn: Option<String>,
    /// Whether the credentials were shown to belong to `spec.accountId`: false when
    /// `spec.verifyAccount` is false and nothing was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::generation")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Vec<Condition>,
}
