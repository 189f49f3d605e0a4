//! One load shared by everyone who needs the same thing at the same time (single flight), with a
//! bounded memory of recent results. A case change with 3,000 subscribers costs one load of the
//! case, not 3,000.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Results by key: the first caller loads, concurrent callers wait for that load, later callers
/// get the result while it is among the `capacity` most recent keys. A failed load is not
/// remembered: the next caller tries again.
pub struct Shared<K, V> {
    inner: Arc<Mutex<Entries<K, V>>>,
    capacity: usize,
}

struct Entries<K, V> {
    cells: HashMap<K, Arc<OnceCell<V>>>,
    order: VecDeque<K>,
}

impl<K, V> Clone for Shared<K, V> {
    fn clone(&self) -> Self {
        Shared {
            inner: self.inner.clone(),
            capacity: self.capacity,
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Shared<K, V> {
    /// An empty cache remembering at most `capacity` keys.
    pub fn new(capacity: usize) -> Shared<K, V> {
        Shared {
            inner: Arc::new(Mutex::new(Entries {
                cells: HashMap::new(),
                order: VecDeque::new(),
            })),
            capacity: capacity.max(1),
        }
    }

    /// The value for `key`, loading it with `load` unless it is loaded or being loaded.
    pub async fn get_or_load<E, F, Fut>(&self, key: K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = {
            let mut e = match self.inner.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            match e.cells.get(&key) {
                Some(c) => c.clone(),
                None => {
                    let c = Arc::new(OnceCell::new());
                    e.cells.insert(key.clone(), c.clone());
                    e.order.push_back(key);
                    while e.order.len() > self.capacity {
                        if let Some(old) = e.order.pop_front() {
                            e.cells.remove(&old);
                        }
                    }
                    c
                }
            }
        };
        cell.get_or_try_init(load).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn many_concurrent_callers_share_one_load_and_memory_stays_bounded() {
        let shared: Shared<i32, i32> = Shared::new(2);
        let loads = Arc::new(AtomicUsize::new(0));
        let calls = (0..100).map(|_| {
            let (shared, loads) = (shared.clone(), loads.clone());
            async move {
                shared
                    .get_or_load(1, || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok::<_, ()>(42)
                    })
                    .await
            }
        });
        let results = futures_util::future::join_all(calls).await;
        assert!(results.iter().all(|r| *r == Ok(42)));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        for k in 2..10 {
            let _ = shared.get_or_load(k, || async { Ok::<_, ()>(k) }).await;
        }
        let len = shared.inner.lock().map(|e| e.cells.len()).unwrap_or(0);
        assert_eq!(len, 2);
        // A failed load is tried again.
        assert_eq!(
            shared
                .get_or_load(99, || async { Err::<i32, _>("down") })
                .await,
            Err("down")
        );
        assert_eq!(
            shared.get_or_load(99, || async { Ok::<_, &str>(7) }).await,
            Ok(7)
        );
    }
}
