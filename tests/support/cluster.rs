//! A controller context on the in-memory Kubernetes API and a real local KMS server.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kms_operator::api::{AwsAccount, KmsKey};
use kms_operator::controller::backoff::Requeue;
use kms_operator::controller::metrics::Metrics;
use kms_operator::controller::recorder::EventRecorder;
use kms_operator::controller::{Context, ControllerError};
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use serde_json::{Value, json};

use super::engine::{engine_signed_by, engine_with, fast_settings};
use super::fake_kube::FakeKube;
use super::manifests::{ACCOUNT_ID, REGION};
use kms_operator::aws::RateLimits;
use kms_operator::engine::EngineSettings;

/// A namespaced object the tests create, read and delete through the fake API server.
pub trait Namespaced:
    kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
{
}

impl<T> Namespaced for T where
    T: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
{
}

pub struct Cluster {
    pub fake: FakeKube,
    pub ctx: Arc<Context>,
}

impl Cluster {
    pub async fn new() -> Cluster {
        Cluster::on(FakeKube::new()).await
    }

    /// The controller caches listings for a minute, less than its resync; a test's passes follow
    /// each other within that minute, so this one lists aliases and grants afresh every pass.
    pub async fn listing_every_pass() -> Cluster {
        let settings = EngineSettings { listing_ttl: Some(Duration::ZERO), ..fast_settings() };
        Cluster::with_engine(FakeKube::new(), engine_with(settings, RateLimits::unlimited()).await)
    }

    /// A controller process of its own (new engine, empty caches) on the same API server, as
    /// after a restart.
    pub async fn on(fake: FakeKube) -> Cluster {
        Cluster::with_engine(fake, engine_with(fast_settings(), RateLimits::unlimited()).await)
    }

    /// A controller whose engine has `settings`, on a new API server.
    pub async fn with_settings(settings: EngineSettings) -> Cluster {
        Cluster::with_engine(FakeKube::new(), engine_with(settings, RateLimits::unlimited()).await)
    }

    /// A controller process of its own on the API server `fake`, whose engine has `settings`
    /// and paces its AWS requests at `limits`.
    pub async fn paced(fake: FakeKube, settings: EngineSettings, limits: RateLimits) -> Cluster {
        Cluster::with_engine(fake, engine_with(settings, limits).await)
    }

    /// A controller process of its own on the same API server, named `name` in its requests to
    /// it, in its Events (as their reporting instance) and in the access key its AWS requests are
    /// signed with: what it wrote can be told from what another process wrote.
    pub async fn process(fake: FakeKube, name: &str) -> Cluster {
        Cluster::with_identity(fake, engine_signed_by(name).await, name)
    }

    fn with_engine(fake: FakeKube, engine: kms_operator::engine::Engine) -> Cluster {
        Cluster::with_identity(fake, engine, "controller")
    }

    fn with_identity(fake: FakeKube, engine: kms_operator::engine::Engine, name: &str) -> Cluster {
        let client = fake.client_named(name);
        let metrics = Metrics::new(engine.calls().stats.clone());
        let instance = if name == "controller" { "test" } else { name };
        let ctx = Context {
            recorder: EventRecorder::new(
                client.clone(),
                Reporter { controller: "kms-operator".into(), instance: Some(instance.into()) },
            ),
            client,
            engine,
            metrics,
            requeue: Requeue::new(Duration::from_secs(600), Duration::from_millis(50), Duration::from_secs(1)),
            quiet_retries: 3,
            caches: Default::default(),
            seen: Default::default(),
        };
        Cluster { fake, ctx: Arc::new(ctx) }
    }

    /// The test's own client (requests recorded apart from the controller's).
    pub fn client(&self) -> kube::Client {
        self.fake.client_named("test")
    }

