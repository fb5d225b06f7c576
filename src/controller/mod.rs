//! The controller (`kms-operator run`): one kube-runtime Controller per kind, all calling the
//! same engine as local mode; status, Events, metrics, leader election, graceful shutdown.

pub mod account;
mod admission;
pub mod args;
pub mod backoff;
pub mod caches;
pub mod context;
mod decision;
mod deletion;
mod dependents;
pub mod events;
pub mod export;
mod exported;
mod fence;
pub mod finalizer;
mod gate;
pub mod key;
mod lanes;
pub mod leader;
pub mod metrics;
pub mod on_key;
pub mod recorder;
mod references;
pub mod seen;
pub mod server;
pub mod shard;
mod share;
pub mod status;
mod targets;
mod unreadable;
pub mod watched;

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;

pub use args::RunArgs;
pub use context::{Context, ControllerError};
pub use key::FINALIZER;

use crate::api::{AwsAccount, Kind, KmsAlias, KmsGrant, KmsKey};
use backoff::Requeue;
use caches::{Cached, Stores};
use lanes::{PassLanes, in_lanes};
use metrics::Metrics;
use recorder::EventRecorder;
use server::Health;
use shard::unclaimed::roster;
use watched::Watched;

/// How the controllers are wired, apart from the Kubernetes client.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    pub watch_namespace: Option<String>,
    /// Workers per kind and (account, region) to start with (`lanes.rs`).
    pub concurrency: u16,
    /// Of those, how many one namespace may hold at once (its share grows as the lane does).
    pub namespace_share: u16,
    /// The shard this controller writes; `None`: every object.
    pub shard: Option<Arc<shard::Shard>>,
}

