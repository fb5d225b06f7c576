//! `--shard-selector`: a label selector in the syntax kubectl takes (`env=prod`, `env!=dev`,
//! `tier in (a,b)`, `tier notin (c)`, `team`, `!legacy`, comma-separated, all must hold), read
//! into kube's own `Selector` so that matching is kube's. kube reads selectors from objects
//! only, not from text, hence this parser; it checks keys and values as the API server does, so
//! a selector this accepts is one `kubectl get awsaccounts -l` accepts too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use kube::core::{Expression, Selector, SelectorExt};
use regex::Regex;

/// A label name or value: alphanumeric at both ends, `-`, `_`, `.` inside.
static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$").expect("a valid pattern"));
/// A key's prefix: a DNS subdomain.
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").expect("a valid pattern")
});
/// `key in (...)` and `key notin (...)`.
static SET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\S+)\s+(in|notin)\s*\((.*)\)$").expect("a valid pattern"));

/// A parsed `--shard-selector`, with the text it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardSelector {
    text: String,
    selector: Selector,
}

impl ShardSelector {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.selector.matches(labels)
    }
}

impl std::fmt::Display for ShardSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for ShardSelector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let terms = terms(text)?;
        if terms.is_empty() {
            return Err("an empty selector would select every AwsAccount: leave --shard-selector out to run one controller for all of them".into());
        }
        let expressions = terms.into_iter().map(expression).collect::<Result<Vec<_>, _>>()?;
        Ok(ShardSelector { text: text.trim().to_owned(), selector: expressions.into_iter().collect() })
    }
}

/// The selector's requirements: split on commas outside parentheses.
fn terms(text: &str) -> Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (at, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(format!("unbalanced parentheses in {text:?}"));
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced parentheses in {text:?}"));
    }
    terms.push(&text[start..]);
    let terms: Vec<&str> = terms.into_iter().map(str::trim).collect();
    if terms.len() > 1 && terms.iter().any(|t| t.is_empty()) {
        return Err(format!("an empty requirement in {text:?} (a comma too many?)"));
    }
    Ok(terms.into_iter().filter(|t| !t.is_empty()).collect())
}

fn expression(term: &str) -> Result<Expression, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Expression::DoesNotExist(key_of(key.trim())?));
    }
    if let Some(set) = SET.captures(term) {
        let key = key_of(&set[1])?;
        let values: BTreeSet<String> = set[3].split(',').map(|v| value_of(v.trim())).collect::<Result<_, _>>()?;
        if set[3].trim().is_empty() {
            return Err(format!("{term:?}: the set of values is empty"));
        }
        return Ok(if &set[2] == "in" { Expression::In(key, values) } else { Expression::NotIn(key, values) });
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Expression::NotEqual(key_of(key.trim())?, value_of(value.trim())?));
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Expression::Equal(key_of(key.trim())?, value_of(value.trim())?));
    }
    Ok(Expression::Exists(key_of(term)?))
}

/// A label key: `name` or `prefix/name`.
fn key_of(key: &str) -> Result<String, String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && PREFIX.is_match(p));
    if name.len() <= 63 && NAME.is_match(name) && prefix_ok {
        return Ok(key.to_owned());
    }
    Err(format!(
        "{key:?} is not a label key: a name of up to 63 letters, digits, '-', '_' or '.' (alphanumeric at both ends), optionally after a DNS prefix and '/'"
    ))
}

fn value_of(value: &str) -> Result<String, String> {
    if value.is_empty() || (value.len() <= 63 && NAME.is_match(value)) {
        return Ok(value.to_owned());
    }
    Err(format!("{value:?} is not a label value: up to 63 letters, digits, '-', '_' or '.', alphanumeric at both ends"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn selects(selector: &str, pairs: &[(&str, &str)]) -> bool {
        selector.parse::<ShardSelector>().expect(selector).matches(&labels(pairs))
    }

    #[test]
    fn every_form_kubectl_takes_selects_as_the_api_server_does() {
        assert!(selects("env=prod", &[("env", "prod")]));
        assert!(selects("env==prod", &[("env", "prod")]));
        assert!(!selects("env=prod", &[("env", "dev")]));
        assert!(selects("env!=prod", &[]), "!= holds without the label");
        assert!(selects("tier in (a, b)", &[("tier", "b")]));
        assert!(!selects("tier in (a,b)", &[]));
        assert!(selects("tier notin (a,b)", &[]), "notin holds without the label");
        assert!(!selects("tier notin (a,b)", &[("tier", "a")]));
        assert!(selects("team", &[("team", "")]));
        assert!(selects("!legacy", &[("env", "prod")]));
        assert!(!selects("!legacy", &[("legacy", "yes")]));
        assert!(selects(
            "kmsoperator.dev/shard-group = blue, env in (prod)",
            &[("kmsoperator.dev/shard-group", "blue"), ("env", "prod")]
        ));
        assert!(!selects("env=prod,team", &[("env", "prod")]), "every requirement must hold");
    }

    #[test]
    fn what_the_api_server_would_refuse_is_refused_with_the_reason() {
        for (bad, says) in [
            ("", "empty selector"),
            ("  ", "empty selector"),
            ("env=prod,", "empty requirement"),
            ("tier in (a,b", "unbalanced"),
            ("tier in ()", "empty"),
            ("-env=prod", "not a label key"),
            ("env=prod value", "not a label value"),
            ("Bad_Prefix/env=x", "not a label key"),
            ("tier in ((a))", "unbalanced"),
        ] {
            let error = bad.parse::<ShardSelector>().expect_err(bad);
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }

    #[test]
    fn it_shows_as_written() {
        let selector: ShardSelector = " env in (prod,stage) ".parse().unwrap();
        assert_eq!(selector.to_string(), "env in (prod,stage)");
    }
}
