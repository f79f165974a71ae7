//! Executions: queries, starting and stopping.

use app::model::{Event, Execution, ExecutionPage, ExecutionSort, ExecutionStatus, Trigger};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Map, Value};

use super::worker::{EndRequest, Runner};
use super::ExecutionError;
use super::{inputs, queue};
use crate::db::entities::{execution, script};
use crate::events::relay::Bell;
use crate::telemetry::metrics;

/// What `GET /api/executions` asks for; the page numbers are already checked.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    pub script_id: Option<i64>,
    pub schedule_id: Option<i64>,
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
    if let Some(schedule_id) = filter.schedule_id {
        query = query.filter(execution::Column::ScheduleId.eq(schedule_id));
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
        items: rows.into_iter().map(|(run, script)| to_api(run, script.map(|s| s.name))).collect(),
        total,
        page: filter.page,
        per_page: filter.per_page,
    })
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Execution, ExecutionError> {
    let (run, script) =
        execution::Entity::find_by_id(id).find_also_related(script::Entity).one(db).await?.ok_or(ExecutionError::NotFound(id))?;
    Ok(to_api(run, script.map(|s| s.name)))
}

fn to_api(run: execution::Model, script_name: Option<String>) -> Execution {
    Execution {
        id: run.id,
        script_id: run.script_id,
        // The foreign key cascades, so a run without its script is only seen mid-delete.
        script_name: script_name.unwrap_or_default(),
        status: run.status,
        trigger: run.trigger,
        schedule_id: run.schedule_id,
        queued_at: run.queued_at,
        started_at: run.started_at,
        finished_at: run.finished_at,
        exit_code: run.exit_code,
        error: run.error,
        log_lines: run.log_lines,
        network: run.network,
        sandboxed: run.sandboxed,
        peak_memory_bytes: run.peak_memory_bytes,
        cpu_seconds: run.cpu_seconds,
        masked: run.masked,
        // Written by this server as JSON objects; anything else is shown as nothing.
        inputs: run.inputs.as_deref().and_then(|json| serde_json::from_str(json).ok()),
        result: run.result.as_deref().and_then(|json| serde_json::from_str(json).ok()),
        due_at: run.due_at,
        caught_up: run.caught_up,
    }
}

/// Queues a run of an active script and sees it taken (`Runner::submit`): by an idle worker of
/// this instance at once, else by the next free worker anywhere.
/// `given`: the run's inputs, checked against those the script's saved code takes.
pub async fn start(
    db: &DatabaseConnection,
    runner: &Runner,
    script_id: i64,
    trigger: Trigger,
    given: &Map<String, Value>,
) -> Result<Execution, ExecutionError> {
    let slot = runner.idle_slot();
    // A refused run leaves a gap in the ids, as any rolled-back insert would.
    let script = queue::starting(db, script_id, slot.is_some()).await?.ok_or(ExecutionError::ScriptNotFound(script_id))?;
    if !script.is_active {
        return Err(ExecutionError::Inactive(script.name));
    }
    // Counted as the run is read, not locked: requests racing past the count at once can each
    // add one run beyond the cap. It bounds the queue; it is not an exact quota.
    let limit = runner.settings.max_queued_per_script;
    if u64::try_from(script.queued).unwrap_or(0) >= limit {
        return Err(ExecutionError::QueueFull { name: script.name, limit });
    }
    let report = inputs::stored_report(script.inputs.as_deref());
    let inputs = inputs::prepare(&runner.secret_key, script_id, &script.name, report.as_ref(), given)?;
    let name = script.name.clone();
    let run = runner.submit(script_id, script, trigger, inputs, slot).await?;
    Ok(to_api(run, Some(name)))
}

/// Stops a run: a queued one at once, a running one through the instance that runs it (this
/// one directly, another through the database). Gives back the run as it is now.
pub async fn stop(db: &DatabaseConnection, runner: &Runner, id: i64, by: &str) -> Result<Execution, ExecutionError> {
    let run = get(db, id).await?;
    if run.status.is_final() {
        return Err(ExecutionError::AlreadyOver { id, status: run.status });
    }
    let at = queue::now();
    let reason = format!("stopped by {by} before it started");
    if queue::stop_queued(db, id, &reason, at).await? {
        metrics::run_finished(ExecutionStatus::Stopped, None);
        let script_id = run.script_id;
        runner.events.publish(Event::ExecutionError { execution_id: id, script_id, error: reason, at });
        runner.events.publish(Event::ExecutionFinished {
            execution_id: id,
            script_id,
            status: ExecutionStatus::Stopped,
            exit_code: None,
            at,
        });
    } else if !runner.end_locally(id, EndRequest::Stop { by: by.to_string() }) {
        if !queue::request_cancel(db, id).await? {
            // It ended between the read and now.
            let run = get(db, id).await?;
            return Err(ExecutionError::AlreadyOver { id, status: run.status });
        }
        // Running on another instance: it reads the flag at its next look, or now if it hears.
        runner.events.ring(Bell::Stop { execution_id: id, by: by.to_string() });
    }
    get(db, id).await
}

/// The status of a run, for log readers that need to know whether more may come.
pub async fn status(db: &impl ConnectionTrait, id: i64) -> Result<ExecutionStatus, ExecutionError> {
    let status: Option<ExecutionStatus> =
        execution::Entity::find_by_id(id).select_only().column(execution::Column::Status).into_tuple().one(db).await?;
    status.ok_or(ExecutionError::NotFound(id))
}
