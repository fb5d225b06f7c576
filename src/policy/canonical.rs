//! One spelling per meaning, so that comparing policies compares what they allow.
//!
//! KMS does not promise to return a key policy as it was written, and people (and the
//! console, and Terraform) write the same policy many ways. Each rule below removes one
//! spelling difference that IAM itself ignores (the same rules as the policy equivalence
//! library behind Terraform's AWS provider, plus action case and scalar condition values);
//! anything not covered is compared exactly, because a false "in sync" is worse than a
//! spurious plan.
//!
//! Canonical form:
//! - `Statement` is always a list, sorted by Sid and then by content: order carries no meaning.
//!   Sid, Version and Id are compared exactly.
//! - `Effect` is `Allow` or `Deny` whatever its case.
//! - Action, NotAction, Resource, NotResource, every principal type's value and every
//!   condition key's values are sorted, de-duplicated lists; an empty list is the same as no
//!   element at all; actions are lower-cased because IAM matches action names
//!   case-insensitively.
//! - `"Principal": "*"` becomes `{"AWS": ["*"]}`; a bare account id in an AWS principal
//!   becomes that account's root ARN (KMS stores it that way).
//! - Condition values that are booleans or numbers become strings, which is how IAM
//!   compares them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::api::iam::{self, ConditionBlock, PrincipalElement};
use crate::api::validate::names::is_account_id;

/// Canonical form of a key policy (or of anything: non-policy values pass through with their
/// object keys sorted).
///
/// Bare account ids in principals become `arn:<partition>:iam::<id>:root`; see [`Partitions`]
/// for which partition.
pub fn canonical(doc: &Value) -> Value {
    canonical_in(doc, &partition_of(&[doc]))
}

/// Whether two key policies mean the same: their canonical forms are equal.
///
/// Both documents are canonicalised with one [`Partitions`], read off both, so that a bare
/// account id in one compares equal to that account's root ARN in the other in any partition.
pub fn equivalent(a: &Value, b: &Value) -> bool {
    let partitions = partition_of(&[a, b]);
    canonical_in(a, &partitions) == canonical_in(b, &partitions)
}

/// Which partition a bare account id stands for: the partition of that account's root ARN
/// where the documents name one (in exactly one partition), else the one partition every ARN
/// in the documents agrees on, else `aws`. Read off all documents compared, order-independent,
/// so equal documents always agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Partitions {
    default: String,
    of_root: BTreeMap<String, String>,
}

impl Partitions {
    fn for_account(&self, id: &str) -> &str {
        self.of_root.get(id).unwrap_or(&self.default)
    }
}

