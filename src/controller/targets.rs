//! The key a KmsAlias or KmsGrant points at, read from the cluster: a KmsKey's status, or
//! `targetKeyId` with an `AwsAccount`.

use kube::Resource;

use super::context::{Context, ControllerError, Refusal};
use super::events;
use crate::api::Reason;
use crate::api::{AwsAccount, KeyPointer, KmsKey};
use crate::aws::AccountConfig;
use crate::engine::KeyHandle;
use crate::engine::alias::{KeyTarget, explicit_target};
use crate::engine::on_key::Recorded;

pub fn missing_account(name: &str) -> Refusal {
    Refusal::new(
        Reason::AccountNotFound,
        format!("AwsAccount {name} does not exist: create it, or fix spec.accountRef"),
        true,
    )
    .about(events::reference::<AwsAccount>(None, name))
}

/// The key `pointer` names for an object in `namespace`, and that key's account. Whether the
/// namespace may use it is admission's to decide; the key id in a KmsKey's status is checked
/// against the key's ownership tag by the engine, so a status nobody can vouch for opens
/// nothing.
pub async fn resolve(
    ctx: &Context,
    namespace: &str,
    pointer: KeyPointer<'_>,
) -> Result<Result<(KeyTarget, AwsAccount), Refusal>, ControllerError> {
    if let Some(key_ref) = pointer.key_ref {
        let Some(key) = ctx.key(namespace, &key_ref.name).await? else {
            let message = format!("KmsKey {namespace}/{} does not exist: create it, or fix spec.keyRef", key_ref.name);
            let related = events::reference::<KmsKey>(Some(namespace), &key_ref.name);
            return Ok(Err(Refusal::new(Reason::KeyNotFound, message, true).about(related)));
        };
        let Some(account) = ctx.account(&key.spec.account_ref).await? else {
            return Ok(Err(missing_account(&key.spec.account_ref)));
        };
        let config = AccountConfig::from_spec(&key.spec.account_ref, &account.spec);
        let status = key.status.clone().unwrap_or_default();
        let Some(key_id) = status.key_id.clone() else {
            let message = format!("KmsKey {namespace}/{} has no key yet; waiting for it", key_ref.name);
            return Ok(Err(Refusal::new(Reason::KeyNotReady, message, true).about(key.object_ref(&()))));
        };
        return Ok(Ok((KeyTarget::of_key(&config, KeyHandle::Existing(key_id), &key.spec, &status), account)));
    }
    let (Some(target_key_id), Some(account_ref)) = (pointer.target_key_id, pointer.account_ref) else {
        return Ok(Err(Refusal::new(
            Reason::InvalidSpec,
            "set spec.keyRef, or spec.targetKeyId with spec.accountRef",
            false,
        )));
    };
    let Some(account) = ctx.account(account_ref).await? else {
        return Ok(Err(missing_account(account_ref)));
    };
    let config = AccountConfig::from_spec(account_ref, &account.spec);
    Ok(Ok((explicit_target(target_key_id, &config, pointer.region), account)))
}

/// The key and account an object's status records, as a target: for removing what the object
/// made once its KmsKey is gone. Whether the namespace may use that account, and whether the
/// key is the namespace's, are decided as for any target.
pub async fn resolve_recorded(
    ctx: &Context,
    recorded: Recorded<'_>,
) -> Result<Result<(KeyTarget, AwsAccount), Refusal>, ControllerError> {
    let Some(account) = ctx.account(recorded.account).await? else {
        return Ok(Err(missing_account(recorded.account)));
    };
    let config = AccountConfig::from_spec(recorded.account, &account.spec);
    Ok(Ok((explicit_target(recorded.key_id, &config, Some(recorded.region)), account)))
}
