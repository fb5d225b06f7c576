//! An IAM policy document, read the way IAM reads it: its statements (a list, or one statement
//! written alone), each statement's principals (`"*"`, or ids by type, each a string or a
//! list) and its conditions (operator, then key, then one value or a list). Every reader of a
//! key policy (its canonical form, the deleted principals KMS shows, tenancy's checks) walks it
//! through here, so that a shape one of them understands is not one another misses.
//!
//! Nothing here judges: anything that is not IAM is handed back as written (a non-string id, a
//! condition value that is a mapping) for the reader to report or keep.

use serde_json::{Map, Value};

/// IAM's "one value or a list of them", as a list.
pub fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    }
}

/// The items of a `Statement` element: a list, or one statement written alone; `None` for
/// anything else, which is not IAM.
pub fn statement_items(element: &Value) -> Option<Vec<&Value>> {
    match element {
        Value::Array(items) => Some(items.iter().collect()),
        Value::Object(_) => Some(vec![element]),
        _ => None,
    }
}

/// Every statement of `document` that is a mapping, with its place in `Statement`.
pub fn statements(document: &Value) -> Vec<Statement<'_>> {
    let items = document.get("Statement").and_then(statement_items).unwrap_or_default();
    items
        .into_iter()
        .enumerate()
        .filter_map(|(index, item)| item.as_object().map(|body| Statement { index, body }))
        .collect()
}

/// One statement of a policy document.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Statement<'a> {
    /// Its place in `Statement` (0 for a statement written alone).
    pub index: usize,
    pub body: &'a Map<String, Value>,
}

impl<'a> Statement<'a> {
    /// A statement that is not part of a document (one of `spec.policy.statements`).
    pub fn alone(body: &'a Map<String, Value>) -> Self {
        Statement { index: 0, body }
    }

    pub fn sid(&self) -> Option<&'a str> {
        self.body.get("Sid").and_then(Value::as_str)
    }

    /// Whether the statement allows (IAM reads `Effect` in any case); a Deny only takes away.
    pub fn allows(&self) -> bool {
        self.body.get("Effect").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case("Allow"))
    }

    /// The principals `Principal` names.
    pub fn principals(&self) -> Vec<PrincipalId<'a>> {
        self.body.get("Principal").map(principals).unwrap_or_default()
    }

    /// The principals `NotPrincipal` names (everyone but them).
    pub fn not_principals(&self) -> Vec<PrincipalId<'a>> {
        self.body.get("NotPrincipal").map(principals).unwrap_or_default()
    }

    pub fn has_not_principal(&self) -> bool {
        self.body.contains_key("NotPrincipal")
    }

    /// Every value of every condition of the statement.
    pub fn condition_values(&self) -> Vec<ConditionValue<'a>> {
        self.body.get("Condition").map(condition_values).unwrap_or_default()
    }
}

/// A `Principal` or `NotPrincipal` element, by its shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PrincipalElement<'a> {
    /// A bare string. IAM accepts only `"*"`: every principal, short for `{"AWS": "*"}`.
    Bare(&'a str),
    /// Principals by type (`AWS`, `Service`, `Federated`, `CanonicalUser`), each a string or a
    /// list of them.
    ByType(&'a Map<String, Value>),
    /// Anything else, which is not IAM.
    Other(&'a Value),
}

pub fn principal_element(element: &Value) -> PrincipalElement<'_> {
    match element {
        Value::String(s) => PrincipalElement::Bare(s),
        Value::Object(types) => PrincipalElement::ByType(types),
        other => PrincipalElement::Other(other),
    }
}

/// One principal a statement names: its type and its id as written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrincipalId<'a> {
    /// `AWS`, `Service`, `Federated`, `CanonicalUser`, or whatever type the document wrote.
    pub kind: &'a str,
    /// A string in IAM; anything else is kept for the reader to report.
    pub id: &'a Value,
}

impl<'a> PrincipalId<'a> {
    pub fn text(&self) -> Option<&'a str> {
        self.id.as_str()
    }
}

/// Every principal of a `Principal` or `NotPrincipal` element, in the order written. A bare
/// string, and anything that is not IAM, counts as of the `AWS` type, as `"*"` does.
pub fn principals(element: &Value) -> Vec<PrincipalId<'_>> {
    match principal_element(element) {
        PrincipalElement::ByType(types) => types
            .iter()
            .flat_map(|(kind, ids)| one_or_many(ids).into_iter().map(move |id| PrincipalId { kind, id }))
            .collect(),
        PrincipalElement::Bare(_) | PrincipalElement::Other(_) => vec![PrincipalId { kind: "AWS", id: element }],
    }
}

