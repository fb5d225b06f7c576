//! Independent resources are reconciled concurrently: one slow or failing resource never holds
//! up the others.

mod support;

use std::time::Duration;

use kms_operator::api::Reason;
use kms_operator::local::runner::{Command, Runner};
use support::engine::{engine, load, run};
use support::kms;
use support::manifests::{REGION, Workspace, account, key, key_in};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Gate};

async fn three_keys() -> (Moto, FaultProxy, Workspace, aws_sdk_kms::Client) {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    for name in ["one", "two", "three"] {
        ws.write(&format!("{name}.yaml"), &key(name, "description: concurrent"));
    }
    let client = kms::client(&moto.endpoint(), REGION).await;
    (moto, proxy, ws, client)
}

#[tokio::test]
async fn a_slow_key_does_not_hold_up_the_others() {
    let (_moto, proxy, ws, client) = three_keys().await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    let engine = engine().await;
    let apply = run(&engine, ws.path(), Command::Apply);
    // The other two keys are created while the first one's CreateKey is stuck at the proxy.
    let watch = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while kms::key_ids(&client).await.len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "the other keys were held up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let forwarded = proxy.forwarded("CreateKey");
        gate.open();
        forwarded
    };
    let (output, forwarded_while_held) = futures::join!(apply, watch);
    assert_eq!(forwarded_while_held, 2, "two keys created while the third was held");
    assert!(!output.any_failed());
    assert_eq!(kms::key_ids(&client).await.len(), 3);
}

#[tokio::test]
async fn a_failing_key_does_not_stop_the_others() {
    let (_moto, proxy, ws, client) = three_keys().await;
    proxy.inject("CreateKey", Fault::access_denied(), 1);
    let output = run(&engine().await, ws.path(), Command::Apply).await;
    assert_eq!(output.exit_code(), 1);
    let failed: Vec<_> = output.results.iter().filter(|r| r.failed()).collect();
    assert_eq!(failed.len(), 1, "exactly one resource failed");
    assert_eq!(failed[0].synced.reason, Reason::AccessDenied);
    assert_eq!(kms::key_ids(&client).await.len(), 2, "the other two converged");
}

/// The race that once hung a whole CI run: the test opens the gate before the held request has
/// reached it (the proxy counts a request as injected before it waits). An opened gate stays
/// open, so the request passes instead of waiting forever.
#[tokio::test]
async fn a_gate_opened_before_the_held_request_reaches_it_lets_the_request_through() {
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let gate = Gate::new();
    proxy.inject("CreateKey", Fault::Hold(gate.clone()), 1);
    gate.open();
    let client = kms::client(&proxy.endpoint(), REGION).await;
    let created = tokio::time::timeout(Duration::from_secs(30), client.create_key().send())
        .await
        .expect("the held request was let through")
        .expect("CreateKey");
    assert_eq!(proxy.injected("CreateKey"), 1, "the request did meet the gate");
    assert!(created.key_metadata().is_some());
}

/// Workers are per (account, region): while every CreateKey of one account hangs (its quota
/// spent, or its endpoint slow), the other account's keys are all created, though the held
/// account's keys come first and outnumber the workers. With one pool of workers for the run,
/// the held account's first key would take the only worker and nothing else would start.
#[tokio::test]
async fn one_accounts_held_writes_hold_no_worker_of_another_account() {
    const HELD: &str = "200000000001";
    const FREE: &str = "200000000002";
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    let ws = Workspace::new();
    let endpoint = proxy.endpoint();
    for (name, id) in [("held", HELD), ("free", FREE)] {
        ws.write(
            &format!("{name}-account.yaml"),
            &format!(
                "apiVersion: kmsoperator.dev/v1alpha1\nkind: AwsAccount\nmetadata: {{name: {name}}}\nspec: {{accountId: \"{id}\", region: {REGION}, assumeRoleArn: \"arn:aws:iam::{id}:role/kms-operator\", endpointUrl: \"{endpoint}\", stsEndpointUrl: \"{endpoint}\", allowedNamespaces: {{}}}}\n"
            ),
        );
    }
    // Listed first, and more of them than a lane has workers.
    let mut files = Vec::new();
    for account in ["held", "free"] {
        for i in 0..3 {
            files.push(
                key_in("apps", &format!("{account}-{i}"), "description: lanes")
                    .replace("accountRef: test", &format!("accountRef: {account}")),
            );
        }
    }
    ws.write("keys.yaml", &files.join("---\n"));
    let gate = Gate::new();
    proxy.inject_for_account(HELD, "CreateKey", Fault::Hold(gate.clone()), 3);
    let engine = engine().await;
    let set = load(ws.path());
    let runner = Runner::new(&engine, &set, 1);
    let created = |account: &str| {
        proxy.spent().iter().filter(|((a, _, op), _)| a == account && op == "CreateKey").map(|(_, n)| n).sum::<usize>()
    };
    let watch = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while proxy.forwarded("CreateKey") < 3 || proxy.injected("CreateKey") == 0 {
            assert!(tokio::time::Instant::now() < deadline, "the free account's keys were held up by the other's");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let while_held = (created(FREE), proxy.forwarded("CreateKey"), proxy.injected("CreateKey"));
        gate.open();
        while_held
    };
    let (output, (free_created, forwarded, held)) = futures::join!(runner.run(Command::Apply), watch);
    assert_eq!(free_created, 3, "every key of the free account was created while the other's were held");
    assert_eq!(forwarded, 3, "those three were all that KMS had answered: none of the held account's");
    assert_eq!(held, 1, "the held account's lane had its one worker at the gate, no more");
    support::engine::assert_ok(&output);
    assert_eq!(proxy.assumed_accounts().into_iter().collect::<Vec<_>>(), [HELD, FREE].map(str::to_owned).to_vec());
    assert_eq!(created(HELD), 3, "the held account's keys are created once the gate opens, in its own account");
}
