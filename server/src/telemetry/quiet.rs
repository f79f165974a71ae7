//! Warnings a stranger can cause at will (a request for a foreign host, a failed sign-in) are
//! written at most `PER_MINUTE` a minute for each kind: a flood of such requests must not become
//! a flood of log lines that buries the rest or fills the disk. The ones left out are counted,
//! and the next line written says how many (the metrics count every one).

use std::sync::Mutex;
use std::time::{Duration, Instant};

const PER_MINUTE: u32 = 20;
const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Budget {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    window: Option<Instant>,
    written: u32,
    left_out: u64,
}

impl Budget {
    pub const fn new() -> Budget {
        Budget { state: Mutex::new(State { window: None, written: 0, left_out: 0 }) }
    }

    /// `Some(left out since the last one written)` when this line may be written.
    pub fn take(&self) -> Option<u64> {
        self.take_at(Instant::now())
    }

    fn take_at(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.window.is_none_or(|start| now.saturating_duration_since(start) >= MINUTE) {
            state.window = Some(now);
            state.written = 0;
        }
        if state.written >= PER_MINUTE {
            state.left_out += 1;
            return None;
        }
        state.written += 1;
        Some(std::mem::take(&mut state.left_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_written_a_few_lines_a_minute_and_counted() {
        let budget = Budget::new();
        let start = Instant::now();
        for _ in 0..PER_MINUTE {
            assert_eq!(budget.take_at(start), Some(0));
        }
        for _ in 0..1000 {
            assert_eq!(budget.take_at(start + Duration::from_secs(30)), None);
        }
        assert_eq!(budget.take_at(start + MINUTE), Some(1000), "the next line says how many were left out");
        assert_eq!(budget.take_at(start + MINUTE), Some(0));
    }
}
