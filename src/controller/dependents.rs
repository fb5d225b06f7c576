//! A KmsKey is deleted after the KmsAliases and KmsGrants that point at it: once its key is
//! released (its ownership tag removed) or scheduled for deletion, nothing could prove that an
//! alias or grant on it is its namespace's to remove, and grants would stay live. On a
//! namespace's deletion, or `kubectl delete -f dir/`, every object is being deleted at once, in
//! no particular order; the key's own deletion waits for theirs.

use kube::api::{Api, ListParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::context::{Context, ControllerError};
use super::key::FINALIZER;
use super::watched::Watched;
use crate::api::{KeyReference, KmsAlias, KmsGrant, KmsKey};

/// The aliases and grants of `key`'s namespace that point at it and still hold something in
/// KMS (they carry the finalizer), by kind and name. One that cannot be read names no key.
pub async fn of(ctx: &Context, key: &KmsKey) -> Result<Vec<String>, ControllerError> {
    let namespace = key.namespace().unwrap_or_else(|| "default".to_owned());
    let name = key.name_any();
    let mut found = holding::<KmsAlias>(ctx, &namespace, &name, |a| a.spec.key_ref.as_ref()).await?;
    found.extend(holding::<KmsGrant>(ctx, &namespace, &name, |g| g.spec.key_ref.as_ref()).await?);
    Ok(found)
}

async fn holding<K>(
    ctx: &Context,
    namespace: &str,
    key: &str,
    key_ref: impl Fn(&K) -> Option<&KeyReference>,
) -> Result<Vec<String>, ControllerError>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<Watched<K>> = Api::namespaced(ctx.client.clone(), namespace);
    let listed = api.list(&ListParams::default()).await?;
    Ok(listed
        .items
        .iter()
        .filter_map(|object| object.0.as_ref().ok())
        .filter(|object| key_ref(object).is_some_and(|r| r.name == key))
        .filter(|object| object.finalizers().iter().any(|f| f == FINALIZER))
        .map(|object| format!("{} {}", K::kind(&()), object.name_any()))
        .collect())
}
