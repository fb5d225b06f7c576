//! What starts a pass, and how one object's trouble stays its own:
//!
//! - objects arrive as the watch decodes them (`DeserializeGuard`): one the binary cannot read
//!   (a field from a newer CRD, a value the schema admits and the types do not) is one error
//!   reported on it, not a failed list that stops every other object of the kind;
//! - a pass starts only when something a pass reads changed (generation, annotations,
//!   finalizers, deletion), so metadata-only and status-only writes cost no KMS call, and the
//!   operator's own finalizer patch starts none either (`seen.rs`);
//! - an object is forgotten (metrics, backoff) at its delete event, and after a relist every
//!   object the list no longer has, whether or not it was ever admitted;
//! - passes run in lanes of (account, region), and those of one namespace beyond its share of a
//!   lane's workers wait for its turn (`lanes.rs`, `share.rs`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt, TryStreamExt, future};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::caches::Listed;
use super::context::{Context, ControllerError};
use super::events;
use super::key::FINALIZER;
use super::unreadable;
use crate::api::Reason;
use crate::api::{AwsAccount, Kind, KmsAlias, KmsKey, ObjectName};

/// An object as the watch delivers it: decoded, or the reason it could not be.
pub type Watched<K> = DeserializeGuard<K>;

type Pass = BoxFuture<'static, Result<Action, ControllerError>>;

/// What a pass reads of an object besides its spec, as one hash: a change to anything else
/// (status, labels, managed fields) starts no pass.
pub fn pass_inputs<K: Resource>(object: &K) -> Option<u64> {
    Some(meta_inputs(object.meta()))
}

/// [`pass_inputs`] of an object's metadata.
pub fn meta_inputs(meta: &ObjectMeta) -> u64 {
    let mut hasher = DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut hasher);
    hasher.finish()
}

/// What an alias or grant reads of its KmsKey: the spec, whether it is going or gone, and
/// where the key is (its status). Not the key's finalizers as such: the one its first pass adds
/// would wake every alias and grant waiting for it, to find the key still without a key id.
pub fn key_target_inputs(key: &Watched<KmsKey>) -> Option<u64> {
    let meta = key.meta();
    let mut hasher = DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    let deleting = meta.deletion_timestamp.as_ref().map(|t| t.0.as_second());
    let gone = deleting.is_some() && meta.finalizers.as_ref().is_none_or(Vec::is_empty);
    (deleting, gone).hash(&mut hasher);
    if let Ok(key) = &key.0
        && let Some(status) = &key.status
    {
        (&status.key_id, &status.region).hash(&mut hasher);
        status.replicas.iter().map(|r| &r.region).for_each(|region| region.hash(&mut hasher));
    }
    Some(hasher.finish())
}

/// What a KmsKey's export reads of an alias that names it: where the alias is, once it exists
/// (its status), and whether it is going.
pub fn alias_export_inputs(alias: &Watched<KmsAlias>) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    pass_inputs(alias).hash(&mut hasher);
    if let Ok(alias) = &alias.0
        && let Some(status) = &alias.status
    {
        (&status.target_key_id, &status.name, &status.region, &status.account_ref).hash(&mut hasher);
    }
    Some(hasher.finish())
}

/// What a KmsKey reads of its AwsAccount: the spec, the labels (a shard's selector matches
/// them, and a relabelled account's keys move between shards), whether it is going, and
/// whether it still exists: its store is read at the event, which the store has taken by then
/// (a delete event repeats the last object, whose other inputs did not change). Not its
/// status: the account's own pass writes it every time it checks the account, and each write
/// would wake every key of the account for nothing.
pub fn account_inputs(
    accounts: reflector::Store<Watched<AwsAccount>>,
) -> impl Fn(&Watched<AwsAccount>) -> Option<u64> + Send + 'static {
    move |account| {
        let meta = account.meta();
        let mut hasher = DefaultHasher::new();
        meta.generation.hash(&mut hasher);
        meta.labels.hash(&mut hasher);
        meta.annotations.hash(&mut hasher);
        meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()).hash(&mut hasher);
        accounts.get(&reflector::ObjectRef::from_obj(account)).is_some().hash(&mut hasher);
        Some(hasher.finish())
    }
}

/// The objects of another kind's watch, as it took them: followers wake their own passes from
/// it, and read the object from that watch's store, which has it by then.
pub type Followed<K> = futures::stream::Map<
    futures::channel::mpsc::UnboundedReceiver<Watched<K>>,
    fn(Watched<K>) -> Result<Watched<K>, watcher::Error>,
