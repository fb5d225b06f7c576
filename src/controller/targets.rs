//! The key a KmsAlias or KmsGrant points at, read from the cluster: a KmsKey's status, or
//! `targetKeyId` with an `AwsAccount`.

use kube::Api;

use super::context::{Context, ControllerError, Refusal};
use crate::api::{KeyReference, KmsKey};
use crate::engine::KeyHandle;
use crate::engine::alias::{KeyTarget, explicit_target};

/// What an alias or grant spec says about its key.
pub struct Pointer<'a> {
    pub namespace: &'a str,
    pub key_ref: Option<&'a KeyReference>,
    pub target_key_id: Option<&'a str>,
    pub account_ref: Option<&'a str>,
    pub region: Option<&'a str>,
}

pub async fn resolve(
    ctx: &Context,
    pointer: &Pointer<'_>,
    check_tenancy: bool,
) -> Result<Result<KeyTarget, Refusal>, ControllerError> {
    let namespace = check_tenancy.then_some(pointer.namespace);
    if let Some(key_ref) = pointer.key_ref {
        let keys: Api<KmsKey> = Api::namespaced(ctx.client.clone(), pointer.namespace);
        let Some(key) = keys.get_opt(&key_ref.name).await? else {
            let message =
                format!("KmsKey {}/{} does not exist: create it, or fix spec.keyRef", pointer.namespace, key_ref.name);
            return Ok(Err(Refusal::new("KeyNotFound", message, true)));
        };
        let account = match ctx.account_for(&key.spec.account_ref, namespace).await? {
            Ok(account) => account,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let status = key.status.clone().unwrap_or_default();
        let Some(key_id) = status.key_id.clone() else {
            let message = format!("KmsKey {}/{} has no key yet; waiting for it", pointer.namespace, key_ref.name);
            return Ok(Err(Refusal::new("KeyNotReady", message, true)));
        };
        let mut replica_regions: Vec<String> = key.spec.replicas.iter().map(|r| r.region.clone()).collect();
        replica_regions.extend(status.replicas.iter().map(|r| r.region.clone()));
        replica_regions.sort();
        replica_regions.dedup();
        let primary_region = status.region.or(key.spec.region.clone()).unwrap_or_else(|| account.region.clone());
        return Ok(Ok(KeyTarget { account, key: KeyHandle::Existing(key_id), primary_region, replica_regions }));
    }
    let (Some(target_key_id), Some(account_ref)) = (pointer.target_key_id, pointer.account_ref) else {
        return Ok(Err(Refusal::new(
            "InvalidSpec",
            "set spec.keyRef, or spec.targetKeyId with spec.accountRef",
            false,
        )));
    };
    let account = match ctx.account_for(account_ref, namespace).await? {
        Ok(account) => account,
        Err(refusal) => return Ok(Err(refusal)),
    };
    Ok(Ok(explicit_target(target_key_id, &account, pointer.region)))
}
