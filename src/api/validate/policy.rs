//! Key policy rules: the `policy` builder's inputs and raw `policyDocument` text.

use serde_json::Value;

use super::issue::{Issues, quote};
use super::names::{is_account_id, principal_arn_problem};
use super::path;
use crate::api::PolicySpec;
use crate::api::catalog::MAX_POLICY_BYTES;

const DOCUMENT: &str = "spec.policyDocument";

pub(crate) fn check_policy_spec(issues: &mut Issues, field: &str, policy: &PolicySpec) {
    if !policy.account_root && policy.administrators.is_empty() {
        issues.add(
            path::child(field, "accountRoot"),
            "is false and no administrators are listed, so nobody could administer the key",
            format!(
                "set accountRoot: true, or list at least one IAM principal ARN in {}",
                path::child(field, "administrators")
            ),
        );
    }
    for (list, principals) in [("administrators", &policy.administrators), ("users", &policy.users)] {
        let list = path::child(field, list);
        for (i, principal) in principals.iter().enumerate() {
            if let Some((problem, fix)) = principal_arn_problem(principal) {
                issues.add(path::item(&list, i), problem, fix);
            }
        }
    }
    check_account_ids(issues, &path::child(field, "trustedAccounts"), &policy.trusted_accounts);

    let services = path::child(field, "services");
    for (i, service) in policy.services.iter().enumerate() {
        let at = path::item(&services, i);
        let name_ok = service.name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && service.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            issues.add(
                path::child(&at, "name"),
                format!("{} is not a service name", quote(&service.name)),
                "use the service's endpoint prefix, e.g. rds, logs or secretsmanager (it becomes <name>.<region>.amazonaws.com)",
            );
        }
        if let Some(callers) = &service.caller_accounts {
            check_account_ids(issues, &path::child(&at, "callerAccounts"), callers);
        }
    }

    let statements = path::child(field, "statements");
    let mut bytes = 0;
    for (i, statement) in policy.statements.iter().enumerate() {
        let json = statement.to_json();
        bytes += json.to_string().len();
        check_statement(issues, &path::item(&statements, i), "statement", &json);
    }
    // The builder adds its own statements: these alone already tell whether the policy fits.
    if bytes > MAX_POLICY_BYTES {
        issues.add(
            statements,
            format!("take {bytes} bytes, more than the {MAX_POLICY_BYTES} bytes KMS allows a whole key policy"),
            "shorten the statements: merge them, or move per-principal access into IAM policies or KmsGrants",
        );
    }
}

fn check_account_ids(issues: &mut Issues, field: &str, ids: &[String]) {
    for (i, id) in ids.iter().enumerate() {
        if !is_account_id(id) {
            issues.add(
                path::item(field, i),
                format!("{} is not a 12-digit AWS account id", quote(id)),
                "write the account id as 12 digits in quotes, e.g. \"111122223333\"",
            );
        }
    }
}

pub(crate) fn check_policy_document(issues: &mut Issues, text: &str) {
    if text.len() > MAX_POLICY_BYTES {
        issues.add(
            DOCUMENT,
            format!("is {} bytes, over the KMS limit of {MAX_POLICY_BYTES} bytes", text.len()),
            "shorten the policy: merge statements, or move per-principal access into IAM policies or KmsGrants",
        );
    }
    let document: Value = match serde_json::from_str(text) {
        Ok(document) => document,
        Err(err) => {
            issues.add(
                DOCUMENT,
                format!("is not valid JSON: {err}"),
                "correct the JSON at that line and column of the document; a literal block (policyDocument: |) keeps it verbatim",
            );
            return;
        }
    };
    let Some(document) = document.as_object() else {
        issues.add(
            DOCUMENT,
            format!("is a JSON {}, not a policy object", json_type(&document)),
            "write a JSON object: {\"Version\": \"2012-10-17\", \"Statement\": [...]}",
        );
        return;
    };
    let statements: Vec<&Value> = match document.get("Statement") {
        None => {
            issues.add(
                DOCUMENT,
                "has no Statement",
                "add \"Statement\": [...] with at least one statement that lets an administrator manage the key",
            );
            return;
        }
        Some(Value::Array(list)) => list.iter().collect(),
        // IAM accepts a lone statement object in place of a list.
        Some(single) => vec![single],
    };
    if statements.is_empty() {
        issues.add(
            DOCUMENT,
            "has an empty Statement list, which would lock everyone out of the key",
            "add at least one statement that lets an administrator manage the key",
        );
    }
    for (i, statement) in statements.into_iter().enumerate() {
        check_statement(issues, DOCUMENT, &format!("Statement[{i}]"), statement);
    }
}

