//! Compiles the intent in `spec.policy` into a key policy document.
//!
//! The output is a function of the spec and the context alone: statements come in a fixed
//! order with fixed Sids, lists keep the order the user declared them in (minus repeats), and
//! a list of one is written as a plain string, the way the KMS console writes policies. That
//! keeps the document readable in the console and byte-stable across reconciliations.

use serde_json::{Value, json};

use super::actions::{ADMINISTRATION_ACTIONS, ALL_ACTIONS, GRANT_ACTIONS, use_actions};
use crate::api::{PolicySpec, PolicyStatement};

/// The current IAM policy language. Without `Version`, IAM assumes 2008-10-17, which lacks
/// policy variables, so the builder always states it.
pub const POLICY_VERSION: &str = "2012-10-17";

/// Where the key lives; every ARN and service endpoint in the policy is derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildContext<'a> {
    /// The owner account's 12-digit id.
    pub account_id: &'a str,
    /// The key's region; a replica's own region when building a replica's policy, because
    /// `kms:ViaService` names the regional endpoint the service calls.
    pub region: &'a str,
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub partition: &'a str,
    /// The key's spec and usage decide which cryptographic actions "use" means.
    pub key_spec: &'a str,
    pub key_usage: &'a str,
}

impl BuildContext<'_> {
    fn use_actions(&self) -> &'static [&'static str] {
        use_actions(self.key_spec, self.key_usage)
    }

    /// Services also get `kms:CreateGrant`: EBS, RDS and others hold on to a key through
    /// grants, not through the caller.
    fn service_use_actions(&self) -> Vec<&'static str> {
        let mut actions = self.use_actions().to_vec();
        actions.push("kms:CreateGrant");
        actions
    }

    fn root_arn(&self, account_id: &str) -> String {
        format!("arn:{}:iam::{account_id}:root", self.partition)
    }

    fn via_service(&self, service: &str) -> String {
        format!("{service}.{}.{}", self.region, dns_suffix(self.partition))
    }
}

/// Statement ids of the generated statements. Stable, because people grep for them and
/// because a Sid change is a policy change.
pub mod sid {
    pub const ENABLE_ROOT_ACCESS: &str = "EnableRootAccess";
    pub const KEY_ADMINISTRATION: &str = "AllowKeyAdministration";
    pub const KEY_USE: &str = "AllowKeyUse";
    pub const TRUSTED_ACCOUNT_USE: &str = "AllowTrustedAccountUse";
    pub const TRUSTED_ACCOUNT_GRANTS: &str = "AllowTrustedAccountGrants";
    /// Prefix of the per-service Sids, see [`super::service_sid`].
    pub const USE_VIA_PREFIX: &str = "AllowUseVia";
    /// Sid of the only statement of AWS's default key policy.
    pub const DEFAULT_ROOT: &str = "Enable IAM User Permissions";
}

/// Sid of the statement for one service: `rds` → `AllowUseViaRds`,
/// `elastic-file-system` → `AllowUseViaElasticFileSystem`. IAM allows only ASCII letters and
/// digits in a Sid, so anything else separates words and is dropped.
pub fn service_sid(service: &str) -> String {
    let mut sid = String::from(sid::USE_VIA_PREFIX);
    for word in service.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            sid.push(first.to_ascii_uppercase());
            sid.extend(chars);
        }
    }
    sid
}

/// DNS suffix of a partition's service endpoints, which `kms:ViaService` values end with.
/// China and the isolated partitions do not use `amazonaws.com`; unknown partitions are
/// assumed to, as new commercial-like partitions have so far.
pub fn dns_suffix(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "amazonaws.com.cn",
        "aws-iso" => "c2s.ic.gov",
        "aws-iso-b" => "sc2s.sgov.gov",
        "aws-iso-e" => "cloud.adc-e.uk",
        "aws-iso-f" => "csp.hci.ic.gov",
        "aws-eusc" => "amazonaws.eu",
        _ => "amazonaws.com",
    }
}

/// The key policy KMS attaches when CreateKey gets none, so that a key without `policy` or
/// `policyDocument` compares equal to what KMS reports for it.
pub fn default_policy(ctx: &BuildContext) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Id": "key-default-1",
        "Statement": [root_statement(ctx, sid::DEFAULT_ROOT)],
    })
}

