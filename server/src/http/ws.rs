//! The WebSocket API, JSON text frames of `app::model::Event` (the gate has already checked the
//! user and the Origin of the upgrade request):
//! - `/ws/scripts/{id}`: every event of one script (its runs and its installs), live.
//! - `/ws/executions/{id}?after=N`: one run's log lines with seq > N from the database, then its
//!   live events; a client that falls behind is served from the database again, so it gets
//!   every line exactly once and in order at its own pace, and the server holds no backlog.
//!
//! Each socket holds one of the instance's `--max-websockets` slots until it ends, and a viewer
//! that does not take a batch of frames within `--client-timeout-seconds` (it stopped reading)
//! is disconnected: it would otherwise hold its slot and task forever.

use std::time::Duration;

use app::model::Event;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::State;
use axum::response::Response;
use futures_util::SinkExt;
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio::sync::OwnedSemaphorePermit;

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, ApiUpgrade, IdPath};
use crate::auth::Identity;
use crate::events::{log_event, Published};
use crate::executions::{logs, service};
use crate::state::AppState;
use crate::telemetry::metrics::{SocketClient, SocketKind};

/// The close reason when the server shuts down.
const GOING_AWAY: &str = "the server is shutting down; reconnect in a moment";

/// Lines read from the database per step of a replay.
const REPLAY_PAGE: usize = 2000;

pub async fn script_events(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiUpgrade(upgrade): ApiUpgrade,
) -> Result<Response, ApiError> {
    let slot = state.websockets.take()?;
    crate::scripts::service::get(&state.db, id).await?;
    let events = state.installer.events.subscribe();
    let send_timeout = Duration::from_secs(state.config.client_timeout_seconds);
    Ok(upgrade.on_upgrade(move |socket| forward_script(Viewer { socket, send_timeout, _slot: slot }, events, id)))
}

async fn forward_script(mut socket: Viewer, mut events: Receiver<Published>, script_id: i64) {
    let _client = SocketClient::connected(SocketKind::Script);
    // Runs of this script, learnt from their start, so their log lines can be told apart.
    let mut runs = std::collections::HashSet::new();
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(Published::Closing) => {
                    close(&mut socket, 1001, GOING_AWAY).await;
                    return;
                }
                // Too slow to keep up, or events of other instances were missed: say so and
                // close, so the client reloads its state.
                Err(RecvError::Lagged(_)) | Ok(Published::Resync) => {
                    close(&mut socket, 1013, "lagging behind; reconnect").await;
                    return;
                }
                Ok(published) => {
                    let ours = match &published {
                        Published::Lines { execution_id, .. } => runs.contains(execution_id),
                        Published::Event(event) => match (event, event.script_id()) {
                            (Event::ExecutionStarted { execution_id, .. }, Some(id)) if id == script_id => {
                                runs.insert(*execution_id);
                                true
                            }
                            (_, Some(id)) => id == script_id,
                            (Event::ExecutionFinished { execution_id, .. } | Event::ExecutionError { execution_id, .. }, None) => runs.contains(execution_id),
                            _ => false,
                        },
                        Published::Stored { .. } | Published::Resync | Published::Closing => false,
                    };
                    if ours && send_all(&mut socket, published.into_events()).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfterQuery {
    /// The last seq the client has; replay starts after it.
    after: Option<i64>,
}

pub async fn execution_events(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiQuery(query): ApiQuery<AfterQuery>,
    ApiUpgrade(upgrade): ApiUpgrade,
) -> Result<Response, ApiError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "`after` is a line number, 0 or more"));
    }
    let slot = state.websockets.take()?;
    // Subscribed before anything is read: a line stored after the replay's read is announced as
    // stored after this point, so it arrives live or is read again.
    let events = state.runner.events.subscribe();
    service::status(&state.db, id).await?;
    let db = state.db.clone();
    let send_timeout = Duration::from_secs(state.config.client_timeout_seconds);
    Ok(upgrade.on_upgrade(move |socket| stream_execution(Viewer { socket, send_timeout, _slot: slot }, db, events, id, after)))
}

