//! What passes have seen of each object: the hash of what a pass reads besides its spec
//! (`watched::pass_inputs`). A watch event starts a pass only when it brings inputs not seen
//! yet, which is what kube-runtime's `predicate_filter` does, with one thing it cannot do: the
//! operator's own finalizer patch is seen before it is sent. The pass that adds the finalizer
//! goes on with the object the patch returns (`finalizer.rs`), so the watch event of that
//! patch brings nothing new; with kube's filter it started a second, read-only pass of every
//! new object (DescribeKey, GetKeyPolicy, GetKeyRotationStatus: 2.15 reads of each per key at
//! 10,000 objects). Seen before the patch is sent, not after its response: the API server may
//! deliver the watch event first.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::watched::meta_inputs;
use crate::api::{Kind, ObjectName};

/// One object's inputs as last seen, with the uid they were seen on: an object deleted and
/// made again under its name is new.
struct Seen {
    uid: Option<String>,
    inputs: u64,
}

#[derive(Default)]
pub struct SeenInputs {
    objects: Mutex<HashMap<ObjectName, Seen>>,
}

impl SeenInputs {
    /// Whether `meta` brings inputs no pass has seen; they count as seen from here on.
    pub fn changed(&self, kind: Kind, meta: &ObjectMeta) -> bool {
        let inputs = meta_inputs(meta);
        let seen = Seen { uid: meta.uid.clone(), inputs };
        let mut objects = self.objects.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match objects.insert(ObjectName::of(kind, meta), seen) {
            Some(before) => before.uid != meta.uid || before.inputs != inputs,
            None => true,
        }
    }

    /// Sees `meta` (an object as the operator's own write will leave it) ahead of the watch
    /// event of that write, which then starts no pass.
    pub fn expect(&self, kind: Kind, meta: &ObjectMeta) {
        self.changed(kind, meta);
    }

    pub fn forget(&self, name: &ObjectName) {
        self.objects.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(name);
    }

    pub fn forget_where(&self, gone: impl Fn(&ObjectName) -> bool) {
        self.objects.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).retain(|name, _| !gone(name));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.objects.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: &str, generation: i64, finalizers: &[&str]) -> ObjectMeta {
        ObjectMeta {
            name: Some("k".into()),
            namespace: Some("apps".into()),
            uid: Some(uid.into()),
            generation: Some(generation),
            finalizers: (!finalizers.is_empty()).then(|| finalizers.iter().map(|f| f.to_string()).collect()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_write_seen_ahead_starts_no_pass_and_anything_else_new_does() {
        let seen = SeenInputs::default();
        assert!(seen.changed(Kind::KmsKey, &meta("u1", 1, &[])), "a new object");
        assert!(!seen.changed(Kind::KmsKey, &meta("u1", 1, &[])), "the same inputs again (a relist)");
        seen.expect(Kind::KmsKey, &meta("u1", 1, &["f"]));
        assert!(!seen.changed(Kind::KmsKey, &meta("u1", 1, &["f"])), "the operator's own finalizer patch");
        assert!(seen.changed(Kind::KmsKey, &meta("u1", 2, &["f"])), "a spec change");
        assert!(seen.changed(Kind::KmsAlias, &meta("u1", 2, &["f"])), "kinds are apart");
        assert!(seen.changed(Kind::KmsKey, &meta("u2", 2, &["f"])), "made again under the same name");
    }

    #[test]
    fn forgotten_objects_leave_nothing_behind() {
        let seen = SeenInputs::default();
        seen.changed(Kind::KmsKey, &meta("u1", 1, &[]));
        seen.changed(Kind::KmsAlias, &meta("u1", 1, &[]));
        seen.forget(&ObjectName::new(Kind::KmsKey, Some("apps"), "k"));
        assert_eq!(seen.len(), 1);
        seen.forget_where(|name| name.kind == Kind::KmsAlias);
        assert_eq!(seen.len(), 0);
        assert!(seen.changed(Kind::KmsKey, &meta("u1", 1, &[])), "seen anew after it was forgotten");
    }
}
