//! kms-operator: AWS KMS keys, policies, rotation, replicas, aliases and grants from Kubernetes
//! custom resources. One engine (observe, plan, execute) behind two front doors: the
//! controller (`kms-operator run`) and the local-mode command line.

pub mod api;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod local;
pub mod policy;
pub mod telemetry;
