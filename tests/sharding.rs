//! Two controllers with disjoint `--shard-selector`s on one API server: each converges the
//! objects of its own accounts and sends not one request (Kubernetes or AWS) about the other's;
//! an account relabelled from one shard to the other is handed over with its objects, and the
//! writes to each object, counted per controller in the order the servers saw them, are all
//! the old shard's and then all the new one's, even while the old shard's write is in flight.
//! An account no shard selects is written by none and counted by all (`kms_operator_unclaimed_resources`).
//!
//! Each controller is a process of its own (its own engine, caches and client), named in its
//! Kubernetes requests, in its Events and in the access key signing its AWS requests; each
//! account's KMS is reached through a proxy of its own, which records who signed each request.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use kms_operator::api::{AwsAccount, KmsAlias, KmsKey};
use kms_operator::aws::Op;
use kms_operator::controller::shard::{CLAIM, Shard, Unclaimed};
use kms_operator::controller::{ControllerOptions, run_controllers};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::chart::{Permission, granted, permission};
use support::cluster::{Cluster, key_object_in, object_in};
use support::fake_kube::FakeKube;
use support::kms;
use support::manifests::{ACCOUNT_ID, REGION};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const PROD: &str = "shard-prod";
const DEV: &str = "shard-dev";
const GREEDY: &str = "shard-greedy";

/// (process, shard name, selector) of the two shards every test runs.
const SHARDS: [(&str, &str, &str); 2] = [(PROD, "prod", "env=prod"), (DEV, "dev", "env in (dev, test)")];

/// How long an object may go without a live claim before the shards count it.
const GRACE: Duration = Duration::from_secs(1);

/// One KMS behind two proxies (one per account), two shard controllers, and the test's view.
struct Fleet {
    moto: Moto,
    prod_kms: FaultProxy,
    dev_kms: FaultProxy,
    fake: FakeKube,
    test: Cluster,
    /// The controller processes, by name.
    processes: Vec<(String, Cluster)>,
    running: Vec<(watch::Sender<bool>, JoinHandle<()>)>,
}

