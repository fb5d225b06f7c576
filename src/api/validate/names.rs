//! Shapes of the identifiers KMS and IAM accept: account ids, regions, ARNs, key ids, and the
//! character sets of alias and grant names, plus Kubernetes object names.

use super::issue::{Issues, quote};

/// A 12-digit AWS account id.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// `^[a-z]{2}(-[a-z]+)+-\d+$`, e.g. `ap-southeast-2`, `us-gov-west-1`.
pub fn is_region(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    match parts.as_slice() {
        [first, middle @ .., last] if !middle.is_empty() => {
            first.len() == 2
                && lower(first)
                && middle.iter().all(|m| lower(m))
                && !last.is_empty()
                && last.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// The six parts of `arn:partition:service:region:account:resource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub fn parse_arn(value: &str) -> Option<Arn<'_>> {
    let mut parts = value.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let arn = Arn {
        partition: parts.next()?,
        service: parts.next()?,
        region: parts.next()?,
        account: parts.next()?,
        resource: parts.next()?,
    };
    let partition_ok = arn.partition == "aws"
        || (arn.partition.starts_with("aws-") && arn.partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    let service_ok = !arn.service.is_empty()
        && arn.service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let no_space = !value.chars().any(char::is_whitespace);
    (partition_ok && service_ok && !arn.resource.is_empty() && no_space).then_some(arn)
}

/// An IAM principal a policy or grant can name: a role, user or account root
/// (`iam`), or an assumed-role or federated session (`sts`), in a 12-digit account.
/// An ARN a key policy or a grant accepts as an AWS principal: an account root, a user, a
/// role, an assumed-role session or a federated user. Not an IAM group, which no resource
/// policy can name, and no wildcard, which KMS rejects in a principal ARN.
pub fn is_principal_arn(value: &str) -> bool {
    principal_arn_problem(value).is_none()
}

/// Why `value` is not a principal ARN, with the fix, for the messages of both kinds.
pub fn principal_arn_problem(value: &str) -> Option<(String, &'static str)> {
    if value.contains(['*', '?']) && value.starts_with("arn:") {
        return Some((
            format!("{value:?} has a wildcard, which KMS does not allow in a principal ARN"),
            "name each principal; to match many roles, add a statement with a Condition on aws:PrincipalArn instead",
        ));
    }
    if parse_arn(value).is_some_and(|arn| arn.service == "iam" && arn.resource.starts_with("group/")) {
        return Some((
            format!("{value:?} is an IAM group, which a key policy or grant cannot name as a principal"),
            "name the group's roles or users, or give the group access through an IAM policy allowed by the key policy",
        ));
    }
    (!is_plain_principal_arn(value)).then(|| {
        (
            format!("{value:?} is not an IAM principal ARN"),
            "use a role, user or account root ARN such as arn:aws:iam::111122223333:role/Name (whole accounts of a key policy go in trustedAccounts)",
        )
    })
}

fn is_plain_principal_arn(value: &str) -> bool {
    parse_arn(value).is_some_and(|arn| {
        arn.region.is_empty()
            && is_account_id(arn.account)
            && match arn.service {
                "iam" => {
                    arn.resource == "root"
                        || ["user/", "role/"]
                            .iter()
                            .any(|p| arn.resource.len() > p.len() && arn.resource.starts_with(p))
                }
                "sts" => ["assumed-role/", "federated-user/"]
                    .iter()
                    .any(|p| arn.resource.len() > p.len() && arn.resource.starts_with(p)),
                _ => false,
            }
    })
}

/// `arn:<partition>:iam::<account>:role/<path/name>`.
pub fn parse_role_arn(value: &str) -> Option<Arn<'_>> {
    parse_arn(value).filter(|arn| {
        arn.service == "iam"
            && arn.region.is_empty()
            && is_account_id(arn.account)
            && arn.resource.len() > "role/".len()
            && arn.resource.starts_with("role/")
    })
}

/// A KMS key id: a UUID, or `mrk-` and 32 hex digits for multi-Region keys. KMS-compatible
/// servers (moto) write the multi-Region form as `mrk-` and a dashed UUID, which is accepted too
/// so that their keys can be adopted.
pub fn is_key_id(value: &str) -> bool {
    if let Some(rest) = value.strip_prefix("mrk-") {
        return (rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit())) || is_uuid(rest);
    }
    is_uuid(value)
}

fn is_uuid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How an existing key is named: its id, or its ARN (which also fixes account and region).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyTarget<'a> {
    pub key_id: &'a str,
    pub arn: Option<Arn<'a>>,
}

impl KeyTarget<'_> {
    pub fn is_multi_region(&self) -> bool {
        self.key_id.starts_with("mrk-")
    }
}

/// A key id or `arn:<partition>:kms:<region>:<account>:key/<key id>`.
pub fn parse_key_target(value: &str) -> Option<KeyTarget<'_>> {
    if is_key_id(value) {
        return Some(KeyTarget { key_id: value, arn: None });
    }
    let arn = parse_arn(value)?;
    let key_id = arn.resource.strip_prefix("key/")?;
    (arn.service == "kms" && is_region(arn.region) && is_account_id(arn.account) && is_key_id(key_id))
        .then_some(KeyTarget { key_id, arn: Some(arn) })
}

