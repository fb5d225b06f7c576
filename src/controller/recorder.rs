//! Publishes Events, folding a repeat of one (same object, reason, action, type and related
//! object, within six minutes of the last) into the first's series, as kube-runtime's
//! `Recorder` and client-go do: a failure retried all night is one Event with a count.
//!
//! Not kube-runtime's `Recorder`: it keeps a clone of every Event it published for six minutes
//! and sweeps that map on every publish. At 10,000 objects converging (two Events each) that was
//! about 60 MiB of the controller's peak and an O(n) scan under a lock per Event
//! (docs/performance.md). This one remembers what a series needs (the Event's name, its count,
//! when it was last seen) under a hash of its key, and sweeps at most once a minute.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Client, ResourceExt};
use serde_json::json;

/// How long after its last occurrence a repeat still joins an Event's series (kube-runtime's
/// and client-go's value).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// How often series past their window are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// What a series needs of the Event that started it.
struct Series {
    name: String,
    namespace: String,
    count: i32,
    last_seen: Instant,
}

struct Memory {
    series: HashMap<u64, Series>,
    swept: Instant,
}

pub struct EventRecorder {
    client: Client,
    reporter: Reporter,
    memory: Mutex<Memory>,
}

/// The key client-go folds by: who reports, about which object, what, and what else it names.
/// The note is not part of it: a repeat keeps the first Event's note.
fn series_key(reporter: &Reporter, event: &Event, regarding: &ObjectReference) -> u64 {
    let mut hasher = DefaultHasher::new();
    let reference = |r: &ObjectReference, h: &mut DefaultHasher| {
        (&r.api_version, &r.kind, &r.namespace, &r.name, &r.uid).hash(h);
    };
    (&reporter.controller, &reporter.instance).hash(&mut hasher);
    (event.type_ == EventType::Warning, &event.action, &event.reason).hash(&mut hasher);
    reference(regarding, &mut hasher);
    match &event.secondary {
        Some(related) => reference(related, &mut hasher),
        None => 0u8.hash(&mut hasher),
    }
    hasher.finish()
}

impl EventRecorder {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        let memory = Memory { series: HashMap::new(), swept: Instant::now() };
        EventRecorder { client, reporter, memory: Mutex::new(memory) }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The series `key` continues, if one is within its window: its name, namespace and next
    /// count (counted now, so that two repeats at once do not both claim the same count).
    fn continue_series(&self, key: u64) -> Option<(String, String, i32)> {
        let mut memory = self.memory();
        let now = Instant::now();
        if now.duration_since(memory.swept) >= SWEEP_EVERY {
            memory.series.retain(|_, series| now.duration_since(series.last_seen) < SERIES_WINDOW);
            memory.swept = now;
        }
        let series = memory.series.get_mut(&key).filter(|s| now.duration_since(s.last_seen) < SERIES_WINDOW)?;
        series.count += 1;
        series.last_seen = now;
        Some((series.name.clone(), series.namespace.clone(), series.count))
    }

    /// Creates the Event, or adds one to the series of the same Event published within the
    /// last six minutes.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> Result<(), kube::Error> {
        let key = series_key(&self.reporter, event, regarding);
        let now = Timestamp::now();
        if let Some((name, namespace, count)) = self.continue_series(key) {
            let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
            let series = EventSeries { count, last_observed_time: MicroTime(now) };
            let patch = json!({ "series": series });
            match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                // The API server expires Events (an hour by default): the repeat starts anew.
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    self.memory().series.remove(&key);
                }
                outcome => return outcome.map(drop),
            }
        }
        let created = self.new_event(event, regarding, now);
        let namespace = created.namespace().unwrap_or_default();
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        api.create(&PostParams::default(), &created).await?;
        let series = Series { name: created.name_any(), namespace, count: 1, last_seen: Instant::now() };
        self.memory().series.insert(key, series);
        Ok(())
    }

    fn new_event(&self, event: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
        // Events of cluster-scoped objects go to `default`, as kubectl looks for them there.
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let named = regarding.name.as_deref().unwrap_or(&self.reporter.controller);
        K8sEvent {
            metadata: ObjectMeta {
                name: Some(format!("{named}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            note: event.note.clone(),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter.instance.clone().unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(if event.type_ == EventType::Warning { "Warning" } else { "Normal" }.to_owned()),
            ..K8sEvent::default()
        }
    }
}
