//! `/api/scripts` and `/api/tags`: thin handlers over the script services.

use app::error::ErrorBody;
use app::model::{NewScript, Script, ScriptSummary, ScriptUpdate, TagCount};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::service::{self, ScriptFilter};
use crate::auth::{Editor, Identity};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, IdPath};
use crate::state::AppState;

/// The most a page of the list may hold.
const LIMIT_MAX: u64 = 10_000;
const OFFSET_MAX: u64 = i64::MAX as u64;

/// Reads `?q=&tag=&tag=&active=&limit=&offset=` (serde's query format cannot repeat a key).
fn parse_filter(query: Option<&str>) -> Result<ScriptFilter, ApiError> {
    let mut filter = ScriptFilter::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "q" => filter.q = Some(value.into_owned()),
            "tag" => filter.tags.extend(value.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)),
            "active" => {
                filter.active = Some(value.parse().map_err(|_| ApiError::BadRequest {
                    message: format!("`active` is `true` or `false`, not `{value}`"),
                    field: Some("active".into()),
                })?)
            }
            "limit" => match value.parse::<u64>() {
                Ok(limit @ 1..=LIMIT_MAX) => filter.limit = Some(limit),
                _ => return Err(ApiError::invalid("limit", format!("`limit` is a whole number from 1 to {LIMIT_MAX}, not `{value}`"))),
            },
            // The databases take a signed 64-bit OFFSET (the query builder panics beyond it).
            "offset" => match value.parse::<u64>() {
                Ok(offset @ 0..=OFFSET_MAX) => filter.offset = offset,
                _ => return Err(ApiError::invalid("offset", format!("`offset` is a whole number from 0 to {OFFSET_MAX}, not `{value}`"))),
            },
            _ => {}
        }
    }
    Ok(filter)
}

/// The scripts, by name, with their tags and last run; `tag` may repeat (all must match).
#[utoipa::path(get, path = "/scripts", tag = "scripts",
    params(
        ("q" = Option<String>, Query, description = "Part of the name, any case"),
        ("tag" = Option<Vec<String>>, Query, description = "A tag the script carries; repeat for several"),
        ("active" = Option<bool>, Query, description = "Only active (true) or inactive (false) scripts"),
        ("limit" = Option<u64>, Query, description = "At most this many (1 to 10000); absent: all"),
        ("offset" = Option<u64>, Query, description = "Skip this many first (by name)"),
    ),
    responses((status = 200, body = Vec<ScriptSummary>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, _identity: Identity, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let filter = parse_filter(query.as_deref())?;
    if !filter.is_whole_list() {
        return Ok(Json(service::list(&state.db, &filter).await?).into_response());
    }
    let json = state.script_list.whole_list(&state.db).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// Create a script.
#[utoipa::path(post, path = "/scripts", tag = "scripts", request_body = NewScript, responses(
    (status = 201, body = Script),
    (status = 403, description = "Viewers cannot create scripts", body = ErrorBody),
    (status = 409, description = "The name is taken", body = ErrorBody),
    (status = 422, description = "A field is invalid; `field` names it", body = ErrorBody),
))]
pub async fn create(
    State(state): State<AppState>,
    _editor: Editor,
    ApiJson(new): ApiJson<NewScript>,
) -> Result<(StatusCode, Json<Script>), ApiError> {
    let inputs = read_inputs(&state, &new.content).await;
    Ok((StatusCode::CREATED, Json(service::create(&state.db, new, inputs).await?)))
}

/// The inputs `content` takes, as stored with the script (JSON); `None` when they could not be
/// read (the tool is missing, or gave up on this source): runs are then refused inputs, and
/// the editor shows why as the user types.
async fn read_inputs(state: &AppState, content: &str) -> Option<String> {
    match state.code.inputs(content).await {
        Ok(report) => Some(serde_json::to_string(&report).expect("an InputsReport serializes")),
        Err(err) => {
            tracing::warn!(%err, "a script's inputs could not be read from its code");
            None
        }
    }
}

/// The JSON Schema (draft 2020-12) of the inputs the script's saved code takes: what
/// `POST /scripts/{id}/execute` checks `inputs` against, for other tools to build on.
#[utoipa::path(get, path = "/scripts/{id}/inputs/schema", tag = "scripts", params(("id" = i64, Path)), responses(
    (status = 200, body = Object),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The inputs could not be read from the saved code; save it again", body = ErrorBody),
))]
pub async fn inputs_schema(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let script = service::get(&state.db, id).await?;
    let report = script.inputs.ok_or_else(|| {
        ApiError::Conflict(format!(
            "the inputs of script `{}` could not be read from its code when it was saved; save it again",
            script.name
        ))
    })?;
    Ok(Json(report.json_schema()))
}

/// One script with its source.
#[utoipa::path(get, path = "/scripts/{id}", tag = "scripts", params(("id" = i64, Path)), responses(
    (status = 200, body = Script),
    (status = 404, body = ErrorBody),
))]
pub async fn read(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<Script>, ApiError> {
    Ok(Json(service::get(&state.db, id).await?))
}

/// Change a script; `updated_at` must be the version the change is based on.
#[utoipa::path(put, path = "/scripts/{id}", tag = "scripts", params(("id" = i64, Path)), request_body = ScriptUpdate, responses(
    (status = 200, body = Script),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The name is taken, or the script changed since `updated_at`", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn update(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(change): ApiJson<ScriptUpdate>,
) -> Result<Json<Script>, ApiError> {
    let inputs = match &change.content {
        Some(content) => read_inputs(&state, content).await,
        None => None,
    };
    Ok(Json(service::update(&state.db, id, change, inputs).await?))
}

/// Delete a script with its dependencies, schedules, runs, logs and files.
#[utoipa::path(delete, path = "/scripts/{id}", tag = "scripts", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn delete(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state.db, &state.config.data_dir, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every tag in use, with how many scripts carry it.
#[utoipa::path(get, path = "/tags", tag = "scripts", responses((status = 200, body = Vec<TagCount>)))]
pub async fn tags(State(state): State<AppState>, _identity: Identity) -> Result<Json<Vec<TagCount>>, ApiError> {
    Ok(Json(service::tag_counts(&state.db).await?))
}

#[cfg(test)]
mod tests {
    use super::parse_filter;

    #[test]
    fn filters_read_repeated_tags_and_escapes() {
        let filter = parse_filter(Some("q=night%20ly&tag=etl&tag=daily,ops&active=true")).unwrap();
        assert_eq!(filter.q.as_deref(), Some("night ly"));
        assert_eq!(filter.tags, ["etl", "daily", "ops"]);
        assert_eq!(filter.active, Some(true));
        assert!(parse_filter(Some("active=yes")).is_err());
        assert!(parse_filter(None).unwrap().tags.is_empty());
        let page = parse_filter(Some("limit=50&offset=100")).unwrap();
        assert_eq!((page.limit, page.offset), (Some(50), 100));
        assert!(parse_filter(Some("limit=0")).is_err());
        assert!(parse_filter(Some("offset=-1")).is_err());
        assert!(parse_filter(Some("offset=9223372036854775808")).is_err());
    }
}
