//! The controller (`kms-operator run`): one kube-runtime Controller per kind, all calling the
//! same engine as local mode; status, Events, metrics, leader election, graceful shutdown.

pub mod account;
mod admission;
pub mod args;
pub mod backoff;
pub mod context;
mod deletion;
pub mod events;
pub mod export;
mod fence;
mod gate;
pub mod key;
pub mod leader;
pub mod metrics;
pub mod on_key;
mod references;
pub mod server;
pub mod status;
mod targets;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::watch;

pub use args::RunArgs;
pub use context::{Context, ControllerError};
pub use key::FINALIZER;

use crate::api::{AwsAccount, KmsAlias, KmsGrant, KmsKey};
use backoff::Requeue;
use metrics::Metrics;
use server::Health;

/// How the controllers are wired, apart from the Kubernetes client.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    pub watch_namespace: Option<String>,
    pub concurrency: u16,
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
pub async fn run_controllers(ctx: Arc<Context>, options: &ControllerOptions, shutdown: watch::Receiver<bool>) {
    let client = ctx.client.clone();
    let namespace = options.watch_namespace.as_deref();
    let config = ControllerConfig::default().concurrency(options.concurrency);
    let wc = watcher::Config::default();
    let shutdown_for_writes = shutdown.clone();

    let keys = Controller::new(scoped::<KmsKey>(&client, namespace), wc.clone()).with_config(config.clone());
    let key_store = keys.store();
    let keys = keys
        .watches(Api::<AwsAccount>::all(client.clone()), wc.clone(), move |account| {
            references::keys_of(&account, &key_store.state())
        })
        .watches(scoped::<KmsAlias>(&client, namespace), wc.clone(), |alias| export::key_of_alias(&alias))
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(key::reconcile, key::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));

    let aliases = Controller::new(scoped::<KmsAlias>(&client, namespace), wc.clone()).with_config(config.clone());
    let alias_store = aliases.store();
    let aliases = aliases
        .watches(scoped::<KmsKey>(&client, namespace), wc.clone(), move |key| {
            references::aliases_of(&key, &alias_store.state())
        })
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(on_key::reconcile::<KmsAlias>, on_key::error_policy::<KmsAlias>, ctx.clone())
        .for_each(|_| futures::future::ready(()));

    let grants = Controller::new(scoped::<KmsGrant>(&client, namespace), wc.clone()).with_config(config.clone());
    let grant_store = grants.store();
    let grants = grants
        .watches(scoped::<KmsKey>(&client, namespace), wc.clone(), move |key| {
            references::grants_of(&key, &grant_store.state())
        })
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(on_key::reconcile::<KmsGrant>, on_key::error_policy::<KmsGrant>, ctx.clone())
        .for_each(|_| futures::future::ready(()));

    let accounts = Controller::new(Api::<AwsAccount>::all(client.clone()), wc)
        .with_config(config)
        .graceful_shutdown_on(stopped(shutdown))
        .run(account::reconcile, account::error_policy, ctx.clone())
        .for_each(|_| futures::future::ready(()));

    // From the moment shutdown is asked (a signal, a lost lease) no new AWS write starts; the
    // writes under way are answered and recorded in status by the reconciles still draining.
    let fence = async {
        stopped(shutdown_for_writes).await;
        ctx.engine.stop_writes();
    };

    tracing::info!(namespace = namespace.unwrap_or("(all)"), "controllers started");
    futures::join!(keys, aliases, grants, accounts, fence);
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
        recorder: Recorder::new(client.clone(), reporter),
        client,
        engine,
        metrics,
        requeue: Requeue::new(
            Duration::from_secs(args.resync_seconds.max(1)),
            Duration::from_secs(5),
            Duration::from_secs(args.max_backoff_seconds.max(5)),
        ),
        quiet_retries: 3,
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
        let name = leader::LeaseName { name: &args.lease_name, namespace: &namespace, identity: &identity };
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
    let options = ControllerOptions {
        watch_namespace: args.watch_namespace.clone(),
        concurrency: u16::try_from(args.engine.concurrency).unwrap_or(u16::MAX),
    };
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