/// The objects of each account: the account, a key and an alias on it.
fn objects_of(env: &str) -> [(&'static str, String); 3] {
    [("awsaccounts", format!("{env}-acct")), ("kmskeys", format!("{env}-key")), ("kmsaliases", format!("{env}-alias"))]
}

/// The shards running from the start, then the accounts `prod-acct` (labelled `env=prod`) and
/// `dev-acct` (`env=dev`), each with a key and an alias.
async fn fleet(shards: &[(&str, &str, &str)]) -> Fleet {
    let moto = Moto::start();
    let (prod_kms, dev_kms) = (FaultProxy::start(moto.port).await, FaultProxy::start(moto.port).await);
    let fake = FakeKube::new();
    let test = Cluster::on(fake.clone()).await;
    test.namespace("apps", json!({})).await;
    let (mut processes, mut running) = (Vec::new(), Vec::new());
    // The shards know each other, as the chart's `--known-shards` tells them, and report an
    // object no shard holds after a second.
    let known_shards: BTreeSet<String> = shards.iter().map(|(_, name, _)| (*name).to_owned()).collect();
    for (process, name, selector) in shards {
        let cluster = Cluster::process(fake.clone(), process).await;
        let mut options = ControllerOptions::new(None, 4);
        let unclaimed = Unclaimed { known_shards: Some(known_shards.clone()), grace: GRACE };
        options.shard = Some(Shard::reporting(*name, selector.parse().expect("a selector"), unclaimed));
        let (stop, shutdown) = watch::channel(false);
        let ctx = cluster.ctx.clone();
        running.push((stop, tokio::spawn(async move { run_controllers(ctx, &options, shutdown).await })));
        processes.push(((*process).to_owned(), cluster));
    }
    for (env, proxy) in [("prod", &prod_kms), ("dev", &dev_kms)] {
        account_with_objects(&test, env, env, proxy).await;
    }
    Fleet { moto, prod_kms, dev_kms, fake, test, processes, running }
}

/// The account `<env>-acct` labelled `env=<label>`, reached through `proxy`, with a key and an
/// alias on it.
async fn account_with_objects(test: &Cluster, env: &str, label: &str, proxy: &FaultProxy) {
    let endpoint = proxy.endpoint();
    let account: AwsAccount = serde_json::from_value(json!({
        "apiVersion": "kmsoperator.dev/v1alpha1", "kind": "AwsAccount",
        "metadata": {"name": format!("{env}-acct"), "labels": {"env": label}},
        "spec": {"accountId": ACCOUNT_ID, "region": REGION, "endpointUrl": endpoint, "stsEndpointUrl": endpoint,
                 "allowedNamespaces": {}}
    }))
    .unwrap();
    Api::<AwsAccount>::all(test.client()).create(&PostParams::default(), &account).await.expect("account");
    let key = key_object_in("apps", &format!("{env}-key"), json!({"accountRef": format!("{env}-acct")}));
    test.create::<KmsKey>("apps", key).await;
    let alias = json!({"name": format!("alias/{env}"), "keyRef": {"name": format!("{env}-key")}});
    test.create::<KmsAlias>("apps", object_in("KmsAlias", "apps", &format!("{env}-alias"), alias)).await;
}

impl Fleet {
    fn process(&self, name: &str) -> &Cluster {
        &self.processes.iter().find(|(n, _)| n == name).expect("a process of that name").1
    }

    async fn object(&self, plural: &str, name: &str) -> Value {
        let client = self.test.client();
        let (group, version) = ("kmsoperator.dev", "v1alpha1");
        let path = match plural {
            "awsaccounts" => format!("/apis/{group}/{version}/awsaccounts/{name}"),
            _ => format!("/apis/{group}/{version}/namespaces/apps/{plural}/{name}"),
        };
        let request = http::Request::get(path).body(Vec::new()).unwrap();
        client.request::<Value>(request).await.expect("the object")
    }

    async fn claim(&self, plural: &str, name: &str) -> Option<String> {
        self.object(plural, name).await["metadata"]["annotations"][CLAIM].as_str().map(str::to_owned)
    }

    /// Ready, with status for the object's current generation, and claimed by `shard`.
    async fn converged_by(&self, plural: &str, name: &str, shard: &str) -> bool {
        let object = self.object(plural, name).await;
        let status = &object["status"];
        let ready = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        let current = plural == "awsaccounts" || status["observedGeneration"] == object["metadata"]["generation"];
        ready && current && object["metadata"]["annotations"][CLAIM] == shard
    }

    async fn wait_converged(&self, env: &str, shard: &str) {
        for (plural, name) in objects_of(env) {
            wait_until(&format!("{plural}/{name} converged by {shard}"), async || {
                self.converged_by(plural, &name, shard).await
            })
            .await;
        }
    }

    /// The controllers that wrote (anything but GET) `plural/name` or its status, in order.
    fn writers(&self, plural: &str, name: &str) -> Vec<String> {
        let (object, status) = (format!("/{plural}/{name}"), format!("/{plural}/{name}/status"));
        self.writers_where(|path| path.ends_with(&object) || path.ends_with(&status))
    }

    fn status_writers(&self, plural: &str, name: &str) -> Vec<String> {
        let status = format!("/{plural}/{name}/status");
        self.writers_where(|path| path.ends_with(&status))
    }

    fn writers_where(&self, path: impl Fn(&str) -> bool) -> Vec<String> {
        let requests = self.fake.requests().into_iter();
        requests.filter(|r| r.method != "GET" && r.client != "test" && path(&r.path)).map(|r| r.client).collect()
    }

    /// The reporting instances of the Events about `name`, oldest first.
    fn reporters(&self, name: &str) -> Vec<String> {
        let mut events: Vec<Value> = self
            .fake
            .objects("events.k8s.io/v1", "events")
            .into_iter()
            .filter(|e| e["regarding"]["name"] == name)
            .collect();
        events.sort_by_key(|e| e["eventTime"].as_str().unwrap_or_default().to_owned());
        events.iter().filter_map(|e| e["reportingInstance"].as_str().map(str::to_owned)).collect()
    }

    async fn stop(self) {
        for (stop, running) in self.running {
            stop.send(true).unwrap();
            tokio::time::timeout(Duration::from_secs(20), running).await.expect("graceful shutdown").unwrap();
        }
    }
}

fn is_write(operation: &str) -> bool {
    Op::ALL.iter().any(|op| op.name() == operation && op.is_write())
}

/// The kind of object an AWS write is made for: aliases' operations name them, the rest
/// (no account here has monitoring, so the accounts' passes write nothing) are the keys'.
fn written_for(operation: &str) -> &'static str {
    if operation.contains("Alias") { "kmsaliases" } else { "kmskeys" }
}