/// The first character KMS does not allow in an alias name (`[A-Za-z0-9/_-]`).
pub fn first_bad_alias_char(name: &str) -> Option<char> {
    name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-')))
}

/// The first character KMS does not allow in a grant name (`[a-zA-Z0-9:/_-]`).
pub fn first_bad_grant_name_char(name: &str) -> Option<char> {
    name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-')))
}

/// A DNS-1123 subdomain, the rule Kubernetes applies to custom resource names.
pub fn is_dns_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_label_body) && !value.is_empty()
}

/// A DNS-1123 label, the rule Kubernetes applies to namespace names.
pub fn is_dns_label(value: &str) -> bool {
    value.len() <= 63 && is_label_body(value)
}

fn is_label_body(value: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b == b'-'),
        _ => false,
    }
}

/// Reports `region` at `field` unless it looks like an AWS region.
pub(crate) fn check_region(issues: &mut Issues, field: &str, region: &str) {
    if !is_region(region) {
        issues.add(
            field,
            format!("{} is not an AWS region", quote(region)),
            "use a region code such as us-east-1 or ap-southeast-2",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("484357440923"));
        assert!(!is_account_id("48435744092"));
        assert!(!is_account_id("48435744092a"));
        assert!(!is_account_id("4843574409231"));
    }

    #[test]
    fn regions_follow_the_aws_pattern() {
        for ok in ["ap-southeast-2", "us-east-1", "us-gov-west-1", "eu-central-2"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in ["us-east", "US-east-1", "useast1", "us--1", "u-east-1", "us-east-1a", ""] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn principal_arns_are_iam_or_sts_in_an_account() {
        assert!(is_principal_arn("arn:aws:iam::484357440923:role/PlatformKmsAdmin"));
        assert!(is_principal_arn("arn:aws:iam::484357440923:root"));
        assert!(is_principal_arn("arn:aws-cn:iam::484357440923:user/ops/alice"));
        assert!(is_principal_arn("arn:aws:sts::484357440923:assumed-role/Admin/session"));
        assert!(!is_principal_arn("*"));
        assert!(!is_principal_arn("PlatformKmsAdmin"));
        assert!(!is_principal_arn("arn:aws:iam::48435744092:role/x"));
        assert!(!is_principal_arn("arn:aws:kms:us-east-1:484357440923:key/x"));
        assert!(!is_principal_arn("arn:aws:iam::484357440923:role/"));
    }

    #[test]
    fn groups_and_wildcards_are_not_principals() {
        let (problem, fix) = principal_arn_problem("arn:aws:iam::484357440923:group/admins").expect("a group");
        assert!(problem.contains("is an IAM group"), "{problem}");
        assert!(fix.contains("IAM policy"), "{fix}");
        let (problem, fix) = principal_arn_problem("arn:aws:iam::484357440923:role/*").expect("a wildcard");
        assert!(problem.contains("has a wildcard"), "{problem}");
        assert!(fix.contains("aws:PrincipalArn"), "{fix}");
        assert!(!is_principal_arn("arn:aws:iam::484357440923:oidc-provider/example.com"));
    }

    #[test]
    fn role_arns_need_iam_role() {
        assert!(parse_role_arn("arn:aws:iam::484357440923:role/kms-operator").is_some());
        assert!(parse_role_arn("arn:aws:iam::484357440923:user/kms-operator").is_none());
        assert!(parse_role_arn("kms-operator").is_none());
    }

    #[test]
    fn key_targets_are_ids_or_key_arns() {
        let uuid = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(parse_key_target(uuid).map(|t| t.key_id), Some(uuid));
        let mrk = "mrk-1234abcd12ab34cd56ef1234567890ab";
        assert!(parse_key_target(mrk).is_some_and(|t| t.is_multi_region()));
        let dashed = "mrk-427f2aab-d411-4bdb-a884-b8ce5cf3f92f";
        assert!(parse_key_target(dashed).is_some_and(|t| t.is_multi_region()), "the form moto issues");
        assert!(parse_key_target("mrk-427f2aab-d411-4bdb-a884").is_none());
        let arn = format!("arn:aws:kms:us-west-2:111122223333:key/{uuid}");
        let target = parse_key_target(&arn).expect("a key ARN");
        assert_eq!(target.arn.map(|a| a.region), Some("us-west-2"));
        assert!(parse_key_target("alias/foo").is_none());
        assert!(parse_key_target("1234abcd").is_none());
        assert!(parse_key_target("arn:aws:kms:us-west-2:111122223333:alias/foo").is_none());
        assert!(parse_key_target("mrk-123").is_none());
    }

    #[test]
    fn name_character_sets() {
        assert_eq!(first_bad_alias_char("alias/app_1-x/y"), None);
        assert_eq!(first_bad_alias_char("alias/app.key"), Some('.'));
        assert_eq!(first_bad_grant_name_char("s3:replication/x_y-z"), None);
        assert_eq!(first_bad_grant_name_char("s3 replication"), Some(' '));
    }

    #[test]
    fn kubernetes_names() {
        assert!(is_dns_subdomain("datamesh-manager.prod"));
        assert!(!is_dns_subdomain("Datamesh"));
        assert!(!is_dns_subdomain("-x"));
        assert!(!is_dns_subdomain(""));
        assert!(is_dns_label("platform-kms"));
        assert!(!is_dns_label("platform.kms"));
    }
}
