//! Label and field selectors on list and watch, read as the API server reads them: `k=v`,
//! `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-separated, all of which must
//! hold (`!=` and `notin` also hold for an object without the label); fields `metadata.name`
//! and `metadata.namespace` with `=`, `==` and `!=`.

use serde_json::Value;

#[derive(Debug, PartialEq)]
enum Requirement {
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

#[derive(Debug, Default)]
pub struct Selector {
    labels: Vec<Requirement>,
    /// (field path, whether it must equal, value).
    fields: Vec<(String, bool, String)>,
}

/// Splits on commas outside parentheses.
fn terms(text: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    terms.into_iter().map(str::trim).filter(|t| !t.is_empty()).collect()
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !key.starts_with(['-', '_', '.', '/']);
    if ok { Ok(key.to_owned()) } else { Err(format!("invalid label key {key:?}")) }
}

fn set_of(text: &str) -> Result<Vec<String>, String> {
    let inner = text.trim().strip_prefix('(').and_then(|t| t.strip_suffix(')'));
    let inner = inner.ok_or_else(|| format!("expected a parenthesised set, found {text:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

fn requirement(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::Absent(valid_key(key.trim())?));
    }
    if let Some((key, set)) = term.split_once(" notin ") {
        return Ok(Requirement::NotIn(valid_key(key.trim())?, set_of(set)?));
    }
    if let Some((key, set)) = term.split_once(" in ") {
        return Ok(Requirement::In(valid_key(key.trim())?, set_of(set)?));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Requirement::NotIn(valid_key(key.trim())?, vec![value.trim().to_owned()]));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement::In(valid_key(key.trim())?, vec![value.trim().to_owned()]));
    }
    Ok(Requirement::Exists(valid_key(term)?))
}

fn field(term: &str) -> Result<(String, bool, String), String> {
    let (path, equals, value) = if let Some((path, value)) = term.split_once("!=") {
        (path, false, value)
    } else if let Some((path, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        (path, true, value)
    } else {
        return Err(format!("invalid field selector {term:?}"));
    };
    match path.trim() {
        known @ ("metadata.name" | "metadata.namespace") => Ok((known.to_owned(), equals, value.trim().to_owned())),
        other => Err(format!("field label not supported: {other}")),
    }
}

impl Selector {
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, String> {
        Ok(Selector {
            labels: terms(labels.unwrap_or_default()).into_iter().map(requirement).collect::<Result<_, _>>()?,
            fields: terms(fields.unwrap_or_default()).into_iter().map(field).collect::<Result<_, _>>()?,
        })
    }

    /// Whether it selects every object (no label and no field terms).
    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let label = |key: &str| object["metadata"]["labels"][key].as_str().map(str::to_owned);
        let labels_hold = self.labels.iter().all(|requirement| match requirement {
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::Absent(key) => label(key).is_none(),
            Requirement::In(key, values) => label(key).is_some_and(|v| values.contains(&v)),
            Requirement::NotIn(key, values) => label(key).is_none_or(|v| !values.contains(&v)),
        });
        let fields_hold = self.fields.iter().all(|(path, equals, value)| {
            let actual = match path.as_str() {
                "metadata.name" => &object["metadata"]["name"],
                _ => &object["metadata"]["namespace"],
            };
            (actual.as_str().unwrap_or_default() == value) == *equals
        });
        labels_hold && fields_hold
    }
}
