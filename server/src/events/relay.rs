//! Events across instances on one PostgreSQL: LISTEN/NOTIFY is the doorbell, the stored rows are
//! the truth. Each instance announces what it publishes on one channel; each listens to it and
//! publishes what the others announce to its own subscribers.
//!
//! - An event travels whole in the notification (long texts shortened to fit PostgreSQL's
//!   8,000-byte payload; the stored row keeps them whole).
//! - A batch of log lines travels as its range of seqs; an instance with viewers reads those lines
//!   from the database, where they were stored before they were announced.
//! - A bell asks the others to act now rather than at their next poll: a run was queued, the
//!   schedules changed, a run elsewhere is to stop, a script's venv is to be installed.
//!
//! A notification can be missed while the listening connection is down; on reconnecting the
//! subscribers are told to catch up from the database and every bell is rung here once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::model::Event;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{EventBus, Published};
use crate::executions::logs;

/// The channel every instance listens on.
const CHANNEL: &str = "pytask_events";
/// PostgreSQL refuses payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;
/// Texts of an event that does not fit are cut to this many characters.
const SHORTENED: usize = 1_000;
/// Notes waiting to be sent while the database does not answer; beyond, new ones are dropped
/// (receivers recover lines from the database; a viewer may need to reconnect for a status).
const OUTBOX_LIMIT: usize = 10_000;
/// Notifications sent by one statement.
const PER_STATEMENT: usize = 100;

/// Something to ask of the instances that can do it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "bell", rename_all = "snake_case")]
pub enum Bell {
    /// A run was queued: an idle worker takes it.
    Queue,
    /// A schedule changed: the schedulers look again.
    Schedules,
    /// A user stopped a run: the instance running it ends it.
    Stop { execution_id: i64, by: String },
    /// The script's requirements are to be installed into each worker's venv.
    Install { script_id: i64 },
}

/// One announcement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    Event { event: Event },
    Lines { execution_id: i64, script_id: i64, first: i64, last: i64 },
    Bell { bell: Bell },
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The announcing instance, which ignores its own notes.
    from: String,
    #[serde(flatten)]
    note: Note,
}

/// Notes waiting to be sent, in order. Consecutive line batches of one run merge into one range,
/// so a chatty script costs one notification per send, not one per batch.
#[derive(Default)]
pub struct Outbox {
    notes: Mutex<Vec<Note>>,
    ready: Notify,
    dropped: std::sync::atomic::AtomicU64,
}

impl Outbox {
    pub fn push(&self, note: Note) {
        let mut notes = self.notes.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Note::Lines { execution_id, last, .. }, Some(Note::Lines { execution_id: previous, last: previous_last, .. })) =
            (&note, notes.last_mut())
        {
            if execution_id == previous {
                *previous_last = (*previous_last).max(*last);
                return;
            }
        }
        if notes.len() >= OUTBOX_LIMIT {
            if self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                tracing::warn!("the database does not take notifications: announcements to other instances are being dropped");
            }
            return;
        }
        notes.push(note);
        drop(notes);
        self.ready.notify_one();
    }

    fn take(&self) -> Vec<Note> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Starts announcing this instance's notes and listening to the others'. `on_bell` is called
/// for every bell rung elsewhere (and for each kind once after a reconnect).
pub fn start(
    db: DatabaseConnection,
    url: String,
    me: Arc<str>,
    bus: EventBus,
    outbox: Arc<Outbox>,
    on_bell: Arc<dyn Fn(Bell) + Send + Sync>,
) {
    tokio::spawn(announce(db.clone(), me.clone(), outbox));
    tokio::spawn(listen(db, url, me, bus, on_bell));
}

async fn announce(db: DatabaseConnection, me: Arc<str>, outbox: Arc<Outbox>) {
    loop {
        outbox.ready.notified().await;
        let notes = outbox.take();
        let payloads: Vec<String> = notes.into_iter().filter_map(|note| payload(&me, note)).collect();
        for chunk in payloads.chunks(PER_STATEMENT) {
            send(&db, chunk).await;
        }
    }
}

/// Sends the payloads in one statement, retrying for a while when the database does not answer.
async fn send(db: &DatabaseConnection, payloads: &[String]) {
    let calls: Vec<String> = (0..payloads.len()).map(|i| format!("pg_notify($1, ${})", i + 2)).collect();
    let sql = format!("SELECT {}", calls.join(", "));
    let mut values: Vec<Value> = vec![CHANNEL.into()];
    values.extend(payloads.iter().map(|p| Value::from(p.clone())));
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    for attempt in 1..=20u64 {
        match db.execute(statement.clone()).await {
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(%err, attempt, "announcing events to the other instances failed; retrying");
                tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
            }
        }
    }
    tracing::error!(notes = payloads.len(), "announcements to the other instances were given up");
}

/// The notification text of a note, shortened to fit; none if it cannot be made to fit.
fn payload(me: &str, note: Note) -> Option<String> {
    let wire = Wire { from: me.to_string(), note };
    let text = serde_json::to_string(&wire).ok()?;
    if text.len() <= MAX_PAYLOAD {
        return Some(text);
    }
    let Wire { from, note } = wire;
    let note = match note {
        Note::Event { event } => Note::Event { event: shortened(event) },
        other => other,
    };
    let text = serde_json::to_string(&Wire { from, note }).ok()?;
    if text.len() <= MAX_PAYLOAD {
        Some(text)
    } else {
        tracing::warn!(bytes = text.len(), "an event too large to announce to the other instances was not announced");
        None
    }
}

