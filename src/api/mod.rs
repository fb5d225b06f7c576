//! The custom resources of `kmsoperator.dev` (by version: `v1alpha1`), exactly as `API.md` names them,
//! plus the one set of validation rules every front door uses.

pub mod catalog;
pub mod conditions;
pub mod crds;
pub mod decoding;
pub mod iam;
mod object;
pub mod reason;
mod schema;
mod serde_helpers;
pub mod status;
pub mod tenancy;
pub mod v1alpha1;
pub mod validate;
mod version;

pub use object::{Kind, ObjectName};
// The version the engine, controller and local mode work in; callers name the types without a
// version so that moving to a newer one changes these lines, not theirs.
pub use reason::Reason;
pub use v1alpha1::monitoring;
pub use v1alpha1::*;
pub use version::{API_VERSION, ApiVersion, GROUP, VERSION};
