//! The in-process event bus: workers publish, WebSocket handlers subscribe. A broadcast channel,
//! so a slow subscriber loses its place (and is told so) instead of holding anyone up; it then
//! replays what it missed from the database, where every log line is stored before it is
//! published here.

use std::sync::Arc;

use app::model::{Event, LogLine};
use tokio::sync::broadcast;

/// Messages buffered per subscriber before it is declared lagging. Log lines travel in batches
/// (at most `executions::collector::BATCH_BYTES` each, overhead counted), and the ring keeps its
/// last CAPACITY messages alive even after every reader has them: 32 × 256 KiB bounds that at
/// 8 MiB. A viewer that falls further behind is served from the database.
const CAPACITY: usize = 32;

/// What travels on the bus: one event, or a stored batch of one run's log lines (one message
/// for many lines, so a chatty script costs the bus little).
#[derive(Debug, Clone)]
pub enum Published {
    Event(Event),
    Lines { execution_id: i64, lines: Arc<[LogLine]> },
}

impl Published {
    /// The `log_output` events of a batch, or the one event.
    pub fn into_events(self) -> Vec<Event> {
        match self {
            Published::Event(event) => vec![event],
            Published::Lines { execution_id, lines } => lines.iter().map(|l| log_event(execution_id, l.clone())).collect(),
        }
    }
}

pub fn log_event(execution_id: i64, line: LogLine) -> Event {
    Event::LogOutput { execution_id, seq: line.seq, stream: line.stream, line: line.line, at: line.at }
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Published>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { sender: broadcast::channel(CAPACITY).0 }
    }
}

impl EventBus {
    pub fn publish(&self, event: Event) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(Published::Event(event));
    }

    pub fn publish_lines(&self, execution_id: i64, lines: Arc<[LogLine]>) {
        let _ = self.sender.send(Published::Lines { execution_id, lines });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.sender.subscribe()
    }
}
