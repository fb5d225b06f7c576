//! How a `KmsAlias` or `KmsGrant` names its key: `keyRef` to a KmsKey, or `targetKeyId` with
//! `accountRef` for a key the operator does not manage. Both kinds follow the same rules.

use super::issue::{Issues, quote};
use super::names::{check_region, parse_key_target};
use crate::api::KeyPointer;

pub(crate) fn check_key_pointer(issues: &mut Issues, pointer: &KeyPointer<'_>) {
    let namespace = issues.object().namespace.clone().unwrap_or_else(|| "default".to_owned());
    match (pointer.key_ref, pointer.target_key_id) {
        (Some(_), Some(_)) => issues.add(
            "spec.targetKeyId",
            "is set together with spec.keyRef",
            "keep one: keyRef for a KmsKey in this namespace, or targetKeyId (with accountRef) for a key the operator does not manage",
        ),
        (None, None) => issues.add(
            "spec.keyRef",
            "neither spec.keyRef nor spec.targetKeyId is set",
            format!("set keyRef: {{name: <a KmsKey in namespace {namespace}>}}, or targetKeyId and accountRef"),
        ),
        _ => {}
    }
    if let Some(key_ref) = pointer.key_ref
        && key_ref.name.is_empty()
    {
        issues.add("spec.keyRef.name", "is empty", format!("name a KmsKey in namespace {namespace}"));
    }
    match (pointer.target_key_id, pointer.account_ref) {
        (Some(_), None) => issues.add(
            "spec.accountRef",
            "is missing, but spec.targetKeyId needs it to know which account the key is in",
            "set accountRef to the AwsAccount that holds the key",
        ),
        (None, Some(account)) => issues.add(
            "spec.accountRef",
            format!("{} is set, but accountRef is only used with spec.targetKeyId", quote(account)),
            "remove accountRef: a keyRef uses the KmsKey's account",
        ),
        _ => {}
    }
    if let Some(region) = pointer.region {
        check_region(issues, "spec.region", region);
    }
    if let Some(target) = pointer.target_key_id {
        match parse_key_target(target) {
            None => issues.add(
                "spec.targetKeyId",
                format!("{} is neither a key id nor a key ARN", quote(target)),
                "use the key id (1234abcd-12ab-34cd-56ef-1234567890ab, or mrk-<32 hex>) or its ARN arn:aws:kms:<region>:<account>:key/<id>",
            ),
            Some(parsed) => {
                if let (Some(arn), Some(region)) = (parsed.arn, pointer.region)
                    && arn.region != region
                {
                    issues.add(
                        "spec.region",
                        format!("is {}, but spec.targetKeyId is a key in {}", quote(region), quote(arn.region)),
                        format!("set spec.region: {} or remove it; it must be the key's region", arn.region),
                    );
                }
            }
        }
    }
}
