//! Each namespace's share of a controller's workers. A namespace whose objects take long (KMS
//! slow to answer for them, or many of them at once) may hold at most `limit` workers of a
//! kind; a pass of its beyond that is put off for a moment at once, without waiting for a
//! worker, so the other workers stay free for every other namespace.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug)]
pub struct NamespaceShare {
    limit: usize,
    /// Passes running now, by namespace; a namespace with none has no entry.
    busy: Mutex<HashMap<String, usize>>,
}

/// One running pass of a namespace; its worker is given back when this is dropped.
#[derive(Debug)]
pub struct Turn {
    share: Arc<NamespaceShare>,
    namespace: String,
}

impl NamespaceShare {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(NamespaceShare { limit: limit.max(1), busy: Mutex::new(HashMap::new()) })
    }

    /// A turn for a pass of `namespace`, unless the namespace already holds its share.
    pub fn try_begin(self: &Arc<Self>, namespace: &str) -> Option<Turn> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        let running = busy.entry(namespace.to_owned()).or_insert(0);
        if *running >= self.limit {
            return None;
        }
        *running += 1;
        Some(Turn { share: self.clone(), namespace: namespace.to_owned() })
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut busy = self.share.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = busy.get_mut(&self.namespace) {
            *running = running.saturating_sub(1);
            if *running == 0 {
                busy.remove(&self.namespace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_holds_at_most_its_share_and_gives_it_back() {
        let share = NamespaceShare::new(2);
        let first = share.try_begin("noisy").expect("one");
        let second = share.try_begin("noisy").expect("two");
        assert!(share.try_begin("noisy").is_none(), "a third would exceed the share");
        let quiet = share.try_begin("quiet").expect("other namespaces are not held up");
        drop(first);
        let third = share.try_begin("noisy").expect("a worker came back");
        drop((second, third, quiet));
        assert!(share.busy.lock().unwrap().is_empty(), "nothing is remembered of idle namespaces");
    }
}
