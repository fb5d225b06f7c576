//! `KmsKey`: its key and the key's replicas.

mod execute;
mod observe;
pub mod observed;
pub mod plan;
#[cfg(test)]
mod plan_tests;
mod run;
pub mod status;

pub use run::{KeyReport, KeyRequest, Memory, REPLACE_DELETED_KEY};
