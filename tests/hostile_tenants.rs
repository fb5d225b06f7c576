//! The controller under hostile tenants (issue 27), against the in-memory Kubernetes API (which
//! refuses what a real API server refuses, fake_kube/limits.rs) and a real local KMS:
//!
//! - the worst objects a tenant can write (deep, huge, out of range, shaped to defeat the
//!   binary's types) cannot stop a relist or keep other namespaces' keys from converging;
//! - status is a cache, never an authority: a forged status of each kind makes no KMS write and
//!   no call to an account the namespace may not use;
//! - one namespace's stuck keys hold only its share of the workers, one account's only its lane;
//! - refused and deleted objects are forgotten: a create/delete loop leaves nothing behind.

mod support;

use std::time::Duration;

use aws_sdk_kms::types::GrantOperation;
use kms_operator::api::{KmsAlias, KmsGrant, KmsKey};
use kms_operator::controller::{ControllerOptions, run_controllers};
use kms_operator::engine::EngineSettings;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::cluster::{Cluster, condition, key_object_in};
use support::engine::fast_settings;
use support::fake_kube::limits::too_deep_for_clients;
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};
use support::wait::until;

/// The controllers, running until the returned sender says stop.
fn start(
    cluster: &Cluster,
    options: ControllerOptions,
) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let ctx = cluster.ctx.clone();
    let running = tokio::spawn(async move { run_controllers(ctx, &options, shutdown).await });
    (stop, running)
}

async fn stop((stop, running): (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>)) {
    stop.send(true).expect("controllers listening");
    tokio::time::timeout(Duration::from_secs(30), running).await.expect("graceful shutdown").expect("no panic");
}

/// KmsKeys as plain JSON, as kubectl sends them: what the binary's types would refuse to build.
fn raw_keys(cluster: &Cluster, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(cluster.client(), namespace, &ApiResource::erase::<KmsKey>(&()))
}

fn raw(object: Value) -> DynamicObject {
    serde_json::from_value(object).expect("an object")
}

/// The API server's answer to a write, as its status code (0: accepted).
fn code<T>(result: Result<T, kube::Error>) -> u16 {
    match result {
        Ok(_) => 0,
        Err(kube::Error::Api(status)) => status.code,
        Err(other) => panic!("not an API answer: {other}"),
    }
}

/// `[[[... leaf ...]]]`, `levels` lists deep.
fn nested(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |inner, _| json!([inner]))
}

