//! `/api/scripts/{id}/schedules` and `/api/cron/*`: thin handlers over the schedule services.

use app::error::ErrorBody;
use app::model::schedule::{PREVIEW_COUNT_DEFAULT, PREVIEW_COUNT_MAX};
use app::model::{CronDescription, NewSchedule, Schedule, ScheduleUpdate, SkippedTime, UnfitSchedule};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::cron::{self, Cron, CronError};
use super::service;
use crate::auth::{Editor, Identity};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, IdPath};
use crate::state::AppState;

/// The `{id}` and `{sid}` of a schedule's route.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct SchedulePath {
    pub id: i64,
    pub sid: i64,
}

/// The script's schedules, oldest first, each with its next due time and newest run.
#[utoipa::path(get, path = "/scripts/{id}/schedules", tag = "schedules", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<Schedule>),
    (status = 404, body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<Vec<Schedule>>, ApiError> {
    Ok(Json(service::list(&state.db, &state.secret_key, id).await?))
}

/// Every active schedule whose inputs an edit of its script made unfit: its fires fail, with the
/// reason in the run's error, until the schedule or the script is changed.
#[utoipa::path(get, path = "/schedules/unfit", tag = "schedules", responses(
    (status = 200, body = Vec<UnfitSchedule>),
))]
pub async fn unfit(State(state): State<AppState>, _identity: Identity) -> Result<Json<Vec<UnfitSchedule>>, ApiError> {
    Ok(Json(service::unfit(&state.db, &state.secret_key).await?))
}

/// The due times the schedule passed over, newest first, each with why: its run still going
/// (its overlap policy), the script's queue full, or missed while no instance ran.
#[utoipa::path(get, path = "/scripts/{id}/schedules/{sid}/skipped", tag = "schedules", params(("id" = i64, Path), ("sid" = i64, Path)), responses(
    (status = 200, body = Vec<SkippedTime>),
    (status = 404, body = ErrorBody),
))]
pub async fn skipped(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(SchedulePath { id, sid }): ApiPath<SchedulePath>,
) -> Result<Json<Vec<SkippedTime>>, ApiError> {
    Ok(Json(service::skipped(&state.db, id, sid).await?))
}

/// Add a schedule; it fires from its next due time on (none while inactive).
#[utoipa::path(post, path = "/scripts/{id}/schedules", tag = "schedules", params(("id" = i64, Path)), request_body = NewSchedule, responses(
    (status = 201, body = Schedule),
    (status = 403, description = "Viewers cannot change schedules", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The script's inputs could not be read from its saved code", body = ErrorBody),
    (status = 422, description = "`cron_expression`, `timezone` or an input is invalid; `field` names it", body = ErrorBody),
))]
pub async fn create(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(new): ApiJson<NewSchedule>,
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    let schedule = service::create(&state.db, &state.secret_key, id, new).await?;
    state.scheduler.wake();
    Ok((StatusCode::CREATED, Json(schedule)))
}

/// Change a schedule: the fields present are set. A new expression, zone or switch recomputes
/// the next due time from now.
#[utoipa::path(put, path = "/scripts/{id}/schedules/{sid}", tag = "schedules", params(("id" = i64, Path), ("sid" = i64, Path)), request_body = ScheduleUpdate, responses(
    (status = 200, body = Schedule),
    (status = 403, description = "Viewers cannot change schedules", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The script's inputs could not be read from its saved code", body = ErrorBody),
    (status = 422, description = "`cron_expression`, `timezone` or an input is invalid; `field` names it", body = ErrorBody),
))]
pub async fn update(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(SchedulePath { id, sid }): ApiPath<SchedulePath>,
    ApiJson(change): ApiJson<ScheduleUpdate>,
) -> Result<Json<Schedule>, ApiError> {
    let schedule = service::update(&state.db, &state.secret_key, id, sid, change).await?;
    state.scheduler.wake();
    Ok(Json(schedule))
}

/// Delete a schedule. Its past runs stay (their `schedule_id` becomes null).
#[utoipa::path(delete, path = "/scripts/{id}/schedules/{sid}", tag = "schedules", params(("id" = i64, Path), ("sid" = i64, Path)), responses(
    (status = 204),
    (status = 403, description = "Viewers cannot change schedules", body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn delete(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(SchedulePath { id, sid }): ApiPath<SchedulePath>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state.db, id, sid).await?;
    state.scheduler.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// Text, not typed, parameters: a bad `count` or `from` is a 422 naming it, like a bad `expr`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DescribeQuery {
    /// The cron expression: 5 fields or a macro such as `@daily`.
    expr: Option<String>,
    /// IANA zone name (default `UTC`).
    tz: Option<String>,
    /// How many fire times, 1 to 100 (default 5).
    count: Option<String>,
    /// An RFC 3339 instant; the fire times after it (default now).
    from: Option<String>,
}

/// Check a cron expression: its meaning in words and its next fire times in the zone, the ones
/// a daylight-saving change moves or repeats marked in `dst`.
#[utoipa::path(get, path = "/cron/describe", tag = "schedules", params(DescribeQuery), responses(
    (status = 200, body = CronDescription),
    (status = 422, description = "`expr`, `tz`, `count` or `from` is invalid; `field` names it", body = ErrorBody),
))]
pub async fn describe(_identity: Identity, ApiQuery(query): ApiQuery<DescribeQuery>) -> Result<Json<CronDescription>, ApiError> {
    let count = match query.count.as_deref().map(str::trim) {
        None | Some("") => PREVIEW_COUNT_DEFAULT,
        Some(text) => match text.parse::<u32>() {
            Ok(n @ 1..=PREVIEW_COUNT_MAX) => n,
            _ => {
                return Err(ApiError::invalid(
                    "count",
                    format!("`count` is a whole number from 1 to {PREVIEW_COUNT_MAX}, not `{}`", text.escape_default()),
                ))
            }
        },
    };
    let from = match query.from.as_deref().map(str::trim) {
        None | Some("") => Utc::now(),
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(from) => from.with_timezone(&Utc),
            Err(_) => {
                return Err(ApiError::invalid(
                    "from",
                    format!("`from` is an RFC 3339 instant such as `2026-03-08T09:00:00Z`, not `{}`", text.escape_default()),
                ))
            }
        },
    };
    let zone = query.tz.as_deref().unwrap_or(service::DEFAULT_ZONE);
    let cron = Cron::parse(query.expr.as_deref().unwrap_or_default(), zone).map_err(|err| match err {
        CronError::Expression(message) => ApiError::invalid("expr", message),
        CronError::Zone(message) => ApiError::invalid("tz", message),
    })?;
    Ok(Json(CronDescription {
        next: cron.preview(from, count as usize),
        description: cron.describe(),
        timezone: cron.zone.name().to_string(),
        expression: cron.expression,
    }))
}

/// The IANA zone names a schedule accepts, sorted.
#[utoipa::path(get, path = "/cron/timezones", tag = "schedules", responses((status = 200, body = Vec<String>)))]
pub async fn timezones(_identity: Identity) -> Json<Vec<&'static str>> {
    Json(cron::zone_names())
}
