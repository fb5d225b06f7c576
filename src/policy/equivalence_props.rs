//! Property tests for [`equivalent`]: a generated policy written out two different ways is
//! always equivalent to itself, and one changed principal, action or condition value never is.
//!
//! A policy is generated as a model (sets, no spelling) and rendered to JSON with choices
//! drawn from a list of random numbers: statement and list order, a single value as a string
//! or a one-element list, duplicates, an account as its id or its root ARN, the case of Effect
//! and of action names, a boolean condition as `true` or `"true"`. Every choice is one IAM
//! ignores, so two renderings must compare equal.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::equivalent;

#[derive(Debug, Clone)]
struct StatementModel {
    sid: String,
    allow: bool,
    accounts: BTreeSet<String>,
    roles: BTreeSet<String>,
    services: BTreeSet<String>,
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
    caller_accounts: BTreeSet<String>,
    secure_transport: Option<bool>,
}

#[derive(Debug, Clone)]
struct PolicyModel {
    partition: &'static str,
    statements: Vec<StatementModel>,
}

const ACCOUNTS: [&str; 4] = ["111122223333", "444455556666", "777788889999", "123456789012"];
const ROLES: [&str; 4] = ["App", "Admin", "Breakglass", "Reader"];
const SERVICES: [&str; 3] = ["logs.amazonaws.com", "s3.amazonaws.com", "rds.amazonaws.com"];
const ACTIONS: [&str; 8] = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:PutKeyPolicy",
    "kms:*",
];
const RESOURCES: [&str; 3] =
    ["*", "arn:PARTITION:kms:us-east-1:111122223333:key/a", "arn:PARTITION:kms:us-east-1:111122223333:key/b"];

fn subset(pool: &'static [&'static str], min: usize) -> impl Strategy<Value = BTreeSet<String>> {
    proptest::sample::subsequence(pool, min..=pool.len())
        .prop_map(|items| items.into_iter().map(str::to_owned).collect())
}

fn statement_model(index: usize) -> impl Strategy<Value = StatementModel> {
    (
        any::<bool>(),
        subset(&ACCOUNTS, 0),
        subset(&ROLES, 0),
        subset(&SERVICES, 0),
        subset(&ACTIONS, 1),
        subset(&RESOURCES, 1),
        subset(&ACCOUNTS, 0),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(move |(allow, accounts, roles, services, actions, resources, caller_accounts, secure)| {
            // At least one principal, so that every statement can have one changed.
            let accounts = if accounts.is_empty() && roles.is_empty() && services.is_empty() {
                BTreeSet::from([ACCOUNTS[index % ACCOUNTS.len()].to_owned()])
            } else {
                accounts
            };
            StatementModel {
                sid: format!("Statement{index}"),
                allow,
                accounts,
                roles,
                services,
                actions,
                resources,
                caller_accounts,
                secure_transport: secure,
            }
        })
}

fn policy_model() -> impl Strategy<Value = PolicyModel> {
    (prop_oneof![Just("aws"), Just("aws-cn"), Just("aws-us-gov")], 1usize..5).prop_flat_map(|(partition, count)| {
        (0..count)
            .map(statement_model)
            .collect::<Vec<_>>()
            .prop_map(move |statements| PolicyModel { partition, statements })
    })
}

/// Random numbers consumed one per spelling choice; when they run out, the choices repeat.
struct Choices<'a> {
    numbers: &'a [u32],
    next: usize,
}

impl Choices<'_> {
    fn pick(&mut self, range: usize) -> usize {
        let n = self.numbers.get(self.next % self.numbers.len().max(1)).copied().unwrap_or(0);
        self.next += 1;
        n as usize % range.max(1)
    }

    fn flip(&mut self) -> bool {
        self.pick(2) == 1
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.pick(i + 1);
            items.swap(i, j);
        }
    }

    /// A set written as IAM allows: a lone value as a string or a one-element list, several
    /// in any order, sometimes with a repeat.
    fn set(&mut self, values: impl IntoIterator<Item = String>) -> Value {
        let mut values: Vec<String> = values.into_iter().collect();
        if values.len() == 1 && self.flip() {
            return Value::String(values.remove(0));
        }
        if let Some(first) = values.first().cloned()
            && self.pick(4) == 0
        {
            values.push(first);
        }
        self.shuffle(&mut values);
        Value::Array(values.into_iter().map(Value::String).collect())
    }

    fn case(&mut self, text: &str) -> String {
        match self.pick(3) {
            0 => text.to_owned(),
            1 => text.to_lowercase(),
            _ => text.to_uppercase(),
        }
    }
}

