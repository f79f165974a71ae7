//! `/api/executions` and `/api/scripts/{id}/execute`: thin handlers over the execution services.

use std::fmt::Write;

use app::error::ErrorBody;
use app::model::execution::{LOG_PAGE_DEFAULT, LOG_PAGE_MAX, PER_PAGE_DEFAULT, PER_PAGE_MAX};
use app::model::{ExecuteRequest, Execution, ExecutionPage, ExecutionSort, ExecutionStatus, LogPage, Trigger};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::logs;
use super::service::{self, ExecutionFilter};
use crate::auth::identity::{AuthVia, Editor};
use crate::auth::Identity;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJsonOrEmpty, ApiPath, ApiQuery, IdPath};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the runs of this script.
    script_id: Option<i64>,
    /// Only the runs this schedule started.
    schedule_id: Option<i64>,
    /// Only runs in this status.
    status: Option<ExecutionStatus>,
    /// `newest` (default) or `oldest` first, by queue time.
    #[param(inline)]
    sort: Option<ExecutionSort>,
    /// 1-based page number.
    page: Option<u64>,
    /// Runs per page, 1 to 200 (default 25).
    per_page: Option<u64>,
}

impl ListQuery {
    fn filter(self) -> Result<ExecutionFilter, ApiError> {
        let page = self.page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::invalid("page", "`page` starts at 1"));
        }
        let per_page = self.per_page.unwrap_or(PER_PAGE_DEFAULT);
        if !(1..=PER_PAGE_MAX).contains(&per_page) {
            return Err(ApiError::invalid("per_page", format!("`per_page` is between 1 and {PER_PAGE_MAX}")));
        }
        // The databases take a signed 64-bit OFFSET (the query builder panics beyond it).
        if (page - 1).checked_mul(per_page).is_none_or(|skipped| skipped > i64::MAX as u64) {
            return Err(ApiError::invalid("page", "`page` is past any possible end of the list"));
        }
        Ok(ExecutionFilter {
            script_id: self.script_id,
            schedule_id: self.schedule_id,
            status: self.status,
            sort: self.sort.unwrap_or_default(),
            page,
            per_page,
        })
    }
}

/// Runs, newest first unless `sort=oldest`, a page at a time.
#[utoipa::path(get, path = "/executions", tag = "executions", params(ListQuery), responses(
    (status = 200, body = ExecutionPage),
    (status = 400, description = "A parameter has the wrong type or an unknown value", body = ErrorBody),
    (status = 422, description = "`page` or `per_page` is out of range", body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    _identity: Identity,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<ExecutionPage>, ApiError> {
    Ok(Json(service::list(&state.db, &query.filter()?).await?))
}

/// One run.
#[utoipa::path(get, path = "/executions/{id}", tag = "executions", params(("id" = i64, Path)), responses(
    (status = 200, body = Execution),
    (status = 404, body = ErrorBody),
))]
pub async fn read(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(service::get(&state.db, id).await?))
}

/// Queue a run of the script now, with its inputs (the body may be left out when it takes none
/// or all have defaults); a worker starts it at once if one is free. Its events arrive on
/// `/ws/executions/{id}` and `/ws/scripts/{script_id}`.
#[utoipa::path(post, path = "/scripts/{id}/execute", tag = "executions", params(("id" = i64, Path)),
    request_body(content = Option<ExecuteRequest>, description = "Optional: the run's inputs"),
    responses(
        (status = 201, body = Execution),
        (status = 403, description = "Viewers may not run scripts", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The script is inactive, or its inputs could not be read when it was saved", body = ErrorBody),
        (status = 422, description = "An input is missing, unknown or does not fit its rule (`field` names it)", body = ErrorBody),
        (status = 429, description = "The script has as many runs waiting as it may", body = ErrorBody),
))]
pub async fn execute(
    State(state): State<AppState>,
    Editor(identity): Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJsonOrEmpty(request): ApiJsonOrEmpty<ExecuteRequest>,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    let trigger = match identity.via {
        AuthVia::Session(_) => Trigger::Manual,
        AuthVia::Token(_) => Trigger::Api,
    };
    let run = service::start(&state.db, &state.runner, id, trigger, &request.inputs).await?;
    Ok((StatusCode::CREATED, Json(run)))
}

/// Stop a run: a queued one never starts; a running one gets SIGTERM (its whole process group),
/// then SIGKILL after the grace period. The answer shows the run as it is at that moment; its
/// final status follows as an `execution_finished` event.
#[utoipa::path(post, path = "/executions/{id}/stop", tag = "executions", params(("id" = i64, Path)), responses(
    (status = 200, body = Execution),
    (status = 403, description = "Viewers may not stop runs", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The run is already over", body = ErrorBody),
))]
pub async fn stop(
    State(state): State<AppState>,
    Editor(identity): Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<Execution>, ApiError> {
    Ok(Json(service::stop(&state.db, &state.runner, id, &identity.user.username).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only lines with a greater `seq` (default 0: from the start).
    #[param(minimum = 0)]
    after: Option<i64>,
    /// Lines at most, 1 to 10000 (default 1000). Not used with `format=text`.
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u64>,
    /// `json` (default) or `text`: the whole log as a plain-text download.
    #[param(inline)]
    format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Json,
    Text,
}

/// A run's log: a page of lines after `after` as JSON, or (`format=text`) all of it as a file.
#[utoipa::path(get, path = "/executions/{id}/logs", tag = "executions", params(("id" = i64, Path), LogQuery), responses(
    (status = 200, description = "JSON, or with `format=text` a text/plain attachment: one line per log line, `time stream line`", content(
        (LogPage = "application/json"),
        (String = "text/plain"),
    )),
    (status = 400, description = "A parameter has the wrong type or an unknown value", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, description = "`after` or `limit` is out of range", body = ErrorBody),
))]
pub async fn logs(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Response, ApiError> {
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "`after` is a line number, 0 or more"));
    }
    let limit = query.limit.unwrap_or(LOG_PAGE_DEFAULT);
    if !(1..=LOG_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("`limit` is between 1 and {LOG_PAGE_MAX}")));
    }
    let status = service::status(&state.db, id).await?;
    match query.format.unwrap_or_default() {
        LogFormat::Json => {
            let (lines, cut) = logs::read_page(&state.db, id, after, limit as usize, logs::PAGE_BYTES).await.map_err(ApiError::internal)?;
            let next_after = lines.last().map_or(after, |l| l.seq);
            let complete = status.is_final() && (lines.len() as u64) < limit && !cut;
            Ok(Json(LogPage { lines, next_after, complete }).into_response())
        }
        LogFormat::Text => Ok(text_download(state.db.clone(), id, after)),
    }
}

/// The log as a streamed text file, a page at a time, so a huge log never sits in memory.
fn text_download(db: sea_orm::DatabaseConnection, id: i64, after: i64) -> Response {
    let pages = futures_util::stream::unfold(Some(after), move |from| {
        let db = db.clone();
        async move {
            let from = from?;
            match logs::read_after(&db, id, from, 5000).await {
                Ok(lines) if lines.is_empty() => None,
                Ok(lines) => {
                    let next = lines.last().map(|l| l.seq);
                    let mut text = String::new();
                    for line in &lines {
                        let _ = writeln!(text, "{} {} {}", line.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"), line.stream, line.line);
                    }
                    Some((Ok::<_, std::io::Error>(text), next))
                }
                Err(err) => Some((Err(std::io::Error::other(err.to_string())), None)),
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"execution-{id}.log\"")),
        ],
        Body::from_stream(pages),
    )
        .into_response()
}
