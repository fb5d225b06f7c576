//! Making monitoring changes against the account's CloudWatch and CloudWatch Logs clients of
//! the monitoring region, and telling the pass's listings.

use super::action::MonitoringAction;
use super::names::Naming;
use crate::aws::AccountConfig;
use crate::engine::change::Change;
use crate::engine::{Engine, EngineError};

impl Engine {
    pub(crate) async fn execute_monitoring(
        &self,
        account: &AccountConfig,
        change: &Change,
        action: &MonitoringAction,
    ) -> Result<(), EngineError> {
        self.may_start(change)?;
        tracing::info!(account = %account.name, region = %change.region, change = %change.summary(), "changing CloudWatch");
        let prefix = Naming::new(&self.settings.cluster_name).cluster_prefix();
        let listings = &self.listings.monitoring;
        match action {
            MonitoringAction::PutAlarm { alarm, tags, .. } => {
                let client = self.pool.alarms(account, &change.region).await;
                match client.put_alarm(alarm, tags).await {
                    Ok(()) => listings.record_alarm(&client, &prefix, alarm),
                    Err(error) => {
                        listings.forget_alarms(&client, &prefix);
                        return Err(EngineError::aws(error));
                    }
                }
            }
            MonitoringAction::DeleteAlarms { names } => {
                let client = self.pool.alarms(account, &change.region).await;
                match client.delete_alarms(names).await {
                    Ok(()) => listings.remove_alarms(&client, &prefix, names),
                    Err(error) => {
                        listings.forget_alarms(&client, &prefix);
                        return Err(EngineError::aws(error));
                    }
                }
            }
            MonitoringAction::PutFilter { filter, .. } => {
                let client = self.pool.logs(account, &change.region).await;
                match client.put_filter(filter).await {
                    Ok(()) => listings.record_filter(&client, filter),
                    Err(error) => {
                        listings.forget_filters(&client, &filter.log_group);
                        return Err(EngineError::aws(error));
                    }
                }
            }
            MonitoringAction::DeleteFilter { log_group, name } => {
                let client = self.pool.logs(account, &change.region).await;
                match client.delete_filter(log_group, name).await {
                    Ok(()) => listings.remove_filter(&client, log_group, name),
                    Err(error) => {
                        listings.forget_filters(&client, log_group);
                        return Err(EngineError::aws(error));
                    }
                }
            }
        }
        Ok(())
    }
}