>;

/// A follower of another kind's watch: give the sender to [`triggers`], the stream to the
/// controller that follows.
pub fn follow<K>() -> (futures::channel::mpsc::UnboundedSender<Watched<K>>, Followed<K>) {
    let (sender, receiver) = futures::channel::mpsc::unbounded();
    (sender, receiver.map(Ok as fn(Watched<K>) -> Result<Watched<K>, watcher::Error>))
}

/// The objects of a kind whose changes start its passes, taken into `writer`'s store (which
/// the controller reads them from) and handed on to `followers` once there; `on_listed` is
/// raised once the first list is in the store; deleted objects are forgotten on the way (a
/// pass would not find them in the store), and objects whose pass inputs were all seen
/// already (`seen.rs`) start no pass.
pub fn triggers<K>(
    api: Api<Watched<K>>,
    config: watcher::Config,
    kind: Kind,
    ctx: Arc<Context>,
    writer: reflector::store::Writer<Watched<K>>,
    followers: Vec<futures::channel::mpsc::UnboundedSender<Watched<K>>>,
    on_listed: Option<Listed>,
) -> impl Stream<Item = Result<Watched<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let listed = writer.as_reader();
    let passes = ctx.clone();
    watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .inspect_ok(move |event| {
            match event {
                watcher::Event::Delete(object) => ctx.forget(&ObjectName::of(kind, object.meta())),
                // After a relist the store holds exactly what exists: whatever went meanwhile is gone.
                watcher::Event::InitDone => {
                    let live: Vec<ObjectName> = listed.state().iter().map(|o| ObjectName::of(kind, o.meta())).collect();
                    ctx.forget_all_but(kind, &live);
                    if let Some(on_listed) = &on_listed {
                        on_listed.done();
                    }
                }
                _ => {}
            }
            if let watcher::Event::Apply(object) | watcher::Event::InitApply(object) | watcher::Event::Delete(object) =
                event
            {
                // A follower that stopped (its controller shut down) needs nothing more.
                for follower in &followers {
                    let _ = follower.unbounded_send(object.clone());
                }
            }
        })
        .try_filter_map(move |event| {
            let starts = match event {
                watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                    passes.seen.changed(kind, object.meta()).then_some(object)
                }
                watcher::Event::Delete(_) | watcher::Event::Init | watcher::Event::InitDone => None,
            };
            future::ready(Ok(starts))
        })
}

/// `reconcile` for objects that decoded; the others are reported and looked at again later.
pub fn decoded<K, F>(kind: Kind, reconcile: F) -> impl Fn(Arc<Watched<K>>, Arc<Context>) -> Pass
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Context>) -> Pass,
{
    move |watched, ctx| match &watched.0 {
        Ok(object) => reconcile(Arc::new(object.clone()), ctx),
        Err(invalid) => {
            let error = invalid.error.clone();
            async move { undecodable::<K>(kind, watched.as_ref(), &error, &ctx).await }.boxed()
        }
    }
}

/// An object the binary cannot read: said on the object (status, where it can be written, and
/// an Event), counted, and retried with backoff (a fix to its status starts no pass). One being
/// deleted keeps its finalizer: what it holds in KMS cannot be known.
async fn undecodable<K>(kind: Kind, object: &Watched<K>, error: &str, ctx: &Context) -> Result<Action, ControllerError>
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let name = ObjectName::of(kind, object.meta());
    tracing::warn!(object = %name, error, "the object cannot be read");
    let problem = match unreadable::mark_unreadable::<K>(&ctx.client, object.meta(), error).await {
        Ok(problem) => problem,
        // The Event still says it; the next try writes status.
        Err(failed) => {
            tracing::warn!(object = %name, error = %failed, "could not write that the object cannot be read");
            error.to_owned()
        }
    };
    let finalized = object.meta().finalizers.iter().flatten().any(|f| f == FINALIZER);
    let mut note = format!("kms-operator cannot read this object: {problem}. Fix the field it names (kubectl edit)");
    if object.meta().deletion_timestamp.is_some() && finalized {
        note.push_str(&format!(
            "; its deletion waits until then, or remove the finalizer {FINALIZER} to leave KMS as it is"
        ));
    }
    events::publish(
        &ctx.recorder,
        object,
        vec![events::event(EventType::Warning, Reason::InvalidObject, "Reconcile", note)],
    )
    .await;
    ctx.metrics.error(&name, Reason::InvalidObject);
    ctx.metrics.refused(&name);
    Ok(Action::requeue(ctx.requeue.failure(&name)))
}

