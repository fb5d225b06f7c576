//! The ConfigMaps KmsKeys export (`export.rs`), from one watch of those labelled
//! `kmsoperator.dev/export-of` (in the watched namespace when there is one): a pass reads its
//! key's from the store instead of listing them (a LIST per key per pass was 0.5 per object on
//! every resync at 10,000 objects), and a change made to one by hand (an edit, a deletion)
//! wakes the KmsKey that owns it, which puts it back.
//!
//! The store can be a moment behind the API server: every write made from it names the version
//! it read, and one refused as stale reads the ConfigMap again (`export.rs`).
//!
//! The operator's own writes wake no pass: what a pass writes or finds in place is noted
//! before the write is sent, and a watch event that brings what was noted starts nothing, as
//! the finalizer's patch does for keys (`seen.rs`). At start and after a relist, the listed
//! ConfigMaps wake nothing they did not already differ in: the keys' own watch starts a pass
//! of every key then.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use futures::{Stream, TryStreamExt, future};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};

use super::caches::{Cached, Listed};
use super::context::ControllerError;
use super::export::{EXPORT_OF, owned_by};
use super::watched::Watched;
use crate::api::KmsKey;

/// The exported ConfigMaps as the watch last saw them, found by the uid their label names.
#[derive(Clone)]
pub struct Exports {
    cache: Cached<ConfigMap>,
    index: Arc<RwLock<Relisting>>,
    noted: Arc<Noted>,
}

impl Exports {
    /// An empty store, the writer its watch feeds, and the flag that watch raises once listed.
    pub fn new() -> (Exports, Writer<ConfigMap>, Listed) {
        let (cache, writer, listed) = Cached::new();
        (Exports { cache, index: Arc::default(), noted: Arc::default() }, writer, listed)
    }

    /// The ConfigMaps of `namespace` that the KmsKey `uid` owns: those labelled with its uid,
    /// and the one it exports to (`wanted`) whatever its label says.
    pub async fn of_key(
        &self,
        namespace: &str,
        uid: &str,
        wanted: Option<&str>,
    ) -> Result<Vec<Arc<ConfigMap>>, ControllerError> {
        let store = self.cache.ready().await?;
        let mut refs = self.index.read().unwrap_or_else(PoisonError::into_inner).live.labelled_with(uid);
        refs.extend(wanted.map(|name| ObjectRef::new(name).within(namespace)));
        Ok(refs
            .iter()
            .filter_map(|r| store.get(r))
            .filter(|c| c.namespace().as_deref() == Some(namespace) && owned_by(c, uid))
            .collect())
    }

    /// `config_map` is what the operator wrote or found in place: its watch event wakes no pass.
    pub fn note(&self, config_map: &ConfigMap) {
        self.noted.set(ObjectRef::from_obj(config_map), Some(inputs(config_map)));
    }

    /// The operator deletes `config_map`: its delete event wakes no pass.
    pub fn note_gone(&self, config_map: &ConfigMap) {
        self.noted.set(ObjectRef::from_obj(config_map), None);
    }
}

/// The ConfigMaps whose change wakes their KmsKey, taken into `exports`' store on the way.
pub fn changes(
    api: Api<ConfigMap>,
    config: watcher::Config,
    writer: Writer<ConfigMap>,
    listed: Listed,
    exports: &Exports,
) -> impl Stream<Item = Result<ConfigMap, watcher::Error>> + Send + 'static {
    let (index, noted) = (exports.index.clone(), exports.noted.clone());
    watcher(api, config.labels(EXPORT_OF))
        .default_backoff()
        // Never read, and most of an object's size.
        .modify(|config_map| config_map.managed_fields_mut().clear())
        .reflect(writer)
        .inspect_ok(move |event| {
            index.write().unwrap_or_else(PoisonError::into_inner).take(event);
            if matches!(event, watcher::Event::InitDone) {
                listed.done();
            }
        })
        .try_filter_map(move |event| future::ready(Ok(noted.wakes(event))))
}

/// The KmsKey that controls `config_map`, if the keys' store has it with the uid the
/// ownerReference names: a reference made up by hand to another key wakes nothing.
pub fn key_of(config_map: &ConfigMap, keys: &Store<Watched<KmsKey>>) -> Option<ObjectRef<Watched<KmsKey>>> {
    let kind = KmsKey::kind(&());
    let owner = config_map.owner_references().iter().find(|r| r.controller == Some(true) && r.kind == kind)?;
    let key = ObjectRef::new(&owner.name).within(&config_map.namespace()?);
    keys.get(&key).filter(|k| k.uid().as_deref() == Some(owner.uid.as_str()))?;
    Some(key)
}

/// What of a ConfigMap the operator writes or compares (`export::holds`), as one hash.
fn inputs(config_map: &ConfigMap) -> u64 {
    let mut hasher = DefaultHasher::new();
    config_map.data.hash(&mut hasher);
    let labels = config_map.labels();
    (labels.get(EXPORT_OF), labels.get("app.kubernetes.io/managed-by")).hash(&mut hasher);
    for owner in config_map.owner_references() {
        (&owner.api_version, &owner.kind, &owner.name, &owner.uid, owner.controller).hash(&mut hasher);
    }
    hasher.finish()
}

/// What the operator last wrote, found or deleted of each exported ConfigMap (`None`: deleted).
#[derive(Default)]
struct Noted(Mutex<HashMap<ObjectRef<ConfigMap>, Option<u64>>>);

