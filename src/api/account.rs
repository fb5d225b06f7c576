use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::schema;
use super::serde_helpers::{empty_as_none, is_false};

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

    /// A KMS-compatible endpoint (local KMS, VPC endpoint) used instead of the public one.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "empty_as_none")]
    #[schemars(regex(pattern = r"^https?://.+$"))]
    pub endpoint_url: Option<String>,

    /// Label selector on Namespaces whose objects may use this account: absent admits no
    /// namespace, `{}` admits every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespaces: Option<LabelSelector>,

    /// What tenants of this account may declare: which other accounts their policies and
    /// grants may name, who may adopt keys the operator did not create, and whether keys may
    /// bypass KMS's policy lockout safety check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<AccountPermissions>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::generation")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "schema::conditions")]
    pub conditions: Vec<Condition>,
}
