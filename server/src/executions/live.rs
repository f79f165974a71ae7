//! What a live viewer is sent, whatever carries it (`http::ws` puts it on a WebSocket):
//! - `follow_script`: every event of one script (its runs, their lines and ends, its installs),
//!   live from the moment it joins.
//! - `follow_run`: one run's log lines with seq > `after` from the database, then its live
//!   events; a viewer that falls behind is served from the database again, so it gets every line
//!   exactly once and in order at its own pace, and the server holds no backlog for it.

use app::model::{Event, Execution};
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::{logs, service};
use crate::events::{log_event, Published};

/// Lines read from the database per step of a replay.
const REPLAY_PAGE: usize = 2000;

/// Why the server ends a viewer's feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The run is over and the viewer has all of it.
    RunOver,
    /// The server is shutting down.
    ShuttingDown,
    /// The viewer fell behind events it cannot be served again: it reloads.
    Lagging,
    /// The database could not be read.
    Unreadable,
    /// The viewer's sign-in or token no longer holds (signed out, idle, expired, revoked;
    /// the account disabled, deleted or given another role).
    Revoked(crate::auth::recheck::Ended),
}

/// The viewer has gone, or stopped taking what it is sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Gone;

/// One viewer's end of the feed.
// Only ever used through generics with a concrete viewer, whose futures' `Send` the compiler sees.
#[allow(async_fn_in_trait)]
pub trait Viewer {
    /// Delivers the events in order; `Gone` if the viewer cannot take them.
    async fn send(&mut self, events: Vec<Event>) -> Result<(), Gone>;
    /// Ends the feed, saying why.
    async fn end(&mut self, ending: Ending);
    /// Returns once the viewer has left (anything it sends is ignored).
    async fn left(&mut self);
}

/// Sends every event of `script_id` until the viewer leaves or the feed has to end.
pub async fn follow_script(viewer: &mut impl Viewer, mut events: Receiver<Published>, script_id: i64) {
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(Published::Closing) => return viewer.end(Ending::ShuttingDown).await,
                // Too slow to keep up, or events of other instances were missed: say so and end,
                // so the viewer reloads what it shows.
                Err(RecvError::Lagged(_)) | Ok(Published::Resync) => return viewer.end(Ending::Lagging).await,
                Err(RecvError::Closed) => return,
                Ok(published) => {
                    let ours = match &published {
                        Published::Lines { script_id: id, .. } => *id == script_id,
                        Published::Event(event) => event.script_id() == script_id,
                        Published::Stored { .. } | Published::Resync | Published::Closing => false,
                    };
                    if ours && viewer.send(published.into_events()).await.is_err() {
                        return;
                    }
                }
            },
            () = viewer.left() => return,
        }
    }
}

/// Sends `run`'s lines after `last`, then its live events, until it is over (or the viewer
/// leaves, or the feed has to end). `events` must be subscribed before the caller read the run:
/// a line stored after the first replay's read is then announced on it.
pub async fn follow_run(
    viewer: &mut impl Viewer,
    db: &DatabaseConnection,
    mut events: Receiver<Published>,
    run: &Execution,
    mut last: i64,
) {
    let mut feed = RunFeed { viewer, db, id: run.id, script_id: run.script_id, last: &mut last };
    if feed.catch_up().await != Ok(false) {
        return;
    }
    loop {
        tokio::select! {
            received = events.recv() => {
                if feed.take(received).await != Ok(false) {
                    return;
                }
            }
            () = feed.viewer.left() => return,
        }
    }
}

/// One viewer of one run, and the last line it has.
struct RunFeed<'a, V> {
    viewer: &'a mut V,
    db: &'a DatabaseConnection,
    id: i64,
    script_id: i64,
    last: &'a mut i64,
}

