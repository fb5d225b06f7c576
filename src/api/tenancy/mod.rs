//! Tenancy: namespaces are tenants, and the `AwsAccount` a platform team creates says what its
//! tenants may do (API.md, "Tenancy"). These are the rules that need no call to AWS: which
//! namespaces may use an account, which accounts a tenant's policies and grants may name, which
//! alias names it may take, whether its policies may delegate grant creation, and the switches
//! only the platform team can turn on. Both front doors run them through
//! `engine::admission` before the engine writes anything; `validate` runs them too when the
//! `AwsAccount` is among the manifests.
//!
//! The rules that need KMS's answer (who owns the key an object points at) live with the
//! engine's plans, which refuse with the same reasons.

mod adoption;
mod aliases;
mod delegation;
mod grants;
mod namespaces;
mod principals;
mod refusal;
mod topics;
mod wildcard;

use std::collections::BTreeMap;

pub use adoption::alias_adoption_refusal;
pub use aliases::{NAMESPACE_PLACEHOLDER, alias_patterns_for, check_alias_name};
pub use delegation::{StatementOrigin, check_delegation};
pub use grants::{check_grant, check_target_account};
pub use namespaces::{namespace_refusal, selects};
pub use principals::{Permitted, check_key};
pub use refusal::{Reason, Refusal};
pub use topics::check_notify;

/// A namespace's labels, as the cluster or the `Namespace` manifests of a local run have them.
pub type Labels = BTreeMap<String, String>;