/// A statement must be an object with the elements KMS requires of key policy statements, and
/// may not open the key to every AWS principal unless a condition narrows it.
fn check_statement(issues: &mut Issues, field: &str, label: &str, statement: &Value) {
    let Some(body) = statement.as_object() else {
        issues.add(
            field,
            format!("{label} is a JSON {}, not an object", json_type(statement)),
            "write each statement as an object with Effect, Principal, Action and Resource",
        );
        return;
    };
    let named = match body.get("Sid").and_then(Value::as_str) {
        Some(sid) => format!("{label} (Sid {})", quote(sid)),
        None => format!("{label} (no Sid)"),
    };

    let effect = body.get("Effect");
    match effect.and_then(Value::as_str) {
        Some("Allow" | "Deny") => {}
        Some(other) => issues.add(
            field,
            format!("{named} has Effect {}, which is neither Allow nor Deny", quote(other)),
            "set \"Effect\": \"Allow\" or \"Effect\": \"Deny\" (case matters)",
        ),
        None => {
            issues.add(field, format!("{named} has no Effect"), "add \"Effect\": \"Allow\" or \"Effect\": \"Deny\"")
        }
    }
    for (element, alternative) in [("Principal", "NotPrincipal"), ("Action", "NotAction"), ("Resource", "NotResource")]
    {
        if !body.contains_key(element) && !body.contains_key(alternative) {
            let example = match element {
                "Principal" => "\"Principal\": {\"AWS\": \"arn:aws:iam::111122223333:role/Name\"}",
                "Action" => "\"Action\": \"kms:Decrypt\"",
                _ => "\"Resource\": \"*\" (in a key policy it always means this key)",
            };
            issues.add(
                field,
                format!("{named} has no {element}, which KMS requires in key policy statements"),
                format!("add {example}"),
            );
        }
    }

    let allows = effect.and_then(Value::as_str) == Some("Allow");
    if allows && body.get("Principal").is_some_and(is_everyone) && !has_condition(body.get("Condition")) {
        issues.add(
            field,
            format!("{named} allows Principal \"*\" (every AWS principal) without a Condition"),
            "name the principals instead of \"*\", or add a Condition that narrows who may use the key (e.g. kms:CallerAccount or kms:ViaService)",
        );
    }
}

/// `"*"`, `{"AWS": "*"}`, or an `AWS` list containing `"*"`.
fn is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => match map.get("AWS") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Array(list)) => list.iter().any(|p| p.as_str() == Some("*")),
            _ => false,
        },
        _ => false,
    }
}

