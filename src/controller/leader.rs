//! Leader election through a `coordination.k8s.io` Lease: several replicas may run, only the
//! holder of the Lease reconciles. Losing the Lease stops the controllers (the pod restarts
//! and stands by), so two replicas never write at once.

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};

use super::fence::Fenced;
use tokio::sync::watch;

/// Seconds a lease stays valid without renewal, and how long before expiry it is renewed.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTiming {
    pub duration_seconds: u64,
    pub renew_grace_seconds: u64,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        LeaseTiming { duration_seconds: 15, renew_grace_seconds: 5 }
    }
}

/// Where the lease lives and who competes for it.
pub struct LeaseName<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub identity: &'a str,
}

pub struct Leadership {
    changes: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    loss_watcher: tokio::task::JoinHandle<bool>,
    fence: tokio::task::JoinHandle<Option<Fenced>>,
}

impl Leadership {
    /// Waits until this replica holds the lease (`Some`) or shutdown is requested first (`None`).
    /// Once leading, losing the lease turns `shutdown` on.
    pub async fn acquire(
        client: Client,
        lease: LeaseName<'_>,
        timing: LeaseTiming,
        shutdown_tx: watch::Sender<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Option<Leadership>, String> {
        let LeaseName { name: lease_name, namespace, identity } = lease;
        let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
        let manager = LeaseManagerBuilder::new(client, lease_name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(timing.duration_seconds)
            .with_grace(timing.renew_grace_seconds)
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let (mut changes, task) = manager.watch().await;
        tracing::info!(lease = lease_name, namespace, identity, "waiting to become the leader");
        loop {
            let leading = *changes.borrow_and_update();
            if leading {
                break;
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err("the lease manager stopped".to_owned());
                    }
                }
                // The guard `wait_for` returns is not Send; only the fact counts.
                _ = async { shutdown.wait_for(|stop| *stop).await.is_ok() } => {
                    drop(changes);
                    let _ = task.await;
                    return Ok(None);
                }
            }
        }
        tracing::info!(lease = lease_name, identity, "leading: starting the controllers");
        let mut watch_loss = changes.clone();
        let loss_tx = shutdown_tx.clone();
        let loss_watcher = tokio::spawn(async move {
            while watch_loss.changed().await.is_ok() {
                let leading = *watch_loss.borrow_and_update();
                if !leading {
                    tracing::error!("lost the leader lease; stopping the controllers");
                    let _ = loss_tx.send(true);
                    return true;
                }
            }
            false
        });
        let fence = tokio::spawn(super::fence::guard(
            leases,
            lease_name.to_owned(),
            identity.to_owned(),
            timing,
            shutdown_tx.clone(),
        ));
        Ok(Some(Leadership { changes, task, loss_watcher, fence }))
    }

    /// Gives the lease up so a standby replica takes over at once instead of after it expires;
    /// says why leading stopped when the fence stopped it.
    pub async fn release(self) -> Option<Fenced> {
        // The manager releases the lease once every receiver of its channel is gone.
        // Its receiver must be gone too, so it is stopped unless it already ended on a loss.
        if !self.loss_watcher.is_finished() {
            self.loss_watcher.abort();
        }
        let lost = self.loss_watcher.await.unwrap_or(false);
        // Finished on its own only when it fenced; otherwise it is stopped here.
        let fenced = if self.fence.is_finished() {
            self.fence.await.ok().flatten()
        } else {
            self.fence.abort();
            None
        };
        let fenced = fenced.or(lost.then_some(Fenced::Lost));
        drop(self.changes);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!("released the leader lease"),
            Ok(Err(error)) => tracing::warn!(%error, "could not release the leader lease"),
            Err(error) => tracing::warn!(%error, "lease task failed"),
        }
        fenced
    }
}
