//! Principals KMS rewrote: when an IAM role or user named in a key policy is deleted, KMS shows
//! its unique id (`AROA…` for a role, `AIDA…` for a user) in place of the ARN, and refuses any
//! policy that names the deleted ARN. Finding them lets a plan say so, instead of retrying a
//! policy KMS will keep refusing.

use serde_json::Value;

use crate::api::iam;

/// Unique-id prefixes of IAM roles and users.
const UNIQUE_ID_PREFIXES: [&str; 2] = ["AROA", "AIDA"];

/// A principal a policy statement names by the unique id of a deleted IAM role or user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedPrincipal {
    /// The statement's Sid, or its position (`Statement[2]`) when it has none.
    pub statement: String,
    pub unique_id: String,
}

/// Whether `principal` is an IAM unique id rather than an ARN or an account.
pub fn is_unique_id(principal: &str) -> bool {
    principal.len() >= 16
        && UNIQUE_ID_PREFIXES.iter().any(|p| principal.starts_with(p))
        && principal.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Every AWS principal of `policy` shown as a unique id, in statement order.
pub fn deleted_principals(policy: &Value) -> Vec<DeletedPrincipal> {
    let mut found = Vec::new();
    for statement in iam::statements(policy) {
        let name = statement
            .sid()
            .filter(|s| !s.is_empty())
            .map_or_else(|| format!("Statement[{}]", statement.index), str::to_owned);
        let named = statement.principals().into_iter().chain(statement.not_principals());
        found.extend(
            named
                .filter(|principal| principal.kind == "AWS")
                .filter_map(|principal| principal.text())
                .filter(|id| is_unique_id(id))
                .map(|id| DeletedPrincipal { statement: name.clone(), unique_id: id.to_owned() }),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unique_ids_of_roles_and_users_are_found_by_statement() {
        let policy = json!({"Statement": [
            {"Sid": "Admins", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/Admin", "AROAEXAMPLEID123456789"]}},
            {"Principal": {"AWS": "AIDAEXAMPLEUSER1234567"}},
            {"Sid": "Root", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}},
            {"Sid": "Svc", "Principal": {"Service": "AROAEXAMPLEID123456789"}},
        ]});
        assert_eq!(
            deleted_principals(&policy),
            vec![
                DeletedPrincipal { statement: "Admins".into(), unique_id: "AROAEXAMPLEID123456789".into() },
                DeletedPrincipal { statement: "Statement[1]".into(), unique_id: "AIDAEXAMPLEUSER1234567".into() },
            ]
        );
    }

    #[test]
    fn arns_accounts_and_wildcards_are_not_unique_ids() {
        for principal in ["*", "111122223333", "arn:aws:iam::111122223333:role/AROA", "AROA", "aroaexampleid123456789"]
        {
            assert!(!is_unique_id(principal), "{principal}");
        }
        assert!(deleted_principals(&json!({"Statement": {"Principal": {"AWS": "*"}}})).is_empty());
        assert!(deleted_principals(&json!("not a policy")).is_empty());
    }
}