/// Compiles `spec` into a key policy: root, administrators, users, trusted accounts, services,
/// then the user's own statements, each block present only when the spec asks for it.
///
/// Does not judge the result: a spec with `accountRoot: false` and no administrators yields
/// a policy nobody can administer, which validation rejects before anything gets here.
pub fn build(spec: &PolicySpec, ctx: &BuildContext) -> Value {
    let mut statements = Vec::new();

    if spec.account_root {
        statements.push(root_statement(ctx, sid::ENABLE_ROOT_ACCESS));
    }

    let administrators = dedup(spec.administrators.iter().cloned());
    if !administrators.is_empty() {
        statements.push(allow(sid::KEY_ADMINISTRATION, aws_principal(&administrators), ADMINISTRATION_ACTIONS));
    }

    let users = dedup(spec.users.iter().cloned());
    if !users.is_empty() {
        statements.push(allow(sid::KEY_USE, aws_principal(&users), ctx.use_actions()));
    }

    let trusted_roots = dedup(spec.trusted_accounts.iter().map(|id| ctx.root_arn(id)));
    if !trusted_roots.is_empty() {
        statements.push(allow(sid::TRUSTED_ACCOUNT_USE, aws_principal(&trusted_roots), ctx.use_actions()));
        let mut grants = allow(sid::TRUSTED_ACCOUNT_GRANTS, aws_principal(&trusted_roots), GRANT_ACTIONS);
        // Grants only for AWS resources: the trusted account can let its EBS volumes or RDS
        // instances use the key, but cannot grant use to arbitrary principals.
        grants["Condition"] = json!({"Bool": {"kms:GrantIsForAWSResource": "true"}});
        statements.push(grants);
    }

    for (service, callers) in services(spec, ctx) {
        let mut via = allow(&service_sid(&service), json!({"AWS": "*"}), &ctx.service_use_actions());
        // Principal "*" is safe only because both conditions hold: the request must come
        // through this service's regional endpoint and from one of these accounts.
        via["Condition"] = json!({
            "StringEquals": {
                "kms:ViaService": ctx.via_service(&service),
                "kms:CallerAccount": one_or_many(&callers),
            }
        });
        statements.push(via);
    }

    statements.extend(spec.statements.iter().map(PolicyStatement::to_json));

    json!({"Version": POLICY_VERSION, "Statement": statements})
}

/// Each service once, in first-declared order, with its effective caller accounts. A service
/// listed twice gets the union of its caller accounts: two Allow statements for one service
/// would grant exactly that union, but would collide on their Sid, which KMS rejects.
fn services(spec: &PolicySpec, ctx: &BuildContext) -> Vec<(String, Vec<String>)> {
    let default_callers: Vec<String> = std::iter::once(ctx.account_id)
        .chain(spec.trusted_accounts.iter().map(String::as_str))
        .map(str::to_owned)
        .collect();
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    for access in &spec.services {
        let callers = access.caller_accounts.as_ref().unwrap_or(&default_callers);
        match merged.iter_mut().find(|(name, _)| *name == access.name) {
            Some((_, existing)) => {
                *existing = dedup(existing.iter().chain(callers.iter()).cloned());
            }
            None => merged.push((access.name.clone(), dedup(callers.iter().cloned()))),
        }
    }
    merged
}

fn root_statement(ctx: &BuildContext, sid: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": ctx.root_arn(ctx.account_id)},
        "Action": ALL_ACTIONS,
        "Resource": "*",
    })
}

fn allow(sid: &str, principal: Value, actions: &[&str]) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": actions,
        "Resource": "*",
    })
}

fn aws_principal(arns: &[String]) -> Value {
    json!({"AWS": one_or_many(arns)})
}

/// A lone value as a string, several as a list: the console's convention, and what a reader
/// of the policy in the console expects.
fn one_or_many(values: &[String]) -> Value {
    match values {
        [one] => Value::String(one.clone()),
        many => Value::from(many.to_vec()),
    }
}

