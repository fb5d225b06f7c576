//! Rules on an `AwsAccount`: identity, region, role, endpoint, namespace selectors and alias name
//! patterns.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::Issue;
use super::alias_patterns::check_alias_patterns;
use super::issue::{Issues, quote};
use super::meta::issues_for;
use super::names::{check_region, is_account_id, parse_role_arn};
use super::path;
use crate::api::{AwsAccount, Kind};

pub fn validate_account(account: &AwsAccount) -> Vec<Issue> {
    let mut issues = issues_for(Kind::AwsAccount, &account.metadata);
    let spec = &account.spec;

    if !is_account_id(&spec.account_id) {
        issues.add(
            "spec.accountId",
            format!("{} is not a 12-digit AWS account id", quote(&spec.account_id)),
            "write the account id as 12 digits in quotes, e.g. accountId: \"111122223333\"",
        );
    }
    check_region(&mut issues, "spec.region", &spec.region);

    if let Some(role) = &spec.assume_role_arn {
        match parse_role_arn(role) {
            None => issues.add(
                "spec.assumeRoleArn",
                format!("{} is not an IAM role ARN", quote(role)),
                "use arn:aws:iam::<account id>:role/<name>",
            ),
            // Keys are created in the account whose credentials call KMS: after assuming the
            // role that is the role's account, so it must be the one declared here.
            Some(arn) if is_account_id(&spec.account_id) && arn.account != spec.account_id => issues.add(
                "spec.assumeRoleArn",
                format!(
                    "is a role in account {}, but spec.accountId is {}",
                    quote(arn.account),
                    quote(&spec.account_id)
                ),
                "assume a role in the account that holds the keys, or correct spec.accountId",
            ),
            Some(_) => {}
        }
    }
    if spec.external_id.is_some() && spec.assume_role_arn.is_none() {
        issues.add(
            "spec.externalId",
            "is set without spec.assumeRoleArn; an external id only applies when assuming a role",
            "add spec.assumeRoleArn, or remove spec.externalId",
        );
    }
    let endpoints = [
        ("spec.endpointUrl", &spec.endpoint_url, "https://kms.us-east-1.amazonaws.com"),
        ("spec.stsEndpointUrl", &spec.sts_endpoint_url, "https://sts.us-east-1.amazonaws.com"),
    ];
    for (field, url, example) in endpoints {
        if let Some(url) = url
            && !is_http_url(url)
        {
            issues.add(
                field,
                format!("{} is not an http(s) URL", quote(url)),
                format!("use a URL such as {example} or http://127.0.0.1:5000"),
            );
        }
    }

    if let Some(selector) = &spec.allowed_namespaces {
        check_selector(&mut issues, "spec.allowedNamespaces", selector);
    }
    if let Some(permissions) = &spec.permissions {
        for (i, id) in permissions.principal_accounts.iter().enumerate() {
            if !is_account_id(id) {
                issues.add(
                    path::item("spec.permissions.principalAccounts", i),
                    format!("{} is not a 12-digit AWS account id", quote(id)),
                    "write the account id as 12 digits in quotes, e.g. \"111122223333\"",
                );
            }
        }
        if let Some(selector) = &permissions.adoption_namespaces {
            check_selector(&mut issues, "spec.permissions.adoptionNamespaces", selector);
        }
        if let Some(patterns) = &permissions.alias_names {
            check_alias_patterns(&mut issues, "spec.permissions.aliasNames", patterns);
        }
    }
    if let Some(monitoring) = &spec.monitoring {
        super::monitoring::check_account_monitoring(&mut issues, spec, monitoring);
    }
    issues.into_vec()
}

/// A label selector's expressions must use the operators Kubernetes knows, with values exactly
/// where the operator takes them.
fn check_selector(issues: &mut Issues, field: &str, selector: &LabelSelector) {
    let expressions = selector.match_expressions.as_deref().unwrap_or_default();
    for (i, expression) in expressions.iter().enumerate() {
        let at = path::item(&path::child(field, "matchExpressions"), i);
        let values = expression.values.as_deref().unwrap_or_default();
        match expression.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => issues.add(
                path::child(&at, "values"),
                format!("is empty, but operator {} needs at least one value", expression.operator),
                "list the label values to match",
            ),
            "Exists" | "DoesNotExist" if !values.is_empty() => issues.add(
                path::child(&at, "values"),
                format!("is set, but operator {} takes no values", expression.operator),
                "remove values",
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => issues.add(
                path::child(&at, "operator"),
                format!("{} is not a label selector operator", quote(other)),
                "use In, NotIn, Exists or DoesNotExist",
            ),
        }
    }
}

