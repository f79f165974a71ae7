//! `/api/executions`: thin handlers over the execution services.

use app::error::ErrorBody;
use app::model::execution::{PER_PAGE_DEFAULT, PER_PAGE_MAX};
use app::model::{Execution, ExecutionPage, ExecutionSort, ExecutionStatus};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::service::{self, ExecutionFilter};
use crate::auth::Identity;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery, IdPath};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the runs of this script.
    script_id: Option<i64>,
    /// Only runs in this status.
    status: Option<ExecutionStatus>,
    /// `newest` (default) or `oldest` first, by queue time.
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
        Ok(ExecutionFilter { script_id: self.script_id, status: self.status, sort: self.sort.unwrap_or_default(), page, per_page })
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