fn render(model: &PolicyModel, numbers: &[u32]) -> Value {
    let mut choices = Choices { numbers, next: 0 };
    let partition = model.partition;
    let mut statements: Vec<Value> =
        model.statements.iter().map(|s| render_statement(s, partition, &mut choices)).collect();
    choices.shuffle(&mut statements);
    let statement =
        if statements.len() == 1 && choices.flip() { statements.remove(0) } else { Value::Array(statements) };
    json!({"Version": "2012-10-17", "Statement": statement})
}

fn render_statement(model: &StatementModel, partition: &str, choices: &mut Choices) -> Value {
    let mut out = Map::new();
    out.insert("Sid".into(), json!(model.sid));
    out.insert("Effect".into(), json!(choices.case(if model.allow { "Allow" } else { "Deny" })));
    let mut aws: Vec<String> = Vec::new();
    for account in &model.accounts {
        aws.push(if choices.flip() { account.clone() } else { format!("arn:{partition}:iam::{account}:root") });
    }
    aws.extend(model.roles.iter().map(|role| format!("arn:{partition}:iam::111122223333:role/{role}")));
    let mut principal = Map::new();
    if !aws.is_empty() {
        principal.insert("AWS".into(), choices.set(aws));
    }
    if !model.services.is_empty() {
        principal.insert("Service".into(), choices.set(model.services.iter().cloned()));
    }
    out.insert("Principal".into(), Value::Object(principal));
    let actions: Vec<String> = model.actions.iter().map(|a| choices.case(a)).collect();
    out.insert("Action".into(), choices.set(actions));
    out.insert("Resource".into(), choices.set(model.resources.iter().map(|r| r.replace("PARTITION", partition))));
    let mut condition = Map::new();
    if !model.caller_accounts.is_empty() {
        condition.insert(
            "StringEquals".into(),
            json!({"kms:CallerAccount": choices.set(model.caller_accounts.iter().cloned())}),
        );
    }
    if let Some(secure) = model.secure_transport {
        let value = match choices.pick(3) {
            0 => json!(secure),
            1 => json!(secure.to_string()),
            _ => json!([secure]),
        };
        condition.insert("Bool".into(), json!({"aws:SecureTransport": value}));
    }
    if !condition.is_empty() {
        out.insert("Condition".into(), Value::Object(condition));
    }
    Value::Object(out)
}

/// An account the generator never uses, so putting it in a set always changes the set.
const UNUSED_ACCOUNT: &str = "210987654321";

/// One change that alters what a statement allows.
#[derive(Debug, Clone, Copy)]
enum Change {
    Principal,
    Action,
    ConditionValue,
}

fn changed(model: &PolicyModel, statement: usize, change: Change) -> PolicyModel {
    let mut model = model.clone();
    let index = statement % model.statements.len();
    let s = &mut model.statements[index];
    match change {
        Change::Principal => {
            // Swap one principal for one that appears nowhere in the statement.
            if let Some(role) = s.roles.pop_first() {
                s.roles.insert(format!("{role}-replaced"));
            } else if s.accounts.pop_first().is_some() {
                s.accounts.insert(UNUSED_ACCOUNT.to_owned());
            } else if let Some(service) = s.services.pop_first() {
                s.services.insert(format!("replaced.{service}"));
            }
        }
        Change::Action => {
            s.actions.insert("kms:ScheduleKeyDeletion".to_owned());
        }
        Change::ConditionValue => {
            if s.caller_accounts.pop_first().is_some() {
                s.caller_accounts.insert(UNUSED_ACCOUNT.to_owned());
            } else {
                s.secure_transport = Some(!s.secure_transport.unwrap_or(false));
            }
        }
    }
    model
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_two_spellings_of_a_policy_are_equivalent(
        model in policy_model(),
        first in proptest::collection::vec(any::<u32>(), 1..64),
        second in proptest::collection::vec(any::<u32>(), 1..64),
    ) {
        let a = render(&model, &first);
        let b = render(&model, &second);
        prop_assert!(equivalent(&a, &b), "expected equivalent:\n{a:#}\n{b:#}");
        prop_assert!(equivalent(&b, &a));
    }

    #[test]
    fn a_changed_principal_action_or_condition_value_is_never_equivalent(
        model in policy_model(),
        statement in any::<usize>(),
        change in prop_oneof![Just(Change::Principal), Just(Change::Action), Just(Change::ConditionValue)],
        first in proptest::collection::vec(any::<u32>(), 1..64),
        second in proptest::collection::vec(any::<u32>(), 1..64),
    ) {
        let other = changed(&model, statement, change);
        let a = render(&model, &first);
        let b = render(&other, &second);
        prop_assert!(!equivalent(&a, &b), "{change:?} went unnoticed:\n{a:#}\n{b:#}");
        prop_assert!(!equivalent(&b, &a));
    }
}
