//! The event bus: workers publish, WebSocket handlers subscribe. A broadcast channel, so a slow
//! subscriber loses its place (and is told so) instead of holding anyone up; it then replays what
//! it missed from the database.
//!
//! A batch of log lines is published here as soon as it is read, while it is being written:
//! viewers on this instance do not wait for the database's commit. `Stored` follows once the
//! write is done; a viewer that subscribed between the two reads the batch from the database.
//!
//! On PostgreSQL the bus also reaches the other instances (`relay`): what is published here is
//! announced with NOTIFY, and what the others announce is published here.

pub mod relay;

use std::sync::Arc;

use app::model::{Event, LogLine};
use tokio::sync::broadcast;

use self::relay::{Bell, Note, Outbox};

/// Messages buffered per subscriber before it is declared lagging. Log lines travel in batches
/// (at most `executions::collector::BATCH_BYTES` each, overhead counted), and the ring keeps its
/// last CAPACITY messages alive even after every reader has them: 32 × 256 KiB bounds that at
/// 8 MiB. A viewer that falls further behind is served from the database.
/// Each batch is followed by its (tiny) `Stored`, hence twice as many messages as batches.
const CAPACITY: usize = 64;

/// What travels on the bus: one event, or a batch of one run's log lines (one message for many
/// lines, so a chatty script costs the bus little).
#[derive(Debug, Clone)]
pub enum Published {
    Event(Event),
    Lines {
        execution_id: i64,
        script_id: i64,
        lines: Arc<[LogLine]>,
    },
    /// The run's lines up to `through` are in the database. A run's batches are published and
    /// stored in order, each stored before the next is published.
    Stored {
        execution_id: i64,
        through: i64,
    },
    /// Messages from other instances may have been missed (the relay's connection dropped):
    /// subscribers catch up from the database, as when they lag.
    Resync,
    /// This instance is shutting down (its runs are over): WebSockets close, saying so.
    Closing,
}

impl Published {
    /// The `log_output` events of a batch, or the one event.
    pub fn into_events(self) -> Vec<Event> {
        match self {
            Published::Event(event) => vec![event],
            Published::Lines { execution_id, script_id, lines } => {
                lines.iter().map(|l| log_event(execution_id, script_id, l.clone())).collect()
            }
            Published::Stored { .. } | Published::Resync | Published::Closing => Vec::new(),
        }
    }
}

pub fn log_event(execution_id: i64, script_id: i64, line: LogLine) -> Event {
    Event::LogOutput { execution_id, script_id, seq: line.seq, stream: line.stream, line: line.line, at: line.at }
}

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Published>,
    /// What goes to the other instances; none on SQLite (one instance per database).
    outbox: Option<Arc<Outbox>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus { sender: broadcast::channel(CAPACITY).0, outbox: None }
    }
}

impl EventBus {
    /// A bus whose messages are also announced to the other instances.
    pub fn relayed(outbox: Arc<Outbox>) -> EventBus {
        EventBus { outbox: Some(outbox), ..EventBus::default() }
    }

    pub fn publish(&self, event: Event) {
        if let Some(outbox) = &self.outbox {
            outbox.push(Note::Event { event: event.clone() });
        }
        self.publish_here(Published::Event(event));
    }

    /// A batch just read, to this instance's viewers (before it is stored).
    pub fn publish_lines(&self, execution_id: i64, script_id: i64, lines: Arc<[LogLine]>) {
        self.publish_here(Published::Lines { execution_id, script_id, lines });
    }

    /// The run's lines `first..=last` are stored: the other instances read them from the
    /// database, this one's late viewers too.
    pub fn lines_stored(&self, execution_id: i64, script_id: i64, first: i64, last: i64) {
        if let Some(outbox) = &self.outbox {
            outbox.push(Note::Lines { execution_id, script_id, first, last });
        }
        self.publish_here(Published::Stored { execution_id, through: last });
    }

    /// Asks the other instances to act (take a queued run, look at the schedules, …); this
    /// instance acts on its own.
    pub fn ring(&self, bell: Bell) {
        if let Some(outbox) = &self.outbox {
            outbox.push(Note::Bell { bell });
        }
    }

    /// Tells this instance's WebSockets to close: the server is going.
    pub fn announce_closing(&self) {
        self.publish_here(Published::Closing);
    }

    /// Publishes to this instance's subscribers only.
    fn publish_here(&self, published: Published) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.sender.send(published);
    }

    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.sender.subscribe()
    }
}
