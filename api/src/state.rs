//! What every request handler shares: built once at start-up, cloned cheaply.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use domain::calendar::WorkingCalendar;
use domain::region::Region;
use sea_orm::DatabaseConnection;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// The database pool; the database is the truth.
    pub db: DatabaseConnection,
    /// The calendar version in force, compiled.
    pub calendar: CalendarCache,
    /// The directory of regions, by code.
    pub regions: Arc<BTreeMap<String, Region>>,
    /// Whether changes are sent to other nodes (the background workers run); shared by every
    /// clone, the mailbox actors' included.
    pub fanout: Arc<std::sync::atomic::AtomicBool>,
    /// This process's identity among the nodes sharing the database.
    pub node_id: String,
    /// Wakes the deadline watchdog when a step starts.
    pub watchdog_wake: Arc<tokio::sync::Notify>,
    /// Case changes, for subscribers on this node.
    pub events: tokio::sync::broadcast::Sender<CaseChange>,
    /// SQLite has one writer: case writes queue here instead of failing with "database is
    /// locked". `None` on PostgreSQL.
    pub write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    /// The clock.
    pub clock: crate::clock::Clock,
    /// Access-token keys and lifetimes.
    pub tokens: crate::auth::token::TokenKeys,
    /// Parsed regulations by content hash.
    pub regulations: crate::store::regulation::RegulationCache,
    /// Open subscription sockets per account, for the per-account cap.
    pub sockets: SocketCounts,
    /// Subscription loads shared by every subscriber of one change (see `crate::shared`).
    pub live: LiveLoads,
    /// Organisation rows by id (see `store::organisations`).
    pub organisations: crate::store::organisations::Organisations,
}

/// What subscribers of one change load once between them.
#[derive(Clone)]
pub struct LiveLoads {
    /// A case at a version.
    pub cases: crate::shared::Shared<(i64, i32), Arc<entity::service_case::Model>>,
    /// Whether an account is still active in its role, checked once per change: (subject,
    /// role, case, version).
    pub accounts: crate::shared::Shared<(String, &'static str, i64, i32), bool>,
}

impl Default for LiveLoads {
    fn default() -> Self {
        LiveLoads {
            cases: crate::shared::Shared::new(1024),
            accounts: crate::shared::Shared::new(4096),
        }
    }
}

/// The compiled calendar in force; replaced whole when a new version is imported.
#[derive(Clone)]
pub struct CalendarCache(Arc<RwLock<Arc<WorkingCalendar>>>);

impl CalendarCache {
    /// A cache holding `calendar`.
    pub fn new(calendar: WorkingCalendar) -> CalendarCache {
        CalendarCache(Arc::new(RwLock::new(Arc::new(calendar))))
    }

    /// The calendar in force now.
    pub fn current(&self) -> Arc<WorkingCalendar> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            // A panic while swapping cannot leave a half-written Arc: use what is there.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts a newer version in force (an older one is ignored).
    pub fn offer(&self, calendar: WorkingCalendar) {
        let mut guard = match self.0.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if calendar.version() > guard.version() {
            *guard = Arc::new(calendar);
        }
    }
}

pub use crate::events::CaseChange;

/// Open sockets per account (the `sub` claim), across this node.
#[derive(Clone, Default)]
pub struct SocketCounts(Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>);

impl SocketCounts {
    /// Counts a socket for `who`, unless they already have `max` open.
    pub fn enter(&self, who: &str, max: usize) -> bool {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let n = map.entry(who.to_owned()).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// Sockets open on this node.
    pub fn total(&self) -> usize {
        match self.0.lock() {
            Ok(m) => m.values().sum(),
            Err(p) => p.into_inner().values().sum(),
        }
    }

    /// Gives a socket of `who` back.
    pub fn leave(&self, who: &str) {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if let Some(n) = map.get_mut(who) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(who);
            }
        }
    }
}