async fn ready(cluster: &Cluster, namespace: &str, name: &str) -> Option<String> {
    let key: KmsKey = cluster.get(namespace, name).await?;
    let status = key.status?;
    (status.conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")).then_some(status.key_id?)
}

#[tokio::test]
async fn the_worst_objects_a_tenant_can_write_stop_no_relist_and_no_other_key() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    for namespace in ["good", "bad"] {
        cluster.namespace(namespace, json!({})).await;
    }
    cluster.account(&moto.endpoint(), json!({})).await;
    for name in ["first", "second"] {
        cluster.create::<KmsKey>("good", key_object_in("good", name, json!({"description": name}))).await;
    }
    let bad = raw_keys(&cluster, "bad");
    let key = |name: &str, spec: Value| raw(key_object_in("bad", name, spec));
    let create = |object: DynamicObject| {
        let bad = bad.clone();
        async move { code(bad.create(&PostParams::default(), &object).await) }
    };
    let statement = |extra: Value| {
        let mut statement = json!({"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"});
        json_patch::merge(&mut statement, &extra);
        json!({"policy": {"statements": [statement]}})
    };

    // Refused, as a real API server refuses them.
    let deep = |leaf: &str| nested(125, json!(leaf));
    let arns: Vec<String> = (0..500).map(|i| format!("arn:aws:iam::123456789012:role/{i:0>1900}")).collect();
    let refused = [
        ("deep-condition", statement(json!({"Condition": {"StringEquals": {"aws:PrincipalTag/x": deep("v")}}})), 422),
        ("deep-action", statement(json!({"Action": deep("kms:Decrypt")})), 422),
        ("deep-principal", statement(json!({"Principal": {"AWS": deep("arn:aws:iam::123456789012:root")}})), 422),
        ("period", json!({"rotation": {"periodDays": 2_147_483_648_i64}}), 422),
        ("window", json!({"deletion": {"pendingWindowDays": -1}}), 422),
        ("huge", statement(json!({"NotResource": arns.clone(), "NotAction": arns.clone()})), 500),
    ];
    for (name, spec, expected) in refused {
        assert_eq!(create(key(name, spec)).await, expected, "{name}");
    }
    let too_big = json!({"description": "x".repeat(4 * 1024 * 1024)});
    assert_eq!(create(key("too-big", too_big)).await, 413);

    // Stored: the schema admits them, some of them the binary's types do not.
    let stored = [
        ("large", statement(json!({"NotResource": arns[..300].to_vec()}))),
        ("number-action", statement(json!({"Action": 7}))),
        ("plain", json!({})),
    ];
    for (name, spec) in stored {
        assert_eq!(create(key(name, spec)).await, 0, "{name}");
    }
    let status = |status: Value| {
        let bad = bad.clone();
        async move {
            code(bad.patch_status("plain", &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await)
        }
    };
    for out_of_range in [
        json!({"rotation": {"enabled": true, "periodDays": 2_147_483_648_i64}}),
        json!({"rotation": {"enabled": true, "onDemandRotations": 4_294_967_296_i64}}),
        json!({"observedGeneration": -1}),
        json!({"replicas": [{"region": "us-west-2", "keyId": deep("k")}]}),
    ] {
        assert_eq!(status(out_of_range.clone()).await, 422, "{out_of_range}");
    }
    // A time without a zone: date-time formats are not this fake's to check, and the binary's
    // type refuses it; on a real API server it is the status writer's to get right.
    assert_eq!(status(json!({"lastSyncTime": "2026-01-01T00:00:00"})).await, 0);
    for object in cluster.fake.objects("kmsoperator.dev/v1alpha1", "kmskeys") {
        assert!(!too_deep_for_clients(&object), "stored and unreadable: {}", object["metadata"]["name"]);
    }

    // The controllers start with a list, which every object above is in.
    let running = start(&cluster, ControllerOptions::new(None, 4));
    for name in ["first", "second"] {
        until(&format!("good/{name} converges"), || ready(&cluster, "good", name)).await;
    }
    for name in ["number-action", "plain"] {
        until(&format!("bad/{name} is reported unreadable"), || async {
            cluster.event_reasons(name).contains(&"InvalidObject".to_owned()).then_some(())
        })
        .await;
    }
    stop(running).await;

    // Again, as after a restart, a failover or a 410 Gone: a new process, a new list, and a
    // change converges.
    let cluster = Cluster::on(cluster.fake.clone()).await;
    Api::<KmsKey>::namespaced(cluster.client(), "good")
        .patch("first", &PatchParams::default(), &Patch::Merge(json!({"spec": {"description": "changed"}})))
        .await
        .expect("a spec change");
    let running = start(&cluster, ControllerOptions::new(None, 4));
    let key_id = until("good/first converges again", || async {
        let key: KmsKey = cluster.get("good", "first").await?;
        let status = key.status?;
        (status.observed_generation == Some(2) && condition(&status.conditions, "Synced").status == "True")
            .then_some(status.key_id?)
    })
    .await;
    stop(running).await;
    let client = kms::client(&moto.endpoint(), REGION).await;
    assert_eq!(kms::describe(&client, &key_id).await.description(), Some("changed"));
    let mut owners = Vec::new();
    for id in kms::key_ids(&client).await {
        owners.push(kms::tags(&client, &id).await.get("kmsoperator.dev/owner").cloned().unwrap_or_default());
    }
    owners.sort();
    assert_eq!(
        owners,
        ["kms-operator/good/first", "kms-operator/good/second"],
        "the bad namespace wrote nothing to KMS"
    );
    let large: KmsKey = cluster.get("bad", "large").await.expect("stored");
    let refusal = large.status.expect("refused in status").conditions;
    assert_eq!(condition(&refusal, "Ready").reason, "InvalidSpec");
}

async fn converge<K: kms_operator::controller::on_key::OnKeyResource>(cluster: &Cluster, namespace: &str, name: &str) {
    for _ in 0..2 {
        cluster.reconcile_on_key::<K>(namespace, name).await.expect("reconciled");
    }
}

async fn converge_key(cluster: &Cluster, namespace: &str, name: &str) -> String {
    for _ in 0..2 {
        cluster.reconcile_key_in(namespace, name).await.expect("reconciled");
    }
    ready(cluster, namespace, name).await.unwrap_or_else(|| panic!("{namespace}/{name} is not ready"))
}

async fn patch_status<K: support::cluster::Namespaced>(cluster: &Cluster, namespace: &str, name: &str, status: Value) {
    Api::<K>::namespaced(cluster.client(), namespace)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
        .await
        .expect("a tenant with status rights writes it");
}

fn ready_condition() -> Value {
    json!([{"type": "Ready", "status": "True", "reason": "Available", "message": "forged", "lastTransitionTime": "2026-01-01T00:00:00Z"}])
}

async fn alias_target(client: &aws_sdk_kms::Client, name: &str) -> Option<String> {
    let aliases = client.list_aliases().send().await.expect("ListAliases");
    aliases.aliases().iter().find(|a| a.alias_name() == Some(name)).and_then(|a| a.target_key_id().map(str::to_owned))
}

#[tokio::test]
async fn a_forged_alias_status_takes_over_no_alias_in_another_account() {
    let (moto_a, moto_b) = (Moto::start(), Moto::start());
    let cluster = Cluster::listing_every_pass().await;
    cluster.namespace("tenant", json!({})).await;
    let no_adoption = json!({"permissions": {"adoptionNamespaces": null}});
    cluster.account_named("acct-a", &moto_a.endpoint(), no_adoption.clone()).await;
    cluster.account_named("acct-b", &moto_b.endpoint(), no_adoption).await;
    // The platform team's alias in account B, made by hand.
    let kms_b = kms::client(&moto_b.endpoint(), REGION).await;
    let platform = kms_b.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    kms_b.create_alias().alias_name("alias/payments").target_key_id(&platform).send().await.unwrap();

    // The tenant, admitted to both accounts, holds alias/payments in A.
    for (name, account) in [("in-a", "acct-a"), ("in-b", "acct-b")] {
        cluster.create::<KmsKey>("tenant", key_object_in("tenant", name, json!({"accountRef": account}))).await;
        converge_key(&cluster, "tenant", name).await;
    }
    let alias = support::cluster::object_in(
        "KmsAlias",
        "tenant",
        "payments",
        json!({"name": "alias/payments", "keyRef": {"name": "in-a"}}),
    );
    cluster.create::<KmsAlias>("tenant", alias).await;
    converge::<KmsAlias>(&cluster, "tenant", "payments").await;
    let held: KmsAlias = cluster.get("tenant", "payments").await.unwrap();
    assert_eq!(
        held.status.as_ref().and_then(|s| s.account_ref.as_deref()),
        Some("acct-a"),
        "the record names the account"
    );

    let writes = cluster.writes();
    // Moving keyRef to the key in B: B's alias/payments is not this object's.
    Api::<KmsAlias>::namespaced(cluster.client(), "tenant")
        .patch("payments", &PatchParams::default(), &Patch::Merge(json!({"spec": {"keyRef": {"name": "in-b"}}})))
        .await
        .unwrap();
    converge::<KmsAlias>(&cluster, "tenant", "payments").await;
    let refused: KmsAlias = cluster.get("tenant", "payments").await.unwrap();
    assert_eq!(condition(&refused.status.unwrap().conditions, "Synced").reason, "AliasConflict");
    // With status rights too: a record claiming the alias in B, Ready, opens nothing.
    let forged = json!({"accountRef": "acct-b", "name": "alias/payments", "region": REGION, "targetKeyId": platform, "conditions": ready_condition()});
    patch_status::<KmsAlias>(&cluster, "tenant", "payments", forged).await;
    converge::<KmsAlias>(&cluster, "tenant", "payments").await;
    assert_eq!(cluster.writes(), writes, "zero KMS writes");
    assert_eq!(
        alias_target(&kms_b, "alias/payments").await,
        Some(platform),
        "B's alias points where the platform put it"
    );
}

#[tokio::test]
async fn a_forged_grant_status_reaches_no_account_the_namespace_may_not_use() {
    let (moto_a, moto_c) = (Moto::start(), Moto::start());
    let proxy_c = FaultProxy::start(moto_c.port).await;
    let cluster = Cluster::listing_every_pass().await;
    cluster.namespace("tenant", json!({})).await;
    cluster.namespace("team-x", json!({})).await;
    cluster.account(&moto_a.endpoint(), json!({})).await;
    // Account C admits only the platform's namespaces.
    let platform_only = json!({"allowedNamespaces": {"matchLabels": {"team": "platform"}}});
    cluster.account_named("acct-c", &proxy_c.endpoint(), platform_only).await;
    let kms_c = kms::client(&moto_c.endpoint(), REGION).await;
    let platform_key = kms_c.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    let grantee = format!("arn:aws:iam::{ACCOUNT_ID}:role/reader");
    let platform_grant = kms_c
        .create_grant()
        .key_id(&platform_key)
        .grantee_principal(&grantee)
        .name("reader")
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap()
        .grant_id()
        .unwrap()
        .to_owned();

    // The tenant's grant, and team X's grant of the same name, in the account both may use.
    let grant = |namespace: &str, key: &str| {
        support::cluster::object_in(
            "KmsGrant",
            namespace,
            "reader",
            json!({"keyRef": {"name": key}, "name": "reader", "granteePrincipal": grantee, "operations": ["Decrypt"]}),
        )
    };
    for namespace in ["tenant", "team-x"] {
        cluster.create::<KmsKey>(namespace, key_object_in(namespace, "key", json!({}))).await;
        converge_key(&cluster, namespace, "key").await;
        cluster.create::<KmsGrant>(namespace, grant(namespace, "key")).await;
        converge::<KmsGrant>(&cluster, namespace, "reader").await;
    }
    let theirs: KmsGrant = cluster.get("team-x", "reader").await.unwrap();
    let theirs = theirs.status.unwrap();

    let (writes, calls_to_c) = (cluster.writes(), proxy_c.received().len());
    // A record of an old grant in account C, and one of team X's grant: "retire them".
    let superseded = json!([
        {"accountRef": "acct-c", "region": REGION, "keyId": platform_key, "grantId": platform_grant},
        {"accountRef": "test", "region": REGION, "keyId": theirs.key_id, "grantId": theirs.grant_id},
    ]);
    patch_status::<KmsGrant>(&cluster, "tenant", "reader", json!({"superseded": superseded})).await;
    converge::<KmsGrant>(&cluster, "tenant", "reader").await;
    patch_status::<KmsGrant>(&cluster, "tenant", "reader", json!({"accountRef": "acct-c", "superseded": null})).await;
    converge::<KmsGrant>(&cluster, "tenant", "reader").await;
    assert_eq!(cluster.writes(), writes, "zero KMS writes");
    assert_eq!(proxy_c.received().len(), calls_to_c, "zero calls to an account the namespace may not use");
    let platform_grants = kms_c.list_grants().key_id(&platform_key).send().await.unwrap();
    assert_eq!(platform_grants.grants().len(), 1, "the platform's grant is live");
    let kms_a = kms::client(&moto_a.endpoint(), REGION).await;
    let theirs_live = kms_a.list_grants().key_id(theirs.key_id.as_deref().unwrap()).send().await.unwrap();
    assert_eq!(theirs_live.grants().len(), 1, "team X's grant is live");
}

/// A controller whose passes never wait in place (a budget of zero), with `settings` otherwise,
/// behind a proxy that counts its KMS calls.
async fn waiting_nowhere(settings: EngineSettings) -> (Moto, FaultProxy, Cluster) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let cluster = Cluster::with_settings(EngineSettings { wait_budget: Some(Duration::ZERO), ..settings }).await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&proxy.endpoint(), json!({})).await;
    (moto, proxy, cluster)
}

