//! `GET /metrics` (Prometheus' text format) and the middleware that counts every request by
//! its route template.
//!
//! Who may scrape: with `PYTASK_METRICS_TOKEN`, only a bearer of that token (the gate lets the
//! request through to this check); without it, a signed-in user or API token, like the API.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::executions::queue;
use crate::state::AppState;
use crate::telemetry::metrics;

pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = &state.config.metrics_token {
        check_token(&headers, token)?;
    }
    let (queued, running) = queue::unfinished(&state.db).await?;
    metrics::runs_waiting(queued, running);
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics::render()).into_response())
}

fn check_token(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else { return Err(ApiError::Unauthorized) };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or(ApiError::InvalidToken("the Authorization header must be `Bearer <token>`"))?;
    // Digests have one length whatever was sent, so the comparison's time tells nothing of the
    // token, not even its length.
    let matches: bool = Sha256::digest(given.as_bytes()).as_slice().ct_eq(Sha256::digest(token.as_bytes()).as_slice()).into();
    if matches {
        Ok(())
    } else {
        Err(ApiError::InvalidToken("the metrics token is wrong (PYTASK_METRICS_TOKEN)"))
    }
}

/// Counts the request and its time under the route it matched (`/api/scripts/{id}`, not
/// `/api/scripts/7`); a request no route matched (static files, 404s) counts as `unmatched`.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let response = next.run(req).await;
    metrics::http_request(&method, route.as_deref(), response.status().as_u16(), started.elapsed());
    response
}