impl ControllerOptions {
    /// `concurrency` workers per kind and lane, of which one namespace may hold half.
    pub fn new(watch_namespace: Option<String>, concurrency: u16) -> Self {
        ControllerOptions { watch_namespace, concurrency, namespace_share: (concurrency / 2).max(1), shard: None }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot connect to Kubernetes: {0}")]
    Kubernetes(#[from] kube::Error),
    #[error("{0}")]
    Config(String),
    #[error("metrics server: {0}")]
    Server(#[from] std::io::Error),
    #[error("leader election: {0}")]
    Leader(String),
    /// Exits non-zero so the restart shows; the pod comes back as a standby.
    #[error("stopped leading: {0}")]
    Fenced(fence::Fenced),
}

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Resolves when `shutdown` turns true (or its sender is gone).
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Runs the four controllers until `shutdown` turns true, then lets in-flight reconciles finish.
///
/// One watch per kind, one of Namespaces and one of exported ConfigMaps; their stores are what
/// passes read besides their own object (`caches.rs`). Aliases and grants follow the keys'
/// watch, and keys the accounts' watch, (for exports) the aliases' watch and the ConfigMaps',
/// so each of those is watched once.
pub async fn run_controllers(ctx: Arc<Context>, options: &ControllerOptions, shutdown: watch::Receiver<bool>) {
    let client = ctx.client.clone();
    let namespace = options.watch_namespace.as_deref();
    let config = ControllerConfig::default().concurrency(options.concurrency);
    // Keys, aliases and grants: kube-runtime starts every pass that is due, and each waits for
    // a worker of its (account, region) lane (`lanes.rs`).
    let lane_config = ControllerConfig::default().concurrency(0);
    let lanes = || {
        let (floor, share) = (usize::from(options.concurrency), usize::from(options.namespace_share));
        PassLanes::new(floor, share, ctx.engine.calls().limiter.clone())
    };
    let wc = watcher::Config::default();
    let shutdown_for_writes = shutdown.clone();
    let sharded = || options.shard.clone();
    let mut relabelled = shard::wake::Relabelled::new(options.shard.is_some());

    // What an exporting KmsKey lists of its aliases: it wakes when one of them changes.
    let (to_exporting_keys, aliases_for_keys) = watched::follow::<KmsAlias>();
    let alias_changes = aliases_for_keys.predicate_filter(watched::alias_export_inputs, Default::default());
    let (keys_cached, key_writer, keys_listed) = Cached::new();
    let (accounts_cached, account_writer, accounts_listed) = Cached::new();
    let (namespaces_cached, namespace_writer, namespaces_listed) = Cached::new();
    let (key_store, account_store) = (keys_cached.store.clone(), accounts_cached.store.clone());
    let mut rosters = vec![roster(Kind::AwsAccount, account_store.clone()), roster(Kind::KmsKey, key_store.clone())];
    // The ConfigMaps keys export: read by their passes, and a hand edit or deletion wakes the key.
    let (exports, export_writer, exports_listed) = exported::Exports::new();
    let export_changes =
        exported::changes(scoped(&client, namespace), wc.clone(), export_writer, exports_listed, &exports);
    let stores = Stores { accounts: accounts_cached, keys: keys_cached, namespaces: namespaces_cached, exports };
    ctx.caches.serve(stores);
    // What aliases and grants read of their KmsKey: they wake when it changes.
    let (to_aliases, keys_for_aliases) = watched::follow::<KmsKey>();
    let (to_grants, keys_for_grants) = watched::follow::<KmsKey>();
    let (to_keys, accounts_for_keys) = watched::follow::<AwsAccount>();
    let key_changes =
        |keys: watched::Followed<KmsKey>| keys.predicate_filter(watched::key_target_inputs, Default::default());

    let key_triggers = watched::triggers(
        scoped(&client, namespace),
        wc.clone(),
        Kind::KmsKey,
        ctx.clone(),
        key_writer,
        vec![to_aliases, to_grants],
        Some(keys_listed),
    );
    let account_changes =
        accounts_for_keys.predicate_filter(watched::account_inputs(account_store.clone()), Default::default());
    let keys_of_account = key_store.clone();
    let exporting_keys = key_store.clone();
    let owners_of_exports = key_store.clone();
    let keys = Controller::for_stream(key_triggers, key_store.clone())
        .with_config(lane_config.clone())
        .watches_stream(account_changes, move |account| references::keys_of(&account, &keys_of_account.state()))
        .watches_stream(alias_changes, move |alias| references::exporting_key_of(&alias, &exporting_keys.state()))
        .watches_stream(export_changes, move |config_map| exported::key_of(&config_map, &owners_of_exports))
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(
            watched::decoded(Kind::KmsKey, shard::sharded(sharded(), in_lanes(Kind::KmsKey, lanes(), key::reconcile))),
            watched::error_policy(Kind::KmsKey),
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));

    let (alias_store, alias_writer) = reflector::store();
    rosters.push(roster(Kind::KmsAlias, alias_store.clone()));
    let alias_triggers = watched::triggers(
        scoped(&client, namespace),
        wc.clone(),
        Kind::KmsAlias,
        ctx.clone(),
        alias_writer,
        vec![to_exporting_keys],
        None,
    );
    let aliases = Controller::for_stream(alias_triggers, alias_store.clone()).with_config(lane_config.clone());
    let aliases = relabelled
        .on_keys(aliases, key_store.clone(), alias_store.clone())
        .watches_stream(key_changes(keys_for_aliases), move |key| references::aliases_of(&key, &alias_store.state()))
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(
            watched::decoded(
                Kind::KmsAlias,
                shard::sharded(sharded(), in_lanes(Kind::KmsAlias, lanes(), on_key::reconcile::<KmsAlias>)),
            ),
            watched::error_policy(Kind::KmsAlias),
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));

    let (grant_store, grant_writer) = reflector::store();
    rosters.push(roster(Kind::KmsGrant, grant_store.clone()));
    let grant_triggers = watched::triggers(
        scoped(&client, namespace),
        wc.clone(),
        Kind::KmsGrant,
        ctx.clone(),
        grant_writer,
        vec![],
        None,
    );
    let grants = Controller::for_stream(grant_triggers, grant_store.clone()).with_config(lane_config);
    let grants = relabelled
        .on_keys(grants, key_store.clone(), grant_store.clone())
        .watches_stream(key_changes(keys_for_grants), move |key| references::grants_of(&key, &grant_store.state()))
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(
            watched::decoded(
                Kind::KmsGrant,
                shard::sharded(sharded(), in_lanes(Kind::KmsGrant, lanes(), on_key::reconcile::<KmsGrant>)),
            ),
            watched::error_policy(Kind::KmsGrant),
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));

    let account_triggers = watched::triggers(
        Api::<Watched<AwsAccount>>::all(client.clone()),
        wc.clone(),
        Kind::AwsAccount,
        ctx.clone(),
        account_writer,
        [vec![to_keys], std::mem::take(&mut relabelled.followers)].concat(),
        Some(accounts_listed),
    );
    let accounts = relabelled
        .accounts(Controller::for_stream(account_triggers, account_store).with_config(config))
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(
            watched::decoded(Kind::AwsAccount, shard::sharded(sharded(), account::reconcile)),
            watched::error_policy(Kind::AwsAccount),
            ctx.clone(),
        )
        .for_each(|_| futures::future::ready(()));

    // Only the labels of namespaces are read; with one watched namespace, only its own.
    let namespace_config = match namespace {
        Some(namespace) => wc.fields(&format!("metadata.name={namespace}")),
        None => wc,
    };
    let namespaces = watcher(Api::<Namespace>::all(client.clone()), namespace_config)
        .default_backoff()
        .reflect(namespace_writer)
        .inspect_ok(move |event| {
            if matches!(event, watcher::Event::InitDone) {
                namespaces_listed.done();
            }
        })
        .take_until(stopped(shutdown.clone()))
        .for_each(|_| futures::future::ready(()));

