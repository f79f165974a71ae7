//! Slows down password guessing. Each user name and each client address has a count of recent
//! failed sign-ins; after 5, the next attempt must wait 2^(n-5) seconds after the last failure
//! (capped at 5 minutes) and is refused with 429 until then. A success clears the user's count.
//! The counts live in this process's memory: with several instances each counts its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FREE_ATTEMPTS: u32 = 5;
const MAX_WAIT: Duration = Duration::from_secs(300);
/// A key with no failure for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn wait_left(&self, now: Instant) -> Duration {
        if self.count < FREE_ATTEMPTS {
            return Duration::ZERO;
        }
        let exponent = (self.count - FREE_ATTEMPTS).min(16);
        let wait = Duration::from_secs(1u64 << exponent).min(MAX_WAIT);
        (self.last + wait).saturating_duration_since(now)
    }
}

impl LoginThrottle {
    /// Seconds to wait before this attempt is allowed, or `None` if it may go ahead.
    pub fn check(&self, username: &str, addr: IpAddr) -> Option<u64> {
        self.check_at(username, addr, Instant::now())
    }

    pub fn failed(&self, username: &str, addr: IpAddr) {
        self.failed_at(username, addr, Instant::now());
    }

    pub fn succeeded(&self, username: &str) {
        self.lock().remove(&Key::User(username.to_lowercase()));
    }

    fn check_at(&self, username: &str, addr: IpAddr, now: Instant) -> Option<u64> {
        let failures = self.lock();
        let wait = [Key::User(username.to_lowercase()), Key::Addr(addr)]
            .iter()
            .filter_map(|key| failures.get(key))
            .map(|f| f.wait_left(now))
            .max()
            .unwrap_or_default();
        (!wait.is_zero()).then(|| wait.as_secs().max(1))
    }

    fn failed_at(&self, username: &str, addr: IpAddr, now: Instant) {
        let mut failures = self.lock();
        failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        for key in [Key::User(username.to_lowercase()), Key::Addr(addr)] {
            let entry = failures.entry(key).or_insert(Failures { count: 0, last: now });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts).
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free_then_the_wait_doubles() {
        let throttle = LoginThrottle::default();
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(throttle.check_at("alice", addr, start), None);
            throttle.failed_at("alice", addr, start);
        }
        assert_eq!(throttle.check_at("alice", addr, start), Some(1));
        throttle.failed_at("alice", addr, start);
        assert_eq!(throttle.check_at("ALICE", addr, start), Some(2), "names are compared case-insensitively");
        assert_eq!(throttle.check_at("alice", addr, start + Duration::from_secs(2)), None);
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(throttle.check_at("bob", addr, start), Some(2), "the address is throttled for every name");
        assert_eq!(throttle.check_at("bob", other, start), None);
        throttle.succeeded("alice");
        assert_eq!(throttle.check_at("alice", other, start), None);
    }
}
