//! Slows down password guessing. Each user name and each client address has a count of recent
//! sign-in attempts that did not succeed; after 5, the next attempt must wait 2^(n-5) seconds
//! after the last one (capped at 5 minutes) and is refused with 429 until then. An attempt is
//! counted when it *starts*, before its password is checked, so a burst of parallel guesses
//! cannot all slip through while the first ones are still hashing; a success takes its count
//! back and clears the user's.
//!
//! The keys are bounded: a user name is trimmed, lower-cased and cut to 64 characters (as a
//! sign-in reads it, so " Admin" is "admin"), an IPv6 client counts as its /64 (one host owns
//! that many addresses), and at most `MAX_KEYS` are kept. When a flood of new names or
//! addresses fills the map, the keys with the fewest failures go first: a name someone has been
//! guessing at stays locked whatever else is sent. The counts live in this process's memory:
//! with several instances each counts its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FREE_ATTEMPTS: u32 = 5;
const MAX_WAIT: Duration = Duration::from_secs(300);
/// A key with no failure for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Longest user name kept as a key (longer ones cannot exist: see `app::validate::username`).
const MAX_NAME_CHARS: usize = 64;
/// Keys kept at most: about 100 bytes each, so a few MiB whatever the flood.
pub const MAX_KEYS: usize = 50_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

impl Key {
    fn user(name: &str) -> Key {
        Key::User(name.trim().chars().take(MAX_NAME_CHARS).collect::<String>().to_lowercase())
    }

