//! What IAM accepts as a policy document, as far as its shape goes (IAM User Guide, "IAM JSON
//! policy element reference"): the docs' and deploy/'s policies are held to it.

use std::collections::BTreeSet;

use serde_json::Value;

/// What an IAM policy document must look like for IAM to accept it (IAM User Guide, "IAM JSON
/// policy element reference"); placeholders in values are fine.
pub fn problems(policy: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if policy["Version"] != "2012-10-17" {
        problems.push("Version must be \"2012-10-17\"".to_owned());
    }
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.clone(),
        statement @ Value::Object(_) => vec![statement.clone()],
        _ => return vec!["Statement must be an object or a list of them".to_owned()],
    };
    let elements =
        ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];
    let mut sids = BTreeSet::new();
    for (i, statement) in statements.iter().enumerate() {
        let Some(fields) = statement.as_object() else {
            problems.push(format!("Statement[{i}] is not an object"));
            continue;
        };
        let place = format!("Statement[{i}] ({})", statement["Sid"].as_str().unwrap_or("no Sid"));
        for name in fields.keys().filter(|k| !elements.contains(&k.as_str())) {
            problems.push(format!("{place}: unknown element {name}"));
        }
        if !matches!(statement["Effect"].as_str(), Some("Allow" | "Deny")) {
            problems.push(format!("{place}: Effect must be Allow or Deny"));
        }
        if fields.contains_key("Action") == fields.contains_key("NotAction") {
            problems.push(format!("{place}: exactly one of Action and NotAction"));
        }
        if fields.contains_key("Resource") && fields.contains_key("NotResource") {
            problems.push(format!("{place}: Resource and NotResource together"));
        }
        for actions in [&statement["Action"], &statement["NotAction"]] {
            let listed: Vec<&Value> = match actions {
                Value::Array(items) => items.iter().collect(),
                Value::Null => Vec::new(),
                single => vec![single],
            };
            for action in listed {
                let valid = action.as_str().is_some_and(|a| {
                    a == "*" || a.split_once(':').is_some_and(|(s, n)| !s.is_empty() && !n.is_empty())
                });
                if !valid {
                    problems.push(format!("{place}: {action} is not service:Action"));
                }
            }
        }
        if let Some(sid) = statement["Sid"].as_str()
            && (!sid.chars().all(|c| c.is_ascii_alphanumeric()) || !sids.insert(sid.to_owned()))
        {
            problems.push(format!("{place}: a Sid is unique and only letters and digits"));
        }
        if let Some(conditions) = statement.get("Condition") {
            let well_formed = conditions.as_object().is_some_and(|operators| {
                operators
                    .values()
                    .all(|keys| keys.as_object().is_some_and(|keys| keys.values().all(|v| !v.is_object())))
            });
            if !well_formed {
                problems.push(format!("{place}: Condition must map operators to keys to values"));
            }
        }
    }
    problems
}
