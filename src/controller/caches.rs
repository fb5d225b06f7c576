//! What a pass reads besides its own object (its AwsAccount, its namespace's labels, the KmsKey
//! an alias or grant points at, the ConfigMaps a KmsKey exports) comes from the stores of the
//! controllers' own watches, so a pass makes no GET or LIST: at thousands of objects, a GET per
//! reference per pass is load the API server (and the platform team) notices.
//!
//! Each store is fed by the watch that also wakes the passes reading it (the keys' watch wakes
//! aliases and grants, the accounts' watch wakes keys), and the store takes an event before the
//! pass it wakes starts, so a pass never reads an older object than the one that woke it.
//!
//! A pass run on its own, outside [`run_controllers`](super::run_controllers) (a test driving
//! one reconcile), has no stores and reads from the API.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, Lookup, ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use tokio::sync::watch;

use super::context::{Context, ControllerError};
use super::exported::Exports;
use super::watched::Watched;
use crate::api::{AwsAccount, KeyPointer, KmsKey};

/// A watch's store, and whether it has listed yet.
#[derive(Clone)]
pub struct Cached<K: Lookup + Clone + 'static>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    pub store: Store<K>,
    listed: watch::Receiver<bool>,
}

/// Raised by the watch feeding a store once its first list is in the store.
pub struct Listed(watch::Sender<bool>);

impl Listed {
    pub fn done(&self) {
        self.0.send_replace(true);
    }
}

impl<K: Lookup + Clone + 'static> Cached<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    /// An empty store, the writer its watch feeds it with, and the flag that watch raises.
    pub fn new() -> (Cached<K>, Writer<K>, Listed) {
        let (store, writer) = reflector::store();
        let (listed, waiting) = watch::channel(false);
        (Cached { store, listed: waiting }, writer, Listed(listed))
    }

    /// The store once it has listed: before that it knows nothing, and a pass reading it would
    /// refuse an object for an account or key that exists. Not `Store::wait_until_ready`: it
    /// wakes one waiter only, and every pass that starts before the list waits here.
    pub(super) async fn ready(&self) -> Result<&Store<K>, ControllerError> {
        self.listed.clone().wait_for(|listed| *listed).await.map_err(|_| ControllerError::Stopped)?;
        Ok(&self.store)
    }
}

/// The stores of one run of the controllers.
#[derive(Clone)]
pub struct Stores {
    pub accounts: Cached<Watched<AwsAccount>>,
    pub keys: Cached<Watched<KmsKey>>,
    pub namespaces: Cached<Namespace>,
    /// The ConfigMaps KmsKeys export (`exported.rs`).
    pub exports: Exports,
}

/// The stores passes read from while the controllers run.
#[derive(Default)]
pub struct Caches(RwLock<Option<Stores>>);

impl Caches {
    /// From now on, passes read from `stores` (those of the controllers just started).
    pub fn serve(&self, stores: Stores) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(stores);
    }

    /// Once the controllers stopped: their stores are read no more.
    pub fn clear(&self) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn stores(&self) -> Option<Stores> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The exported ConfigMaps' store, while the controllers run.
    pub fn exports(&self) -> Option<Exports> {
        self.stores().map(|stores| stores.exports)
    }
}

/// `object` from `cache` once it has listed, or why it cannot be used.
async fn cached<K>(cache: &Cached<Watched<K>>, object: ObjectRef<Watched<K>>) -> Result<Option<K>, ControllerError>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    let Some(watched) = cache.ready().await?.get(&object) else { return Ok(None) };
    match &watched.0 {
        Ok(found) => Ok(Some(found.clone())),
        Err(invalid) => Err(ControllerError::Unreadable {
            object: format!("{} {}", K::kind(&()), object_path(&object)),
            error: invalid.error.clone(),
        }),
    }
}

fn object_path<K: Resource<DynamicType = ()>>(object: &ObjectRef<K>) -> String {
    match &object.namespace {
        Some(namespace) => format!("{namespace}/{}", object.name),
        None => object.name.clone(),
    }
}

impl Context {
    /// The AwsAccount `name`, if it exists.
    pub async fn account(&self, name: &str) -> Result<Option<AwsAccount>, ControllerError> {
        match self.caches.stores() {
            Some(stores) => cached(&stores.accounts, ObjectRef::new(name)).await,
            None => Ok(Api::<AwsAccount>::all(self.client.clone()).get_opt(name).await?),
        }
    }

    /// The KmsKey `namespace/name`, if it exists.
    pub async fn key(&self, namespace: &str, name: &str) -> Result<Option<KmsKey>, ControllerError> {
        match self.caches.stores() {
            Some(stores) => cached(&stores.keys, ObjectRef::new(name).within(namespace)).await,
            None => Ok(Api::<KmsKey>::namespaced(self.client.clone(), namespace).get_opt(name).await?),
        }
    }

    /// The AwsAccount an alias or grant in `namespace` spends on, and its region if the object
    /// or its KmsKey names one: the KmsKey's, or the `accountRef` beside `targetKeyId`. `None`
    /// while its KmsKey is not known.
    pub async fn account_of_pointer(
        &self,
        namespace: &str,
        pointer: KeyPointer<'_>,
    ) -> Result<Option<(String, Option<String>)>, ControllerError> {
        let region = pointer.region.map(str::to_owned);
        match (pointer.key_ref, pointer.account_ref) {
            (Some(key_ref), _) => Ok(self
                .key(namespace, &key_ref.name)
                .await?
                .map(|key| (key.spec.account_ref, region.or(key.spec.region)))),
            (None, Some(account_ref)) => Ok(Some((account_ref.to_owned(), region))),
            (None, None) => Ok(None),
        }
    }

    /// A namespace's labels; a namespace that cannot be found has none, which selects it for
    /// `{}` only.
    pub async fn namespace_labels(&self, namespace: &str) -> Result<BTreeMap<String, String>, ControllerError> {
        let found = match self.caches.stores() {
            Some(stores) => {
                stores.namespaces.ready().await?.get(&ObjectRef::new(namespace)).map(|ns| ns.as_ref().clone())
            }
            None => Api::<Namespace>::all(self.client.clone()).get_opt(namespace).await?,
        };
        Ok(found.map(|ns| ns.labels().clone()).unwrap_or_default())
    }
}
