//! The WebSocket API, JSON text frames of `app::model::Event` (the gate has already checked the
//! user and the Origin of the upgrade request). What each socket is sent is
//! `executions::live`'s: this module only carries it.
//! - `/ws/scripts/{id}`: every event of one script (its runs and its installs), live.
//! - `/ws/executions/{id}?after=N`: one run's log lines with seq > N, then its live events.
//!
//! Each socket holds one of the instance's `--max-websockets` slots (and of its user's
//! `--max-websockets-per-user`) until it ends, and a viewer that does not take a batch of frames
//! within `--client-timeout-seconds` (it stopped reading) is disconnected: it would otherwise hold
//! its slot and task forever. A socket whose sign-in or token stops holding (signed out, idle,
//! expired, revoked, disabled, deleted, demoted) is closed with 1008 within seconds
//! (`auth::recheck`). A client message over `extract::MAX_CLIENT_MESSAGE` closes it with 1009.

use std::time::Duration;

use app::model::Event;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::State;
use axum::response::Response;
use futures_util::SinkExt;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, ApiUpgrade, IdPath, MAX_CLIENT_MESSAGE};
use super::ws_limit::Slot;
use crate::auth::Identity;
use crate::executions::live::{self, Ending, Gone};
use crate::executions::service;
use crate::state::AppState;
use crate::telemetry::metrics::{SocketClient, SocketKind};

pub async fn script_events(
    State(state): State<AppState>,
    identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiUpgrade(upgrade): ApiUpgrade,
) -> Result<Response, ApiError> {
    let slot = state.websockets.take(identity.user.id)?;
    crate::scripts::service::get(&state.db, id).await?;
    let events = state.installer.events.subscribe();
    let send_timeout = Duration::from_secs(state.config.client_timeout_seconds);
    let mut sign_in = state.websockets.sign_ins.watch(&state.db, &state.config, &identity);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _client = SocketClient::connected(SocketKind::Script);
        let mut socket = Socket { socket, send_timeout, _slot: slot };
        let ended = tokio::select! {
            () = live::follow_script(&mut socket, events, id) => return,
            ended = sign_in.ended() => ended,
        };
        live::Viewer::end(&mut socket, Ending::Revoked(ended)).await;
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfterQuery {
    /// The last seq the client has; replay starts after it.
    after: Option<i64>,
}

pub async fn execution_events(
    State(state): State<AppState>,
    identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiQuery(query): ApiQuery<AfterQuery>,
    ApiUpgrade(upgrade): ApiUpgrade,
) -> Result<Response, ApiError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "`after` is a line number, 0 or more"));
    }
    let slot = state.websockets.take(identity.user.id)?;
    // Subscribed before anything is read: a line stored after the replay's read is announced as
    // stored after this point, so it arrives live or is read again.
    let events = state.runner.events.subscribe();
    let run = service::get(&state.db, id).await?;
    let db = state.db.clone();
    let send_timeout = Duration::from_secs(state.config.client_timeout_seconds);
    let mut sign_in = state.websockets.sign_ins.watch(&state.db, &state.config, &identity);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _client = SocketClient::connected(SocketKind::Execution);
        let mut socket = Socket { socket, send_timeout, _slot: slot };
        let ended = tokio::select! {
            () = live::follow_run(&mut socket, &db, events, &run, after) => return,
            ended = sign_in.ended() => ended,
        };
        live::Viewer::end(&mut socket, Ending::Revoked(ended)).await;
    }))
}

/// A viewer's socket, with how long it may take to accept frames and the slot it holds.
struct Socket {
    socket: WebSocket,
    send_timeout: Duration,
    _slot: Slot,
}

impl live::Viewer for Socket {
    /// Writes the events as frames and flushes once.
    async fn send(&mut self, events: Vec<Event>) -> Result<(), Gone> {
        let socket = &mut self.socket;
        let write = async {
            for event in events {
                let Ok(text) = serde_json::to_string(&event) else { continue };
                socket.feed(Message::Text(text.into())).await?;
            }
            socket.flush().await
        };
        match tokio::time::timeout(self.send_timeout, write).await {
            Ok(written) => written.map_err(|_| Gone),
            Err(_) => {
                tracing::info!(timeout_secs = self.send_timeout.as_secs(), "a WebSocket viewer stopped taking frames; disconnected");
                Err(Gone)
            }
        }
    }

    async fn end(&mut self, ending: Ending) {
        let (code, reason) = match ending {
            Ending::RunOver => (1000, "the run is over"),
            Ending::ShuttingDown => (1001, "the server is shutting down; reconnect in a moment"),
            Ending::Unreadable => (1011, "the log could not be read; reconnect"),
            Ending::Lagging => (1013, "lagging behind; reconnect"),
            // 1008, policy violation: the client must not reconnect with what it has.
            Ending::Revoked(ended) => (1008, ended.reason()),
        };
        let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
        let _ = tokio::time::timeout(self.send_timeout, self.socket.send(frame)).await;
    }

    async fn left(&mut self) {
        loop {
            match self.socket.recv().await {
                Some(Ok(Message::Close(_))) | None => return,
                Some(Err(err)) => {
                    if is_oversized(err) {
                        // Its rest is never read: the connection is dropped right after, so the
                        // client may see a reset before this frame.
                        let frame =
                            CloseFrame { code: 1009, reason: format!("a message may be {MAX_CLIENT_MESSAGE} bytes at most").into() };
                        let _ = tokio::time::timeout(self.send_timeout, self.socket.send(Message::Close(Some(frame)))).await;
                    }
                    return;
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

/// Whether the client sent a message or frame over `MAX_CLIENT_MESSAGE`.
fn is_oversized(err: axum::Error) -> bool {
    use tungstenite::error::{CapacityError, Error};
    matches!(err.into_inner().downcast_ref::<Error>(), Some(Error::Capacity(CapacityError::MessageTooLong { .. })))
}
