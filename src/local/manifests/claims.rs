//! Two manifests that manage one KMS object would undo each other on every run (two grants of
//! one name retiring each other, two imports rewriting one description), so a set where two
//! objects claim the same key, alias or grant is invalid before any AWS call.

use std::collections::BTreeMap;

use super::set::{ManifestSet, namespace_of};
use super::{Loaded, Source};
use crate::api::validate::Issue;
use crate::api::validate::names::parse_key_target;
use crate::api::{KeyPointer, Kind, ObjectName};

/// What one object manages in KMS, and where it says so.
struct Claim<'a> {
    object: ObjectName,
    source: &'a Source,
    field: &'static str,
    /// `key`, `alias` or `grant`, for the fix.
    noun: &'static str,
    what: String,
}

/// One issue for every object that claims what an earlier one already claims.
pub(super) fn conflicting_claims(set: &ManifestSet) -> Vec<Issue> {
    let mut first: BTreeMap<String, Claim<'_>> = BTreeMap::new();
    let mut issues = Vec::new();
    for (identity, claim) in claims(set) {
        match first.get(&identity) {
            None => {
                first.insert(identity, claim);
            }
            Some(earlier) => {
                let at = match earlier.source.line_of(earlier.field) {
                    Some(line) => format!("{}:{line}", earlier.source.file.display()),
                    None => earlier.source.file.display().to_string(),
                };
                let issue = Issue::new(
                    Some(claim.object.clone()),
                    claim.field,
                    format!("manages {}, which {} ({at}) already manages", claim.what, earlier.object),
                    format!(
                        "keep one of the two: each {} in KMS is managed by one object, or they undo each other on every run",
                        claim.noun
                    ),
                );
                issues.push(claim.source.locate(issue));
            }
        }
    }
    issues
}

fn claims(set: &ManifestSet) -> Vec<(String, Claim<'_>)> {
    let mut claims = Vec::new();
    for key in &set.keys {
        let spec = &key.object.spec;
        if let Some(target) = spec.import_key_id().and_then(parse_key_target) {
            let what = format!("key {} in account {}", target.key_id, spec.account_ref);
            claims.push((
                format!("key/{}/{}", spec.account_ref, target.key_id),
                claim(key, Kind::KmsKey, "spec.import.keyId", "key", what),
            ));
        }
    }
    for alias in &set.aliases {
        let pointer = alias.object.spec.pointer();
        if let Some((account, region)) = where_pointed(set, &alias.object.metadata.namespace, &pointer) {
            let name = &alias.object.spec.name;
            let what = format!("alias {name} in account {account}, {region}");
            claims.push((
                format!("alias/{account}/{region}/{name}"),
                claim(alias, Kind::KmsAlias, "spec.name", "alias", what),
            ));
        }
    }
    for grant in &set.grants {
        let pointer = grant.object.spec.pointer();
        let Some((_, region)) = where_pointed(set, &grant.object.metadata.namespace, &pointer) else {
            continue;
        };
        let key = match (pointer.key_ref, pointer.target_key_id.and_then(parse_key_target)) {
            (Some(key_ref), _) => format!("KmsKey {}/{}", namespace_of(&grant.object.metadata.namespace), key_ref.name),
            (None, Some(target)) => format!("key {}", target.key_id),
            (None, None) => continue,
        };
        let name = &grant.object.spec.name;
        let what = format!("grant {name} on {key} in {region}");
        claims.push((format!("grant/{key}/{region}/{name}"), claim(grant, Kind::KmsGrant, "spec.name", "grant", what)));
    }
    claims
}

fn claim<'a, T: kube::Resource>(
    loaded: &'a Loaded<T>,
    kind: Kind,
    field: &'static str,
    noun: &'static str,
    what: String,
) -> Claim<'a> {
    Claim { object: ObjectName::of(kind, loaded.object.meta()), source: &loaded.source, field, noun, what }
}

/// The account (by `AwsAccount` name) and region an alias or grant lands in, when the set
/// says; references the set cannot resolve are reported by the reference checks instead.
fn where_pointed(set: &ManifestSet, namespace: &Option<String>, pointer: &KeyPointer<'_>) -> Option<(String, String)> {
    if let Some(key_ref) = pointer.key_ref {
        let key = set.key(namespace_of(namespace), &key_ref.name)?;
        let region = pointer.region.map(str::to_owned).or_else(|| set.primary_region(&key.object.spec))?;
        return Some((key.object.spec.account_ref.clone(), region));
    }
    let account = pointer.account_ref?;
    let target = pointer.target_key_id.and_then(parse_key_target)?;
    let region = pointer
        .region
        .or(target.arn.as_ref().map(|arn| arn.region))
        .or_else(|| set.account(account).map(|a| a.object.spec.region.as_str()))?;
    Some((account.to_owned(), region.to_owned()))
}
