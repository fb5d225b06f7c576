//! Local mode: manifests from files, validated and converged against KMS without a cluster.

pub mod admission;
mod by_tag;
pub mod deletions;
mod export;
pub mod file_trust;
mod lanes;
pub mod manifests;
pub mod markdown;
pub mod output;
pub mod progress;
pub mod removals;
pub mod result;
pub mod runner;
mod targets;
