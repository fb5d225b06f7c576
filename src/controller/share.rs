//! Each namespace's share of a lane's workers (`lanes.rs`). A namespace whose objects take long
//! (KMS slow to answer for them, or many of them at once) may hold at most its share of the
//! workers of an (account, region); a pass of its beyond that is put off for a moment at once,
//! without waiting for a worker, so the other workers stay free for every other namespace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::aws::lanes::Lane;

type Holder = (Lane, String);

#[derive(Debug, Default)]
pub struct NamespaceShare {
    /// Passes running now, by lane and namespace; a namespace with none has no entry.
    busy: Mutex<HashMap<Holder, usize>>,
}

/// One running pass of a namespace; its worker is given back when this is dropped.
#[derive(Debug)]
pub struct Turn {
    share: Arc<NamespaceShare>,
    holder: Holder,
}

impl NamespaceShare {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A turn for a pass of `namespace` in `lane`, unless the namespace already holds `limit`
    /// of the lane's workers.
    pub fn try_begin(self: &Arc<Self>, lane: &Lane, namespace: &str, limit: usize) -> Option<Turn> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let holder = (lane.clone(), namespace.to_owned());
        let running = busy.entry(holder.clone()).or_insert(0);
        if *running >= limit.max(1) {
            return None;
        }
        *running += 1;
        Some(Turn { share: self.clone(), holder })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut busy = self.share.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = busy.get_mut(&self.holder) {
            *running = running.saturating_sub(1);
            if *running == 0 {
                busy.remove(&self.holder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(account_id: &str) -> Lane {
        Lane { account_id: account_id.to_owned(), region: "eu-west-1".to_owned() }
    }

    #[test]
    fn a_namespace_holds_at_most_its_share_of_a_lane_and_gives_it_back() {
        let share = NamespaceShare::new();
        let a = lane("111111111111");
        let first = share.try_begin(&a, "noisy", 2).expect("one");
        let second = share.try_begin(&a, "noisy", 2).expect("two");
        assert!(share.try_begin(&a, "noisy", 2).is_none(), "a third would exceed the share");
        let quiet = share.try_begin(&a, "quiet", 2).expect("other namespaces are not held up");
        let elsewhere = share.try_begin(&lane("222222222222"), "noisy", 2).expect("another lane has its own share");
        let grown = share.try_begin(&a, "noisy", 3).expect("a lane that grew gives a larger share");
        drop(first);
        let third = share.try_begin(&a, "noisy", 3).expect("a worker came back");
        drop((second, third, quiet, elsewhere, grown));
        assert!(share.busy.lock().unwrap().is_empty(), "nothing is remembered of idle namespaces");
    }
}