#[tokio::test]
async fn a_forged_create_intent_holds_no_worker_and_creates_nothing() {
    // A window no pass can outlast: only the budget can end the wait.
    let window = EngineSettings { create_visibility_window: Duration::from_secs(3600), ..fast_settings() };
    let (_moto, proxy, cluster) = waiting_nowhere(window).await;
    cluster.create::<KmsKey>("apps", key_object_in("apps", "stalled", json!({}))).await;
    let now = jiff::Timestamp::now().to_string();
    patch_status::<KmsKey>(&cluster, "apps", "stalled", json!({"creating": {"token": "forged", "since": now}})).await;
    for _ in 0..5 {
        cluster.reconcile_key_in("apps", "stalled").await.expect("a pass that ends, waiting");
    }
    assert_eq!(proxy.forwarded("CreateKey"), 0, "no key while a create may still land");
    assert!(proxy.forwarded("ListKeys") <= 10, "each pass looked once or twice, then let the worker go");
    assert_eq!(cluster.writes(), 0);
}

#[tokio::test]
async fn a_key_waiting_for_iam_makes_one_attempt_per_pass() {
    let timeout = EngineSettings { policy_propagation_timeout: Duration::from_secs(3600), ..fast_settings() };
    let (_moto, proxy, cluster) = waiting_nowhere(timeout).await;
    proxy.inject("CreateKey", Fault::invalid_principal(), usize::MAX);
    cluster.create::<KmsKey>("apps", key_object_in("apps", "waiting", json!({}))).await;
    // The first pass admits the key, adds the finalizer and makes its first attempt.
    for pass in 1..=4 {
        cluster.reconcile_key_in("apps", "waiting").await.expect("a pass that ends, waiting");
        assert_eq!(proxy.injected("CreateKey"), pass, "one CreateKey per pass: the pass never waits in place");
    }
    let key: KmsKey = cluster.get("apps", "waiting").await.unwrap();
    let synced = condition(&key.status.expect("reported after the quiet retries").conditions, "Synced").clone();
    assert_eq!(synced.reason, "PolicyPropagating", "{}", synced.message);
    assert_eq!(cluster.ctx.engine.waiting_for_iam(), 1, "the first refusal is remembered across passes");
}

