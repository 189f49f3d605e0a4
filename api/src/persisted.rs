//! Automatic persisted queries (Apollo's protocol, which urql's `persistedExchange` and
//! Apollo Client's `createPersistedQueryLink` speak): a client sends only the SHA-256 of its
//! query; if the server does not know it, the answer is `PERSISTED_QUERY_NOT_FOUND` and the
//! client retries with the full text, which is then registered. Queries are kept in the database
//! (shared by every node) with a bounded in-memory cache in front.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::Request;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Query texts kept in memory per node, at most.
const CACHE_ENTRIES: usize = 1024;

/// Bytes of query text kept in memory per node, at most.
pub const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// The longest query text that is registered (a client's largest real query is a few KiB); a
/// longer one runs when sent whole, but is not kept: its hash alone stays unknown.
pub const MAX_REGISTERED_BYTES: usize = 16 * 1024;

/// The node's cache in front of the stored queries, bounded in entries and in bytes.
pub struct PersistedQueries {
    cache: Mutex<Cache>,
}

struct Cache {
    entries: lru::LruCache<String, Arc<str>>,
    bytes: usize,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        PersistedQueries {
            cache: Mutex::new(Cache {
                entries: lru::LruCache::new(
                    NonZeroUsize::new(CACHE_ENTRIES).unwrap_or(NonZeroUsize::MIN),
                ),
                bytes: 0,
            }),
        }
    }
}

/// Why a persisted query was not run.
#[derive(Debug)]
pub enum Refused {
    /// The hash is unknown here: send the query text with it (HTTP 200, as clients expect).
    NotFound,
    /// The extension is malformed, of another version, or its hash is not the text's.
    Bad(String),
    /// The store could not be read.
    Store(ApiError),
}

/// A request's `persistedQuery` extension, once read.
pub enum Resolved {
    /// The request carries no such extension.
    Plain,
    /// The text came from the cache or the store.
    Known,
    /// The client sent text and hash: register it once the request proves valid.
    Register { hash: String },
}

#[derive(serde::Deserialize)]
struct Extension {
    version: i64,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// The hex SHA-256 of a query text, as clients compute it.
pub fn hash(query: &str) -> String {
    format!("{:x}", Sha256::digest(query.as_bytes()))
}

impl PersistedQueries {
    fn cached(&self, hash: &str) -> Option<Arc<str>> {
        self.cache.lock().ok()?.entries.get(hash).cloned()
    }

    fn cache(&self, hash: String, query: Arc<str>) {
        if query.len() > MAX_REGISTERED_BYTES {
            return;
        }
        if let Ok(mut c) = self.cache.lock() {
            c.bytes += query.len();
            // Replaced, or pushed out by the entry bound: no longer counted.
            if let Some((_, old)) = c.entries.push(hash, query) {
                c.bytes -= old.len();
            }
            while c.bytes > CACHE_BYTES {
                match c.entries.pop_lru() {
                    Some((_, old)) => c.bytes -= old.len(),
                    None => break,
                }
            }
        }
    }

    /// Bytes of query text in this node's cache.
    pub fn cached_bytes(&self) -> usize {
        self.cache.lock().map(|c| c.bytes).unwrap_or(0)
    }

    /// Reads the request's `persistedQuery` extension: fills in the text of a known hash, or
    /// checks a sent text against its hash.
    pub async fn resolve(
        &self,
        db: &DatabaseConnection,
        request: &mut Request,
    ) -> Result<Resolved, Refused> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return Ok(Resolved::Plain);
        };
        let json = value
            .into_json()
            .map_err(|_| Refused::Bad("persistedQuery must be an object".into()))?;
        let ext: Extension = serde_json::from_value(json).map_err(|_| {
            Refused::Bad("persistedQuery must be {\"version\": 1, \"sha256Hash\": …}".into())
        })?;
        if ext.version != 1 {
            return Err(Refused::Bad(format!(
                "persistedQuery version {} is not supported; use 1",
                ext.version
            )));
        }
        let wanted = ext.sha256_hash.to_ascii_lowercase();
        if wanted.len() != 64 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refused::Bad(
                "sha256Hash must be 64 hexadecimal digits".into(),
            ));
        }
        if !request.query.is_empty() {
            if hash(&request.query) != wanted {
                return Err(Refused::Bad("provided sha does not match query".into()));
            }
            if request.query.len() > MAX_REGISTERED_BYTES {
                // Runs as sent, but is not kept: memory and the table stay bounded in bytes.
                return Ok(Resolved::Plain);
            }
            return Ok(if self.cached(&wanted).is_some() {
                Resolved::Known
            } else {
                Resolved::Register { hash: wanted }
            });
        }
        let text = match self.cached(&wanted) {
            Some(text) => text,
            None => {
                let stored = crate::store::persisted::find(db, &wanted)
                    .await
                    .map_err(Refused::Store)?
                    .ok_or(Refused::NotFound)?;
                let text: Arc<str> = stored.into();
                self.cache(wanted, text.clone());
                text
            }
        };
        request.query = text.to_string();
        Ok(Resolved::Known)
    }

    /// Registers a query that ran (it parsed, validated and was within the limits).
    pub async fn register(
        &self,
        db: &DatabaseConnection,
        hash: String,
        query: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ApiError> {
        crate::store::persisted::remember(db, &hash, query, now).await?;
        self.cache(hash, query.into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_in_bytes_and_keeps_no_oversized_text() {
        let pq = PersistedQueries::default();
        let text: Arc<str> = "x".repeat(MAX_REGISTERED_BYTES).into();
        for i in 0..1000 {
            pq.cache(format!("{i}"), text.clone());
            assert!(pq.cached_bytes() <= CACHE_BYTES);
        }
        assert_eq!(
            pq.cached_bytes(),
            CACHE_BYTES / MAX_REGISTERED_BYTES * MAX_REGISTERED_BYTES
        );
        assert!(pq.cached("999").is_some() && pq.cached("0").is_none());
        pq.cache("big".into(), "y".repeat(MAX_REGISTERED_BYTES + 1).into());
        assert!(pq.cached("big").is_none());
        // Replacing an entry counts its new text only.
        pq.cache("999".into(), "z".into());
        assert_eq!(
            pq.cached_bytes(),
            (CACHE_BYTES / MAX_REGISTERED_BYTES - 1) * MAX_REGISTERED_BYTES + 1
        );
    }

    #[test]
    fn the_hash_is_the_hex_sha256_clients_send() {
        assert_eq!(
            hash("{ __typename }"),
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
    }
}
