//! Test harness: a real KMS-compatible server (moto) per test, the CLI binary, and an SDK
//! client to look at (and tamper with) KMS behind the operator's back.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod chart;
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod fake_kube;
pub mod iam;
pub mod kms;
pub mod manifests;
pub mod moto;
pub mod proxy;
pub mod rotation_periods;