#[tokio::test]
async fn one_namespace_s_stuck_keys_hold_only_its_share_of_workers() {
    let moto = Moto::start();
    let (slow, fast) = (FaultProxy::start(moto.port).await, FaultProxy::start(moto.port).await);
    let cluster = Cluster::new().await;
    for namespace in ["noisy", "quiet"] {
        cluster.namespace(namespace, json!({})).await;
    }
    cluster.account(&fast.endpoint(), json!({})).await;
    // The noisy namespace's keys live where KMS never answers a CreateKey: every pass over one
    // of them holds its worker for good.
    cluster.account_named("stuck", &slow.endpoint(), json!({})).await;
    slow.inject("CreateKey", Fault::Hold(Gate::new()), usize::MAX);
    for i in 0..50 {
        let name = format!("stuck-{i:02}");
        cluster.create::<KmsKey>("noisy", key_object_in("noisy", &name, json!({"accountRef": "stuck"}))).await;
    }
    // Four workers per kind, two of them at most for one namespace.
    let options = ControllerOptions::new(None, 4);
    assert_eq!(options.namespace_share, 2);
    let running = start(&cluster, options);
    let held = || slow.received().iter().filter(|(op, _)| op == "CreateKey").count();
    until("the noisy namespace holds its share", || async { (held() >= 2).then_some(()) }).await;

    cluster.create::<KmsKey>("quiet", key_object_in("quiet", "prompt", json!({}))).await;
    until("the quiet namespace's key converges", || ready(&cluster, "quiet", "prompt")).await;
    assert_eq!(held(), 2, "never more noisy passes at once than its share");
    for i in 0..50 {
        assert!(ready(&cluster, "noisy", &format!("stuck-{i:02}")).await.is_none(), "nothing noisy converged first");
    }
    assert!(cluster.ctx.metrics.render().contains("kms_operator_reconciles_deferred_total{kind=\"KmsKey\"}"));
    // The held calls never return, so the controllers cannot drain: stop them where they are.
    running.1.abort();
}

