//! The WebSocket API. `/ws/scripts/{id}`: every event of one script, live, as JSON text frames.
//! (The gate has already checked the user and the Origin of the upgrade request.)

use app::model::Event;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::error::ApiError;
use super::extract::{ApiPath, IdPath};
use crate::auth::Identity;
use crate::state::AppState;

pub async fn script_events(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    crate::scripts::service::get(&state.db, id).await?;
    let events = state.installer.events.subscribe();
    Ok(upgrade.on_upgrade(move |socket| forward(socket, events, id)))
}

async fn forward(mut socket: WebSocket, mut events: tokio::sync::broadcast::Receiver<Event>, script_id: i64) {
    // Runs of this script, learnt from their start, so their log lines can be told apart.
    let mut runs = std::collections::HashSet::new();
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(event) => {
                    let ours = match (&event, event.script_id()) {
                        (Event::ExecutionStarted { execution_id, .. }, Some(id)) if id == script_id => {
                            runs.insert(*execution_id);
                            true
                        }
                        (_, Some(id)) => id == script_id,
                        (Event::LogOutput { execution_id, .. } | Event::ExecutionFinished { execution_id, .. } | Event::ExecutionError { execution_id, .. }, None) => runs.contains(execution_id),
                        _ => false,
                    };
                    if !ours {
                        continue;
                    }
                    let Ok(text) = serde_json::to_string(&event) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // Too slow to keep up: say so and close, so the client reloads its state.
                Err(RecvError::Lagged(_)) => {
                    let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame { code: 1013, reason: "lagging behind; reconnect".into() }))).await;
                    return;
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
