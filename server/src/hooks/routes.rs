//! `/api/scripts/{id}/hooks` (list, make, revoke) and `/api/hooks/{token}` (start a run).

use app::error::ErrorBody;
use app::model::{CreatedHook, Hook, HookFired, InputKind, InputsReport, NewHook, Trigger};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::{Editor, Identity};
use crate::executions::service;
use crate::http::error::ApiError;
use crate::http::extract::{parse_json, ApiBytes, ApiJson, ApiPath, IdPath};
use crate::state::AppState;

/// The `{id}` and `{hid}` of a hook's route.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct HookPath {
    pub id: i64,
    pub hid: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TokenPath {
    pub token: String,
}

/// The script's hooks (never their tokens).
#[utoipa::path(get, path = "/scripts/{id}/hooks", tag = "hooks", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<Hook>),
    (status = 404, body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<Vec<Hook>>, ApiError> {
    Ok(Json(super::list(&state.db, id).await?))
}

/// Make a trigger URL for the script. Its token is in the answer, this once: whoever holds
/// the URL can start the script's runs (and nothing else) until it is revoked.
#[utoipa::path(post, path = "/scripts/{id}/hooks", tag = "hooks", params(("id" = i64, Path)), request_body = NewHook, responses(
    (status = 201, body = CreatedHook),
    (status = 403, description = "Viewers cannot make hooks", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The name is taken, or the script has as many hooks as it may", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn create(
    State(state): State<AppState>,
    Editor(identity): Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(new): ApiJson<NewHook>,
) -> Result<(StatusCode, Json<CreatedHook>), ApiError> {
    let created = super::create(&state.db, state.config.public_url.as_ref(), id, &new.name, &identity.user.username).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke a hook: its URL stops working at once.
#[utoipa::path(delete, path = "/scripts/{id}/hooks/{hid}", tag = "hooks", params(("id" = i64, Path), ("hid" = i64, Path)), responses(
    (status = 204),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn revoke(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(HookPath { id, hid }): ApiPath<HookPath>,
) -> Result<StatusCode, ApiError> {
    super::revoke(&state.db, id, hid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a run of the hook's script. The body is the run's inputs as a JSON object (checked as
/// `execute` checks them), or empty; a script with a text input named `payload` gets the whole
/// body in it instead. No session or API token: the URL's token is the credential.
#[utoipa::path(post, path = "/hooks/{token}", tag = "hooks", security(()), params(("token" = String, Path)),
    request_body(content = Option<Object>, description = "The run's inputs, or anything for a `payload` input"),
    responses(
        (status = 202, body = HookFired),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 404, description = "No hook has this token", body = ErrorBody),
        (status = 409, description = "The script is inactive", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "An input is missing, unknown or does not fit (`field` names it)", body = ErrorBody),
        (status = 429, description = "The hook started as many runs as it may this minute, or the script's queue is full", body = ErrorBody),
))]
pub async fn fire(
    State(state): State<AppState>,
    ApiPath(TokenPath { token }): ApiPath<TokenPath>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<HookFired>), ApiError> {
    let hook = super::by_token(&state.db, &token).await?;
    state.hook_limits.take(hook.id).map_err(|wait| ApiError::HookBusy { retry_after_secs: wait.as_secs().max(1) })?;
    let script = crate::scripts::service::get(&state.db, hook.script_id).await?;
    let inputs = inputs_of(script.inputs.as_ref(), &body)?;
    let run = service::start(&state.db, &state.runner, hook.script_id, Trigger::Webhook, &inputs).await?;
    let url = super::run_url(state.config.public_url.as_ref(), run.id);
    Ok((StatusCode::ACCEPTED, Json(HookFired { execution_id: run.id, url })))
}

/// The run's inputs from a hook's body: the whole body as text into a `payload` text input, if
/// the script has one; else the body as a JSON object of inputs (empty: none given).
fn inputs_of(report: Option<&InputsReport>, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let payload = report.and_then(|r| r.inputs.iter().find(|i| i.name == "payload" && i.kind == InputKind::Text && !i.list));
    if payload.is_some() {
        let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
        return Ok(Map::from_iter([("payload".to_string(), Value::from(text))]));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match parse_json::<Value>(body)? {
        Value::Object(inputs) => Ok(inputs),
        _ => Err(ApiError::Invalid { message: "the body must be a JSON object of the run's inputs".into(), field: None }),
    }
}