/// One value of one condition key under one operator (`StringEquals kms:CallerAccount
/// 111122223333`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConditionValue<'a> {
    pub operator: &'a str,
    pub key: &'a str,
    /// A string in most conditions; a boolean or number IAM reads as its text; anything else is
    /// not IAM.
    pub value: &'a Value,
}

impl<'a> ConditionValue<'a> {
    pub fn text(&self) -> Option<&'a str> {
        self.value.as_str()
    }
}

/// One operator's block of a `Condition` element, by its shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConditionBlock<'a> {
    /// Condition keys, each with one value or a list of them.
    Keys(&'a Map<String, Value>),
    /// Anything else, which is not IAM.
    Other(&'a Value),
}

/// The blocks of a `Condition` element by operator, in the order written; `None` when the
/// element is not a mapping.
pub fn condition_blocks(condition: &Value) -> Option<Vec<(&str, ConditionBlock<'_>)>> {
    let Value::Object(operators) = condition else {
        return None;
    };
    let blocks = operators.iter().map(|(operator, block)| {
        let block = match block {
            Value::Object(keys) => ConditionBlock::Keys(keys),
            other => ConditionBlock::Other(other),
        };
        (operator.as_str(), block)
    });
    Some(blocks.collect())
}

/// Every value of every key of every operator of a `Condition` element, in the order written.
/// A block that is not a mapping holds no condition IAM would read, and is passed.
pub fn condition_values(condition: &Value) -> Vec<ConditionValue<'_>> {
    let mut found = Vec::new();
    for (operator, block) in condition_blocks(condition).unwrap_or_default() {
        let ConditionBlock::Keys(keys) = block else {
            continue;
        };
        for (key, values) in keys {
            found.extend(one_or_many(values).into_iter().map(|value| ConditionValue { operator, key, value }));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ids<'a>(found: &[PrincipalId<'a>]) -> Vec<(&'a str, Value)> {
        found.iter().map(|p| (p.kind, p.id.clone())).collect()
    }

    #[test]
    fn every_statement_of_a_list_keeps_its_place_and_non_mappings_are_passed() {
        let document = json!({"Statement": [{"Sid": "A"}, "not a statement", {"Sid": "C"}, 7]});
        let found = statements(&document);
        assert_eq!(found.iter().map(|s| (s.index, s.sid())).collect::<Vec<_>>(), vec![(0, Some("A")), (2, Some("C"))]);
    }

    #[test]
    fn a_statement_written_alone_is_the_only_one() {
        let document = json!({"Statement": {"Sid": "Only", "Effect": "Allow"}});
        let found = statements(&document);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].index, found[0].sid()), (0, Some("Only")));
        for not_iam in [json!({"Statement": "text"}), json!({"Statement": null}), json!({}), json!("not a document")] {
            assert!(statements(&not_iam).is_empty(), "{not_iam}");
        }
        assert_eq!(statement_items(&json!("text")), None);
        assert_eq!(statement_items(&json!([])), Some(vec![]));
    }

    #[test]
    fn effect_is_read_in_any_case() {
        for (effect, allows) in
            [(json!("Allow"), true), (json!("aLLow"), true), (json!("Deny"), false), (json!(true), false)]
        {
            let body = json!({"Effect": effect});
            assert_eq!(Statement::alone(body.as_object().unwrap()).allows(), allows, "{body}");
        }
        assert!(!Statement::alone(&Map::new()).allows(), "no Effect allows nothing");
    }

    #[test]
    fn every_principal_form() {
        assert_eq!(ids(&principals(&json!("*"))), vec![("AWS", json!("*"))]);
        assert_eq!(principal_element(&json!("*")), PrincipalElement::Bare("*"));
        assert_eq!(
            ids(&principals(&json!({"AWS": ["arn:aws:iam::111122223333:role/A", "444455556666"]}))),
            vec![("AWS", json!("arn:aws:iam::111122223333:role/A")), ("AWS", json!("444455556666"))]
        );
        assert_eq!(ids(&principals(&json!({"AWS": "*"}))), vec![("AWS", json!("*"))]);
        assert_eq!(
            ids(&principals(&json!({"Service": "logs.eu-west-1.amazonaws.com"}))),
            vec![("Service", json!("logs.eu-west-1.amazonaws.com"))]
        );
        assert_eq!(
            ids(&principals(&json!({"Service": ["rds.amazonaws.com", "logs.amazonaws.com"]}))),
            vec![("Service", json!("rds.amazonaws.com")), ("Service", json!("logs.amazonaws.com"))]
        );
        assert_eq!(
            ids(&principals(&json!({"Federated": "arn:aws:iam::111122223333:saml-provider/corp"}))),
            vec![("Federated", json!("arn:aws:iam::111122223333:saml-provider/corp"))]
        );
        assert_eq!(ids(&principals(&json!({"CanonicalUser": "79a59df9"}))), vec![("CanonicalUser", json!("79a59df9"))]);
        // Several types in one element: every id of every type.
        let element = json!({"AWS": "111122223333", "Service": ["a.amazonaws.com"]});
        let mixed = principals(&element);
        assert_eq!(mixed.len(), 2);
        assert!(mixed.iter().any(|p| p.kind == "AWS" && p.text() == Some("111122223333")));
        assert!(mixed.iter().any(|p| p.kind == "Service" && p.text() == Some("a.amazonaws.com")));
    }

    #[test]
    fn what_is_not_iam_is_handed_back_as_written() {
        assert_eq!(ids(&principals(&json!(5))), vec![("AWS", json!(5))]);
        assert_eq!(ids(&principals(&json!({"AWS": [1, "x"]}))), vec![("AWS", json!(1)), ("AWS", json!("x"))]);
        assert_eq!(ids(&principals(&json!({"AWS": {"deep": "x"}}))), vec![("AWS", json!({"deep": "x"}))]);
        assert!(principals(&json!({"AWS": []})).is_empty());
        assert_eq!(principals(&json!(5))[0].text(), None);
    }

    #[test]
    fn principal_and_not_principal_are_read_apart() {
        let body = json!({"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/Admin"}});
        let statement = Statement::alone(body.as_object().unwrap());
        assert!(statement.principals().is_empty());
        assert!(statement.has_not_principal());
        assert_eq!(ids(&statement.not_principals()), vec![("AWS", json!("arn:aws:iam::111122223333:role/Admin"))]);
        let body = json!({"Principal": "*"});
        let statement = Statement::alone(body.as_object().unwrap());
        assert!(!statement.has_not_principal() && statement.not_principals().is_empty());
        assert_eq!(statement.principals().len(), 1);
    }

    #[test]
    fn every_value_of_every_condition_block() {
        let body = json!({"Condition": {
            "StringEquals": {"kms:CallerAccount": ["111122223333", "444455556666"], "kms:ViaService": "rds.eu-west-1.amazonaws.com"},
            "Bool": {"kms:GrantIsForAWSResource": true},
            "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
            "Null": "not a block",
        }});
        let found = Statement::alone(body.as_object().unwrap()).condition_values();
        let mut seen: Vec<(&str, &str, Value)> = found.iter().map(|c| (c.operator, c.key, c.value.clone())).collect();
        // serde_json may keep the written order or sort keys; both are orders IAM ignores.
        seen.sort_by_key(|(operator, key, value)| (*operator, *key, value.to_string()));
        assert_eq!(
            seen,
            vec![
                ("Bool", "kms:GrantIsForAWSResource", json!(true)),
                ("NumericLessThan", "aws:MultiFactorAuthAge", json!(3600)),
                ("StringEquals", "kms:CallerAccount", json!("111122223333")),
                ("StringEquals", "kms:CallerAccount", json!("444455556666")),
                ("StringEquals", "kms:ViaService", json!("rds.eu-west-1.amazonaws.com")),
            ]
        );
        let flag = found.iter().find(|c| c.operator == "Bool").expect("the Bool block");
        assert_eq!(flag.text(), None, "a boolean is handed back, not as text");
        assert!(condition_values(&json!("not a condition")).is_empty());
        assert_eq!(condition_blocks(&json!("not a condition")), None);
        let condition = json!({"Null": "not a block"});
        let blocks = condition_blocks(&condition).expect("a mapping");
        assert_eq!(blocks, vec![("Null", ConditionBlock::Other(&json!("not a block")))]);
        assert!(Statement::alone(&Map::new()).condition_values().is_empty());
    }

    #[test]
    fn one_or_many_reads_a_single_value_as_a_list_of_one() {
        assert_eq!(one_or_many(&json!("a")), vec![&json!("a")]);
        assert_eq!(one_or_many(&json!(["a", "b"])), vec![&json!("a"), &json!("b")]);
        assert!(one_or_many(&json!([])).is_empty());
    }
}