fn is_http_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty() && !host.starts_with(':') && !url.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{account, assert_clean, assert_issue};
    use super::*;

    const ACCOUNT: &str = "AwsAccount core-security";

    #[test]
    fn the_api_example_is_valid() {
        assert_clean(&validate_account(&account(
            r#"
accountId: "484357440923"
region: ap-southeast-2
assumeRoleArn: arn:aws:iam::484357440923:role/kms-operator
externalId: "abc"
endpointUrl: http://127.0.0.1:5000
stsEndpointUrl: ""
verifyAccount: true
allowedNamespaces:
  matchLabels: {kmsoperator.dev/tenant: platform}
  matchExpressions: [{key: team, operator: In, values: [a]}]
permissions:
  principalAccounts: ["339712836516"]
  adoptionNamespaces:
    matchLabels: {kmsoperator.dev/tenant: platform}
  bypassPolicyLockoutSafetyCheck: false
  aliasNames: ["alias/{namespace}/*"]
  delegateGrants: false
"#,
        )));
    }

    #[test]
    fn account_id_must_be_twelve_digits() {
        let issues = validate_account(&account("{accountId: '48435744092', region: us-east-1}"));
        assert_issue(&issues, ACCOUNT, "spec.accountId", &["\"48435744092\" is not a 12-digit"], "12 digits in quotes");
    }

    #[test]
    fn region_must_look_like_a_region() {
        let issues = validate_account(&account("{accountId: '484357440923', region: Sydney}"));
        assert_issue(&issues, ACCOUNT, "spec.region", &["\"Sydney\" is not an AWS region"], "ap-southeast-2");
    }

    #[test]
    fn assume_role_arn_must_be_a_role_in_the_account() {
        let issues = validate_account(&account(
            "{accountId: '484357440923', region: us-east-1, assumeRoleArn: 'arn:aws:iam::484357440923:user/ops'}",
        ));
        assert_issue(&issues, ACCOUNT, "spec.assumeRoleArn", &["not an IAM role ARN"], "role/<name>");
        let issues = validate_account(&account(
            "{accountId: '484357440923', region: us-east-1, assumeRoleArn: 'arn:aws:iam::111122223333:role/ops'}",
        ));
        assert_issue(
            &issues,
            ACCOUNT,
            "spec.assumeRoleArn",
            &["\"111122223333\"", "\"484357440923\""],
            "account that holds the keys",
        );
    }

    #[test]
    fn external_id_without_role() {
        let issues = validate_account(&account("{accountId: '484357440923', region: us-east-1, externalId: secret}"));
        assert_issue(&issues, ACCOUNT, "spec.externalId", &["without spec.assumeRoleArn"], "add spec.assumeRoleArn");
    }

    #[test]
    fn endpoints_must_be_http_or_https() {
        for field in ["endpointUrl", "stsEndpointUrl"] {
            for bad in ["127.0.0.1:5000", "ftp://host", "http://", "http:// x"] {
                let issues = validate_account(&account(&format!(
                    "{{accountId: '484357440923', region: us-east-1, {field}: '{bad}'}}"
                )));
                assert_issue(&issues, ACCOUNT, &format!("spec.{field}"), &[&quote(bad)], "http://127.0.0.1:5000");
            }
        }
    }

    #[test]
    fn namespace_on_the_cluster_scoped_kind() {
        let mut a = account("{accountId: '484357440923', region: us-east-1}");
        a.metadata.namespace = Some("platform-kms".into());
        let issues = validate_account(&a);
        assert_issue(
            &issues,
            ACCOUNT,
            "metadata.namespace",
            &["cluster-scoped", "\"platform-kms\""],
            "remove metadata.namespace",
        );
    }

    #[test]
    fn permissions_name_accounts_and_a_valid_selector() {
        let issues = validate_account(&account(
            "{accountId: '484357440923', region: us-east-1, permissions: {principalAccounts: ['339712836516', '33971283651'], adoptionNamespaces: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}}",
        ));
        assert_issue(
            &issues,
            ACCOUNT,
            "spec.permissions.principalAccounts[1]",
            &["\"33971283651\" is not a 12-digit"],
            "12 digits",
        );
        assert_issue(
            &issues,
            ACCOUNT,
            "spec.permissions.adoptionNamespaces.matchExpressions[0].values",
            &["takes no values"],
            "remove values",
        );
        assert_eq!(issues.len(), 2, "{issues:?}");
    }

    #[test]
    fn selector_operators() {
        let issues = validate_account(&account(
            "{accountId: '484357440923', region: us-east-1, allowedNamespaces: {matchExpressions: [{key: a, operator: Equals, values: [x]}, {key: b, operator: In}]}}",
        ));
        assert_issue(
            &issues,
            ACCOUNT,
            "spec.allowedNamespaces.matchExpressions[0].operator",
            &["\"Equals\""],
            "In, NotIn, Exists or DoesNotExist",
        );
        assert_issue(
            &issues,
            ACCOUNT,
            "spec.allowedNamespaces.matchExpressions[1].values",
            &["needs at least one value"],
            "label values",
        );
    }
}
