//! Admission: whether an object may use its account at all, decided before the engine reads
//! or writes anything for it. Both front doors call these functions with what they know (the
//! account's spec, the namespace's labels from the cluster or from `Namespace` manifests); the
//! engine then applies the rules that need KMS's answer (who owns the key) with the `Tenant`
//! an admitted object gets.

use serde_json::Value;

use crate::api::Reason;
use crate::api::tenancy::{self, Labels, Permitted, Refusal, StatementOrigin};
use crate::api::{AwsAccountSpec, Kind, KmsKey, ObjectName, PolicySpec};
use crate::engine::desired::build_context;
use crate::engine::on_key::OnKey;
use crate::policy;

/// What an admitted object may do that depends on its namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub namespace: String,
    /// Whether the namespace may adopt or target keys the operator did not create
    /// (`permissions.adoptionNamespaces`).
    pub may_adopt: bool,
}

/// The `AwsAccount` an object uses, by name and spec.
#[derive(Clone, Copy, Debug)]
pub struct AccountRef<'a> {
    pub name: &'a str,
    pub spec: &'a AwsAccountSpec,
}

impl<'a> AccountRef<'a> {
    fn permitted(self) -> Permitted<'a> {
        Permitted { account: self.name, spec: self.spec }
    }
}

/// The namespace rule first (when it refuses, nothing else about the object matters to its
/// account), then the object's own rules.
fn admit(
    object: &ObjectName,
    account: AccountRef<'_>,
    labels: &Labels,
    rules: impl FnOnce(Permitted<'_>) -> Vec<Refusal>,
) -> Result<Tenant, Vec<Refusal>> {
    if let Some(refusal) = tenancy::namespace_refusal(object, account.name, account.spec, labels) {
        return Err(vec![refusal]);
    }
    let refusals = rules(account.permitted());
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let adoption = account.spec.permissions.as_ref().and_then(|p| p.adoption_namespaces.as_ref());
    Ok(Tenant {
        namespace: object.namespace.clone().unwrap_or_else(|| "default".to_owned()),
        may_adopt: tenancy::selects(adoption, labels),
    })
}

/// A `KmsKey` in a namespace with `labels`, using `account`.
pub fn admit_key(key: &KmsKey, account: AccountRef<'_>, labels: &Labels) -> Result<Tenant, Vec<Refusal>> {
    let object = ObjectName::of(Kind::KmsKey, &key.metadata);
    admit(&object, account, labels, |permitted| {
        let mut refusals = tenancy::check_key(key, &object, permitted);
        refusals.extend(tenancy::check_notify(key, &object, permitted));
        refusals.extend(delegation_refusals(key, &object, permitted));
        refusals
    })
}

/// No re-delegation, judged on the policy document the key would get in its primary region:
/// the builder's whole output or the parsed `policyDocument` (replicas differ only in the
/// region their `kms:ViaService` names).
fn delegation_refusals(key: &KmsKey, object: &ObjectName, permitted: Permitted<'_>) -> Vec<Refusal> {
    let region = key.spec.region.as_deref().unwrap_or(&permitted.spec.region);
    let ctx = build_context(key, &permitted.spec.account_id, region);
    if let Some(spec) = &key.spec.policy {
        let document = policy::build(spec, &ctx);
        // The builder writes its own statements first; the count tells the user's apart.
        let own_only = PolicySpec { statements: Default::default(), ..spec.clone() };
        let generated = statement_count(&policy::build(&own_only, &ctx));
        return tenancy::check_delegation(&document, StatementOrigin::Builder { generated }, object, permitted);
    }
    // A document that does not parse is validation's to report.
    match key.spec.policy_document.as_deref().map(serde_json::from_str::<Value>) {
        Some(Ok(document)) => tenancy::check_delegation(&document, StatementOrigin::Document, object, permitted),
        _ => Vec::new(),
    }
}

fn statement_count(document: &Value) -> usize {
    document.get("Statement").and_then(Value::as_array).map_or(0, Vec::len)
}

/// A `KmsAlias` or `KmsGrant`, using the account of the key it points at.
pub fn admit_on_key<T: OnKey>(object: &T, account: AccountRef<'_>, labels: &Labels) -> Result<Tenant, Vec<Refusal>> {
    let name = object.object_name();
    let tenant = admit(&name, account, labels, |permitted| object.refusals(&name, permitted))?;
    if object.adopts() && !tenant.may_adopt {
        return Err(vec![tenancy::alias_adoption_refusal(&name, account.name)]);
    }
    Ok(tenant)
}

/// Whether an alias or grant may remove what it made in `account`: only whether its namespace
/// may use the account at all. Removing opens nothing, so the object's own rules (which
/// principals a grant may name, say) do not keep a grant live after the account narrowed them.
pub fn admit_removal<T: OnKey>(object: &T, account: AccountRef<'_>, labels: &Labels) -> Result<Tenant, Vec<Refusal>> {
    admit(&object.object_name(), account, labels, |_| Vec::new())
}

/// One line for all refusals of an object: the first reason, every message (each a sentence).
pub fn summary(refusals: &[Refusal]) -> Option<(Reason, String)> {
    let first = refusals.first()?;
    let message = refusals.iter().map(|r| r.issue.to_string()).collect::<Vec<_>>().join(" ");
    Some((first.reason, message))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OWN: &str = "484357440923";
    const PARTNER: &str = "339712836516";

    fn account(permissions: Value) -> AwsAccountSpec {
        serde_json::from_value(
            json!({"accountId": OWN, "region": "eu-west-1", "allowedNamespaces": {}, "permissions": permissions}),
        )
        .unwrap()
    }

    fn key(spec: Value) -> KmsKey {
        let mut full = json!({"accountRef": "sec"});
        json_merge(&mut full, spec);
        let mut key = KmsKey::new("k", serde_json::from_value(full).unwrap());
        key.metadata.namespace = Some("team-b".into());
        key
    }

    fn json_merge(into: &mut Value, from: Value) {
        if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
            into.extend(from);
        }
    }

    fn admitted(key: &KmsKey, delegate: bool) -> Result<Tenant, Vec<Refusal>> {
        let spec = account(json!({"principalAccounts": [PARTNER], "delegateGrants": delegate}));
        admit_key(key, AccountRef { name: "sec", spec: &spec }, &Labels::new())
    }

    #[test]
    fn the_builder_s_own_grant_statements_keep_grants_to_aws_services() {
        let shared = key(json!({"policy": {
            "trustedAccounts": [PARTNER],
            "services": [{"name": "rds", "callerAccounts": [PARTNER]}],
        }}));
        assert!(admitted(&shared, false).is_ok());
    }

    #[test]
    fn a_statement_handing_create_grant_to_another_account_is_refused_where_it_is_written() {
        let delegating = key(json!({"policy": {
            "trustedAccounts": [PARTNER],
            "statements": [
                {"Sid": "Fine", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")}, "Action": "kms:Decrypt", "Resource": "*"},
                {"Sid": "Delegate", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")}, "Action": "kms:Create*", "Resource": "*"},
            ],
        }}));
        let refusals = admitted(&delegating, false).expect_err("refused");
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert_eq!(refusals[0].issue.field, "spec.policy.statements[1]");
        assert!(
            refusals[0].issue.problem.starts_with("statement (Sid \"Delegate\") allows kms:CreateGrant"),
            "{}",
            refusals[0].issue
        );
        assert!(admitted(&delegating, true).is_ok(), "the account may permit delegation");

        let document = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": PARTNER}, "NotAction": "kms:Decrypt", "Resource": "*"}]});
        let raw = key(json!({"policyDocument": document.to_string()}));
        let refusals = admitted(&raw, false).expect_err("refused");
        assert_eq!(refusals[0].issue.field, "spec.policyDocument");
    }
}
