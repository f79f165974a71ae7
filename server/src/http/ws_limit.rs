//! This instance's open WebSockets: the caps on them, `--max-websockets` in all and
//! `--max-websockets-per-user` for any one user (whatever mix of sessions and tokens), so that
//! one account cannot take every slot; and the sign-ins they were opened under, rechecked
//! together (`auth::recheck`). A viewer holds a slot from the upgrade until its socket task
//! ends; with none free the upgrade is refused (503 for the instance's cap, 429 for the user's)
//! before anything is allocated for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::ApiError;
use crate::auth::recheck::SignIns;

#[derive(Clone)]
pub struct WebSocketSlots {
    free: Arc<Semaphore>,
    limit: u32,
    per_user: u32,
    /// Sockets held by each user; a user with none has no entry.
    held: Arc<Mutex<HashMap<i64, u32>>>,
    /// What the open sockets were signed in with, watched for its end.
    pub sign_ins: SignIns,
}

/// A socket's slot: dropping it frees it, in the instance's count and the user's.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    user_id: i64,
    held: Arc<Mutex<HashMap<i64, u32>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = lock(&self.held);
        if let Some(count) = held.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.user_id);
            }
        }
    }
}

fn lock(held: &Mutex<HashMap<i64, u32>>) -> std::sync::MutexGuard<'_, HashMap<i64, u32>> {
    // Each change is one insert or decrement: a panic cannot leave the map half-changed.
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WebSocketSlots {
    pub fn new(limit: u32, per_user: u32) -> WebSocketSlots {
        WebSocketSlots {
            free: Arc::new(Semaphore::new(limit as usize)),
            limit,
            per_user,
            held: Arc::default(),
            sign_ins: SignIns::default(),
        }
    }

    /// A free slot for a socket of `user_id`, held by the socket task.
    pub fn take(&self, user_id: i64) -> Result<Slot, ApiError> {
        let mut held = lock(&self.held);
        let count = held.get(&user_id).copied().unwrap_or(0);
        if count >= self.per_user {
            return Err(ApiError::TooManyUserWebSockets { limit: self.per_user });
        }
        let permit = Arc::clone(&self.free).try_acquire_owned().map_err(|_| ApiError::TooManyWebSockets { limit: self.limit })?;
        held.insert(user_id, count + 1);
        Ok(Slot { _permit: permit, user_id, held: Arc::clone(&self.held) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_has_a_share_and_gives_it_back() {
        let slots = WebSocketSlots::new(3, 2);
        let first = slots.take(1).unwrap();
        let second = slots.take(1).unwrap();
        assert!(matches!(slots.take(1), Err(ApiError::TooManyUserWebSockets { limit: 2 })));
        let other = slots.take(2).unwrap();
        assert!(matches!(slots.take(3), Err(ApiError::TooManyWebSockets { limit: 3 })), "the instance's cap still holds");
        drop(first);
        let again = slots.take(1).unwrap();
        drop((second, again, other));
        assert!(lock(&slots.held).is_empty(), "no entry is kept for users without sockets");
    }
}