    // Sharded: every shard reports the objects that no shard holds.
    let unclaimed = async {
        if let Some(shard) = options.shard.clone() {
            shard::unclaimed::report(shard, ctx.metrics.clone(), rosters, stopped(shutdown.clone())).await;
        }
    };

    // From the moment shutdown is asked (a signal, a lost lease) no new AWS write starts; the
    // writes under way are answered and recorded in status by the reconciles still draining.
    let fence = async {
        stopped(shutdown_for_writes).await;
        ctx.engine.stop_writes();
    };

    let shard = options.shard.as_ref().map(|s| format!("{} ({})", s.name, s.selector));
    tracing::info!(
        namespace = namespace.unwrap_or("(all)"),
        shard = shard.as_deref().unwrap_or("(none)"),
        "controllers started"
    );
    futures::join!(keys, aliases, grants, accounts, namespaces, unclaimed, fence);
    ctx.caches.clear();
    tracing::info!("controllers stopped");
}

pub fn context(
    client: Client,
    engine: crate::engine::Engine,
    metrics: Metrics,
    identity: &str,
    args: &RunArgs,
) -> Context {
    let reporter = Reporter { controller: "kms-operator".into(), instance: Some(identity.to_owned()) };
    Context {
        recorder: EventRecorder::new(client.clone(), reporter),
        client,
        engine,
        metrics,
        requeue: Requeue::new(
            Duration::from_secs(args.resync_seconds.max(1)),
            Duration::from_secs(5),
            Duration::from_secs(args.max_backoff_seconds.max(5)),
        ),
        quiet_retries: 3,
        caches: Default::default(),
        seen: Default::default(),
    }
}

fn identity(args: &RunArgs) -> String {
    args.identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("kms-operator-{}", std::process::id()))
}

/// Turns the shutdown flag on at SIGTERM or Ctrl-C.
fn on_signal(shutdown: watch::Sender<bool>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let terminate = async {
            if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                signal.recv().await;
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!("shutdown requested; finishing in-flight work");
        let _ = shutdown.send(true);
    });
}

/// `kms-operator run`.
pub async fn run(args: RunArgs) -> Result<(), RunError> {
    let client = Client::try_default().await?;
    let mut settings = args.engine.settings();
    // Listings shared between reconciles of different objects, refreshed at least this often.
    settings.listing_ttl = Some(Duration::from_secs(60));
    settings.wait_budget = Some(Duration::from_secs(args.wait_budget_seconds));
    let engine = args.engine.engine(settings).await.map_err(|e| RunError::Config(e.to_string()))?;
    let metrics = Metrics::new(engine.calls().stats.clone());
    let health = Health::new(metrics.clone());
    let identity = identity(&args);
    let ctx = Arc::new(context(client.clone(), engine, metrics.clone(), &identity, &args));

    let (shutdown_tx, shutdown) = watch::channel(false);
    on_signal(shutdown_tx.clone());
    let server = tokio::spawn(server::serve(args.metrics_addr, health.clone(), stopped(shutdown.clone())));

    let lease = if args.leader_election {
        let namespace = args.lease_namespace.clone().unwrap_or_else(|| "default".to_owned());
        health.set_ready(true);
        let lease_name = args.lease();
        let name = leader::LeaseName { name: &lease_name, namespace: &namespace, identity: &identity };
        let timing = leader::LeaseTiming::default();
        let lease = leader::Leadership::acquire(client.clone(), name, timing, shutdown_tx.clone(), shutdown.clone())
            .await
            .map_err(RunError::Leader)?;
        match lease {
            Some(lease) => Some(lease),
            // Shut down before ever leading.
            None => return finish(server, None).await,
        }
    } else {
        None
    };
    health.set_ready(true);
    let concurrency = u16::try_from(args.engine.concurrency).unwrap_or(u16::MAX);
    let mut options = ControllerOptions::new(args.watch_namespace.clone(), concurrency);
    if let Some(share) = args.namespace_concurrency {
        options.namespace_share = share.clamp(1, concurrency.max(1));
    }
    options.shard = args.shard();
    metrics.leading(true);
    run_controllers(ctx, &options, shutdown).await;
    metrics.leading(false);
    let _ = shutdown_tx.send(true);
    finish(server, lease).await
}

async fn finish(
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    lease: Option<leader::Leadership>,
) -> Result<(), RunError> {
    let fenced = match lease {
        Some(lease) => lease.release().await,
        None => None,
    };
    match server.await {
        Ok(result) => result.map_err(RunError::Server)?,
        Err(error) => return Err(RunError::Config(format!("metrics server task: {error}"))),
    }
    fenced.map_or(Ok(()), |fenced| Err(RunError::Fenced(fenced)))
}
