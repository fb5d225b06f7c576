//! Test harness: a real KMS-compatible server (moto) per test, the CLI binary, and an SDK
//! client to look at (and tamper with) KMS behind the operator's back.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod aws_permissions;
pub mod cbor;
pub mod chart;
pub mod cli;
pub mod cli_help;
pub mod cluster;
pub mod doc_commands;
pub mod docs;
pub mod engine;
pub mod fake_kube;
pub mod filter_pattern;
pub mod iam;
pub mod iam_document;
pub mod json_shape;
pub mod key_material;
pub mod kms;
pub mod manifests;
pub mod moto;
pub mod proxy;
pub mod rotation_periods;
pub mod wait;
