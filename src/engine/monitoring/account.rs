//! The account's own monitoring (the key deletion alarm and, in `Shared` mode, the shared
//! filters): observed, planned and executed by the account's pass through the same loop as a
//! key's.

use futures::FutureExt;

use super::desired::MonitoringSetup;
use super::observe::ObservedMonitoring;
use super::plan::plan_account_monitoring;
use crate::api::monitoring::AccountMonitoring;
use crate::aws::AccountConfig;
use crate::engine::change::Action;
use crate::engine::converge::Converged;
use crate::engine::{Engine, EngineError, Mode};

impl Engine {
    pub(crate) async fn converge_account_monitoring(
        &self,
        account: &AccountConfig,
        spec: &AccountMonitoring,
        mode: Mode,
    ) -> Converged<ObservedMonitoring> {
        let setup = MonitoringSetup::new(account, spec, &self.settings.cluster_name);
        let prefix = setup.account_prefix();
        self.converge(
            mode,
            false,
            || {
                let (setup, prefix) = (&setup, &prefix);
                async move { self.observe_monitoring(account, setup, prefix).await.map_err(EngineError::aws) }.boxed()
            },
            |observed| plan_account_monitoring(&setup, observed),
            |changes| {
                async move {
                    let mut made = Vec::new();
                    for change in changes {
                        let Action::Monitoring(action) = &change.action else { continue };
                        if let Err(error) = self.execute_monitoring(account, &change, action).await {
                            return (made, Err(error));
                        }
                        made.push(change);
                    }
                    (made, Ok(()))
                }
                .boxed()
            },
        )
        .await
    }
}
