//! `KmsGrant`: one grant on a key. Grants are immutable in KMS, so a changed spec replaces it.

mod moved;
mod plan;
mod run;
mod tokens;

pub use plan::{desired_grant, matches, plan_grant, plan_grant_deletion};
pub use run::{GrantReport, GrantRequest};
pub use tokens::GrantTokens;