/// Declared order, first occurrence wins. Lists are a handful of ARNs, so quadratic is fine
/// and keeps the declared order without a second structure.
fn dedup(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::ServiceAccess;
    use crate::policy::to_pretty_json;

    const OWNER: &str = "484357440923";
    const TRUSTED: &str = "339712836516";
    const ADMIN: &str = "arn:aws:iam::484357440923:role/PlatformKmsAdmin";
    const USER: &str = "arn:aws:iam::339712836516:role/datamesh-ecs-task";

    use crate::policy::test_context as ctx;

    fn spec() -> PolicySpec {
        PolicySpec::default()
    }

    fn service(name: &str, callers: Option<&[&str]>) -> ServiceAccess {
        ServiceAccess {
            name: name.to_owned(),
            caller_accounts: callers.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn typed(statement: &Value) -> PolicyStatement {
        serde_json::from_value(statement.clone()).expect("an IAM statement")
    }

    fn statements(doc: &Value) -> &Vec<Value> {
        doc["Statement"].as_array().expect("Statement is a list")
    }

    fn sids(doc: &Value) -> Vec<&str> {
        statements(doc).iter().map(|s| s["Sid"].as_str().expect("every statement has a Sid")).collect()
    }

    fn statement<'d>(doc: &'d Value, sid: &str) -> &'d Value {
        statements(doc).iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no statement {sid} in {doc}"))
    }

    #[test]
    fn default_spec_is_root_only() {
        let doc = build(&spec(), &ctx());
        assert_eq!(
            doc,
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "EnableRootAccess",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::484357440923:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }],
            })
        );
    }

    #[test]
    fn default_policy_matches_what_kms_attaches() {
        let doc = default_policy(&ctx());
        assert_eq!(
            doc,
            json!({
                "Version": "2012-10-17",
                "Id": "key-default-1",
                "Statement": [{
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::484357440923:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }],
            })
        );
    }

    #[test]
    fn default_policy_uses_the_partition() {
        let cn = BuildContext { region: "cn-north-1", partition: "aws-cn", ..ctx() };
        let doc = default_policy(&cn);
        assert_eq!(doc["Statement"][0]["Principal"]["AWS"], "arn:aws-cn:iam::484357440923:root");
    }

    #[test]
    fn account_root_false_drops_the_root_statement() {
        let spec = PolicySpec { account_root: false, administrators: vec![ADMIN.into()], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(sids(&doc), ["AllowKeyAdministration"]);
        assert!(!to_pretty_json(&doc).contains(":root"));
    }

    #[test]
    fn account_root_false_and_nothing_else_is_an_empty_policy() {
        let spec = PolicySpec { account_root: false, ..spec() };
        assert_eq!(build(&spec, &ctx()), json!({"Version": "2012-10-17", "Statement": []}));
    }

    #[test]
    fn administrators_get_administration_only() {
        let spec = PolicySpec { administrators: vec![ADMIN.into()], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(sids(&doc), ["EnableRootAccess", "AllowKeyAdministration"]);
        let admin = statement(&doc, "AllowKeyAdministration");
        assert_eq!(admin["Effect"], "Allow");
        assert_eq!(admin["Principal"], json!({"AWS": ADMIN}));
        // Which actions administration means is checked against AWS's documented statement in
        // documented_tests.rs; here, only that this statement grants no use.
        assert_eq!(admin["Resource"], "*");
        assert!(admin.get("Condition").is_none());
        for forbidden in ["kms:Encrypt", "kms:Decrypt", "kms:CreateGrant", "kms:*"] {
            assert!(!admin["Action"].as_array().unwrap().contains(&json!(forbidden)));
        }
    }

    #[test]
    fn several_administrators_are_a_list_in_declared_order() {
        let second = "arn:aws:iam::484357440923:role/Breakglass";
        let spec = PolicySpec { administrators: vec![second.into(), ADMIN.into()], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(statement(&doc, "AllowKeyAdministration")["Principal"], json!({"AWS": [second, ADMIN]}));
    }

    #[test]
    fn use_follows_the_key_usage() {
        let spec = PolicySpec { users: vec!["arn:aws:iam::339712836516:role/signer".into()], ..PolicySpec::default() };
        let signing = BuildContext { key_spec: "ECC_NIST_P256", key_usage: "SIGN_VERIFY", ..ctx() };
        let doc = build(&spec, &signing);
        let usage = statement(&doc, sid::KEY_USE);
        assert_eq!(usage["Action"], json!(["kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:DescribeKey"]));
    }

    #[test]
    fn users_get_use_actions() {
        let spec = PolicySpec { users: vec![USER.into()], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(sids(&doc), ["EnableRootAccess", "AllowKeyUse"]);
        assert_eq!(
            *statement(&doc, "AllowKeyUse"),
            json!({
                "Sid": "AllowKeyUse",
                "Effect": "Allow",
                "Principal": {"AWS": USER},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
            })
        );
    }

    #[test]
    fn trusted_accounts_get_use_and_grants_for_aws_resources() {
        let other = "111122223333";
        let spec = PolicySpec { trusted_accounts: vec![TRUSTED.into(), other.into()], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(sids(&doc), ["EnableRootAccess", "AllowTrustedAccountUse", "AllowTrustedAccountGrants"]);
        let roots = json!(["arn:aws:iam::339712836516:root", "arn:aws:iam::111122223333:root"]);
        let usage = statement(&doc, "AllowTrustedAccountUse");
        assert_eq!(usage["Principal"], json!({"AWS": roots}));
        // The actions of key users (documented_tests.rs), for the accounts' roots.
        let users = build(&PolicySpec { users: vec![USER.into()], ..PolicySpec::default() }, &ctx());
        assert_eq!(usage["Action"], statement(&users, "AllowKeyUse")["Action"]);
        assert!(usage.get("Condition").is_none());
        assert_eq!(
            *statement(&doc, "AllowTrustedAccountGrants"),
            json!({
                "Sid": "AllowTrustedAccountGrants",
                "Effect": "Allow",
                "Principal": {"AWS": roots},
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            })
        );
    }

    #[test]
    fn one_trusted_account_is_a_plain_string() {
        let spec = PolicySpec { trusted_accounts: vec![TRUSTED.into()], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(
            statement(&doc, "AllowTrustedAccountGrants")["Principal"],
            json!({"AWS": "arn:aws:iam::339712836516:root"})
        );
    }

    #[test]
    fn service_with_caller_accounts() {
        let spec = PolicySpec {
            trusted_accounts: vec![TRUSTED.into()],
            services: vec![service("rds", Some(&[TRUSTED]))],
            ..spec()
        };
        let doc = build(&spec, &ctx());
        assert_eq!(
            *statement(&doc, "AllowUseViaRds"),
            json!({
                "Sid": "AllowUseViaRds",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:ViaService": "rds.ap-southeast-2.amazonaws.com",
                    "kms:CallerAccount": TRUSTED,
                }},
            })
        );
    }

    #[test]
    fn service_defaults_to_owner_then_trusted_accounts() {
        let spec =
            PolicySpec { trusted_accounts: vec![TRUSTED.into()], services: vec![service("logs", None)], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(
            statement(&doc, "AllowUseViaLogs")["Condition"]["StringEquals"]["kms:CallerAccount"],
            json!([OWNER, TRUSTED])
        );
    }

    #[test]
    fn service_without_trusted_accounts_is_owner_only() {
        let spec = PolicySpec { services: vec![service("logs", None)], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(statement(&doc, "AllowUseViaLogs")["Condition"]["StringEquals"]["kms:CallerAccount"], json!(OWNER));
    }

    #[test]
    fn services_keep_spec_order_after_the_fixed_blocks() {
        let spec = PolicySpec {
            users: vec![USER.into()],
            services: vec![service("secretsmanager", None), service("rds", None), service("elastic-file-system", None)],
            ..spec()
        };
        let doc = build(&spec, &ctx());
        assert_eq!(
            sids(&doc),
            [
                "EnableRootAccess",
                "AllowKeyUse",
                "AllowUseViaSecretsmanager",
                "AllowUseViaRds",
                "AllowUseViaElasticFileSystem"
            ]
        );
        assert_eq!(
            statement(&doc, "AllowUseViaElasticFileSystem")["Condition"]["StringEquals"]["kms:ViaService"],
            "elastic-file-system.ap-southeast-2.amazonaws.com"
        );
    }

    #[test]
    fn a_service_listed_twice_is_one_statement_with_the_union_of_callers() {
        let spec = PolicySpec {
            services: vec![service("rds", Some(&[TRUSTED])), service("logs", None), service("rds", None)],
            ..spec()
        };
        let doc = build(&spec, &ctx());
        assert_eq!(sids(&doc), ["EnableRootAccess", "AllowUseViaRds", "AllowUseViaLogs"]);
        assert_eq!(
            statement(&doc, "AllowUseViaRds")["Condition"]["StringEquals"]["kms:CallerAccount"],
            json!([TRUSTED, OWNER])
        );
    }

    #[test]
    fn region_comes_from_the_context_for_replicas() {
        let spec = PolicySpec { services: vec![service("rds", None)], ..spec() };
        let replica = BuildContext { region: "us-west-2", ..ctx() };
        let doc = build(&spec, &replica);
        assert_eq!(
            statement(&doc, "AllowUseViaRds")["Condition"]["StringEquals"]["kms:ViaService"],
            "rds.us-west-2.amazonaws.com"
        );
        assert!(!to_pretty_json(&doc).contains("ap-southeast-2"));
    }

    #[test]
    fn partition_drives_arns_and_service_endpoints() {
        let spec =
            PolicySpec { trusted_accounts: vec![TRUSTED.into()], services: vec![service("rds", None)], ..spec() };
        let cn = BuildContext { region: "cn-north-1", partition: "aws-cn", ..ctx() };
        let doc = build(&spec, &cn);
        assert_eq!(statement(&doc, "EnableRootAccess")["Principal"]["AWS"], "arn:aws-cn:iam::484357440923:root");
        assert_eq!(statement(&doc, "AllowTrustedAccountUse")["Principal"]["AWS"], "arn:aws-cn:iam::339712836516:root");
        assert_eq!(
            statement(&doc, "AllowUseViaRds")["Condition"]["StringEquals"]["kms:ViaService"],
            "rds.cn-north-1.amazonaws.com.cn"
        );
        let gov = BuildContext { region: "us-gov-west-1", partition: "aws-us-gov", ..ctx() };
        let doc = build(&spec, &gov);
        assert_eq!(
            statement(&doc, "AllowUseViaRds")["Condition"]["StringEquals"]["kms:ViaService"],
            "rds.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(statement(&doc, "EnableRootAccess")["Principal"]["AWS"], "arn:aws-us-gov:iam::484357440923:root");
    }

    #[test]
    fn extra_statements_are_appended_as_written() {
        let deny = json!({
            "Sid": "DenyOutsideOrg",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        });
        let anonymous = json!({"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"});
        let spec = PolicySpec {
            services: vec![service("rds", None)],
            statements: vec![typed(&deny), typed(&anonymous)],
            ..spec()
        };
        let doc = build(&spec, &ctx());
        let all = statements(&doc);
        assert_eq!(all.len(), 4);
        assert_eq!(all[1]["Sid"], "AllowUseViaRds");
        assert_eq!(all[2], deny);
        assert_eq!(all[3], anonymous);
    }

    #[test]
    fn everything_in_the_fixed_order() {
        let spec = PolicySpec {
            account_root: true,
            administrators: vec![ADMIN.into()],
            users: vec![USER.into()],
            trusted_accounts: vec![TRUSTED.into()],
            services: vec![service("rds", Some(&[TRUSTED])), service("logs", None)],
            statements: vec![typed(
                &json!({"Sid": "Extra", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}),
            )],
        };
        let doc = build(&spec, &ctx());
        assert_eq!(
            sids(&doc),
            [
                "EnableRootAccess",
                "AllowKeyAdministration",
                "AllowKeyUse",
                "AllowTrustedAccountUse",
                "AllowTrustedAccountGrants",
                "AllowUseViaRds",
                "AllowUseViaLogs",
                "Extra",
            ]
        );
        assert_eq!(doc["Version"], "2012-10-17");
        assert!(doc.get("Id").is_none());
    }

    #[test]
    fn duplicates_are_removed_keeping_first_occurrence() {
        let other = "arn:aws:iam::484357440923:role/Other";
        let spec = PolicySpec {
            administrators: vec![ADMIN.into(), other.into(), ADMIN.into()],
            users: vec![USER.into(), USER.into()],
            trusted_accounts: vec![TRUSTED.into(), TRUSTED.into()],
            services: vec![service("rds", Some(&[TRUSTED, OWNER, TRUSTED])), service("logs", None)],
            ..spec()
        };
        let doc = build(&spec, &ctx());
        assert_eq!(statement(&doc, "AllowKeyAdministration")["Principal"]["AWS"], json!([ADMIN, other]));
        assert_eq!(statement(&doc, "AllowKeyUse")["Principal"]["AWS"], json!(USER));
        assert_eq!(
            statement(&doc, "AllowTrustedAccountUse")["Principal"]["AWS"],
            json!("arn:aws:iam::339712836516:root")
        );
        assert_eq!(
            statement(&doc, "AllowUseViaRds")["Condition"]["StringEquals"]["kms:CallerAccount"],
            json!([TRUSTED, OWNER])
        );
        assert_eq!(
            statement(&doc, "AllowUseViaLogs")["Condition"]["StringEquals"]["kms:CallerAccount"],
            json!([OWNER, TRUSTED])
        );
    }

    #[test]
    fn owner_listed_as_trusted_is_not_repeated_in_caller_accounts() {
        let spec = PolicySpec { trusted_accounts: vec![OWNER.into()], services: vec![service("logs", None)], ..spec() };
        let doc = build(&spec, &ctx());
        assert_eq!(statement(&doc, "AllowUseViaLogs")["Condition"]["StringEquals"]["kms:CallerAccount"], json!(OWNER));
    }

    #[test]
    fn deterministic_down_to_the_bytes() {
        let make = || PolicySpec {
            account_root: true,
            administrators: vec![ADMIN.into(), "arn:aws:iam::484357440923:user/alice".into()],
            users: vec![USER.into()],
            trusted_accounts: vec![TRUSTED.into(), "111122223333".into()],
            services: vec![service("rds", None), service("secretsmanager", Some(&[TRUSTED]))],
            statements: vec![typed(
                &json!({"Sid": "X", "Effect": "Deny", "Principal": "*", "NotAction": ["kms:Decrypt"], "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": false}}}),
            )],
        };
        let first = to_pretty_json(&build(&make(), &ctx()));
        for _ in 0..5 {
            assert_eq!(to_pretty_json(&build(&make(), &ctx())), first);
        }
        // Round-tripping through text, as the policy does through KMS, changes nothing either.
        let reparsed: Value = serde_json::from_str(&first).expect("pretty output is JSON");
        assert_eq!(to_pretty_json(&reparsed), first);
    }

    #[test]
    fn spec_from_yaml_builds_the_documented_example() {
        let spec: PolicySpec = serde_yaml_ng::from_str(
            r#"
            accountRoot: true
            administrators: [arn:aws:iam::484357440923:role/PlatformKmsAdmin]
            users: [arn:aws:iam::339712836516:role/datamesh-ecs-task]
            trustedAccounts: ["339712836516"]
            services:
              - name: rds
                callerAccounts: ["339712836516"]
              - name: logs
            statements: []
            "#,
        )
        .expect("the API.md example parses");
        let doc = build(&spec, &ctx());
        assert_eq!(
            sids(&doc),
            [
                "EnableRootAccess",
                "AllowKeyAdministration",
                "AllowKeyUse",
                "AllowTrustedAccountUse",
                "AllowTrustedAccountGrants",
                "AllowUseViaRds",
                "AllowUseViaLogs",
            ]
        );
        assert_eq!(
            statement(&doc, "AllowUseViaLogs")["Condition"]["StringEquals"],
            json!({"kms:ViaService": "logs.ap-southeast-2.amazonaws.com", "kms:CallerAccount": [OWNER, TRUSTED]})
        );
    }

    #[test]
    fn service_sids_are_camel_case_and_alphanumeric() {
        assert_eq!(service_sid("rds"), "AllowUseViaRds");
        assert_eq!(service_sid("secretsmanager"), "AllowUseViaSecretsmanager");
        assert_eq!(service_sid("elastic-file-system"), "AllowUseViaElasticFileSystem");
        assert_eq!(service_sid("ec2"), "AllowUseViaEc2");
        assert_eq!(service_sid("a--b_c.d"), "AllowUseViaABCD");
        assert!(service_sid("elastic-file-system").chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn dns_suffixes_of_known_partitions() {
        assert_eq!(dns_suffix("aws"), "amazonaws.com");
        assert_eq!(dns_suffix("aws-us-gov"), "amazonaws.com");
        assert_eq!(dns_suffix("aws-cn"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("aws-iso"), "c2s.ic.gov");
        assert_eq!(dns_suffix("something-new"), "amazonaws.com");
    }
}