/// Who signed the AWS writes a proxy let through, in order.
fn aws_writers(proxy: &FaultProxy) -> Vec<String> {
    proxy.received().into_iter().filter(|(operation, _)| is_write(operation)).map(|(_, signer)| signer).collect()
}

/// Who signed the AWS writes a proxy let through for objects of `plural`, in order.
fn aws_writers_for(proxy: &FaultProxy, plural: &str) -> Vec<String> {
    let received = proxy.received().into_iter();
    received.filter(|(op, _)| is_write(op) && written_for(op) == plural).map(|(_, signer)| signer).collect()
}

/// `writers` is some writes by `old`, then some by `new`, and nobody else's.
fn handed_over_once(writers: &[String], old: &str, new: &str) -> bool {
    let first_new = writers.iter().position(|w| w == new).unwrap_or(writers.len());
    writers[..first_new].iter().all(|w| w == old) && writers[first_new..].iter().all(|w| w == new)
}

async fn wait_until(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !probe().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_shards_each_converge_their_own_accounts_and_send_nothing_about_the_other_s() {
    let fleet = fleet(&SHARDS).await;
    fleet.wait_converged("prod", "prod").await;
    fleet.wait_converged("dev", "dev").await;

    for (env, other) in [("prod", DEV), ("dev", PROD)] {
        for (plural, name) in objects_of(env) {
            let writers = fleet.writers(plural, &name);
            assert!(!writers.is_empty(), "{plural}/{name} was written");
            assert!(writers.iter().all(|w| w != other), "{other} wrote {plural}/{name}: {writers:?}");
            assert!(!fleet.reporters(&name).iter().any(|r| r == other), "{other} published an Event about {name}");
        }
    }
    // Not a write, not even a read: a shard makes no AWS call for the other's account.
    assert!(fleet.prod_kms.received().iter().all(|(_, signer)| signer == PROD), "{:?}", fleet.prod_kms.received());
    assert!(fleet.dev_kms.received().iter().all(|(_, signer)| signer == DEV), "{:?}", fleet.dev_kms.received());
    assert!(!aws_writers(&fleet.prod_kms).is_empty() && !aws_writers(&fleet.dev_kms).is_empty());
    for process in [PROD, DEV] {
        assert_eq!(fleet.process(process).ctx.metrics.tracked(), 3, "{process}: metrics of its own three objects only");
    }
    // The chart deploying these two shards grants every request they made (the claims' patches
    // of AwsAccounts among them).
    let values = json!({"shards": [{"name": "prod", "selector": "env=prod"}, {"name": "dev", "selector": "env in (dev, test)"}]});
    let requests = fleet.fake.requests().into_iter().filter(|r| r.client == PROD || r.client == DEV);
    let needed: BTreeSet<Permission> = requests.map(|r| permission(&r)).collect();
    let missing: Vec<_> = needed.difference(&granted(&values)).cloned().collect();
    assert_eq!(missing, Vec::<Permission>::new(), "the controllers call what the chart does not grant");
    fleet.stop().await;
}

#[tokio::test]
async fn a_relabelled_account_is_handed_over_with_its_objects_and_never_has_two_writers() {
    let fleet = fleet(&SHARDS).await;
    fleet.wait_converged("prod", "prod").await;
    fleet.wait_converged("dev", "dev").await;
    let key_id = fleet.object("kmskeys", "dev-key").await["status"]["keyId"].as_str().expect("a key").to_owned();

    // The dev shard is in the middle of a write for the key when its account moves to prod.
    let gate = Gate::new();
    fleet.dev_kms.inject("UpdateKeyDescription", Fault::Hold(gate.clone()), 1);
    let keys = Api::<KmsKey>::namespaced(fleet.test.client(), "apps");
    let describe = |text: &str| Patch::Merge(json!({"spec": {"description": text}}));
    keys.patch("dev-key", &PatchParams::default(), &describe("v2")).await.expect("spec change");
    wait_until("the dev shard's write in flight", async || fleet.dev_kms.in_flight_of("UpdateKeyDescription") == 1)
        .await;
    let relabel = Patch::Merge(json!({"metadata": {"labels": {"env": "prod"}}}));
    Api::<AwsAccount>::all(fleet.test.client()).patch("dev-acct", &PatchParams::default(), &relabel).await.unwrap();

    // The prod shard sees the move (it claims the account, which the dev shard gave back at
    // once), and still leaves the key alone: the dev shard has not given it back.
    wait_until("prod claims the account", async || {
        fleet.claim("awsaccounts", "dev-acct").await.as_deref() == Some("prod")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fleet.claim("kmskeys", "dev-key").await.as_deref(), Some("dev"), "held while its pass runs");
    assert!(!fleet.writers("kmskeys", "dev-key").iter().any(|w| w == PROD), "prod waits for the key to be given back");
    let key_writers = aws_writers_for(&fleet.dev_kms, "kmskeys");
    assert!(!key_writers.iter().any(|w| w == PROD), "and makes no AWS write for it: {key_writers:?}");
    assert_eq!(fleet.dev_kms.in_flight_of("UpdateKeyDescription"), 1, "the dev shard's write is still in flight");
    gate.open();

    fleet.wait_converged("dev", "prod").await;
    // The new holder converges later changes.
    keys.patch("dev-key", &PatchParams::default(), &describe("v3")).await.expect("spec change");
    wait_until("v3 converged by prod", async || fleet.converged_by("kmskeys", "dev-key", "prod").await).await;
    let kms = kms::client(&fleet.dev_kms.endpoint(), REGION).await;
    assert_eq!(kms::describe(&kms, &key_id).await.description(), Some("v3"));

    for (plural, name) in objects_of("dev") {
        let writers = fleet.writers(plural, &name);
        assert!(handed_over_once(&writers, DEV, PROD), "{plural}/{name} written by {writers:?}");
        assert!(writers.iter().any(|w| w == PROD), "{plural}/{name}: prod took it over");
        let reporters = fleet.reporters(&name);
        assert!(handed_over_once(&reporters, DEV, PROD), "Events about {name} by {reporters:?}");
    }
    for plural in ["kmskeys", "kmsaliases"] {
        let signers = aws_writers_for(&fleet.dev_kms, plural);
        assert!(handed_over_once(&signers, DEV, PROD), "AWS writes for the dev account's {plural} by {signers:?}");
    }
    let received = fleet.dev_kms.received().into_iter();
    let updates: Vec<String> = received.filter(|(op, _)| op == "UpdateKeyDescription").map(|(_, by)| by).collect();
    assert_eq!(updates, [DEV, PROD], "v2 by the old holder (in flight at the move), v3 by the new one");
    assert_eq!(fleet.process(DEV).ctx.metrics.tracked(), 0, "the dev shard forgot what it gave back");
    fleet.stop().await;
}

/// A third shard whose selector matches every account (a mistake in the values), running from
/// the start: each object is claimed by one shard only (the claim is a conditional write, so of
/// two claims made on the same version one fails), and only that one writes it, in Kubernetes
/// and in AWS.
#[tokio::test]
async fn overlapping_selectors_still_leave_each_object_one_writer() {
    let fleet = fleet(&[SHARDS[0], SHARDS[1], (GREEDY, "greedy", "env")]).await;
    let process_of = |shard: &str| [PROD, DEV, GREEDY].into_iter().find(|p| p.ends_with(shard)).expect("a shard");
    for env in ["prod", "dev"] {
        for (plural, name) in objects_of(env) {
            wait_until(&format!("{plural}/{name} converged"), async || {
                let Some(holder) = fleet.claim(plural, &name).await else { return false };
                fleet.converged_by(plural, &name, &holder).await
            })
            .await;
        }
    }
    for (env, proxy) in [("prod", &fleet.prod_kms), ("dev", &fleet.dev_kms)] {
        let mut holders = std::collections::BTreeMap::new();
        for (plural, name) in objects_of(env) {
            let holder = process_of(&fleet.claim(plural, &name).await.expect("claimed"));
            let status_writers = fleet.status_writers(plural, &name);
            assert!(status_writers.iter().all(|w| w == holder), "{plural}/{name} held by {holder}: {status_writers:?}");
            let reporters = fleet.reporters(&name);
            assert!(reporters.iter().all(|r| r == holder), "Events about {name} by {reporters:?}");
            holders.insert(plural, holder);
        }
        for (operation, signer) in proxy.received().into_iter().filter(|(op, _)| is_write(op)) {
            assert_eq!(signer, holders[written_for(&operation)], "{operation} in {env}'s account");
        }
    }
    fleet.stop().await;
}

/// What `process` exports as `kms_operator_unclaimed_resources`: the non-zero series, as
/// (kind, claim, count).
fn unclaimed(fleet: &Fleet, process: &str) -> BTreeSet<(String, String, u64)> {
    let text = fleet.process(process).ctx.metrics.render();
    let series = text.lines().filter_map(|line| line.strip_prefix("kms_operator_unclaimed_resources{"));
    series
        .filter_map(|line| {
            let (labels, value) = line.rsplit_once("} ")?;
            let label =
                |name: &str| labels.split(',').find_map(|l| l.strip_prefix(&format!("{name}=\""))?.strip_suffix('"'));
            let count: u64 = value.parse().ok()?;
            let series = (label("kind")?.to_owned(), label("claim")?.to_owned(), count);
            (count > 0).then_some(series)
        })
        .collect()
}

fn counts(claim: &str, kinds: &[&str]) -> BTreeSet<(String, String, u64)> {
    kinds.iter().map(|kind| ((*kind).to_owned(), claim.to_owned(), 1)).collect()
}

const OBJECTS_OF_AN_ACCOUNT: [&str; 3] = ["AwsAccount", "KmsKey", "KmsAlias"];

/// An account whose labels match no shard's selector (a typo: `env=qa`): every shard reports its
/// three objects as unclaimed, none writes them, in Kubernetes or in AWS; relabelled into a
/// shard, they are claimed and converge, and the reports go. Then a claim left by a shard that is
/// no longer deployed (written here by hand) is reported as a claim of an unknown shard, until it
/// is removed and the object's shard claims it again.
#[tokio::test]
async fn objects_no_shard_holds_are_reported_by_every_shard_and_written_by_none() {
    let fleet = fleet(&SHARDS).await;
    let qa_kms = FaultProxy::start(fleet.moto.port).await;
    account_with_objects(&fleet.test, "qa", "qa", &qa_kms).await;
    fleet.wait_converged("prod", "prod").await;
    fleet.wait_converged("dev", "dev").await;

    for process in [PROD, DEV] {
        wait_until(&format!("{process} reports the qa account's objects"), async || {
            unclaimed(&fleet, process) == counts("absent", &OBJECTS_OF_AN_ACCOUNT)
        })
        .await;
    }
    for (plural, name) in objects_of("qa") {
        assert_eq!(fleet.writers(plural, &name), Vec::<String>::new(), "nobody writes {plural}/{name}");
        assert_eq!(fleet.claim(plural, &name).await, None, "{plural}/{name}");
        assert_eq!(fleet.reporters(&name), Vec::<String>::new(), "nobody publishes an Event about {name}");
    }
    assert_eq!(qa_kms.received(), [], "no AWS call for an account no shard selects");

    let relabel = Patch::Merge(json!({"metadata": {"labels": {"env": "prod"}}}));
    Api::<AwsAccount>::all(fleet.test.client()).patch("qa-acct", &PatchParams::default(), &relabel).await.unwrap();
    fleet.wait_converged("qa", "prod").await;
    for process in [PROD, DEV] {
        wait_until(&format!("{process} reports nothing"), async || unclaimed(&fleet, process).is_empty()).await;
    }
    for (plural, name) in objects_of("qa") {
        let writers = fleet.writers(plural, &name);
        assert!(writers.iter().all(|w| w == PROD), "{plural}/{name} written by {writers:?}");
    }
    assert!(aws_writers(&qa_kms).iter().all(|w| w == PROD), "{:?}", qa_kms.received());

    // A shard removed from the values while it still held a claim.
    let aliases = Api::<KmsAlias>::namespaced(fleet.test.client(), "apps");
    let claim_by = |shard: Option<&str>| Patch::Merge(json!({"metadata": {"annotations": {CLAIM: shard}}}));
    aliases.patch("qa-alias", &PatchParams::default(), &claim_by(Some("old"))).await.unwrap();
    for process in [PROD, DEV] {
        wait_until(&format!("{process} reports the claim of an unknown shard"), async || {
            unclaimed(&fleet, process) == counts("unknown_shard", &["KmsAlias"])
        })
        .await;
    }
    aliases.patch("qa-alias", &PatchParams::default(), &claim_by(None)).await.unwrap();
    wait_until("prod claims the alias again", async || {
        fleet.claim("kmsaliases", "qa-alias").await.as_deref() == Some("prod")
    })
    .await;
    for process in [PROD, DEV] {
        wait_until(&format!("{process} reports nothing"), async || unclaimed(&fleet, process).is_empty()).await;
    }
    fleet.stop().await;
}
