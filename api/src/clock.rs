//! The one place the server reads the time. Tests may set it; everything else passes `now` on.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The server's clock.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stays where it is set (for tests and demos of past dates).
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock(Some(Arc::new(Mutex::new(at))))
    }

    /// Now, truncated to microseconds so that it survives a round trip through any database
    /// unchanged (event hashes depend on it).
    pub fn now(&self) -> DateTime<Utc> {
        let t = match &self.0 {
            None => Utc::now(),
            Some(m) => match m.lock() {
                Ok(g) => *g,
                Err(p) => *p.into_inner(),
            },
        };
        t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
    }

    /// Moves a fixed clock (no effect on the system clock).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(m) = &self.0 {
            match m.lock() {
                Ok(mut g) => *g = at,
                Err(p) => *p.into_inner() = at,
            }
        }
    }
}
