//! Call budgets, pinned: what verifying and creating cost in AWS calls.

mod support;

use kms_operator::api::KmsKey;
use kms_operator::aws::{CallSummary, Op};
use kms_operator::local::runner::Command;
use serde_json::json;
use std::time::Duration;

use kms_operator::aws::RateLimits;
use support::cluster::{Cluster, key_object};
use support::engine::{assert_ok, engine, engine_with, fast_settings, run};
use support::kms;
use support::manifests::{REGION, Workspace, account, alias, grant, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};

const KEYS: usize = 4;

fn fleet(endpoint: &str) -> Workspace {
    let ws = Workspace::new();
    ws.write("account.yaml", &account(endpoint));
    for i in 0..KEYS {
        let spec = "description: budget\ntags: {Team: data}\nrotation: {enabled: true, periodDays: 180}\npolicy:\n  users: [\"arn:aws:iam::123456789012:role/app\"]";
        ws.write(&format!("key-{i}.yaml"), &key(&format!("k{i}"), spec));
        ws.write(
            &format!("alias-{i}.yaml"),
            &alias(&format!("a{i}"), &format!("name: alias/k{i}\nkeyRef: {{name: k{i}}}")),
        );
        for g in 0..2 {
            let spec = format!(
                "keyRef: {{name: k{i}}}\nname: g{g}\ngranteePrincipal: arn:aws:iam::123456789012:role/r{g}\noperations: [Decrypt]"
            );
            ws.write(&format!("grant-{i}-{g}.yaml"), &grant(&format!("g{i}-{g}"), &spec));
        }
    }
    ws
}

fn per_key(calls: &CallSummary, op: Op) -> u64 {
    calls.count(op)
}

#[tokio::test]
async fn creating_costs_two_writes_per_key_and_verifying_four_reads() {
    let moto = Moto::start();
    let ws = fleet(&moto.endpoint());
    let created = run(&engine().await, ws.path(), Command::Apply).await;
    assert_ok(&created);
    let keys = KEYS as u64;
    // Policy, tags and description travel in CreateKey; rotation (with its period) is the second write.
    assert_eq!(per_key(&created.calls, Op::CreateKey), keys);
    assert_eq!(per_key(&created.calls, Op::EnableKeyRotation), keys);
    let key_writes = created.calls.count(Op::CreateKey) + created.calls.count(Op::EnableKeyRotation);
    let other_key_writes = [Op::PutKeyPolicy, Op::TagResource, Op::UpdateKeyDescription, Op::EnableKey]
        .iter()
        .map(|op| created.calls.count(*op))
        .sum::<u64>();
    assert_eq!(key_writes, 2 * keys);
    assert_eq!(other_key_writes, 0);
    assert_eq!(created.calls.count(Op::CreateAlias), keys);
    assert_eq!(created.calls.count(Op::CreateGrant), 2 * keys);

    // Verifying the converged fleet, with a fresh engine as a new run would have.
    let verify = run(&engine().await, ws.path(), Command::Plan).await;
    assert_ok(&verify);
    let calls = &verify.calls;
    assert_eq!(calls.writes, 0);
    for op in [Op::DescribeKey, Op::GetKeyPolicy, Op::GetKeyRotationStatus, Op::ListResourceTags] {
        assert_eq!(calls.count(op), keys, "{op}: one per key");
    }
    let per_key_reads: u64 = [Op::DescribeKey, Op::GetKeyPolicy, Op::GetKeyRotationStatus, Op::ListResourceTags]
        .iter()
        .map(|op| calls.count(*op))
        .sum();
    assert!(per_key_reads <= 4 * keys);
    // Shared by the pass, not one per resource.
    assert_eq!(calls.count(Op::ListKeys), 1, "one key listing per region");
    assert_eq!(calls.count(Op::ListAliases), 1, "aliases verified from one listing per region");
    assert_eq!(calls.count(Op::ListGrants), keys, "grants verified from one listing per key");
    assert_eq!(calls.count(Op::GetCallerIdentity), 1, "one identity check per account");
    let shared = 1 + 1 + keys + 1;
    assert_eq!(calls.reads, 4 * keys + shared, "nothing else is read: {calls:?}");
}

#[tokio::test]
async fn a_controller_resync_of_a_converged_key_costs_at_most_four_reads() {
    let moto = Moto::start();
    let cluster = Cluster::new().await;
    cluster.namespace("apps", json!({})).await;
    cluster.account(&moto.endpoint(), json!({})).await;
    cluster.create::<KmsKey>("apps", key_object("steady", json!({"tags": {"Team": "data"}}))).await;
    cluster.reconcile_key("steady").await.unwrap();
    cluster.reconcile_key("steady").await.unwrap();
    let before = cluster.ctx.engine.calls().stats.snapshot();
    cluster.reconcile_key("steady").await.unwrap();
    let spent = cluster.ctx.engine.calls().stats.snapshot().since(&before);
    assert_eq!(spent.writes, 0);
    // Tags come from the region's key index while it is fresh, else from one ListResourceTags.
    let allowed = [Op::DescribeKey, Op::GetKeyPolicy, Op::GetKeyRotationStatus, Op::ListResourceTags];
    assert!(spent.reads <= 4, "at most four reads: {spent:?}");
    for op in [Op::DescribeKey, Op::GetKeyPolicy, Op::GetKeyRotationStatus] {
        assert_eq!(spent.count(op), 1, "{op}");
    }
    assert!(spent.by_operation.keys().all(|name| allowed.iter().any(|op| op.name() == name)), "{spent:?}");
}

/// While a create whose answer was lost is waited for, the region is listed again and again;
/// the tags of keys already read are not. Before, each listing read every key's tags, so a
/// fleet's reads grew with the square of its size while it converged (docs/performance.md).
#[tokio::test]
async fn listing_keys_again_reads_only_the_tags_of_new_keys() {
    const OTHERS: usize = 6;
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let client = kms::client(&moto.endpoint(), REGION).await;
    for i in 0..OTHERS {
        client.create_key().description(format!("someone else's {i}")).send().await.expect("create another key");
    }
    proxy.inject("CreateKey", Fault::DropAfterForward, 1);
    proxy.hide_new_keys(Duration::from_secs(2));
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    ws.write("key.yaml", &key("logs", "description: logs"));
    let engine = engine_with(fast_settings(), RateLimits::unlimited()).await;
    let output = run(&engine, ws.path(), Command::Apply).await;
    assert_ok(&output);
    let listings = output.calls.count(Op::ListKeys);
    assert!(listings >= 3, "the region was listed while the key stayed hidden: {listings}");
    assert_eq!(
        output.calls.count(Op::ListResourceTags),
        OTHERS as u64 + 1,
        "each key's tags read once, over {listings} listings"
    );
    assert_eq!(proxy.forwarded("CreateKey"), 1);
}
