//! The value validation a real API server applies to a custom resource with its CRD's OpenAPI
//! schema (kube-openapi's validator, the part CEL does not do): types, `required`, `enum`,
//! bounds on numbers, strings, lists and maps, `pattern`, `items`, `additionalProperties`,
//! `x-kubernetes-list-type: set`; `null` in a field that is not `nullable` is pruned, as the
//! server prunes it. Formats are not checked. A schema keyword outside `KEYWORDS` makes
//! `unknown_keywords` name it, so this can never skip a rule silently (tests/crds.rs checks the
//! CRDs with it).
//!
//! Also `depth_bound`: how deeply any value the schema admits can be nested.

use serde_json::{Map, Value};

/// Keywords this validator enforces, or knows to have no bearing on which values are admitted.
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    // CEL: kube's own engine evaluates these.
    "x-kubernetes-validations",
    // No effect on which values are valid.
    "description",
    "title",
    "format",
    "default",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every way `value` breaks `schema`.
pub fn validate(schema: &Value, value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    check(schema, value, "", &mut out);
    out
}

fn number(schema: &Value, keyword: &str) -> Option<f64> {
    schema.get(keyword).and_then(Value::as_f64)
}

fn count(schema: &Value, keyword: &str) -> Option<usize> {
    schema.get(keyword).and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok())
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0)
        }
        _ => false,
    }
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        _ => false,
    }
}

fn check(schema: &Value, value: &Value, path: &str, out: &mut Vec<Violation>) {
    let mut fail = |message: String| out.push(Violation { path: path.to_owned(), message });
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(is_integer(value) || value.is_string()) {
            fail("must be an integer or a string".to_owned());
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !type_matches(expected, value)
    {
        fail(format!("must be of type {expected}"));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        fail(format!("must be one of {}", Value::Array(allowed.clone())));
    }
    match value {
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            if number(schema, "minimum").is_some_and(|min| n < min) {
                fail(format!("must be at least {}", schema["minimum"]));
            }
            if number(schema, "maximum").is_some_and(|max| n > max) {
                fail(format!("must be at most {}", schema["maximum"]));
            }
        }
        Value::String(text) => {
            let chars = text.chars().count();
            if count(schema, "minLength").is_some_and(|min| chars < min) {
                fail(format!("must be at least {} characters", schema["minLength"]));
            }
            if count(schema, "maxLength").is_some_and(|max| chars > max) {
                fail(format!("may not be longer than {} characters", schema["maxLength"]));
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(pattern) {
                    Ok(re) if re.is_match(text) => {}
                    Ok(_) => fail(format!("must match {pattern}")),
                    Err(error) => fail(format!("the schema's pattern {pattern} does not compile: {error}")),
                }
            }
        }
        Value::Array(items) => check_array(schema, items, path, out),
        Value::Object(members) => check_object(schema, members, path, out),
        Value::Bool(_) | Value::Null => {}
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, out: &mut Vec<Violation>) {
    let mut fail = |message: String| out.push(Violation { path: path.to_owned(), message });
    if count(schema, "minItems").is_some_and(|min| items.len() < min) {
        fail(format!("must have at least {} items", schema["minItems"]));
    }
    if count(schema, "maxItems").is_some_and(|max| items.len() > max) {
        fail(format!("must have at most {} items", schema["maxItems"]));
    }
    if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set") {
        for (i, item) in items.iter().enumerate() {
            if items[..i].contains(item) {
                fail(format!("has the duplicate value {item}"));
            }
        }
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"), out);
        }
    }
}

fn check_object(schema: &Value, members: &Map<String, Value>, path: &str, out: &mut Vec<Violation>) {
    // The server prunes nulls from fields that are not nullable before it validates.
    let present = |name: &str| members.get(name).is_some_and(|v| !v.is_null());
    let mut fail = |message: String| out.push(Violation { path: path.to_owned(), message });
    let size = members.len();
    if count(schema, "minProperties").is_some_and(|min| size < min) {
        fail(format!("must have at least {} properties", schema["minProperties"]));
    }
    if count(schema, "maxProperties").is_some_and(|max| size > max) {
        fail(format!("must have at most {} properties", schema["maxProperties"]));
    }
    for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = required.as_str()
            && !present(name)
        {
            fail(format!("{name} is required"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (name, member) in members {
        let child = format!("{path}.{name}");
        let member_schema = properties.and_then(|p| p.get(name)).or(additional);
        match member_schema {
            Some(s) if member.is_null() && s.get("nullable") != Some(&Value::Bool(true)) => {}
            Some(s) => check(s, member, &child, out),
            // Pruned, or kept unvalidated under x-kubernetes-preserve-unknown-fields.
            None => {}
        }
    }
}

/// The schema keywords, anywhere in `schema`, that this validator neither enforces nor knows to
/// be irrelevant.
pub fn unknown_keywords(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk_keywords(schema, "", &mut found);
    found
}

fn walk_keywords(schema: &Value, path: &str, found: &mut Vec<String>) {
    let Some(map) = schema.as_object() else {
        return;
    };
    for (keyword, inner) in map {
        if !KEYWORDS.contains(&keyword.as_str()) {
            found.push(format!("{path}/{keyword}"));
        }
        match keyword.as_str() {
            "properties" => {
                for (name, property) in inner.as_object().into_iter().flatten() {
                    walk_keywords(property, &format!("{path}/properties/{name}"), found);
                }
            }
            "items" | "additionalProperties" => walk_keywords(inner, &format!("{path}/{keyword}"), found),
            _ => {}
        }
    }
}

/// How many objects and lists deep any value `schema` admits can be nested (a scalar is 0, `{}`
/// and `[]` are 1), or `None` when nothing bounds it: a node that keeps unknown fields with no
/// shape for them, or a list or map whose members have no schema.
pub fn depth_bound(schema: &Value) -> Option<usize> {
    let preserves = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let declared = schema.get("type").and_then(Value::as_str);
    let capped_at_zero = |keyword: &str| count(schema, keyword) == Some(0);
    let object = || -> Option<usize> {
        if capped_at_zero("maxProperties") {
            return Some(1);
        }
        let mut deepest = 0;
        for property in schema.get("properties").and_then(Value::as_object).into_iter().flat_map(|p| p.values()) {
            deepest = deepest.max(depth_bound(property)?);
        }
        match schema.get("additionalProperties").filter(|a| a.is_object()) {
            Some(additional) => deepest = deepest.max(depth_bound(additional)?),
            None if preserves => return None,
            None => {}
        }
        Some(deepest + 1)
    };
    let array = || -> Option<usize> {
        if capped_at_zero("maxItems") {
            return Some(1);
        }
        Some(depth_bound(schema.get("items")?)? + 1)
    };
    match declared {
        Some("object") => object(),
        Some("array") => array(),
        Some(_) => Some(0),
        None if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) => Some(0),
        // No type: any JSON value, bounded only by what the value validations say of each kind.
        None if preserves => Some(object()?.max(array()?)),
        None => None,
    }
}
