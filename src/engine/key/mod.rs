//! `KmsKey`: its key and the key's replicas.

mod duplicates;
mod execute;
#[cfg(test)]
mod fixtures;
mod intent;
mod material;
mod observe;
pub mod observed;
#[cfg(test)]
mod ownership_tests;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod rotate_now;
#[cfg(test)]
mod rotate_now_tests;
mod run;
pub mod status;

pub use intent::{IntentError, IntentRecorder, new_intent};
pub use run::{KeyReport, KeyRequest, Memory, REPLACE_DELETED_KEY};
