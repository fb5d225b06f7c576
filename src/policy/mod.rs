//! Key policies: the builder that compiles `spec.policy` into a document, and semantic comparison.
//!
//! Everything here is pure: no AWS calls, no clock, no randomness. The same spec and context
//! always give the same document, and [`to_pretty_json`] always gives the same bytes for it,
//! so a policy the operator wrote can be recognised when KMS hands it back.
//!
//! Comparison never looks at text. KMS returns a key policy re-indented, sometimes with keys
//! reordered, and IAM treats many spellings of one policy alike (a string or a one-element
//! list, `"Principal": "*"` or `{"AWS": "*"}`, an account id or its root ARN, `true` or
//! `"true"` in a condition). [`canonical`] maps all spellings of a policy to one value so that
//! a plan never reports a change that is not one; [`diff`] shows what remains.

mod actions;
mod builder;
mod canonical;
mod deleted;
mod diff;
#[cfg(test)]
mod documented_tests;
#[cfg(test)]
mod equivalence_props;
mod render;

pub use actions::{ADMINISTRATION_ACTIONS, ALL_ACTIONS, GRANT_ACTIONS, USE_ACTIONS, use_actions};
pub use builder::{BuildContext, POLICY_VERSION, build, default_policy, dns_suffix, service_sid, sid};
pub use canonical::{canonical, equivalent};
pub use deleted::{DeletedPrincipal, deleted_principals, is_unique_id};
pub use diff::diff;
pub use render::to_pretty_json;

/// The owner account and region the documentation's examples use, for unit tests.
#[cfg(test)]
pub(crate) fn test_context() -> BuildContext<'static> {
    BuildContext {
        account_id: "484357440923",
        region: "ap-southeast-2",
        partition: "aws",
        key_spec: "SYMMETRIC_DEFAULT",
        key_usage: "ENCRYPT_DECRYPT",
    }
}