impl Noted {
    fn set(&self, config_map: ObjectRef<ConfigMap>, inputs: Option<u64>) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(config_map, inputs);
    }

    /// The ConfigMap of `event` if it brings what the operator did not note; it is noted now.
    fn wakes(&self, event: watcher::Event<ConfigMap>) -> Option<ConfigMap> {
        let mut noted = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (config_map, listed) = match event {
            watcher::Event::Apply(config_map) => (config_map, false),
            watcher::Event::InitApply(config_map) => (config_map, true),
            watcher::Event::Delete(config_map) => {
                let before = noted.remove(&ObjectRef::from_obj(&config_map));
                return (before != Some(None)).then_some(config_map);
            }
            watcher::Event::Init | watcher::Event::InitDone => return None,
        };
        let now = Some(inputs(&config_map));
        let before = noted.insert(ObjectRef::from_obj(&config_map), now);
        // One never seen before, in a (re)list, is one the keys' own watch starts a pass for.
        let changed = if listed { before.is_some_and(|before| before != now) } else { before != Some(now) };
        changed.then_some(config_map)
    }
}

/// Which ConfigMaps carry each uid in their label: the store has no index of its own, and a
/// pass scanning all of them would cost each key the size of the fleet.
#[derive(Default)]
struct Index {
    by_uid: HashMap<String, HashSet<ObjectRef<ConfigMap>>>,
    label_of: HashMap<ObjectRef<ConfigMap>, String>,
}

impl Index {
    fn put(&mut self, config_map: &ConfigMap) {
        let object = ObjectRef::from_obj(config_map);
        self.remove(&object);
        if let Some(uid) = config_map.labels().get(EXPORT_OF) {
            self.by_uid.entry(uid.clone()).or_default().insert(object.clone());
            self.label_of.insert(object, uid.clone());
        }
    }

    fn remove(&mut self, object: &ObjectRef<ConfigMap>) {
        let Some(uid) = self.label_of.remove(object) else { return };
        if let Some(objects) = self.by_uid.get_mut(&uid) {
            objects.remove(object);
            if objects.is_empty() {
                self.by_uid.remove(&uid);
            }
        }
    }

    fn labelled_with(&self, uid: &str) -> HashSet<ObjectRef<ConfigMap>> {
        self.by_uid.get(uid).cloned().unwrap_or_default()
    }
}

/// The index, and the one a relist is building: like the store, it changes over at the end.
#[derive(Default)]
struct Relisting {
    live: Index,
    next: Option<Index>,
}

impl Relisting {
    fn take(&mut self, event: &watcher::Event<ConfigMap>) {
        match event {
            watcher::Event::Apply(config_map) => self.live.put(config_map),
            watcher::Event::Delete(config_map) => self.live.remove(&ObjectRef::from_obj(config_map)),
            watcher::Event::Init => self.next = Some(Index::default()),
            watcher::Event::InitApply(config_map) => self.next.get_or_insert_default().put(config_map),
            watcher::Event::InitDone => self.live = self.next.take().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config_map(name: &str, uid: &str, data: &str) -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "apps", "labels": {EXPORT_OF: uid},
            "ownerReferences": [{"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsKey", "name": "logs", "uid": uid, "controller": true}]},
            "data": {"keyId": data}}))
        .unwrap()
    }

    #[test]
    fn what_the_operator_noted_wakes_nothing_and_anything_else_does() {
        let noted = Noted::default();
        let mine = config_map("logs-kms", "u1", "k1");
        let wakes = |event| noted.wakes(event).is_some();
        assert!(!wakes(watcher::Event::InitApply(mine.clone())), "listed at start: the keys' watch covers it");
        assert!(!wakes(watcher::Event::Apply(mine.clone())), "as listed");
        assert!(wakes(watcher::Event::Apply(config_map("logs-kms", "u1", "edited"))), "edited by hand");
        let written = config_map("logs-kms", "u1", "k1");
        let exports = Exports { noted: Arc::new(noted), ..Exports::new().0 };
        exports.note(&written);
        assert!(exports.noted.wakes(watcher::Event::Apply(written.clone())).is_none(), "the repair's own event");
        assert!(exports.noted.wakes(watcher::Event::Delete(written.clone())).is_some(), "deleted by hand");
        exports.note_gone(&written);
        assert!(exports.noted.wakes(watcher::Event::Delete(written)).is_none(), "the operator's own delete");
        assert!(exports.noted.wakes(watcher::Event::InitApply(mine)).is_none(), "seen anew after a relist");
    }

    #[test]
    fn the_index_follows_labels_and_relists() {
        let mut index = Relisting::default();
        index.take(&watcher::Event::Apply(config_map("a", "u1", "k")));
        index.take(&watcher::Event::Apply(config_map("b", "u1", "k")));
        index.take(&watcher::Event::Apply(config_map("b", "u2", "k")));
        let names = |index: &Relisting, uid: &str| {
            let mut names: Vec<String> = index.live.labelled_with(uid).into_iter().map(|r| r.name).collect();
            names.sort();
            names
        };
        assert_eq!((names(&index, "u1"), names(&index, "u2")), (vec!["a".to_owned()], vec!["b".to_owned()]));
        index.take(&watcher::Event::Init);
        index.take(&watcher::Event::InitApply(config_map("c", "u1", "k")));
        assert_eq!(names(&index, "u1"), vec!["a"], "the old index serves until the relist is done");
        index.take(&watcher::Event::InitDone);
        assert_eq!((names(&index, "u1"), names(&index, "u2")), (vec!["c".to_owned()], vec![]));
        index.take(&watcher::Event::Delete(config_map("c", "u1", "k")));
        assert!(index.live.by_uid.is_empty() && index.live.label_of.is_empty());
    }
}
