//! Rate limits for public endpoints that need no sign-in and reach the database: document
//! verification (`GET /verify/{number}` and `Query.verifyDocument`, one budget for both). Per
//! client address (behind a trusted proxy, the address it names), a burst of the per-minute
//! allowance and then a steady refill, with `governor`'s keyed GCRA limiter — a well-kept crate
//! rather than hand-written buckets. IPv6 clients are counted by their /64 (one subscriber's
//! network), so rotating addresses inside it gains nothing.
//!
//! Memory stays bounded: the limiter keeps one small state per address seen, and every
//! [`SWEEP_EVERY`] checks forgets the addresses whose allowance is whole again, so what it holds
//! is the addresses seen within the last minute.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;

/// How many checks pass between two sweeps of forgotten addresses.
pub const SWEEP_EVERY: u64 = 4096;

/// The verification budget per client address (application and schema data; cheap to clone).
#[derive(Clone)]
pub struct PublicLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    checks: Arc<AtomicU64>,
}

/// The address an allowance belongs to: IPv4 as is, IPv6 by its /64; the unspecified address
/// when the client's is unknown (all such share one allowance).
fn key_of(client: &str) -> IpAddr {
    match client.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        Ok(v4) => v4,
        Err(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

impl PublicLimiter {
    /// `per_minute` requests per client address per minute, all of them at once if it likes.
    pub fn new(per_minute: u32) -> PublicLimiter {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        PublicLimiter {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
            checks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Takes one request from `client`'s allowance; `RATE_LIMITED` with the seconds to wait
    /// when it is spent.
    pub fn check(&self, client: &str) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(&key_of(client))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                ApiError::RateLimited {
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                }
            })
    }

    /// How many addresses the limiter holds now.
    pub fn addresses(&self) -> usize {
        self.limiter.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_not_affected() {
        let l = PublicLimiter::new(3);
        for _ in 0..3 {
            assert!(l.check("192.0.2.7").is_ok());
        }
        match l.check("192.0.2.7") {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        assert!(l.check("192.0.2.8").is_ok(), "another address");
        // The same /64 is one client; another /64 is another.
        for i in 0..3 {
            assert!(l.check(&format!("2001:db8:1:2::{i}")).is_ok());
        }
        assert!(l.check("2001:db8:1:2:ffff::9").is_err());
        assert!(l.check("2001:db8:1:3::1").is_ok());
        // An IPv4 client seen through an IPv6 socket is the same client.
        assert!(l.check("::ffff:192.0.2.7").is_err());
    }

    #[test]
    fn addresses_whose_allowance_is_whole_again_are_forgotten() {
        let l = PublicLimiter::new(1000);
        // Each address uses one request of its allowance, given back after 60 ms; a sweep
        // forgets an address one emission interval after that (governor keeps it until then).
        for i in 0..(2 * SWEEP_EVERY) {
            let _ = l.check(&format!(
                "10.{}.{}.{}",
                i >> 16 & 255,
                i >> 8 & 255,
                i & 255
            ));
            if i == SWEEP_EVERY - 2 {
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        }
        assert!(
            (l.addresses() as u64) < 2 * SWEEP_EVERY,
            "{} addresses held",
            l.addresses()
        );
    }
}