/// Errors of a pass over a watched object, whether it decoded or not.
pub fn error_policy<K>(kind: Kind) -> impl Fn(Arc<Watched<K>>, &ControllerError, Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    move |object, error, ctx| ctx.error_policy(&ObjectName::of(kind, object.meta()), error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(spec: serde_json::Value, extra: serde_json::Value) -> KmsKey {
        let mut object = serde_json::json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "KmsKey",
            "metadata": {"name": "k", "namespace": "apps", "generation": 1}, "spec": spec});
        json_patch::merge(&mut object, &extra);
        serde_json::from_value(object).expect("a KmsKey")
    }

    #[test]
    fn status_and_labels_start_no_pass_and_spec_annotations_finalizers_deletion_do() {
        let spec = serde_json::json!({"accountRef": "a"});
        let base = pass_inputs(&key(spec.clone(), serde_json::json!({})));
        let quiet = [
            serde_json::json!({"metadata": {"labels": {"team": "x"}}}),
            serde_json::json!({"status": {"keyId": "k1", "keyState": "Enabled"}}),
            serde_json::json!({"metadata": {"resourceVersion": "9"}}),
        ];
        for change in quiet {
            assert_eq!(pass_inputs(&key(spec.clone(), change.clone())), base, "{change}");
        }
        let loud = [
            serde_json::json!({"metadata": {"generation": 2}}),
            serde_json::json!({"metadata": {"annotations": {"kmsoperator.dev/replace-deleted-key": "k1"}}}),
            serde_json::json!({"metadata": {"finalizers": [FINALIZER]}}),
            serde_json::json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        ];
        for change in loud {
            assert_ne!(pass_inputs(&key(spec.clone(), change.clone())), base, "{change}");
        }
        let watched = |status: serde_json::Value| {
            key_target_inputs(&DeserializeGuard(Ok(key(spec.clone(), serde_json::json!({"status": status})))))
        };
        assert_eq!(watched(serde_json::json!({"keyState": "Disabled"})), watched(serde_json::json!({})));
        assert_ne!(
            watched(serde_json::json!({"keyId": "k1"})),
            watched(serde_json::json!({})),
            "aliases need the key id"
        );
        let with = |extra: serde_json::Value| key_target_inputs(&DeserializeGuard(Ok(key(spec.clone(), extra))));
        let admitted = serde_json::json!({"metadata": {"finalizers": [FINALIZER]}});
        assert_eq!(with(admitted.clone()), with(serde_json::json!({})), "the key's own finalizer wakes no alias");
        let deleting =
            serde_json::json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [FINALIZER]}});
        let gone = serde_json::json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": []}});
        assert_ne!(with(deleting.clone()), with(admitted), "deletion does");
        assert_ne!(with(gone), with(deleting), "and so does the key's last finalizer going");
        assert_ne!(
            with(serde_json::json!({"metadata": {"generation": 2}})),
            with(serde_json::json!({})),
            "and a spec change"
        );
    }

    #[test]
    fn keys_wake_for_their_account_s_spec_labels_and_going_not_for_its_status() {
        let account = |extra: serde_json::Value| {
            let mut object = serde_json::json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "AwsAccount",
                "metadata": {"name": "sec", "generation": 1}, "spec": {"accountId": "111122223333", "region": "eu-west-1"}});
            json_patch::merge(&mut object, &extra);
            DeserializeGuard(Ok(serde_json::from_value::<AwsAccount>(object).expect("an AwsAccount")))
        };
        let (store, mut writer) = reflector::store();
        writer.apply_watcher_event(&watcher::Event::Apply(account(serde_json::json!({}))));
        let inputs = account_inputs(store);
        let base = inputs(&account(serde_json::json!({})));
        let status = serde_json::json!({"status": {"accountVerified": true, "lastSyncTime": "2026-01-01T00:00:00Z"}});
        assert_eq!(inputs(&account(status)), base, "the account's pass writes its status every time");
        for loud in [
            serde_json::json!({"metadata": {"generation": 2}}),
            serde_json::json!({"metadata": {"labels": {"shard": "blue"}}}),
            serde_json::json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        ] {
            assert_ne!(inputs(&account(loud.clone())), base, "{loud}");
        }
        writer.apply_watcher_event(&watcher::Event::Delete(account(serde_json::json!({}))));
        assert_ne!(inputs(&account(serde_json::json!({}))), base, "its delete event repeats the last object");
    }
}