async fn stream_execution(mut socket: Viewer, db: DatabaseConnection, mut events: Receiver<Published>, id: i64, mut last: i64) {
    let _client = SocketClient::connected(SocketKind::Execution);
    if catch_up(&mut socket, &db, id, &mut last).await != Ok(false) {
        return;
    }
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(Published::Lines { execution_id, lines }) if execution_id == id => {
                    if lines.first().is_some_and(|l| l.seq > last + 1) {
                        // Lines published before this viewer subscribed, or another instance's:
                        // everything before this batch is stored by now.
                        if catch_up(&mut socket, &db, id, &mut last).await != Ok(false) {
                            return;
                        }
                    }
                    // After a catch-up, what the database did not have yet (this batch may still
                    // be on its way there); a line the database lost is not waited for.
                    let fresh: Vec<Event> = lines.iter().filter(|l| l.seq > last).map(|l| log_event(id, l.clone())).collect();
                    let Some(end) = lines.last().map(|l| l.seq).filter(|_| !fresh.is_empty()) else { continue };
                    last = end;
                    if send_all(&mut socket, fresh).await.is_err() {
                        return;
                    }
                }
                // Stored lines this viewer has not had: the batch was published before it
                // subscribed, after its replay had read the database.
                Ok(Published::Stored { execution_id, through }) if execution_id == id && through > last => {
                    if catch_up(&mut socket, &db, id, &mut last).await != Ok(false) {
                        return;
                    }
                }
                Ok(Published::Event(event)) => {
                    let (mine, over) = match &event {
                        Event::ExecutionStarted { execution_id, .. } | Event::ExecutionError { execution_id, .. } => (*execution_id == id, false),
                        Event::ExecutionFinished { execution_id, .. } => (*execution_id == id, *execution_id == id),
                        _ => (false, false),
                    };
                    if !mine {
                        continue;
                    }
                    if over {
                        // Every line was stored before the final status: send any this viewer
                        // has not had (another instance's last batch may still be on its way).
                        if replay(&mut socket, &db, id, &mut last).await.is_err() {
                            return;
                        }
                    }
                    if send_all(&mut socket, vec![event]).await.is_err() {
                        return;
                    }
                    if over {
                        close(&mut socket, 1000, "the run is over").await;
                        return;
                    }
                }
                Ok(Published::Lines { .. } | Published::Stored { .. }) => {}
                Ok(Published::Closing) => {
                    close(&mut socket, 1001, GOING_AWAY).await;
                    return;
                }
                // Fell behind the bus, or messages from other instances may have been missed:
                // catch up from the database, at this client's pace.
                Err(RecvError::Lagged(_)) | Ok(Published::Resync) => {
                    if catch_up(&mut socket, &db, id, &mut last).await != Ok(false) {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Sends the stored lines after `last`; if the run is over, also its closing events, and closes
/// the socket. `Ok(true)`: over and closed; `Err`: the socket is gone.
async fn catch_up(socket: &mut Viewer, db: &DatabaseConnection, id: i64, last: &mut i64) -> Result<bool, ()> {
    replay(socket, db, id, last).await?;
    let run = match service::get(db, id).await {
        Ok(run) => run,
        Err(_) => {
            close(socket, 1011, "the run could not be read").await;
            return Err(());
        }
    };
    if !run.status.is_final() {
        return Ok(false);
    }
    // Lines stored between the replay and the status read: all are in by the final status.
    replay(socket, db, id, last).await?;
    let at = run.finished_at.unwrap_or(run.queued_at);
    let mut closing = Vec::new();
    if let Some(error) = run.error {
        closing.push(Event::ExecutionError { execution_id: id, error, at });
    }
    closing.push(Event::ExecutionFinished { execution_id: id, status: run.status, exit_code: run.exit_code, at });
    send_all(socket, closing).await?;
    close(socket, 1000, "the run is over").await;
    Ok(true)
}

/// Sends the stored lines after `last`, a page at a time, advancing `last`.
async fn replay(socket: &mut Viewer, db: &DatabaseConnection, id: i64, last: &mut i64) -> Result<(), ()> {
    loop {
        let lines = match logs::read_after(db, id, *last, REPLAY_PAGE).await {
            Ok(lines) => lines,
            Err(err) => {
                tracing::error!(execution_id = id, %err, "log replay failed");
                close(socket, 1011, "the log could not be read; reconnect").await;
                return Err(());
            }
        };
        let Some(end) = lines.last().map(|l| l.seq) else { return Ok(()) };
        let full = lines.len() == REPLAY_PAGE;
        send_all(socket, lines.into_iter().map(|l| log_event(id, l)).collect()).await?;
        *last = end;
        if !full {
            return Ok(());
        }
    }
}

/// Writes the events as frames and flushes once; an error if the viewer is gone or does not
/// take them in time.
async fn send_all(viewer: &mut Viewer, events: Vec<Event>) -> Result<(), ()> {
    let socket = &mut viewer.socket;
    let write = async {
        for event in events {
            let Ok(text) = serde_json::to_string(&event) else { continue };
            socket.feed(Message::Text(text.into())).await?;
        }
        socket.flush().await
    };
    match tokio::time::timeout(viewer.send_timeout, write).await {
        Ok(written) => written.map_err(drop),
        Err(_) => {
            tracing::info!(timeout_secs = viewer.send_timeout.as_secs(), "a WebSocket viewer stopped taking frames; disconnected");
            Err(())
        }
    }
}

async fn close(viewer: &mut Viewer, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    let _ = tokio::time::timeout(viewer.send_timeout, viewer.socket.send(frame)).await;
}

/// A viewer's socket, with how long it may take to accept frames and the slot it holds.
struct Viewer {
    socket: WebSocket,
    send_timeout: Duration,
    _slot: OwnedSemaphorePermit,
}

impl Viewer {
    async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.socket.recv().await
    }
}
