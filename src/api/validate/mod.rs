//! One set of validation rules for every front door: local mode before any AWS call, and the controller before any write.
//!
//! Each `validate_*` looks at one object on its own (plus, for keys, the referenced account's
//! spec when the caller has it); references between objects are checked where the whole set is
//! known (`local::manifests::ManifestSet::validate`, the controller's lookups).

mod account;
mod alias;
mod alias_patterns;
mod export;
mod grant;
mod issue;
mod key;
mod material;
mod meta;
mod monitoring;
pub mod names;
pub mod path;
mod policy;
mod reference;
mod replicas;
mod tags;
#[cfg(test)]
pub(crate) mod testing;

pub use account::validate_account;
pub use alias::validate_alias;
pub use grant::validate_grant;
pub use issue::Issue;
pub(crate) use issue::closest;
pub use key::validate_key;
pub use tags::OWNER_TAG;
