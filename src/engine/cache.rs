//! Listings shared by a pass: loaded once by whichever reconcile asks first (the others wait
//! for that load instead of repeating it), updated in place after the engine's own writes, and
//! reloaded after `ttl` or after a write whose outcome is unknown. A reload may start from the
//! listing it replaces (`get_or_refresh`), so that what cannot have changed is not read again.

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
    /// Set by `invalidate`: the listing may be wrong, but it is still a good start for a refresh.
    expired: bool,
    cell: Arc<OnceCell<Shared<V>>>,
    /// The listing this slot replaces, until its own is loaded.
    previous: Option<Shared<V>>,
}

impl<V> Slot<V> {
    fn new(previous: Option<Shared<V>>) -> Self {
        Slot { born: Instant::now(), expired: false, cell: Arc::new(OnceCell::new()), previous }
    }

    fn loaded(&self) -> Option<Shared<V>> {
        self.cell.get().cloned()
    }

    /// The newest listing this slot knows of: its own, or the one it replaces.
    fn latest(&self) -> Option<Shared<V>> {
        self.loaded().or_else(|| self.previous.clone())
    }
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

    fn is_fresh(&self, slot: &Slot<V>) -> bool {
        !slot.expired && self.ttl.is_none_or(|ttl| slot.born.elapsed() < ttl)
    }

    /// The slot to load into, and the listing a reload may start from.
    fn cell(&self, key: &K) -> (Arc<OnceCell<Shared<V>>>, Option<Shared<V>>) {
        let mut slots = lock(&self.slots);
        match slots.get_mut(key) {
            Some(slot) if self.is_fresh(slot) => {
                if slot.cell.initialized() {
                    slot.previous = None;
                }
                (slot.cell.clone(), slot.previous.clone())
            }
            stale => {
                let slot = Slot::new(stale.and_then(|old| old.latest()));
                let handles = (slot.cell.clone(), slot.previous.clone());
                slots.insert(key.clone(), slot);
                handles
            }
        }
    }

    /// The listing for `key`, loading it with `load` if no fresh one exists.
    // Not `async`: one more state machine around every listing read nests the local runner's
    // futures past the compiler's layout depth limit.
    pub fn get_or_load<'a, E, F, Fut>(&'a self, key: &'a K, load: F) -> impl Future<Output = Result<Shared<V>, E>> + 'a
    where
        F: FnOnce() -> Fut + 'a,
        Fut: Future<Output = Result<V, E>> + 'a,
        E: 'a,
    {
        self.get_or_refresh(key, |_| load())
    }

    /// As `get_or_load`, but `refresh` is handed the listing being replaced (expired or
    /// invalidated), if there was one, to start from.
    pub async fn get_or_refresh<E, F, Fut>(&self, key: &K, refresh: F) -> Result<Shared<V>, E>
    where
        F: FnOnce(Option<Shared<V>>) -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let (cell, previous) = self.cell(key);
        let shared =
            cell.get_or_try_init(|| async { refresh(previous).await.map(|v| Arc::new(Mutex::new(v))) }).await?;
        Ok(shared.clone())
    }

    /// The listing for `key` if one is loaded and fresh; never loads.
    pub fn peek(&self, key: &K) -> Option<Shared<V>> {
        let slots = lock(&self.slots);
        let slot = slots.get(key)?;
        if !self.is_fresh(slot) {
            return None;
        }
        slot.loaded()
    }

    /// Applies one of the engine's own writes to a loaded listing (no-op when none is loaded).
    /// While a refresh is under way the write goes to the listing it starts from, so that the
    /// refresh does not carry over what the write changed.
    pub fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        let latest = lock(&self.slots).get(key).and_then(Slot::latest);
        if let Some(shared) = latest {
            change(&mut lock(&shared));
        }
    }

    /// The next lookup loads again; a refresh may still start from this listing.
    pub fn invalidate(&self, key: &K) {
        if let Some(slot) = lock(&self.slots).get_mut(key) {
            slot.expired = true;
        }
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
    async fn a_refresh_starts_from_the_listing_it_replaces() {
        let cache: SharedCache<&str, Vec<u32>> = SharedCache::new(None);
        let first = cache.get_or_refresh(&"k", |previous| async move { Ok::<_, ()>(vec![previous.is_some() as u32]) });
        assert_eq!(*lock(&first.await.unwrap()), vec![0], "nothing to start from");
        cache.invalidate(&"k");
        assert!(cache.peek(&"k").is_none(), "an invalidated listing is not served");
        let refreshed = cache
            .get_or_refresh(&"k", |previous| async move {
                let mut from = lock(&previous.expect("the invalidated listing")).clone();
                from.push(1);
                Ok::<_, ()>(from)
            })
            .await
            .unwrap();
        assert_eq!(*lock(&refreshed), vec![0, 1]);
    }

    #[tokio::test]
    async fn a_write_during_a_refresh_reaches_the_listing_it_starts_from() {
        let cache: Arc<SharedCache<&str, Vec<u32>>> = Arc::new(SharedCache::new(None));
        cache.get_or_load(&"k", || async { Ok::<_, ()>(vec![1]) }).await.unwrap();
        cache.invalidate(&"k");
        let (started, start) = tokio::sync::oneshot::channel();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let refreshing = tokio::spawn({
            let cache = cache.clone();
            async move {
                let shared = cache
                    .get_or_refresh(&"k", |previous| async move {
                        let _ = started.send(());
                        let _ = finished.await;
                        Ok::<_, ()>(lock(&previous.expect("the old listing")).clone())
                    })
                    .await
                    .unwrap();
                lock(&shared).clone()
            }
        });
        start.await.unwrap();
        cache.update(&"k", |v| v.push(2));
        finish.send(()).unwrap();
        assert_eq!(refreshing.await.unwrap(), vec![1, 2], "the write is carried into the refreshed listing");
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
