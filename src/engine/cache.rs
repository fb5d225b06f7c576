//! Listings shared by a pass: loaded once by whichever reconcile asks first (the others wait
//! for that load instead of repeating it), updated in place after the engine's own writes, and
//! reloaded after `ttl` or after a write whose outcome is unknown.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// A loaded listing, shared; lock it briefly to read or update.
pub type Shared<V> = Arc<Mutex<V>>;

struct Slot<V> {
    born: Instant,
    cell: Arc<OnceCell<Shared<V>>>,
}

pub struct SharedCache<K, V> {
    ttl: Option<Duration>,
    slots: Mutex<HashMap<K, Slot<V>>>,
}

/// Poisoning only means another task panicked mid-update; the listing is still the best we have.
pub fn lock<V>(shared: &Mutex<V>) -> MutexGuard<'_, V> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K: Eq + Hash + Clone, V> SharedCache<K, V> {
    pub fn new(ttl: Option<Duration>) -> Self {
        SharedCache { ttl, slots: Mutex::new(HashMap::new()) }
    }

    fn cell(&self, key: &K) -> Arc<OnceCell<Shared<V>>> {
        let mut slots = lock(&self.slots);
        let fresh = |slot: &Slot<V>| self.ttl.is_none_or(|ttl| slot.born.elapsed() < ttl);
        match slots.get(key) {
            Some(slot) if fresh(slot) => slot.cell.clone(),
            _ => {
                let slot = Slot { born: Instant::now(), cell: Arc::new(OnceCell::new()) };
                let cell = slot.cell.clone();
                slots.insert(key.clone(), slot);
                cell
            }
        }
    }

    /// The listing for `key`, loading it with `load` if no fresh one exists.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<Shared<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = self.cell(key);
        let shared = cell.get_or_try_init(|| async { load().await.map(|v| Arc::new(Mutex::new(v))) }).await?;
        Ok(shared.clone())
    }

    /// The listing for `key` if one is loaded and fresh; never loads.
    pub fn peek(&self, key: &K) -> Option<Shared<V>> {
        let slots = lock(&self.slots);
        let slot = slots.get(key)?;
        if self.ttl.is_some_and(|ttl| slot.born.elapsed() >= ttl) {
            return None;
        }
        slot.cell.get().cloned()
    }

    /// Applies one of the engine's own writes to a loaded listing (no-op when none is loaded).
    pub fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        if let Some(shared) = self.peek(key) {
            change(&mut lock(&shared));
        }
    }

    pub fn invalidate(&self, key: &K) {
        lock(&self.slots).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn concurrent_readers_share_one_load() {
        let cache: Arc<SharedCache<&str, Vec<u32>>> = Arc::new(SharedCache::new(None));
        let loads = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (cache, loads) = (cache.clone(), loads.clone());
            tasks.push(tokio::spawn(async move {
                let shared = cache
                    .get_or_load(&"k", || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok::<_, ()>(vec![1, 2])
                    })
                    .await
                    .unwrap();
                lock(&shared).len()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 2);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn updates_apply_in_place_and_invalidation_reloads() {
        let cache: SharedCache<&str, Vec<u32>> = SharedCache::new(None);
        cache.update(&"k", |v| v.push(9));
        assert!(cache.peek(&"k").is_none(), "updating an unloaded listing loads nothing");
        cache.get_or_load(&"k", || async { Ok::<_, ()>(vec![1]) }).await.unwrap();
        cache.update(&"k", |v| v.push(2));
        assert_eq!(*lock(&cache.peek(&"k").unwrap()), vec![1, 2]);
        cache.invalidate(&"k");
        let reloaded = cache.get_or_load(&"k", || async { Ok::<_, ()>(vec![7]) }).await.unwrap();
        assert_eq!(*lock(&reloaded), vec![7]);
    }

    #[tokio::test]
    async fn a_failed_load_is_not_cached() {
        let cache: SharedCache<&str, u32> = SharedCache::new(None);
        assert!(cache.get_or_load(&"k", || async { Err::<u32, _>("boom") }).await.is_err());
        let value = cache.get_or_load(&"k", || async { Ok::<_, &str>(5) }).await.unwrap();
        assert_eq!(*lock(&value), 5);
    }

    #[tokio::test]
    async fn expired_listings_are_reloaded() {
        let cache: SharedCache<&str, u32> = SharedCache::new(Some(Duration::ZERO));
        cache.get_or_load(&"k", || async { Ok::<_, ()>(1) }).await.unwrap();
        assert!(cache.peek(&"k").is_none());
        let value = cache.get_or_load(&"k", || async { Ok::<_, ()>(2) }).await.unwrap();
        assert_eq!(*lock(&value), 2);
    }
}
