//! Queries of executions.

use app::model::{Execution, ExecutionPage, ExecutionSort, ExecutionStatus};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::ExecutionError;
use crate::db::entities::{execution, script};

/// What `GET /api/executions` asks for; the page numbers are already checked.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub script_id: Option<i64>,
    pub status: Option<ExecutionStatus>,
    pub sort: ExecutionSort,
    /// 1-based.
    pub page: u64,
    pub per_page: u64,
}

pub async fn list(db: &impl ConnectionTrait, filter: &ExecutionFilter) -> Result<ExecutionPage, ExecutionError> {
    let mut query = execution::Entity::find();
    if let Some(script_id) = filter.script_id {
        query = query.filter(execution::Column::ScriptId.eq(script_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(execution::Column::Status.eq(status));
    }
    let total = query.clone().count(db).await?;
    // Ids grow with queue time, and unlike times they never tie.
    let query = match filter.sort {
        ExecutionSort::Newest => query.order_by_desc(execution::Column::Id),
        ExecutionSort::Oldest => query.order_by_asc(execution::Column::Id),
    };
    let rows = query
        .find_also_related(script::Entity)
        .offset((filter.page - 1).saturating_mul(filter.per_page))
        .limit(filter.per_page)
        .all(db)
        .await?;
    Ok(ExecutionPage {
        items: rows.into_iter().map(|(run, script)| to_api(run, script)).collect(),
        total,
        page: filter.page,
        per_page: filter.per_page,
    })
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Execution, ExecutionError> {
    let (run, script) = execution::Entity::find_by_id(id)
        .find_also_related(script::Entity)
        .one(db)
        .await?
        .ok_or(ExecutionError::NotFound(id))?;
    Ok(to_api(run, script))
}

fn to_api(run: execution::Model, script: Option<script::Model>) -> Execution {
    Execution {
        id: run.id,
        script_id: run.script_id,
        // The foreign key cascades, so a run without its script is only seen mid-delete.
        script_name: script.map(|s| s.name).unwrap_or_default(),
        status: run.status,
        trigger: run.trigger,
        schedule_id: run.schedule_id,
        queued_at: run.queued_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        exit_code: run.exit_code,
        error: run.error,
        log_lines: run.log_lines,
    }
}
