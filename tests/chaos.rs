//! Killed runs, as a cancelled CI job, a Ctrl-C or an evicted pod would leave them: `apply` of a
//! fleet of keys with aliases is killed with SIGKILL at random moments, against a local KMS behind
//! the fault proxy, where the CreateKeys of a dead process still land, late, and ListKeys lags.
//! Then it runs to the end. Every object must end with exactly one live key and its alias, `plan`
//! in sync, and every duplicate the kills made healed (disabled, pending deletion).
//!
//! Seeded: `CHAOS_SEED` picks the kill moments and delays (a fixed seed by default, so CI always
//! runs the same schedule); `CHAOS_KILLS` sets how many runs are killed.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use support::cli::{command, kms_operator};
use support::kms;
use support::manifests::{REGION, Workspace, account, alias, key};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};

const OBJECTS: usize = 12;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Keys by owner and state, as KMS holds them.
async fn keys_by_owner(client: &aws_sdk_kms::Client) -> BTreeMap<String, Vec<(String, String)>> {
    let mut owners: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for id in kms::key_ids(client).await {
        let Some(owner) = kms::tags(client, &id).await.get("kmsoperator.dev/owner").cloned() else {
            continue;
        };
        let state = kms::describe(client, &id).await.key_state().map(|s| s.as_str().to_owned()).unwrap_or_default();
        owners.entry(owner).or_default().push((id, state));
    }
    owners
}

#[tokio::test]
async fn a_fleet_apply_killed_again_and_again_ends_with_one_key_and_alias_per_object() {
    let seed = setting("CHAOS_SEED", 20_261_124);
    let kills = setting("CHAOS_KILLS", 9);
    let mut rng = StdRng::seed_from_u64(seed);
    let moto = Moto::start();
    let proxy = FaultProxy::start(moto.port).await;
    // A dead process's creates land up to two seconds late, and the listing lags a second.
    proxy.hide_new_keys(Duration::from_secs(1));
    for _ in 0..OBJECTS * 4 {
        proxy.inject("CreateKey", Fault::Late(Duration::from_millis(rng.random_range(0..2000))), 1);
    }
    let ws = Workspace::new();
    ws.write("account.yaml", &account(&proxy.endpoint()));
    for i in 0..OBJECTS {
        ws.write(&format!("key-{i}.yaml"), &key(&format!("k{i}"), "description: chaos"));
        ws.write(
            &format!("alias-{i}.yaml"),
            &alias(&format!("a{i}"), &format!("name: alias/k{i}\nkeyRef: {{name: k{i}}}")),
        );
    }

    // Kills that left a CreateKey on its way: its answer will never reach anyone.
    let mut hit_a_create = 0;
    for kill in 0..kills {
        let mut run = command(&["apply", "-f", ".", "-o", "json"], ws.path()).spawn().expect("start apply");
        if kill == 0 {
            // However slow the machine, the first kill lands while a create is on its way (no key
            // exists yet, so the run sends them); the others land at random moments.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while proxy.in_flight_of("CreateKey") == 0
                && run.try_wait().ok().flatten().is_none()
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(rng.random_range(100..2500))).await;
        }
        let _ = run.kill();
        let _ = tokio::task::spawn_blocking(move || run.wait()).await;
        if proxy.in_flight_of("CreateKey") > 0 {
            hit_a_create += 1;
        }
    }
    assert!(hit_a_create > 0, "seed {seed}: no kill left a CreateKey on its way, so nothing here was tested");
    // What the dead runs sent lands, and the listing catches up; then the run to the end.
    while proxy.in_flight() > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Off the runtime: the proxy these runs talk to runs on it.
    let dir = ws.path().to_path_buf();
    let (last, plan) = tokio::task::spawn_blocking(move || {
        (kms_operator(&["apply", "-f", "."], &dir), kms_operator(&["plan", "-f", "."], &dir))
    })
    .await
    .expect("final runs");
    last.assert_code(0);
    plan.assert_code(0);

    let client = kms::client(&moto.endpoint(), REGION).await;
    let owners = keys_by_owner(&client).await;
    let aliases = client.list_aliases().send().await.expect("ListAliases");
    let mut healed = 0;
    for i in 0..OBJECTS {
        let keys = owners.get(&format!("kms-operator/apps/k{i}")).cloned().unwrap_or_default();
        let live: Vec<&String> =
            keys.iter().filter(|(_, state)| state != "PendingDeletion").map(|(id, _)| id).collect();
        assert_eq!(live.len(), 1, "seed {seed}: object k{i} has live keys {keys:?}");
        let removed = keys.iter().filter(|(_, state)| state == "PendingDeletion").count();
        healed += removed;
        let target = aliases
            .aliases()
            .iter()
            .find(|a| a.alias_name() == Some(&format!("alias/k{i}")))
            .and_then(|a| a.target_key_id());
        assert_eq!(target, Some(live[0].as_str()), "seed {seed}: alias/k{i} points at the live key");
    }
    eprintln!(
        "chaos seed {seed}: {kills} runs killed, {hit_a_create} with a CreateKey on its way, {} CreateKey sent, {healed} duplicate(s) healed",
        proxy.forwarded("CreateKey")
    );
}
