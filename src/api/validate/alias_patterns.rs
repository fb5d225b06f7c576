//! Rules on an account's `permissions.aliasNames`: each pattern must be able to match an alias
//! name, and no namespace's names may fall under another namespace's pattern.

use super::issue::{Issues, quote};
use super::names::first_bad_alias_char;
use super::path;
use crate::api::tenancy::NAMESPACE_PLACEHOLDER;

/// Characters a namespace name may hold (a DNS label), so a pattern knows where one ends.
fn in_namespace_alphabet(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

pub(crate) fn check_alias_patterns(issues: &mut Issues, field: &str, patterns: &[String]) {
    for (i, pattern) in patterns.iter().enumerate() {
        let at = path::item(field, i);
        if !pattern.starts_with("alias/") || pattern == "alias/" {
            issues.add(
                &at,
                format!("{} does not start with alias/ and a name", quote(pattern)),
                "write a pattern such as alias/{namespace}/*",
            );
            continue;
        }
        let literal = pattern.replace(NAMESPACE_PLACEHOLDER, "").replace('*', "");
        if let Some(bad) = first_bad_alias_char(&literal) {
            issues.add(
                &at,
                format!("{} contains {bad:?}, which no alias name can hold", quote(pattern)),
                "use letters, digits, '/', '_' and '-', with * for any run of characters and {namespace} for the namespace",
            );
            continue;
        }
        if let Some(problem) = overlap(pattern) {
            issues.add(
                &at,
                format!("{}: {problem}, so one namespace could take names meant for another", quote(pattern)),
                "put {namespace} before any *, and follow it by '/' or '_' before the next * (alias/{namespace}/*)",
            );
        }
    }
}

/// Why two namespaces could both match one name under `pattern`: a `*` before `{namespace}`
/// (it can stand for the start of a longer namespace), or only namespace characters between
/// `{namespace}` and the next `*` (`alias/{namespace}-*` lets namespace `a` take `alias/a-b-x`,
/// which is namespace `a-b`'s). The first `{namespace}` decides: once it is closed off, names
/// of different namespaces differ there.
fn overlap(pattern: &str) -> Option<&'static str> {
    let at = pattern.find(NAMESPACE_PLACEHOLDER)?;
    if pattern[..at].contains('*') {
        return Some("a * comes before {namespace}");
    }
    let rest = &pattern[at + NAMESPACE_PLACEHOLDER.len()..];
    let between = rest.find('*').map(|star| rest[..star].replace(NAMESPACE_PLACEHOLDER, ""));
    between
        .filter(|between| between.chars().all(in_namespace_alphabet))
        .map(|_| "between {namespace} and the next * there is no '/' or '_' to end the namespace")
}

#[cfg(test)]
mod tests {
    use super::super::testing::{account, assert_clean, assert_issue};
    use super::super::validate_account;

    const ACCOUNT: &str = "AwsAccount core-security";

    fn with_patterns(patterns: &str) -> Vec<super::super::Issue> {
        validate_account(&account(&format!(
            "{{accountId: '484357440923', region: us-east-1, permissions: {{aliasNames: {patterns}}}}}"
        )))
    }

    #[test]
    fn patterns_that_keep_namespaces_apart_are_valid() {
        assert_clean(&with_patterns(
            "['alias/{namespace}/*', 'alias/{namespace}_*', 'alias/app-{namespace}', 'alias/shared/*', 'alias/x/{namespace}/y/*', 'alias/{namespace}/*/{namespace}']",
        ));
        assert_clean(&with_patterns("[]"));
    }

    #[test]
    fn a_pattern_must_be_an_alias_name() {
        let issues = with_patterns("['logs/*', 'alias/', 'alias/{namespace}/a.b*']");
        let field = "spec.permissions.aliasNames";
        assert_issue(&issues, ACCOUNT, &format!("{field}[0]"), &["does not start with alias/"], "alias/{namespace}/*");
        assert_issue(&issues, ACCOUNT, &format!("{field}[1]"), &["does not start with alias/"], "alias/{namespace}/*");
        assert_issue(&issues, ACCOUNT, &format!("{field}[2]"), &["'.'", "no alias name"], "letters, digits");
    }

    #[test]
    fn patterns_where_one_namespace_reaches_into_another_are_refused() {
        let issues = with_patterns(
            "['alias/{namespace}-*', 'alias/*/{namespace}/x', 'alias/{namespace}*', 'alias/{namespace}{namespace}*']",
        );
        let field = "spec.permissions.aliasNames";
        assert_issue(&issues, ACCOUNT, &format!("{field}[0]"), &["no '/' or '_'"], "follow it by '/' or '_'");
        assert_issue(&issues, ACCOUNT, &format!("{field}[1]"), &["a * comes before {namespace}"], "before any *");
        assert_issue(&issues, ACCOUNT, &format!("{field}[2]"), &["no '/' or '_'"], "(alias/{namespace}/*)");
        assert_issue(&issues, ACCOUNT, &format!("{field}[3]"), &["no '/' or '_'"], "before any *");
    }
}
