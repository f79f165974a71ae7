//! Refusals made before routing, for what no handler should ever see: a body declared larger
//! than `--max-body-bytes` (413 at once, unread, instead of after buffering it), and a URL
//! whose path or query does not decode to text: invalid UTF-8 or a NUL character, which
//! PostgreSQL cannot store or compare (a 500 if it got that far).

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::state::AppState;

pub async fn refuse_malformed(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match check(&req, state.config.max_body_bytes) {
        Ok(()) => next.run(req).await,
        Err(err) => err.into_response(),
    }
}

fn check(req: &Request, max_body_bytes: u64) -> Result<(), ApiError> {
    let declared =
        req.headers().get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()).and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body_bytes) {
        return Err(ApiError::PayloadTooLarge { limit: max_body_bytes });
    }
    if !decodes_to_text(req.uri().path()) {
        return Err(ApiError::bad_request("the URL path is not UTF-8 text once percent-decoded, or holds a NUL character (%00)"));
    }
    if !req.uri().query().is_none_or(decodes_to_text) {
        return Err(ApiError::bad_request("the query string is not UTF-8 text once percent-decoded, or holds a NUL character (%00)"));
    }
    Ok(())
}

/// True if the percent-decoded bytes are UTF-8 without NUL.
fn decodes_to_text(encoded: &str) -> bool {
    match percent_encoding::percent_decode_str(encoded).decode_utf8() {
        Ok(text) => !text.contains('\0'),
        Err(_) => false,
    }
}