    pub async fn namespace(&self, name: &str, labels: Value) {
        let ns: Namespace = serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}),
        )
        .unwrap();
        Api::<Namespace>::all(self.client()).create(&PostParams::default(), &ns).await.expect("create namespace");
    }

    /// The AwsAccount `test`, open to every namespace (and adoption) unless `extra` says
    /// otherwise (a JSON merge patch: `{"allowedNamespaces": null}` removes the selector). The
    /// server at `endpoint` answers STS as well, in account `ACCOUNT_ID`.
    pub async fn account(&self, endpoint: &str, extra: Value) {
        self.account_named("test", endpoint, extra).await;
    }

    /// Like `account`, under another name (another account, or the same one reached elsewhere).
    pub async fn account_named(&self, name: &str, endpoint: &str, extra: Value) {
        let mut spec = json!({"accountId": ACCOUNT_ID, "region": REGION, "endpointUrl": endpoint, "stsEndpointUrl": endpoint, "allowedNamespaces": {}, "permissions": {"adoptionNamespaces": {}}});
        json_patch::merge(&mut spec, &extra);
        let account: AwsAccount = serde_json::from_value(json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": "AwsAccount", "metadata": {"name": name}, "spec": spec})).unwrap();
        Api::<AwsAccount>::all(self.client()).create(&PostParams::default(), &account).await.expect("create account");
    }

    pub async fn create<K>(&self, namespace: &str, object: Value) -> K
    where
        K: Namespaced,
    {
        let object: K = serde_json::from_value(object).expect("valid object");
        Api::<K>::namespaced(self.client(), namespace).create(&PostParams::default(), &object).await.expect("create")
    }

    pub async fn get<K>(&self, namespace: &str, name: &str) -> Option<K>
    where
        K: Namespaced,
    {
        Api::<K>::namespaced(self.client(), namespace).get_opt(name).await.expect("get")
    }

    /// Runs the KmsKey reconcile on the object as stored now.
    pub async fn reconcile_key(&self, name: &str) -> Result<Action, ControllerError> {
        let key: KmsKey = self.get("apps", name).await.expect("the KmsKey exists");
        kms_operator::controller::key::reconcile(Arc::new(key), self.ctx.clone()).await
    }

    pub async fn reconcile_alias(&self, name: &str) -> Result<Action, ControllerError> {
        self.reconcile_on_key::<kms_operator::api::KmsAlias>("apps", name).await
    }

    /// Runs the KmsKey reconcile on the object in `namespace` as stored now.
    pub async fn reconcile_key_in(&self, namespace: &str, name: &str) -> Result<Action, ControllerError> {
        let key: KmsKey = self.get(namespace, name).await.expect("the KmsKey exists");
        kms_operator::controller::key::reconcile(Arc::new(key), self.ctx.clone()).await
    }

    /// Runs the KmsAlias or KmsGrant reconcile on the object in `namespace` as stored now.
    pub async fn reconcile_on_key<T>(&self, namespace: &str, name: &str) -> Result<Action, ControllerError>
    where
        T: kms_operator::controller::on_key::OnKeyResource,
    {
        let object: T = self.get(namespace, name).await.expect("the object exists");
        kms_operator::controller::on_key::reconcile(Arc::new(object), self.ctx.clone()).await
    }

    /// Whether the object carries the operator's finalizer.
    pub async fn has_finalizer<K: Namespaced>(&self, namespace: &str, name: &str) -> bool {
        let object: K = self.get(namespace, name).await.expect("the object exists");
        object.meta().finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == kms_operator::controller::FINALIZER))
    }

    pub async fn delete<K: Namespaced>(&self, namespace: &str, name: &str) {
        Api::<K>::namespaced(self.client(), namespace).delete(name, &Default::default()).await.expect("delete");
    }

    /// Reasons of the Events recorded about `name`.
    pub fn event_reasons(&self, name: &str) -> Vec<String> {
        self.fake
            .objects("events.k8s.io/v1", "events")
            .iter()
            .filter(|e| e["regarding"]["name"] == name)
            .filter_map(|e| e["reason"].as_str().map(str::to_owned))
            .collect()
    }

    /// The objects that the Events about `name` with `reason` name as related, as
    /// `Kind namespace/name` (`Kind name` when cluster-scoped).
    pub fn event_related(&self, name: &str, reason: &str) -> Vec<String> {
        self.fake
            .objects("events.k8s.io/v1", "events")
            .iter()
            .filter(|e| e["regarding"]["name"] == name && e["reason"] == reason)
            .map(|e| {
                let related = &e["related"];
                let text = |field: &str| related[field].as_str().unwrap_or_default().to_owned();
                match text("namespace") {
                    namespace if namespace.is_empty() => format!("{} {}", text("kind"), text("name")),
                    namespace => format!("{} {namespace}/{}", text("kind"), text("name")),
                }
            })
            .collect()
    }

    pub fn writes(&self) -> u64 {
        self.ctx.engine.calls().stats.snapshot().writes
    }

    pub fn aws_calls(&self) -> u64 {
        let summary = self.ctx.engine.calls().stats.snapshot();
        summary.reads + summary.writes
    }
}

/// A local KMS and a controller that lists afresh every pass, so that changes made behind its
/// back are seen by the next one; the namespace `apps`, the account `test`, and a KMS client
/// to make those changes with.
pub async fn with_changes_outside() -> (super::moto::Moto, Cluster, aws_sdk_kms::Client) {
    let moto = super::moto::Moto::start();
    let cluster = Cluster::listing_every_pass().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), json!({})).await;
    let kms = super::kms::client(&moto.endpoint(), REGION).await;
    (moto, cluster, kms)
}

pub fn key_object(name: &str, spec: Value) -> Value {
    key_object_in("apps", name, spec)
}

/// A KmsKey of account `test` in `namespace`.
pub fn key_object_in(namespace: &str, name: &str, spec: Value) -> Value {
    let mut full = json!({"accountRef": "test"});
    json_patch::merge(&mut full, &spec);
    object_in("KmsKey", namespace, name, full)
}

/// Any kind of ours, as JSON for the API.
pub fn object_in(kind: &str, namespace: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "kmsoperator.dev/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec})
}

pub fn condition<'a>(
    conditions: &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions.iter().find(|c| c.type_ == type_).unwrap_or_else(|| panic!("no {type_} condition in {conditions:?}"))
}
