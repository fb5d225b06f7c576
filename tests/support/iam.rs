//! A model of how IAM evaluates an identity policy, as the IAM User Guide documents it, with
//! the parts the shipped policies use: an explicit Deny wins; else an Allow whose action,
//! resource and every condition match; else the request is denied. Condition operators it does
//! not know make it panic, so a policy change cannot slip past the tests unmodelled.
//!
//! Documented semantics modelled (IAM User Guide, "Condition operators" and "Single-valued vs.
//! multivalued context keys"): keys of a condition block are ANDed, values of a key are ORed;
//! a missing key fails a plain or `ForAnyValue:` operator and passes `...IfExists` and
//! `ForAllValues:`; `StringLike` matches `*` and `?`; condition key names are case-insensitive;
//! `NotAction` matches every action it does not name. Principals are not modelled: a trust
//! policy's `Principal` is for its test to check.

use std::collections::BTreeMap;

use serde_json::Value;

/// One request: action, resource ARN, and the context keys with their values.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub keys: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Self {
        Request { action: action.to_owned(), resource: resource.to_owned(), keys: BTreeMap::new() }
    }

    pub fn with(mut self, key: &str, values: &[&str]) -> Self {
        self.keys.insert(key.to_ascii_lowercase(), values.iter().map(|v| v.to_string()).collect());
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// The Sid of the Deny statement that matched.
    ExplicitDeny(String),
}

/// `*` and `?` wildcards, as IAM matches actions (case-insensitively) and resources.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn matches(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => matches(&p[1..], t) || (!t.is_empty() && matches(p, &t[1..])),
            (Some('?'), Some(_)) => matches(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => matches(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t)
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        Value::Bool(b) => vec![b.to_string()],
        other => panic!("unmodelled value {other}"),
    }
}

fn value_matches(base: &str, wanted: &str, actual: &str) -> bool {
    match base {
        "StringEquals" => wanted == actual,
        "StringLike" => glob(wanted, actual),
        "Bool" => wanted.eq_ignore_ascii_case(actual),
        other => panic!("unmodelled condition operator {other}"),
    }
}

fn condition_holds(operator: &str, key: &str, wanted: &[String], request: &Request) -> bool {
    let (set, rest) = match operator.split_once(':') {
        Some((set @ ("ForAnyValue" | "ForAllValues"), rest)) => (Some(set), rest),
        _ => (None, operator),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let Some(actual) = request.keys.get(&key.to_ascii_lowercase()) else {
        return if_exists || set == Some("ForAllValues");
    };
    let any = |value: &String| wanted.iter().any(|w| value_matches(base, w, value));
    match set {
        Some("ForAllValues") => actual.iter().all(any),
        Some(_) => actual.iter().any(any),
        None => {
            assert_eq!(actual.len(), 1, "{key} is single-valued; use ForAnyValue/ForAllValues");
            any(&actual[0])
        }
    }
}

fn statement_matches(statement: &Value, request: &Request) -> bool {
    let named = |actions: &Value| {
        strings(actions).iter().any(|a| glob(&a.to_ascii_lowercase(), &request.action.to_ascii_lowercase()))
    };
    // `NotAction` matches every action it does not list.
    let action_ok = match statement.get("NotAction") {
        Some(not_actions) => !named(not_actions),
        None => named(&statement["Action"]),
    };
    // A role's trust policy names no resource: the role it is attached to is the resource.
    let resource_ok =
        statement.get("Resource").is_none_or(|resources| strings(resources).iter().any(|r| glob(r, &request.resource)));
    if !action_ok || !resource_ok {
        return false;
    }
    let Some(conditions) = statement.get("Condition").and_then(Value::as_object) else {
        return true;
    };
    conditions.iter().all(|(operator, keys)| {
        keys.as_object()
            .expect("condition keys")
            .iter()
            .all(|(key, values)| condition_holds(operator, key, &strings(values), request))
    })
}

pub fn evaluate(policy: &Value, request: &Request) -> Decision {
    let statements = policy["Statement"].as_array().expect("statements");
    let first = |effect: &str| statements.iter().find(|s| s["Effect"] == effect && statement_matches(s, request));
    if let Some(deny) = first("Deny") {
        return Decision::ExplicitDeny(deny["Sid"].as_str().unwrap_or("(no Sid)").to_owned());
    }
    if first("Allow").is_some() { Decision::Allowed } else { Decision::ImplicitDeny }
}