/// One account whose KMS never answers a CreateKey (as if its quota were spent for good) holds
/// only its own lane: another account's key in the same namespace converges beside it. With one
/// pool per kind, two workers and one of them per namespace, it would have waited for ever.
#[tokio::test]
async fn one_account_s_stuck_keys_hold_only_that_account_s_lane() {
    let moto = Moto::start();
    let (slow, fast) = (FaultProxy::start(moto.port).await, FaultProxy::start(moto.port).await);
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account_named("stuck", &slow.endpoint(), json!({})).await;
    let other = "222222222222";
    let role = format!("arn:aws:iam::{other}:role/kms-operator");
    cluster.account_named("other", &fast.endpoint(), json!({"accountId": other, "assumeRoleArn": role})).await;
    slow.inject("CreateKey", Fault::Hold(Gate::new()), usize::MAX);
    for i in 0..10 {
        let name = format!("stuck-{i:02}");
        cluster.create::<KmsKey>("apps", key_object_in("apps", &name, json!({"accountRef": "stuck"}))).await;
    }
    // Two workers per kind and lane to start with, one of them at most for one namespace.
    let running = start(&cluster, ControllerOptions::new(None, 2));
    let held = || slow.received().iter().filter(|(op, _)| op == "CreateKey").count();
    until("the stuck account's lane is busy", || async { (held() >= 1).then_some(()) }).await;

    cluster.create::<KmsKey>("apps", key_object_in("apps", "elsewhere", json!({"accountRef": "other"}))).await;
    until("the other account's key converges", || ready(&cluster, "apps", "elsewhere")).await;
    assert_eq!(held(), 1, "the stuck lane never grew: none of its passes ended");
    assert_eq!(fast.forwarded("CreateKey"), 1, "the other account's key was created once");
    running.1.abort();
}