impl<V: Viewer> RunFeed<'_, V> {
    /// Acts on one message of the bus. `Ok(true)`: the feed is over; `Err`: the viewer is gone.
    async fn take(&mut self, received: Result<Published, RecvError>) -> Result<bool, Gone> {
        let id = self.id;
        match received {
            Ok(Published::Lines { execution_id, script_id, lines }) if execution_id == id => {
                if lines.first().is_some_and(|l| l.seq > *self.last + 1) {
                    // Lines published before this viewer subscribed, or another instance's:
                    // everything before this batch is stored by now.
                    if self.catch_up().await? {
                        return Ok(true);
                    }
                }
                // After a catch-up, what the database did not have yet (this batch may still be
                // on its way there); a line the database lost is not waited for.
                let fresh: Vec<Event> = lines.iter().filter(|l| l.seq > *self.last).map(|l| log_event(id, script_id, l.clone())).collect();
                let Some(end) = lines.last().map(|l| l.seq).filter(|_| !fresh.is_empty()) else { return Ok(false) };
                *self.last = end;
                self.viewer.send(fresh).await?;
                Ok(false)
            }
            // Stored lines this viewer has not had: the batch was published before it subscribed,
            // after its replay had read the database.
            Ok(Published::Stored { execution_id, through }) if execution_id == id && through > *self.last => self.catch_up().await,
            Ok(Published::Event(event)) => match &event {
                Event::ExecutionStarted { execution_id, .. } | Event::ExecutionError { execution_id, .. } if *execution_id == id => {
                    self.viewer.send(vec![event]).await?;
                    Ok(false)
                }
                Event::ExecutionFinished { execution_id, .. } if *execution_id == id => {
                    // Every line was stored before the final status: send any this viewer has not
                    // had (another instance's last batch may still be on its way).
                    self.replay().await?;
                    self.viewer.send(vec![event]).await?;
                    self.viewer.end(Ending::RunOver).await;
                    Ok(true)
                }
                _ => Ok(false),
            },
            Ok(Published::Lines { .. } | Published::Stored { .. }) => Ok(false),
            Ok(Published::Closing) => {
                self.viewer.end(Ending::ShuttingDown).await;
                Ok(true)
            }
            // Fell behind the bus, or messages from other instances may have been missed: catch
            // up from the database, at this viewer's pace.
            Err(RecvError::Lagged(_)) | Ok(Published::Resync) => self.catch_up().await,
            Err(RecvError::Closed) => Ok(true),
        }
    }

    /// Sends the stored lines after `last`; if the run is over, also its closing events, and
    /// ends the feed. `Ok(true)`: over and ended.
    async fn catch_up(&mut self) -> Result<bool, Gone> {
        self.replay().await?;
        let Ok(run) = service::get(self.db, self.id).await else {
            self.viewer.end(Ending::Unreadable).await;
            return Err(Gone);
        };
        if !run.status.is_final() {
            return Ok(false);
        }
        // Lines stored between the replay and the status read: all are in by the final status.
        self.replay().await?;
        let (execution_id, script_id, at) = (self.id, self.script_id, run.finished_at.unwrap_or(run.queued_at));
        let mut closing = Vec::new();
        if let Some(error) = run.error {
            closing.push(Event::ExecutionError { execution_id, script_id, error, at });
        }
        closing.push(Event::ExecutionFinished { execution_id, script_id, status: run.status, exit_code: run.exit_code, at });
        self.viewer.send(closing).await?;
        self.viewer.end(Ending::RunOver).await;
        Ok(true)
    }

    /// Sends the stored lines after `last`, a page at a time, advancing `last`.
    async fn replay(&mut self) -> Result<(), Gone> {
        let (id, script_id) = (self.id, self.script_id);
        loop {
            let lines = match logs::read_after(self.db, id, *self.last, REPLAY_PAGE).await {
                Ok(lines) => lines,
                Err(err) => {
                    tracing::error!(execution_id = id, %err, "log replay failed");
                    self.viewer.end(Ending::Unreadable).await;
                    return Err(Gone);
                }
            };
            let Some(end) = lines.last().map(|l| l.seq) else { return Ok(()) };
            let full = lines.len() == REPLAY_PAGE;
            self.viewer.send(lines.into_iter().map(|l| log_event(id, script_id, l)).collect()).await?;
            *self.last = end;
            if !full {
                return Ok(());
            }
        }
    }
}
