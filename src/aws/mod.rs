//! Talking to AWS: clients per (account, region), one call path that paces, counts, classifies
//! and retries, and plain views of what KMS returns.

mod alarms;
mod caller;
mod client;
mod convert;
mod credentials;
mod error;
pub mod lanes;
mod limiter;
pub mod model;
mod operation;
mod pool;
mod retry;
mod stats;

pub use alarms::{AlarmClient, LogsClient};
pub use caller::{CallContext, SendGuard};
pub use client::KmsClient;
pub use credentials::NO_CREDENTIALS;
pub use error::{AwsError, ErrorKind};
pub use limiter::{Limiter, QuotaUse, RateLimitParseError, RateLimits};
pub use operation::Op;
pub use pool::{AccountConfig, ClientPool, Timeouts};
pub use retry::RetryPolicy;
pub use stats::{CallStats, CallSummary};