#[tokio::test]
async fn refused_and_deleted_objects_leave_nothing_behind() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.namespace("outsider", json!({"team": "none"})).await;
    cluster
        .account(
            &moto.endpoint(),
            json!({"allowedNamespaces": {"matchLabels": {"kubernetes.io/metadata.name": "apps"}}}),
        )
        .await;
    Api::<k8s_openapi::api::core::v1::Namespace>::all(cluster.client())
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"kubernetes.io/metadata.name": "apps"}}})),
        )
        .await
        .unwrap();
    let running = start(&cluster, ControllerOptions::new(None, 4));
    until("the account is checked", || async {
        let account = Api::<kms_operator::api::AwsAccount>::all(cluster.client()).get("test").await.ok()?;
        account.status?.conditions.iter().any(|c| c.type_ == "Ready").then_some(())
    })
    .await;
    let tracked = || (cluster.ctx.metrics.tracked(), cluster.ctx.requeue.tracked());
    let series = || {
        cluster
            .ctx
            .metrics
            .render()
            .lines()
            .filter(|l| l.contains("resource_name=") || l.starts_with("kms_operator_resources{"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let baseline = (tracked(), series());
    for round in 0..3 {
        let objects = [
            ("apps", format!("kept-{round}"), json!({})),
            ("apps", format!("invalid-{round}"), json!({"policy": {"accountRoot": false}})),
            ("outsider", format!("refused-{round}"), json!({})),
        ];
        for (namespace, name, spec) in &objects {
            cluster.create::<KmsKey>(namespace, key_object_in(namespace, name, spec.clone())).await;
        }
        for (namespace, name, _) in &objects {
            until(&format!("{namespace}/{name} is decided"), || async {
                let key: KmsKey = cluster.get(namespace, name).await?;
                key.status?.conditions.iter().any(|c| c.type_ == "Ready").then_some(())
            })
            .await;
        }
        assert!(tracked().0 >= 3, "the objects are tracked while they exist");
        for (namespace, name, _) in &objects {
            cluster.delete::<KmsKey>(namespace, name).await;
        }
        for (namespace, name, _) in &objects {
            until(&format!("{namespace}/{name} is gone"), || async {
                cluster.get::<KmsKey>(namespace, name).await.is_none().then_some(())
            })
            .await;
        }
        until(&format!("everything about them is forgotten: {:?} -> {:?}", baseline.0, tracked()), || async {
            (tracked() == baseline.0).then_some(())
        })
        .await;
        assert_eq!(series(), baseline.1, "round {round}: the metrics name none of them");
    }
    stop(running).await;
}

#[tokio::test]
async fn label_and_status_writes_start_no_pass_and_a_delete_event_forgets() {
    use futures::StreamExt;
    use kms_operator::api::{Kind, ObjectName};
    use kms_operator::controller::watched::{Watched, triggers};

    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.create::<KmsKey>("apps", key_object_in("apps", "app", json!({"description": "v1"}))).await;
    let api: Api<Watched<KmsKey>> = Api::namespaced(cluster.client(), "apps");
    let (_store, writer) = kube::runtime::reflector::store();
    let passes = triggers(api, Default::default(), Kind::KmsKey, cluster.ctx.clone(), writer, vec![], None);
    let mut passes = Box::pin(passes);
    async fn next<S>(passes: &mut S) -> KmsKey
    where
        S: futures::Stream<Item = Result<Watched<KmsKey>, kube::runtime::watcher::Error>> + Unpin,
    {
        let watched = tokio::time::timeout(Duration::from_secs(30), passes.next()).await.expect("a pass");
        watched.expect("open").expect("decoded").0.expect("a KmsKey")
    }
    assert_eq!(next(&mut passes).await.metadata.generation, Some(1), "the first list starts a pass");

    let keys = Api::<KmsKey>::namespaced(cluster.client(), "apps");
    for i in 0..3 {
        let labels = json!({"metadata": {"labels": {"touched": i.to_string()}}});
        keys.patch("app", &PatchParams::default(), &Patch::Merge(labels)).await.unwrap();
        patch_status::<KmsKey>(&cluster, "apps", "app", json!({"keyState": format!("Forged{i}")})).await;
    }
    keys.patch("app", &PatchParams::default(), &Patch::Merge(json!({"spec": {"description": "v2"}}))).await.unwrap();
    let after = next(&mut passes).await;
    assert_eq!(after.metadata.generation, Some(2), "the spec change is the next pass: none for labels or status");

    // A refused object leaves metrics and backoff entries; its delete event takes them away.
    let name = ObjectName::new(Kind::KmsKey, Some("apps"), "app");
    cluster.ctx.metrics.refused(&name);
    cluster.ctx.requeue.failure(&name);
    cluster.delete::<KmsKey>("apps", "app").await;
    let forgotten =
        || async { (cluster.ctx.metrics.tracked() == 0 && cluster.ctx.requeue.tracked() == 0).then_some(()) };
    let drive = async { while passes.next().await.is_some() {} };
    tokio::select! {
        _ = until("the delete event forgets the object", forgotten) => {}
        _ = drive => panic!("the watch ended"),
    }
}

/// After a rollback the cluster serves a newer CRD than the binary's: an object using a field
/// only the newer version has is stored as it is, and is one error reported on it (in its
/// status, `Synced=False` with reason `InvalidObject`, and an Event, both naming the field)
/// while the other objects of the kind converge, one created before and one after it.
#[tokio::test]
async fn an_object_with_a_field_this_binary_does_not_know_is_one_error() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    let newer_field = json!({"properties": {"spec": {"properties": {"keyAgreement": {"type": "string"}}}}});
    cluster.fake.extend_schema("kmsoperator.dev/v1alpha1", "kmskeys", &newer_field);
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object_in("apps", "current", json!({}))).await;
    let newer = raw(key_object_in("apps", "newer", json!({"keyAgreement": "ECDH"})));
    assert_eq!(code(raw_keys(&cluster, "apps").create(&PostParams::default(), &newer).await), 0);
    let stored = cluster.fake.objects("kmsoperator.dev/v1alpha1", "kmskeys");
    assert!(stored.iter().any(|o| o["spec"]["keyAgreement"] == "ECDH"), "the newer CRD keeps the field");

    let running = start(&cluster, ControllerOptions::new(None, 4));
    until("apps/current converges", || ready(&cluster, "apps", "current")).await;
    let synced = until("apps/newer's status says it cannot be read", || async {
        let stored = cluster.fake.objects("kmsoperator.dev/v1alpha1", "kmskeys");
        let newer = stored.into_iter().find(|o| o["metadata"]["name"] == "newer")?;
        let conditions = newer["status"]["conditions"].as_array()?.clone();
        conditions.into_iter().find(|c| c["type"] == "Synced")
    })
    .await;
    cluster.create::<KmsKey>("apps", key_object_in("apps", "later", json!({}))).await;
    until("apps/later converges", || ready(&cluster, "apps", "later")).await;
    let note = until("apps/newer is reported unreadable", || async {
        let events = cluster.fake.objects("events.k8s.io/v1", "events");
        events
            .iter()
            .find(|e| e["regarding"]["name"] == "newer" && e["reason"] == "InvalidObject")
            .map(|e| e["note"].as_str().unwrap_or_default().to_owned())
    })
    .await;
    stop(running).await;

    assert!(note.contains("keyAgreement"), "the Event names the field: {note}");
    assert_eq!((&synced["status"], &synced["reason"]), (&json!("False"), &json!("InvalidObject")), "{synced}");
    let message = synced["message"].as_str().unwrap_or_default();
    assert!(message.contains("spec.keyAgreement: unknown field"), "the condition names the field: {message}");
    assert_eq!(cluster.fake.writes_to("/kmskeys/newer/status"), 1, "written once, not again on every retry");
    let stored = cluster.fake.objects("kmsoperator.dev/v1alpha1", "kmskeys");
    let newer = stored.iter().find(|o| o["metadata"]["name"] == "newer").expect("still stored");
    assert!(newer["metadata"]["finalizers"].is_null(), "an object it cannot read gets no finalizer");
    let client = kms::client(&moto.endpoint(), REGION).await;
    assert_eq!(kms::key_ids(&client).await.len(), 2, "only the readable keys were created");
}
