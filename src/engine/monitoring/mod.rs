//! Key usage alarms (docs/monitoring.md): CloudTrail events in the account's log group become
//! metrics through metric filters, and alarms watch them. Planned and executed like every other
//! part of a key: `desired` (pure), `observe` (from the pass's listings), `plan` (pure),
//! `execute`; the account pass uses the same pieces for its own filters and alarm.

mod account;
mod action;
pub mod desired;
mod execute;
mod listings;
pub mod names;
mod observe;
pub mod plan;

pub use action::MonitoringAction;
pub use desired::{DesiredMonitoring, KeyAlarms, KeyCopy, MonitoringSetup, WantedAlarm};
pub use listings::MonitoringListings;
pub use observe::ObservedMonitoring;
pub use plan::{plan_account_monitoring, plan_key_monitoring, plan_monitoring_removal};
