//! The key a KmsAlias or KmsGrant points at, read from the cluster: a KmsKey's status, or
//! `targetKeyId` with an `AwsAccount`.

use kube::Api;

use super::context::{Context, ControllerError, Refusal};
use crate::api::{KeyPointer, KmsKey};
use crate::engine::KeyHandle;
use crate::engine::alias::{KeyTarget, explicit_target};

/// The key `pointer` names for an object in `namespace`; with `check_tenancy`, only if the
/// key's account admits that namespace.
pub async fn resolve(
    ctx: &Context,
    namespace: &str,
    pointer: KeyPointer<'_>,
    check_tenancy: bool,
) -> Result<Result<KeyTarget, Refusal>, ControllerError> {
    let admitted = check_tenancy.then_some(namespace);
    if let Some(key_ref) = pointer.key_ref {
        let keys: Api<KmsKey> = Api::namespaced(ctx.client.clone(), namespace);
        let Some(key) = keys.get_opt(&key_ref.name).await? else {
            let message = format!("KmsKey {namespace}/{} does not exist: create it, or fix spec.keyRef", key_ref.name);
            return Ok(Err(Refusal::new("KeyNotFound", message, true)));
        };
        let account = match ctx.account_for(&key.spec.account_ref, admitted).await? {
            Ok(account) => account,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let status = key.status.clone().unwrap_or_default();
        let Some(key_id) = status.key_id.clone() else {
            let message = format!("KmsKey {namespace}/{} has no key yet; waiting for it", key_ref.name);
            return Ok(Err(Refusal::new("KeyNotReady", message, true)));
        };
        return Ok(Ok(KeyTarget::of_key(&account, KeyHandle::Existing(key_id), &key.spec, &status)));
    }
    let (Some(target_key_id), Some(account_ref)) = (pointer.target_key_id, pointer.account_ref) else {
        return Ok(Err(Refusal::new(
            "InvalidSpec",
            "set spec.keyRef, or spec.targetKeyId with spec.accountRef",
            false,
        )));
    };
    let account = match ctx.account_for(account_ref, admitted).await? {
        Ok(account) => account,
        Err(refusal) => return Ok(Err(refusal)),
    };
    Ok(Ok(explicit_target(target_key_id, &account, pointer.region)))
}
