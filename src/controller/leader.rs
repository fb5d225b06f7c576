//! Leader election through a `coordination.k8s.io` Lease: several replicas may run, only the
//! holder of the Lease reconciles. Losing the Lease stops the controllers (the pod restarts
//! and stands by), so two replicas never write at once.

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;

/// Seconds a lease stays valid without renewal, and how long before expiry it is renewed.
const LEASE_SECONDS: u64 = 15;
const RENEW_GRACE_SECONDS: u64 = 5;

pub struct Leadership {
    changes: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    loss_watcher: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Waits until this replica holds the lease (`Some`) or shutdown is requested first (`None`).
    /// Once leading, losing the lease turns `shutdown` on.
    pub async fn acquire(
        client: Client,
        lease_name: &str,
        namespace: &str,
        identity: &str,
        shutdown_tx: watch::Sender<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Option<Leadership>, String> {
        let manager = LeaseManagerBuilder::new(client, lease_name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(LEASE_SECONDS)
            .with_grace(RENEW_GRACE_SECONDS)
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let (mut changes, task) = manager.watch().await;
        tracing::info!(lease = lease_name, namespace, identity, "waiting to become the leader");
        loop {
            if *changes.borrow_and_update() {
                break;
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err("the lease manager stopped".to_owned());
                    }
                }
                _ = shutdown.wait_for(|stop| *stop) => {
                    drop(changes);
                    let _ = task.await;
                    return Ok(None);
                }
            }
        }
        tracing::info!(lease = lease_name, identity, "leading: starting the controllers");
        let mut watch_loss = changes.clone();
        let loss_watcher = tokio::spawn(async move {
            while watch_loss.changed().await.is_ok() {
                if !*watch_loss.borrow_and_update() {
                    tracing::error!("lost the leader lease; stopping the controllers");
                    let _ = shutdown_tx.send(true);
                    return;
                }
            }
        });
        Ok(Some(Leadership { changes, task, loss_watcher }))
    }

    /// Gives the lease up so a standby replica takes over at once instead of after it expires.
    pub async fn release(self) {
        // The manager releases the lease once every receiver of its channel is gone.
        self.loss_watcher.abort();
        let _ = self.loss_watcher.await;
        drop(self.changes);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!("released the leader lease"),
            Ok(Err(error)) => tracing::warn!(%error, "could not release the leader lease"),
            Err(error) => tracing::warn!(%error, "lease task failed"),
        }
    }
}