fn shortened(mut event: Event) -> Event {
    let cut = |text: String| -> String {
        match text.char_indices().nth(SHORTENED) {
            Some((at, _)) => format!("{}… (shortened; the full text is stored)", &text[..at]),
            None => text,
        }
    };
    match &mut event {
        Event::ExecutionError { error: text, .. }
        | Event::InstallationError { error: text, .. }
        | Event::InstallationProgress { message: text, .. }
        | Event::LogOutput { line: text, .. } => *text = cut(std::mem::take(text)),
        _ => {}
    }
    event
}

async fn listen(db: DatabaseConnection, url: String, me: Arc<str>, bus: EventBus, on_bell: Arc<dyn Fn(Bell) + Send + Sync>) {
    let mut first = true;
    loop {
        let mut listener = match connect(&url).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(%err, "cannot listen for other instances' events; retrying in 2 s");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if !first {
            catch_up(&bus, on_bell.as_ref());
        }
        first = false;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => receive(&db, &me, &bus, on_bell.as_ref(), notification.payload()).await,
                // The connection dropped (and is made again at the next call): anything sent
                // meanwhile is gone, so catch up.
                Ok(None) => catch_up(&bus, on_bell.as_ref()),
                Err(err) => {
                    tracing::error!(%err, "listening for other instances' events failed; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

async fn connect(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

fn catch_up(bus: &EventBus, on_bell: &(dyn Fn(Bell) + Send + Sync)) {
    tracing::info!("the connection that listens for other instances' events was made again; catching up");
    bus.publish_here(Published::Resync);
    on_bell(Bell::Queue);
    on_bell(Bell::Schedules);
}

async fn receive(db: &DatabaseConnection, me: &str, bus: &EventBus, on_bell: &(dyn Fn(Bell) + Send + Sync), payload: &str) {
    let wire: Wire = match serde_json::from_str(payload) {
        Ok(wire) => wire,
        Err(err) => {
            tracing::warn!(%err, "a notification on {CHANNEL} was not understood; ignored");
            return;
        }
    };
    if wire.from == me {
        return;
    }
    match wire.note {
        Note::Event { event } => bus.publish_here(Published::Event(event)),
        Note::Lines { execution_id, script_id, first, last } => {
            // Read only when someone here is watching; a viewer that arrives later replays.
            if !bus.has_subscribers() || last < first {
                return;
            }
            let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
            match logs::read_after(db, execution_id, first - 1, count).await {
                Ok(lines) if !lines.is_empty() => bus.publish_here(Published::Lines { execution_id, script_id, lines: lines.into() }),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(%err, execution_id, "lines announced by another instance could not be read; viewers will catch up");
                    bus.publish_here(Published::Resync);
                }
            }
        }
        Note::Bell { bell } => on_bell(bell),
    }
}

#[cfg(test)]
mod tests {
    use app::model::ExecutionStatus;
    use chrono::Utc;

    use super::*;

    #[test]
    fn consecutive_line_batches_of_one_run_merge() {
        let outbox = Outbox::default();
        outbox.push(Note::Lines { execution_id: 1, script_id: 4, first: 1, last: 10 });
        outbox.push(Note::Lines { execution_id: 1, script_id: 4, first: 11, last: 20 });
        outbox.push(Note::Lines { execution_id: 2, script_id: 4, first: 1, last: 5 });
        outbox.push(Note::Lines { execution_id: 1, script_id: 4, first: 21, last: 22 });
        let finished = Event::ExecutionFinished {
            execution_id: 1,
            script_id: 4,
            status: ExecutionStatus::Succeeded,
            exit_code: Some(0),
            at: Utc::now(),
        };
        outbox.push(Note::Event { event: finished.clone() });
        assert_eq!(
            outbox.take(),
            vec![
                Note::Lines { execution_id: 1, script_id: 4, first: 1, last: 20 },
                Note::Lines { execution_id: 2, script_id: 4, first: 1, last: 5 },
                Note::Lines { execution_id: 1, script_id: 4, first: 21, last: 22 },
                Note::Event { event: finished },
            ]
        );
        assert!(outbox.take().is_empty());
    }

    #[test]
    fn a_long_event_is_shortened_to_fit_and_round_trips() {
        let error = "é".repeat(20_000);
        let text = payload("me", Note::Event { event: Event::ExecutionError { execution_id: 7, script_id: 4, error, at: Utc::now() } })
            .expect("fits once shortened");
        assert!(text.len() <= MAX_PAYLOAD, "{}", text.len());
        let wire: Wire = serde_json::from_str(&text).unwrap();
        assert_eq!(wire.from, "me");
        let Note::Event { event: Event::ExecutionError { execution_id: 7, error, .. } } = wire.note else { panic!("{:?}", wire.note) };
        assert!(error.ends_with("(shortened; the full text is stored)"), "{error}");
    }

    #[test]
    fn bells_round_trip() {
        for bell in [Bell::Queue, Bell::Schedules, Bell::Stop { execution_id: 3, by: "ann".into() }, Bell::Install { script_id: 9 }] {
            let text = payload("x", Note::Bell { bell: bell.clone() }).unwrap();
            let wire: Wire = serde_json::from_str(&text).unwrap();
            assert_eq!(wire.note, Note::Bell { bell });
        }
    }
}