/// [`canonical`] with the partitions for bare account ids given.
pub(super) fn canonical_in(doc: &Value, partitions: &Partitions) -> Value {
    let Value::Object(fields) = doc else {
        return sorted(doc.clone());
    };
    let mut out = Map::new();
    for (key, value) in sorted_entries(fields) {
        let value = match key.as_str() {
            "Statement" => statements(value, partitions),
            _ => sorted(value.clone()),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// The [`Partitions`] of a set of documents compared together.
pub(super) fn partition_of(docs: &[&Value]) -> Partitions {
    let mut found = BTreeSet::new();
    let mut roots: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for doc in docs {
        collect_partitions(doc, &mut found, &mut roots);
    }
    let default = match found.len() {
        1 => found.into_iter().next().unwrap_or_else(|| "aws".to_owned()),
        _ => "aws".to_owned(),
    };
    let of_root = roots
        .into_iter()
        .filter(|(_, partitions)| partitions.len() == 1)
        .filter_map(|(account, partitions)| Some((account, partitions.into_iter().next()?)))
        .collect();
    Partitions { default, of_root }
}

fn collect_partitions(value: &Value, found: &mut BTreeSet<String>, roots: &mut BTreeMap<String, BTreeSet<String>>) {
    match value {
        Value::String(s) => {
            let mut parts = s.splitn(6, ':');
            if parts.next() != Some("arn") {
                return;
            }
            let Some(partition) = parts.next().filter(|p| !p.is_empty()) else {
                return;
            };
            found.insert(partition.to_owned());
            if let (Some("iam"), Some(""), Some(account), Some("root"), None) =
                (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
                && is_account_id(account)
            {
                roots.entry(account.to_owned()).or_default().insert(partition.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_partitions(v, found, roots)),
        Value::Object(fields) => fields.values().for_each(|v| collect_partitions(v, found, roots)),
        _ => {}
    }
}

fn statements(value: &Value, partitions: &Partitions) -> Value {
    let Some(items) = iam::statement_items(value) else {
        return sorted(value.clone());
    };
    let list: Vec<Value> = items.into_iter().map(|s| statement(s, partitions)).collect();
    let mut keyed: Vec<((String, String), Value)> = list.into_iter().map(|s| (statement_sort_key(&s), s)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Array(keyed.into_iter().map(|(_, s)| s).collect())
}

/// Sid first so that a diff of two canonical policies lines statements up by name; the full
/// serialisation (keys already sorted) makes the order total.
fn statement_sort_key(statement: &Value) -> (String, String) {
    let sid = statement.get("Sid").and_then(Value::as_str).unwrap_or_default().to_owned();
    (sid, statement.to_string())
}

fn statement(value: &Value, partitions: &Partitions) -> Value {
    let Value::Object(fields) = value else {
        return sorted(value.clone());
    };
    let mut out = Map::new();
    for (key, value) in sorted_entries(fields) {
        let value = match key.as_str() {
            "Effect" => effect(value),
            "Action" | "NotAction" => string_set(value, |s| s.to_lowercase()),
            "Resource" | "NotResource" => string_set(value, str::to_owned),
            "Principal" | "NotPrincipal" => principal(value, partitions),
            "Condition" => condition(value),
            _ => sorted(value.clone()),
        };
        if is_empty_set(key, &value) {
            continue;
        }
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// `"Action": []` grants nothing, exactly as no Action; the same for the other set elements
/// and for a principal with no identities left.
fn is_empty_set(key: &str, canonical_value: &Value) -> bool {
    match key {
        "Action" | "NotAction" | "Resource" | "NotResource" => canonical_value.as_array().is_some_and(Vec::is_empty),
        "Principal" | "NotPrincipal" => canonical_value.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

/// IAM reads `allow`, `ALLOW` and `Allow` alike.
fn effect(value: &Value) -> Value {
    match value.as_str() {
        Some(s) if s.eq_ignore_ascii_case("allow") => Value::String("Allow".to_owned()),
        Some(s) if s.eq_ignore_ascii_case("deny") => Value::String("Deny".to_owned()),
        _ => sorted(value.clone()),
    }
}

fn principal(value: &Value, partitions: &Partitions) -> Value {
    match iam::principal_element(value) {
        // IAM documents "*" as shorthand for {"AWS": "*"}: everyone, anonymous included.
        PrincipalElement::Bare("*") => {
            Value::Object(Map::from_iter([("AWS".to_owned(), Value::Array(vec![Value::String("*".to_owned())]))]))
        }
        PrincipalElement::ByType(types) => {
            let mut out = Map::new();
            for (kind, ids) in sorted_entries(types) {
                let ids = if kind == "AWS" {
                    string_set(ids, |s| aws_principal(s, partitions))
                } else {
                    string_set(ids, str::to_owned)
                };
                if ids.as_array().is_some_and(Vec::is_empty) {
                    continue;
                }
                out.insert(kind.clone(), ids);
            }
            Value::Object(out)
        }
        PrincipalElement::Bare(_) | PrincipalElement::Other(_) => sorted(value.clone()),
    }
}

/// `123456789012` and `arn:aws:iam::123456789012:root` name the same principal.
fn aws_principal(id: &str, partitions: &Partitions) -> String {
    if is_account_id(id) { format!("arn:{}:iam::{id}:root", partitions.for_account(id)) } else { id.to_owned() }
}

fn condition(value: &Value) -> Value {
    let Some(mut blocks) = iam::condition_blocks(value) else {
        return sorted(value.clone());
    };
    blocks.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Map::new();
    for (operator, block) in blocks {
        let keys = match block {
            ConditionBlock::Keys(keys) => {
                let mut values = Map::new();
                for (key, v) in sorted_entries(keys) {
                    values.insert(key.clone(), condition_values(v));
                }
                Value::Object(values)
            }
            ConditionBlock::Other(other) => sorted(other.clone()),
        };
        out.insert(operator.to_owned(), keys);
    }
    Value::Object(out)
}

/// IAM compares condition values as strings, so `true`, `"true"` and `["true"]` are one value.
fn condition_values(value: &Value) -> Value {
    let mut strings = BTreeSet::new();
    for item in iam::one_or_many(value) {
        match item {
            Value::String(s) => strings.insert(s.clone()),
            Value::Bool(b) => strings.insert(b.to_string()),
            Value::Number(n) => strings.insert(n.to_string()),
            // null or nesting is not IAM; keep it as written rather than guess.
            _ => return sorted(value.clone()),
        };
    }
    Value::Array(strings.into_iter().map(Value::String).collect())
}

/// A string or a list of strings as a sorted set, each string mapped by `normalise`.
/// Anything else is not valid IAM and is kept as written, to be compared exactly.
fn string_set(value: &Value, normalise: impl Fn(&str) -> String) -> Value {
    let strings: Option<BTreeSet<String>> =
        iam::one_or_many(value).into_iter().map(|v| v.as_str().map(&normalise)).collect();
    match strings {
        Some(set) => Value::Array(set.into_iter().map(Value::String).collect()),
        None => sorted(value.clone()),
    }
}

fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Objects rebuilt with sorted keys, so that serialising a canonical value (the statement sort
/// key) does not depend on whether serde_json preserves insertion order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        scalar => scalar,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::{PolicySpec, ServiceAccess};
    use crate::policy::{build, default_policy, to_pretty_json};

    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn stmt(extra: Value) -> Value {
        let mut base = json!({
            "Sid": "S",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"},
            "Action": "kms:Decrypt",
            "Resource": "*",
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
            base.extend(extra);
        }
        base
    }

    /// Equivalence in both directions, and agreement with comparing `canonical` forms.
    fn assert_equivalent(a: &Value, b: &Value) {
        assert!(equivalent(a, b), "expected equivalent:\n{a:#}\n{b:#}");
        assert!(equivalent(b, a), "expected equivalent (reversed):\n{b:#}\n{a:#}");
        assert_eq!(canonical(a), canonical(b));
    }

    fn assert_different(a: &Value, b: &Value) {
        assert!(!equivalent(a, b), "expected different:\n{a:#}\n{b:#}");
        assert!(!equivalent(b, a), "expected different (reversed):\n{b:#}\n{a:#}");
        assert_ne!(canonical(a), canonical(b));
    }

    use crate::policy::test_context as ctx;

    fn full_spec() -> PolicySpec {
        PolicySpec {
            account_root: true,
            administrators: vec![
                "arn:aws:iam::484357440923:role/PlatformKmsAdmin".into(),
                "arn:aws:iam::484357440923:role/Breakglass".into(),
            ],
            users: vec!["arn:aws:iam::339712836516:role/datamesh-ecs-task".into()],
            trusted_accounts: vec!["339712836516".into()],
            services: vec![
                ServiceAccess { name: "rds".into(), caller_accounts: Some(vec!["339712836516".into()]) },
                ServiceAccess { name: "logs".into(), caller_accounts: None },
            ],
            statements: vec![
                serde_json::from_value(json!({
                    "Sid": "DenyWithoutTls",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "kms:*",
                    "Resource": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": false}},
                }))
                .expect("an IAM statement"),
            ],
        }
    }

    #[test]
    fn object_key_order_is_ignored() {
        let a: Value = serde_json::from_str(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
        )
        .unwrap();
        let b: Value = serde_json::from_str(
            r#"{"Statement":[{"Resource":"*","Action":"kms:*","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Effect":"Allow","Sid":"S"}],"Version":"2012-10-17"}"#,
        )
        .unwrap();
        assert_equivalent(&a, &b);
    }

    #[test]
    fn string_equals_one_element_list_in_every_set_position() {
        let a = policy(json!([{
            "Sid": "S", "Effect": "Deny",
            "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/A", "Service": "logs.amazonaws.com"},
            "NotAction": "kms:Decrypt",
            "NotResource": "arn:aws:kms:us-east-1:111122223333:key/x",
            "Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}},
        }]));
        let b = policy(json!([{
            "Sid": "S", "Effect": "Deny",
            "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:role/A"], "Service": ["logs.amazonaws.com"]},
            "NotAction": ["kms:Decrypt"],
            "NotResource": ["arn:aws:kms:us-east-1:111122223333:key/x"],
            "Condition": {"StringEquals": {"kms:CallerAccount": ["111122223333"]}},
        }]));
        assert_equivalent(&a, &b);
        assert_equivalent(
            &policy(json!([stmt(json!({"Action": "kms:Decrypt", "Resource": "*"}))])),
            &policy(json!([stmt(json!({"Action": ["kms:Decrypt"], "Resource": ["*"]}))])),
        );
    }

    #[test]
    fn lists_compare_as_sets() {
        let a = policy(json!([stmt(json!({
            "Principal": {"AWS": ["arn:aws:iam::111122223333:role/A", "arn:aws:iam::111122223333:role/B"]},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:Encrypt"],
            "Resource": ["b", "a"],
            "Condition": {"StringEquals": {"kms:CallerAccount": ["2", "1", "2"]}},
        }))]));
        let b = policy(json!([stmt(json!({
            "Principal": {"AWS": ["arn:aws:iam::111122223333:role/B", "arn:aws:iam::111122223333:role/A", "arn:aws:iam::111122223333:role/B"]},
            "Action": ["kms:Decrypt", "kms:Encrypt"],
            "Resource": ["a", "b", "a"],
            "Condition": {"StringEquals": {"kms:CallerAccount": ["1", "2"]}},
        }))]));
        assert_equivalent(&a, &b);
    }

    #[test]
    fn principal_star_spellings() {
        let star = policy(json!([stmt(json!({"Principal": "*"}))]));
        let aws_star = policy(json!([stmt(json!({"Principal": {"AWS": "*"}}))]));
        let aws_star_list = policy(json!([stmt(json!({"Principal": {"AWS": ["*"]}}))]));
        assert_equivalent(&star, &aws_star);
        assert_equivalent(&star, &aws_star_list);
        assert_equivalent(&aws_star, &aws_star_list);
        let not_star = policy(json!([stmt(json!({"NotPrincipal": "*"}))]));
        let not_aws_star = policy(json!([stmt(json!({"NotPrincipal": {"AWS": "*"}}))]));
        assert_equivalent(&not_star, &not_aws_star);
    }

    #[test]
    fn account_id_equals_its_root_arn() {
        let bare = policy(json!([stmt(json!({"Principal": {"AWS": "111122223333"}}))]));
        let arn = policy(json!([stmt(json!({"Principal": {"AWS": "arn:aws:iam::111122223333:root"}}))]));
        assert_equivalent(&bare, &arn);
        let mixed =
            policy(json!([stmt(json!({"Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:root"]}}))]));
        assert_equivalent(&mixed, &arn);
        assert_eq!(canonical(&bare)["Statement"][0]["Principal"], json!({"AWS": ["arn:aws:iam::111122223333:root"]}));
    }

    #[test]
    fn account_id_takes_the_partition_of_the_document() {
        let bare = policy(json!([stmt(json!({
            "Principal": {"AWS": ["111122223333", "arn:aws-cn:iam::111122223333:role/A"]}
        }))]));
        let arn = policy(json!([stmt(json!({
            "Principal": {"AWS": ["arn:aws-cn:iam::111122223333:root", "arn:aws-cn:iam::111122223333:role/A"]}
        }))]));
        assert_equivalent(&bare, &arn);
    }

    #[test]
    fn account_id_takes_the_partition_of_the_other_document_when_it_has_none() {
        let bare = policy(json!([stmt(json!({"Principal": {"AWS": "111122223333"}}))]));
        let cn = policy(json!([stmt(json!({"Principal": {"AWS": "arn:aws-cn:iam::111122223333:root"}}))]));
        assert!(equivalent(&bare, &cn));
        assert!(equivalent(&cn, &bare));
    }

    #[test]
    fn account_id_normalisation_is_only_for_aws_principals_and_twelve_digits() {
        let service = policy(json!([stmt(json!({"Principal": {"Service": "111122223333"}}))]));
        let service_arn = policy(json!([stmt(json!({"Principal": {"Service": "arn:aws:iam::111122223333:root"}}))]));
        assert_different(&service, &service_arn);
        let short = policy(json!([stmt(json!({"Principal": {"AWS": "11112222333"}}))]));
        let short_arn = policy(json!([stmt(json!({"Principal": {"AWS": "arn:aws:iam::11112222333:root"}}))]));
        assert_different(&short, &short_arn);
    }

    #[test]
    fn condition_scalars_equal_their_strings() {
        let typed = policy(json!([stmt(json!({"Condition": {
            "Bool": {"kms:GrantIsForAWSResource": true},
            "NumericLessThan": {"kms:RecipientAttestation:ImageSha384": 5},
        }}))]));
        let strings = policy(json!([stmt(json!({"Condition": {
            "Bool": {"kms:GrantIsForAWSResource": "true"},
            "NumericLessThan": {"kms:RecipientAttestation:ImageSha384": ["5"]},
        }}))]));
        assert_equivalent(&typed, &strings);
        let f = policy(json!([stmt(json!({"Condition": {"Bool": {"aws:SecureTransport": [false]}}}))]));
        let fs = policy(json!([stmt(json!({"Condition": {"Bool": {"aws:SecureTransport": "false"}}}))]));
        assert_equivalent(&f, &fs);
    }

    #[test]
    fn single_statement_object_equals_a_list_of_one() {
        let one = json!({"Version": "2012-10-17", "Statement": stmt(json!({}))});
        let list = policy(json!([stmt(json!({}))]));
        assert_equivalent(&one, &list);
    }

    #[test]
    fn statement_order_is_ignored_and_statements_are_a_multiset() {
        let a = stmt(json!({"Sid": "A"}));
        let b = stmt(json!({"Sid": "B", "Action": "kms:Encrypt"}));
        let c = stmt(json!({"Sid": "", "Action": "kms:Encrypt"}));
        assert_equivalent(
            &policy(json!([a.clone(), b.clone(), c.clone()])),
            &policy(json!([c.clone(), b.clone(), a.clone()])),
        );
        assert_different(&policy(json!([a.clone(), b.clone()])), &policy(json!([a.clone(), b.clone(), b.clone()])));
    }

    #[test]
    fn action_case_is_ignored() {
        let a = policy(json!([stmt(json!({"Action": ["KMS:Decrypt", "kms:generatedatakey*"]}))]));
        let b = policy(json!([stmt(json!({"Action": ["kms:decrypt", "kms:GenerateDataKey*"]}))]));
        assert_equivalent(&a, &b);
        let na = policy(json!([stmt(json!({"NotAction": "KMS:ENCRYPT"}))]));
        let nb = policy(json!([stmt(json!({"NotAction": "kms:Encrypt"}))]));
        assert_equivalent(&na, &nb);
    }

    #[test]
    fn resource_case_is_not_ignored() {
        let a = policy(json!([stmt(json!({"Resource": "arn:aws:kms:us-east-1:111122223333:key/ABC"}))]));
        let b = policy(json!([stmt(json!({"Resource": "arn:aws:kms:us-east-1:111122223333:key/abc"}))]));
        assert_different(&a, &b);
    }

    #[test]
    fn different_principal_is_a_difference() {
        let a = policy(json!([stmt(json!({"Principal": {"AWS": "arn:aws:iam::111122223333:role/A"}}))]));
        let b = policy(json!([stmt(json!({"Principal": {"AWS": "arn:aws:iam::111122223333:role/B"}}))]));
        assert_different(&a, &b);
        let svc = policy(json!([stmt(json!({"Principal": {"Service": "arn:aws:iam::111122223333:role/A"}}))]));
        assert_different(&a, &svc);
        let star = policy(json!([stmt(json!({"Principal": "*"}))]));
        let svc_star = policy(json!([stmt(json!({"Principal": {"Service": "*"}}))]));
        assert_different(&star, &svc_star);
        let principal = policy(json!([stmt(json!({"Principal": "*"}))]));
        let mut not_principal = principal.clone();
        let s = not_principal["Statement"][0].as_object_mut().unwrap();
        let p = s.remove("Principal").unwrap();
        s.insert("NotPrincipal".into(), p);
        assert_different(&principal, &not_principal);
    }

    #[test]
    fn extra_action_is_a_difference() {
        let a = policy(json!([stmt(json!({"Action": ["kms:Decrypt"]}))]));
        let b = policy(json!([stmt(json!({"Action": ["kms:Decrypt", "kms:Encrypt"]}))]));
        assert_different(&a, &b);
    }

    #[test]
    fn different_sid_is_a_difference() {
        assert_different(&policy(json!([stmt(json!({"Sid": "A"}))])), &policy(json!([stmt(json!({"Sid": "B"}))])));
        let mut no_sid = stmt(json!({}));
        no_sid.as_object_mut().unwrap().remove("Sid");
        assert_different(&policy(json!([stmt(json!({"Sid": ""}))])), &policy(json!([no_sid])));
    }

    #[test]
    fn different_condition_is_a_difference() {
        let base = |v: Value| policy(json!([stmt(json!({"Condition": {"StringEquals": {"kms:CallerAccount": v}}}))]));
        assert_different(&base(json!("111122223333")), &base(json!("444455556666")));
        assert_different(&base(json!(["111122223333"])), &base(json!(["111122223333", "444455556666"])));
        let op = |op: &str| policy(json!([stmt(json!({"Condition": {op: {"kms:CallerAccount": "1"}}}))]));
        assert_different(&op("StringEquals"), &op("StringLike"));
        let bool_true = policy(json!([stmt(json!({"Condition": {"Bool": {"aws:SecureTransport": true}}}))]));
        let bool_false = policy(json!([stmt(json!({"Condition": {"Bool": {"aws:SecureTransport": "false"}}}))]));
        assert_different(&bool_true, &bool_false);
        assert_different(&base(json!("1")), &policy(json!([stmt(json!({}))])));
    }

    #[test]
    fn other_fields_are_compared_exactly() {
        let p = |version: &str, id: Option<&str>, effect: &str| {
            let mut doc = json!({"Version": version, "Statement": [stmt(json!({"Effect": effect}))]});
            if let Some(id) = id {
                doc["Id"] = json!(id);
            }
            doc
        };
        assert_different(&p("2012-10-17", None, "Allow"), &p("2008-10-17", None, "Allow"));
        assert_different(&p("2012-10-17", None, "Allow"), &p("2012-10-17", Some("key-default-1"), "Allow"));
        assert_different(&p("2012-10-17", Some("a"), "Allow"), &p("2012-10-17", Some("b"), "Allow"));
        assert_different(&p("2012-10-17", None, "Allow"), &p("2012-10-17", None, "Deny"));
    }

    #[test]
    fn built_policy_equals_kms_reformatting() {
        // What KMS might hand back: 4-space indent, reordered keys, single values unwrapped or
        // wrapped differently, condition booleans as JSON booleans.
        let built = build(&full_spec(), &ctx());
        let returned: Value = serde_json::from_str(
            r#"{
    "Statement" : [ {
        "Resource" : "*", "Effect" : "Deny", "Sid" : "DenyWithoutTls",
        "Principal" : { "AWS" : "*" }, "Action" : "kms:*",
        "Condition" : { "Bool" : { "aws:SecureTransport" : "false" } }
    }, {
        "Sid" : "AllowUseViaLogs", "Effect" : "Allow", "Principal" : { "AWS" : "*" },
        "Action" : [ "kms:CreateGrant", "kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*" ],
        "Resource" : "*",
        "Condition" : { "StringEquals" : { "kms:CallerAccount" : [ "339712836516", "484357440923" ], "kms:ViaService" : "logs.ap-southeast-2.amazonaws.com" } }
    }, {
        "Sid" : "AllowUseViaRds", "Effect" : "Allow", "Principal" : { "AWS" : "*" },
        "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant" ],
        "Resource" : "*",
        "Condition" : { "StringEquals" : { "kms:ViaService" : "rds.ap-southeast-2.amazonaws.com", "kms:CallerAccount" : "339712836516" } }
    }, {
        "Sid" : "AllowTrustedAccountGrants", "Effect" : "Allow",
        "Principal" : { "AWS" : [ "339712836516" ] },
        "Action" : [ "kms:RevokeGrant", "kms:ListGrants", "kms:CreateGrant" ], "Resource" : "*",
        "Condition" : { "Bool" : { "kms:GrantIsForAWSResource" : true } }
    }, {
        "Sid" : "AllowTrustedAccountUse", "Effect" : "Allow",
        "Principal" : { "AWS" : "arn:aws:iam::339712836516:root" },
        "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey" ], "Resource" : "*"
    }, {
        "Sid" : "AllowKeyUse", "Effect" : "Allow",
        "Principal" : { "AWS" : [ "arn:aws:iam::339712836516:role/datamesh-ecs-task" ] },
        "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey" ], "Resource" : [ "*" ]
    }, {
        "Sid" : "AllowKeyAdministration", "Effect" : "Allow",
        "Principal" : { "AWS" : [ "arn:aws:iam::484357440923:role/Breakglass", "arn:aws:iam::484357440923:role/PlatformKmsAdmin" ] },
        "Action" : [ "kms:UpdatePrimaryRegion", "kms:UpdateKeyDescription", "kms:UpdateAlias", "kms:UntagResource", "kms:TagResource",
                     "kms:ScheduleKeyDeletion", "kms:RotateKeyOnDemand", "kms:RevokeGrant", "kms:ReplicateKey", "kms:PutKeyPolicy",
                     "kms:ListResourceTags", "kms:ListKeyRotations", "kms:ListKeyPolicies", "kms:ListGrants", "kms:ListAliases",
                     "kms:GetKeyRotationStatus", "kms:GetKeyPolicy", "kms:EnableKeyRotation", "kms:EnableKey", "kms:DisableKeyRotation",
                     "kms:DisableKey", "kms:DescribeKey", "kms:DeleteAlias", "kms:CreateAlias", "kms:CancelKeyDeletion" ],
        "Resource" : "*"
    }, {
        "Sid" : "EnableRootAccess", "Effect" : "Allow",
        "Principal" : { "AWS" : "484357440923" }, "Action" : "KMS:*", "Resource" : "*"
    } ],
    "Version" : "2012-10-17"
}"#,
        )
        .unwrap();
        assert_equivalent(&built, &returned);
    }

    #[test]
    fn permutations_of_a_built_policy_are_equivalent() {
        let built = build(&full_spec(), &ctx());
        let original = built["Statement"].as_array().unwrap().clone();
        let n = original.len();
        let permutations: Vec<Vec<Value>> = vec![
            original.iter().rev().cloned().collect(),
            (0..n).map(|i| original[(i + 3) % n].clone()).collect(),
            (0..n).map(|i| original[(i * 5) % n].clone()).collect(),
            original.iter().step_by(2).chain(original.iter().skip(1).step_by(2)).cloned().collect(),
        ];
        for statements in permutations {
            // Reverse every list inside the statements too.
            let shuffled: Vec<Value> = statements.into_iter().map(reverse_lists).collect();
            let doc = json!({"Statement": shuffled, "Version": "2012-10-17"});
            assert_equivalent(&built, &doc);
            assert_eq!(to_pretty_json(&canonical(&built)), to_pretty_json(&canonical(&doc)));
        }
    }

    fn reverse_lists(value: Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.into_iter().rev().map(reverse_lists).collect()),
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, reverse_lists(v))).collect()),
            other => other,
        }
    }

    #[test]
    fn canonical_is_idempotent() {
        let docs = [
            build(&full_spec(), &ctx()),
            default_policy(&ctx()),
            policy(json!([stmt(json!({"Principal": {"AWS": "111122223333"}, "Condition": {"Bool": {"a": true}}}))])),
            json!({"Statement": stmt(json!({"Principal": "*"}))}),
            json!({"Version": "2012-10-17", "Statement": [{"Principal": {"AWS": "arn:aws-cn:iam::1:role/x"}, "Action": "x"}, {"Principal": {"AWS": "111122223333"}}]}),
        ];
        for doc in docs {
            let once = canonical(&doc);
            assert_eq!(canonical(&once), once);
            assert!(equivalent(&doc, &once));
        }
    }

    #[test]
    fn canonical_shape() {
        let doc = json!({
            "Version": "2012-10-17",
            "Statement": {
                "Sid": "S",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "KMS:Decrypt",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": true}},
            },
        });
        assert_eq!(
            canonical(&doc),
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "S",
                    "Effect": "Allow",
                    "Principal": {"AWS": ["*"]},
                    "Action": ["kms:decrypt"],
                    "Resource": ["*"],
                    "Condition": {"Bool": {"kms:GrantIsForAWSResource": ["true"]}},
                }],
            })
        );
    }

    #[test]
    fn statements_sort_by_sid() {
        let doc =
            policy(json!([stmt(json!({"Sid": "Zeta"})), stmt(json!({"Sid": "Alpha"})), stmt(json!({"Sid": "Mid"})),]));
        let sids: Vec<Value> =
            canonical(&doc)["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].clone()).collect();
        assert_eq!(sids, [json!("Alpha"), json!("Mid"), json!("Zeta")]);
    }

    #[test]
    fn malformed_input_is_kept_and_compared_exactly() {
        assert_eq!(canonical(&json!("not a policy")), json!("not a policy"));
        assert_eq!(canonical(&json!(null)), json!(null));
        let odd = policy(json!([stmt(json!({"Action": ["kms:Decrypt", 3], "Condition": {"Null": {"k": null}}}))]));
        assert_different(
            &odd,
            &policy(json!([stmt(json!({"Action": ["kms:Decrypt", "3"], "Condition": {"Null": {"k": null}}}))])),
        );
        let string_statement = json!({"Version": "2012-10-17", "Statement": "oops"});
        assert_eq!(canonical(&string_statement)["Statement"], "oops");
    }

    #[test]
    fn partition_inference() {
        let default = |docs: &[&Value]| partition_of(docs).default;
        assert_eq!(default(&[&json!({"a": "111122223333"})]), "aws");
        assert_eq!(default(&[&json!(["arn:aws-cn:iam::1:root", "arn:aws-cn:kms:x"])]), "aws-cn");
        assert_eq!(default(&[&json!(["arn:aws-cn:iam::1:root", "arn:aws-us-gov:iam::1:root"])]), "aws");
        assert_eq!(default(&[&json!("arn::x")]), "aws");
        assert_eq!(default(&[&json!(1), &json!({"x": ["arn:aws-us-gov:iam::1:root"]})]), "aws-us-gov");
    }

    #[test]
    fn account_id_takes_the_partition_of_its_own_root_arn() {
        // A document that mixes partitions (no single default) still matches an account id to
        // that account's root ARN.
        let bare = policy(json!([stmt(json!({
            "Principal": {"AWS": ["111122223333", "arn:aws:iam::444455556666:role/A"]}
        }))]));
        let gov = policy(json!([stmt(json!({
            "Principal": {"AWS": ["arn:aws-us-gov:iam::111122223333:root", "arn:aws:iam::444455556666:role/A"]}
        }))]));
        // Alone, `bare` has no root ARN to take a partition from: only together do they agree.
        assert!(equivalent(&bare, &gov) && equivalent(&gov, &bare));
        assert!(crate::policy::diff(&bare, &gov).is_empty());
        let other_account = policy(json!([stmt(json!({
            "Principal": {"AWS": ["arn:aws-us-gov:iam::999988887777:root", "arn:aws:iam::444455556666:role/A"]}
        }))]));
        assert_different(&bare, &other_account);
        // Root ARNs of one account in two partitions are two principals, never one.
        let two = policy(json!([stmt(json!({"Principal": {"AWS": "arn:aws:iam::111122223333:root"}}))]));
        let cn = policy(json!([stmt(json!({"Principal": {"AWS": "arn:aws-cn:iam::111122223333:root"}}))]));
        assert_different(&two, &cn);
    }

    #[test]
    fn effect_case_is_ignored() {
        let effect = |e: &str| policy(json!([stmt(json!({"Effect": e}))]));
        assert_equivalent(&effect("Allow"), &effect("allow"));
        assert_equivalent(&effect("DENY"), &effect("Deny"));
        assert_different(&effect("Allow"), &effect("Deny"));
        assert_different(&effect("allow"), &effect("deny"));
        assert_eq!(canonical(&effect("aLLow"))["Statement"][0]["Effect"], "Allow");
    }

    #[test]
    fn an_empty_set_is_the_same_as_none() {
        let without = {
            let mut s = stmt(json!({}));
            s.as_object_mut().unwrap().remove("Resource");
            policy(json!([s]))
        };
        assert_equivalent(&without, &policy(json!([stmt(json!({"Resource": []}))])));
        let mut with_empty = stmt(json!({"NotAction": [], "NotResource": []}));
        with_empty["Principal"] = json!({"AWS": "arn:aws:iam::111122223333:role/App", "Service": []});
        assert_equivalent(&policy(json!([stmt(json!({}))])), &policy(json!([with_empty])));
        let no_principal = {
            let mut s = stmt(json!({}));
            s.as_object_mut().unwrap().remove("Principal");
            policy(json!([s]))
        };
        assert_equivalent(&no_principal, &policy(json!([stmt(json!({"Principal": {"AWS": []}}))])));
        // An empty list is not a wildcard.
        assert_different(&without, &policy(json!([stmt(json!({"Resource": "*"}))])));
    }
}