    fn addr(addr: IpAddr) -> Key {
        match addr {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                Key::Addr(IpAddr::from(segments))
            }
            IpAddr::V6(v6) => Key::Addr(IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED))),
            v4 => Key::Addr(v4),
        }
    }
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
    /// Counts an attempt of `username` from `addr` that is about to be checked; or, while they
    /// must wait, refuses it with the seconds left (a refused attempt does not lengthen the wait).
    pub fn begin(&self, username: &str, addr: IpAddr) -> Result<(), u64> {
        self.begin_at(&[Key::user(username), Key::addr(addr)], Instant::now())
    }

    /// As `begin`, for an attempt counted by its address alone (a setup code: counting it under
    /// one shared name would let anyone lock the rightful admin out of setup).
    pub fn begin_addr(&self, addr: IpAddr) -> Result<(), u64> {
        self.begin_at(&[Key::addr(addr)], Instant::now())
    }

    /// The attempt `begin` counted was never checked (the server was too busy to): it is given
    /// back to the user and the address, neither a failure nor a success.
    pub fn unchecked(&self, username: &str, addr: IpAddr) {
        let mut failures = self.lock();
        for key in [Key::user(username), Key::addr(addr)] {
            if let Some(entry) = failures.get_mut(&key) {
                entry.count = entry.count.saturating_sub(1);
            }
        }
    }

    /// The attempt `begin_addr` counted succeeded.
    pub fn succeeded_addr(&self, addr: IpAddr) {
        if let Some(entry) = self.lock().get_mut(&Key::addr(addr)) {
            entry.count = entry.count.saturating_sub(1);
        }
    }

    /// The attempt `begin` counted succeeded: the user starts afresh, the address gets it back.
    pub fn succeeded(&self, username: &str, addr: IpAddr) {
        let mut failures = self.lock();
        failures.remove(&Key::user(username));
        if let Some(entry) = failures.get_mut(&Key::addr(addr)) {
            entry.count = entry.count.saturating_sub(1);
        }
    }

    fn begin_at(&self, keys: &[Key], now: Instant) -> Result<(), u64> {
        let mut failures = self.lock();
        let wait = keys.iter().filter_map(|key| failures.get(key)).map(|f| f.wait_left(now)).max().unwrap_or_default();
        if !wait.is_zero() {
            return Err(wait.as_secs().max(1));
        }
        if failures.len() + keys.len() > MAX_KEYS {
            make_room(&mut failures, now);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert(Failures { count: 0, last: now });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts).
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Forgets stale keys; if the map is still full (a flood of names or addresses), the quarter
/// with the fewest failures goes, the older first among equals. A key hammered long enough to
/// be locked has more failures than a flood can give its fresh keys (each must wait in turn
/// too), so the flood cannot unlock it.
fn make_room(failures: &mut HashMap<Key, Failures>, now: Instant) {
    failures.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
    if failures.len() + 2 > MAX_KEYS {
        let mut ranks: Vec<(u32, Instant)> = failures.values().map(|f| (f.count, f.last)).collect();
        let cut = ranks.len() / 4;
        let (_, least_kept, _) = ranks.select_nth_unstable(cut);
        let least_kept = *least_kept;
        failures.retain(|_, f| (f.count, f.last) >= least_kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(name: &str, addr: IpAddr) -> [Key; 2] {
        [Key::user(name), Key::addr(addr)]
    }

    #[test]
    fn five_attempts_are_free_then_the_wait_doubles() {
        let throttle = LoginThrottle::default();
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(throttle.begin_at(&keys("alice", addr), start), Ok(()));
        }
        assert_eq!(throttle.begin_at(&keys("alice", addr), start), Err(1));
        let later = start + Duration::from_secs(1);
        assert_eq!(throttle.begin_at(&keys("alice", addr), later), Ok(()));
        assert_eq!(throttle.begin_at(&keys("ALICE", addr), later), Err(2), "names are compared case-insensitively");
        assert_eq!(throttle.begin_at(&keys(" alice\t", addr), later), Err(2), "and trimmed, as a sign-in reads them");
        assert_eq!(
            throttle.begin_at(&keys("alice", addr), later + Duration::from_secs(1)),
            Err(1),
            "a refused attempt does not lengthen the wait"
        );
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(throttle.begin_at(&keys("bob", addr), later), Err(2), "the address is throttled for every name");
        let free = later + Duration::from_secs(2);
        assert_eq!(throttle.begin_at(&keys("bob", other), free), Ok(()));
        throttle.succeeded("alice", addr);
        assert_eq!(throttle.begin_at(&keys("alice", other), free), Ok(()));
    }

    #[test]
    fn a_success_gives_its_attempt_back() {
        let throttle = LoginThrottle::default();
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        let now = Instant::now();
        for _ in 0..20 {
            throttle.begin_at(&keys("alice", addr), now).unwrap();
            throttle.succeeded("alice", addr);
        }
        assert_eq!(throttle.begin_at(&keys("alice", addr), now), Ok(()), "someone who signs in right is never throttled");
        for _ in 0..20 {
            throttle.begin_at(&keys("bob", addr), now).unwrap();
            throttle.unchecked("bob", addr);
        }
        assert_eq!(throttle.begin_at(&keys("bob", addr), now), Ok(()), "nor one turned away busy");
    }

    #[test]
    fn keys_are_bounded_in_length_and_number() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let long = "x".repeat(10_000);
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        throttle.begin_at(&keys(&long, addr), now).unwrap();
        assert!(throttle.lock().keys().all(|key| !matches!(key, Key::User(name) if name.len() > MAX_NAME_CHARS)));
        for i in 0..(MAX_KEYS as u32) {
            let addr = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            throttle.begin_at(&keys(&format!("user{i}"), addr), now + Duration::from_millis(u64::from(i))).unwrap();
            assert!(throttle.lock().len() <= MAX_KEYS);
        }
        // Every address of one /64 is one key.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        assert_eq!(Key::addr(a), Key::addr(b));
        assert_ne!(Key::addr(a), Key::addr("2001:db8:0:1::1".parse().unwrap()));
    }

    #[test]
    fn a_flood_of_new_keys_does_not_unlock_a_hammered_name() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        throttle.lock().insert(Key::user("admin"), Failures { count: 12, last: now });
        for i in 0..(MAX_KEYS as u32) {
            let addr = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            let _ = throttle.begin_at(&keys(&format!("user{i}"), addr), now + Duration::from_micros(u64::from(i)));
        }
        assert!(throttle.lock().len() <= MAX_KEYS);
        let from_elsewhere: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(throttle.begin_at(&keys("admin", from_elsewhere), now + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn setup_codes_are_counted_per_address_only() {
        let throttle = LoginThrottle::default();
        let mallory: IpAddr = "203.0.113.9".parse().unwrap();
        while throttle.begin_addr(mallory).is_ok() {}
        assert_eq!(throttle.begin_addr("127.0.0.1".parse().unwrap()), Ok(()), "the owner is not locked out by a stranger");
    }
}