/// A condition counts only if at least one operator carries at least one key.
fn has_condition(condition: Option<&Value>) -> bool {
    condition
        .and_then(Value::as_object)
        .is_some_and(|ops| ops.values().any(|keys| keys.as_object().is_some_and(|k| !k.is_empty())))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_clean, assert_issue, key};
    use super::super::validate_key;
    use super::*;

    const KEY: &str = "KmsKey platform-kms/datamesh";
    const ADMIN: &str = "arn:aws:iam::484357440923:role/PlatformKmsAdmin";

    fn with_document(document: &str) -> Vec<super::super::Issue> {
        let mut k = key("{accountRef: core}");
        k.spec.policy_document = Some(document.to_owned());
        validate_key(&k, None)
    }

    fn good_statement() -> String {
        format!(
            r#"{{"Sid": "Admin", "Effect": "Allow", "Principal": {{"AWS": "{ADMIN}"}}, "Action": "kms:*", "Resource": "*"}}"#
        )
    }

    #[test]
    fn a_sound_document_passes() {
        assert_clean(&with_document(&format!(r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#, good_statement())));
    }

    #[test]
    fn document_that_is_not_json_gives_line_and_column() {
        let issues = with_document("{\n  \"Statement\": [\n    {\"Effect\": \"Allow\",}\n  ]\n}");
        assert_issue(&issues, KEY, DOCUMENT, &["not valid JSON", "line 3 column"], "correct the JSON");
    }

    #[test]
    fn document_must_be_an_object_with_statements() {
        assert_issue(&with_document("[1]"), KEY, DOCUMENT, &["JSON array, not a policy object"], "write a JSON object");
        assert_issue(
            &with_document(r#"{"Version": "2012-10-17"}"#),
            KEY,
            DOCUMENT,
            &["has no Statement"],
            "add \"Statement\"",
        );
    }

    #[test]
    fn document_over_32_kib_is_rejected() {
        let padding = " ".repeat(MAX_POLICY_BYTES);
        let issues = with_document(&format!(r#"{{"Statement": [{}]}}{padding}"#, good_statement()));
        assert_issue(&issues, KEY, DOCUMENT, &["bytes, over the KMS limit of 32768"], "shorten the policy");
    }

    #[test]
    fn statements_that_cannot_fit_a_key_policy_are_rejected() {
        let arns: Vec<String> = (0..800).map(|i| format!("arn:aws:iam::484357440923:role/role-{i:04}")).collect();
        let statement = serde_json::json!({"Effect": "Deny", "Principal": "*", "Action": "kms:*", "NotResource": arns});
        let mut k = key("{accountRef: core}");
        k.spec.policy =
            Some(PolicySpec { statements: vec![serde_json::from_value(statement).unwrap()], ..PolicySpec::default() });
        let issues = validate_key(&k, None);
        assert_issue(&issues, KEY, "spec.policy.statements", &["more than the 32768 bytes"], "shorten the statements");
    }

    #[test]
    fn public_allow_without_condition_names_index_and_sid() {
        for principal in [r#""*""#, r#"{"AWS": "*"}"#, &format!(r#"{{"AWS": ["{ADMIN}", "*"]}}"#)] {
            let doc = format!(
                r#"{{"Statement": [{}, {{"Sid": "Open", "Effect": "Allow", "Principal": {principal}, "Action": "kms:Decrypt", "Resource": "*"}}]}}"#,
                good_statement()
            );
            let issues = with_document(&doc);
            assert_issue(
                &issues,
                KEY,
                DOCUMENT,
                &["Statement[1]", "Sid \"Open\"", "without a Condition"],
                "add a Condition",
            );
        }
    }

    #[test]
    fn public_allow_with_a_condition_or_a_deny_is_fine() {
        let conditioned = r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": "484357440923"}}}"#;
        let deny = r#"{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}"#;
        assert_clean(&with_document(&format!(r#"{{"Statement": [{}, {conditioned}, {deny}]}}"#, good_statement())));
        let empty_condition = r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {}}}"#;
        let issues = with_document(&format!(r#"{{"Statement": [{empty_condition}]}}"#));
        assert_issue(&issues, KEY, DOCUMENT, &["Statement[0] (no Sid)", "without a Condition"], "add a Condition");
    }

    #[test]
    fn statements_must_be_objects_with_effect() {
        let issues = with_document(
            r#"{"Statement": ["kms:*", {"Sid": "X", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}"#,
        );
        assert_issue(
            &issues,
            KEY,
            DOCUMENT,
            &["Statement[0] is a JSON string, not an object"],
            "Effect, Principal, Action and Resource",
        );
        let effect = issues.iter().find(|i| i.problem.contains("has no Effect")).expect("missing Effect reported");
        assert!(effect.problem.contains("Statement[1] (Sid \"X\")"), "{effect}");
    }

    #[test]
    fn builder_statements_get_the_same_checks() {
        let spec = r#"{accountRef: core, policy: {statements: [{Sid: Open, Effect: Allow, Principal: {AWS: "*"}, Action: "kms:Decrypt", Resource: "*"}, {Action: "kms:*"}]}}"#;
        let issues = validate_key(&key(spec), None);
        assert_issue(
            &issues,
            KEY,
            "spec.policy.statements[0]",
            &["Sid \"Open\"", "without a Condition"],
            "add a Condition",
        );
        assert_issue(&issues, KEY, "spec.policy.statements[1]", &["has no Effect"], "\"Effect\": \"Allow\"");
    }

    #[test]
    fn builder_without_any_administrator() {
        let issues = validate_key(&key("{accountRef: core, policy: {accountRoot: false}}"), None);
        assert_issue(
            &issues,
            KEY,
            "spec.policy.accountRoot",
            &["nobody could administer"],
            "spec.policy.administrators",
        );
        let fine = format!("{{accountRef: core, policy: {{accountRoot: false, administrators: ['{ADMIN}']}}}}");
        assert_clean(&validate_key(&key(&fine), None));
    }

    #[test]
    fn builder_principals_and_accounts() {
        let spec = format!(
            "{{accountRef: core, policy: {{administrators: ['{ADMIN}', 'PlatformKmsAdmin'], users: ['*'], trustedAccounts: ['33971283651'], services: [{{name: rds, callerAccounts: ['12']}}, {{name: 'RDS'}}]}}}}"
        );
        let issues = validate_key(&key(&spec), None);
        assert_issue(
            &issues,
            KEY,
            "spec.policy.administrators[1]",
            &["\"PlatformKmsAdmin\" is not an IAM principal ARN"],
            "arn:aws:iam::",
        );
        assert_issue(&issues, KEY, "spec.policy.users[0]", &["\"*\""], "arn:aws:iam::");
        assert_issue(&issues, KEY, "spec.policy.trustedAccounts[0]", &["\"33971283651\"", "12-digit"], "12 digits");
        assert_issue(&issues, KEY, "spec.policy.services[0].callerAccounts[0]", &["\"12\""], "12 digits");
        assert_issue(&issues, KEY, "spec.policy.services[1].name", &["\"RDS\""], "endpoint prefix");
        assert_eq!(issues.len(), 5, "{issues:?}");
    }

    #[test]
    fn policy_and_document_together() {
        let mut k = key("{accountRef: core, policy: {}}");
        k.spec.policy_document = Some(format!(r#"{{"Statement": [{}]}}"#, good_statement()));
        let issues = validate_key(&k, None);
        assert_issue(&issues, KEY, DOCUMENT, &["together with spec.policy"], "keep one");
    }
}
