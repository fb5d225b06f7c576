//! Which alias names a namespace may create or repoint: `permissions.aliasNames`. Without it
//! alias names are first come, first served across namespaces, so one team could take the name
//! another team's applications use (and have them encrypt under its key).

use super::Refusal;
use super::principals::{Permitted, Refusals};
use super::wildcard::{Wildcards, matches};
use crate::api::ObjectName;

/// Stands for the object's namespace in an `aliasNames` pattern.
pub const NAMESPACE_PLACEHOLDER: &str = "{namespace}";

/// The patterns an alias of `namespace` must match, `{namespace}` filled in; `None` when the
/// account sets no `aliasNames` (any name).
pub fn alias_patterns_for(permitted: Permitted<'_>, namespace: &str) -> Option<Vec<String>> {
    let patterns = permitted.spec.permissions.as_ref()?.alias_names.as_ref()?;
    Some(patterns.iter().map(|p| p.replace(NAMESPACE_PLACEHOLDER, namespace)).collect())
}

/// Refuses an alias name that matches none of the account's `aliasNames` for the object's
/// namespace.
pub fn check_alias_name(object: &ObjectName, name: &str, permitted: Permitted<'_>) -> Vec<Refusal> {
    let namespace = object.namespace.as_deref().unwrap_or("default");
    let Some(patterns) = alias_patterns_for(permitted, namespace) else {
        return Vec::new();
    };
    if patterns.iter().any(|pattern| matches(pattern, name, Wildcards::Star)) {
        return Vec::new();
    }
    let mut out = Refusals::new(object, permitted);
    let (problem, fix) = if patterns.is_empty() {
        (
            format!(
                "alias {name} may not be created: AwsAccount {}'s spec.permissions.aliasNames is empty, which allows no alias name",
                permitted.account
            ),
            format!(
                "ask the platform team to add a pattern to spec.permissions.aliasNames of AwsAccount {}",
                permitted.account
            ),
        )
    } else {
        (
            format!(
                "alias {name} matches none of the names AwsAccount {} lets namespace {namespace} use (spec.permissions.aliasNames: {})",
                permitted.account,
                patterns.join(", ")
            ),
            format!("choose a name matching {}; names outside it are other namespaces' to use", patterns.join(" or ")),
        )
    };
    out.add("spec.name", problem, fix);
    out.list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tenancy::Reason;
    use crate::api::{AwsAccountSpec, Kind};

    fn account(alias_names: serde_json::Value) -> AwsAccountSpec {
        let mut spec = serde_json::json!({"accountId": "484357440923", "region": "eu-west-1"});
        if !alias_names.is_null() {
            spec["permissions"] = serde_json::json!({"aliasNames": alias_names});
        }
        serde_json::from_value(spec).unwrap()
    }

    fn check(namespace: &str, name: &str, spec: &AwsAccountSpec) -> Vec<Refusal> {
        let object = ObjectName::new(Kind::KmsAlias, Some(namespace), "a");
        check_alias_name(&object, name, Permitted { account: "sec", spec })
    }

    #[test]
    fn without_alias_names_any_name_goes() {
        assert!(check("team-b", "alias/team-a-logs", &account(serde_json::Value::Null)).is_empty());
    }

    #[test]
    fn a_namespace_may_use_only_names_under_its_own_patterns() {
        let spec = account(serde_json::json!(["alias/{namespace}/*", "alias/shared-{namespace}"]));
        assert!(check("team-b", "alias/team-b/logs", &spec).is_empty());
        assert!(check("team-b", "alias/shared-team-b", &spec).is_empty());
        let refused = check("team-b", "alias/team-a/logs", &spec);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].reason, Reason::NotPermitted);
        assert_eq!(refused[0].issue.field, "spec.name");
        let text = refused[0].issue.to_string();
        assert!(text.contains("alias/team-b/*, alias/shared-team-b"), "{text}");
        assert!(text.contains("choose a name matching alias/team-b/* or alias/shared-team-b"), "{text}");
        assert!(!check("team-a-x", "alias/team-a/logs", &spec).is_empty(), "a namespace is matched whole");
    }

    #[test]
    fn an_empty_list_allows_no_name() {
        let refused = check("team-b", "alias/team-b/logs", &account(serde_json::json!([])));
        assert!(refused[0].issue.problem.contains("allows no alias name"), "{}", refused[0].issue);
    }
}
