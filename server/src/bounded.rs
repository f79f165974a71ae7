//! A few slots for costly work (a password hash, a code tool), and a bounded crowd waiting for
//! them: at most so many wait, each at most so long, and the rest are refused at once, so a
//! flood of requests cannot pile up without bound in memory or time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug)]
pub struct Slots {
    slots: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

/// One of the crowd, counted while it waits, whether it gets a slot, gives up or is dropped
/// (its client hung up): a count kept by hand would leak on the drop and refuse everyone later.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slots {
    pub fn new(slots: usize, max_waiting: usize, max_wait: Duration) -> Slots {
        Slots { slots: Semaphore::new(slots), waiting: AtomicUsize::new(0), max_waiting, max_wait }
    }

    /// A slot, or `None` when too many wait already or none came free in time.
    pub async fn take(&self) -> Option<SemaphorePermit<'_>> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Some(permit);
        }
        let _waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            return None;
        }
        tokio::time::timeout(self.max_wait, self.slots.acquire()).await.ok()?.ok()
    }

    /// How many wait now (for tests).
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_crowd_is_bounded_and_counted_right_when_waiters_give_up() {
        let slots = Slots::new(1, 2, Duration::from_millis(200));
        let held = slots.take().await.unwrap();
        // Two wait; the third is refused at once.
        let (a, b, c) = tokio::join!(slots.take(), slots.take(), async {
            tokio::task::yield_now().await;
            slots.take().await
        });
        assert!(a.is_none() && b.is_none() && c.is_none(), "two time out, one is refused");
        assert_eq!(slots.waiting(), 0);
        // A waiter dropped while it waits (its client hung up) leaves the count as it found it.
        let abandoned = tokio::time::timeout(Duration::from_millis(20), slots.take()).await;
        assert!(abandoned.is_err());
        assert_eq!(slots.waiting(), 0);
        drop(held);
        assert!(slots.take().await.is_some());
    }
}
