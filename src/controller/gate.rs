//! The finalizer is the record that an object was admitted: only an admitted object gets it, so
//! deleting one that never was needs nothing from the operator. Before adding it, the object is
//! admitted (spec, account, namespace, the rules without AWS) and planned once, read-only, for
//! the rules that need KMS's answer (who owns the key it points at).

use kube::Resource;

use crate::engine::{Outcome, Report};

/// Whether admission must come before the finalizer: the object is live and does not carry it.
pub fn needs_admission<K: Resource>(object: &K, finalizer: &str) -> bool {
    let meta = object.meta();
    meta.deletion_timestamp.is_none() && !meta.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == finalizer))
}

/// Whether a read-only pass admits the object to its finalizer: neither refused by a tenancy
/// rule nor failed before it could tell.
pub fn admits<S>(report: &Report<S>) -> bool {
    !matches!(report.outcome, Outcome::Refused(_) | Outcome::Failed(_))
}
