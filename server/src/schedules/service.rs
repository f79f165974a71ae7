//! Schedules of a script: list, create, change, delete. Every write that can move a due time
//! computes `next_run_at` itself; the caller wakes the scheduler.

use app::model::{InputsReport, NewSchedule, Schedule, ScheduleUpdate, ScheduledRun};
use app::validate::Invalid;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};

use super::cron::{Cron, CronError};
use super::ScheduleError;
use crate::db::entities::{execution, schedule, script};
use crate::env::SecretKey;
use crate::executions::inputs;
use crate::executions::queue::now;

/// The zone of a schedule created without one.
pub const DEFAULT_ZONE: &str = "UTC";

/// Checks an expression and zone as fields of a schedule's body.
fn checked(expression: &str, zone: &str) -> Result<Cron, Invalid> {
    Cron::parse(expression, zone).map_err(|err| match err {
        CronError::Expression(message) => Invalid { field: "cron_expression", message },
        CronError::Zone(message) => Invalid { field: "timezone", message },
    })
}

pub async fn list(db: &impl ConnectionTrait, script_id: i64) -> Result<Vec<Schedule>, ScheduleError> {
    let script = find_script(db, script_id).await?;
    let rows = schedule::Entity::find().filter(schedule::Column::ScriptId.eq(script_id)).order_by_asc(schedule::Column::Id).all(db).await?;
    let mut schedules = Vec::with_capacity(rows.len());
    for row in rows {
        schedules.push(to_api(db, row, &script).await?);
    }
    Ok(schedules)
}

pub async fn create(db: &impl ConnectionTrait, key: &SecretKey, script_id: i64, new: NewSchedule) -> Result<Schedule, ScheduleError> {
    let script = find_script(db, script_id).await?;
    let cron = checked(&new.cron_expression, new.timezone.as_deref().unwrap_or(DEFAULT_ZONE))?;
    let (shown, sealed) = sealed_inputs(key, &script, &new.inputs)?;
    let at = now();
    let row = schedule::ActiveModel {
        script_id: Set(script_id),
        cron_expression: Set(cron.expression.clone()),
        timezone: Set(cron.zone.name().to_string()),
        is_active: Set(new.is_active),
        description: Set(cron.describe()),
        next_run_at: Set(new.is_active.then(|| cron.next_after(at)).flatten()),
        inputs: Set(shown),
        inputs_sealed: Set(sealed),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    to_api(db, row, &script).await
}

/// A schedule's inputs checked against the script's saved code, as stored: shown and sealed;
/// none stored when none are given.
fn sealed_inputs(
    key: &SecretKey,
    script: &script::Model,
    given: &serde_json::Map<String, serde_json::Value>,
) -> Result<(Option<String>, Option<Vec<u8>>), ScheduleError> {
    let report = report_of(script);
    let (shown, sealed) = inputs::seal_for_schedule(key, script.id, &script.name, report.as_ref(), given)?;
    Ok(if given.is_empty() { (None, None) } else { (Some(shown), Some(sealed)) })
}

/// What the script's saved code takes; `None` if it could not be read.
fn report_of(script: &script::Model) -> Option<InputsReport> {
    inputs::stored_report(script.inputs.as_deref())
}

/// Applies the fields present. The due time is recomputed from now when the expression, the
/// zone or the switch changes, and kept otherwise (an unrelated edit must not skip a fire).
pub async fn update(
    db: &impl ConnectionTrait,
    key: &SecretKey,
    script_id: i64,
    id: i64,
    change: ScheduleUpdate,
) -> Result<Schedule, ScheduleError> {
    let script = find_script(db, script_id).await?;
    let row = find(db, script_id, id).await?;
    let inputs = change.inputs.as_ref().map(|given| sealed_inputs(key, &script, given)).transpose()?;
    let expression = change.cron_expression.as_deref().unwrap_or(&row.cron_expression);
    let zone = change.timezone.as_deref().unwrap_or(&row.timezone);
    let cron = checked(expression, zone)?;
    let is_active = change.is_active.unwrap_or(row.is_active);
    let moved = cron.expression != row.cron_expression || cron.zone.name() != row.timezone || is_active != row.is_active;
    let at = now();
    let mut active: schedule::ActiveModel = row.clone().into();
    if moved {
        active.next_run_at = Set(is_active.then(|| cron.next_after(at)).flatten());
    }
    active.description = Set(cron.describe());
    active.cron_expression = Set(cron.expression);
    active.timezone = Set(cron.zone.name().to_string());
    active.is_active = Set(is_active);
    if let Some((shown, sealed)) = inputs {
        active.inputs = Set(shown);
        active.inputs_sealed = Set(sealed);
    }
    active.updated_at = Set(at);
    let row = active.update(db).await?;
    to_api(db, row, &script).await
}

pub async fn delete(db: &impl ConnectionTrait, script_id: i64, id: i64) -> Result<(), ScheduleError> {
    find(db, script_id, id).await?;
    // Its past runs stay, with `schedule_id` set to NULL by the foreign key.
    schedule::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

async fn script_exists(db: &impl ConnectionTrait, script_id: i64) -> Result<(), ScheduleError> {
    match script::Entity::find_by_id(script_id).count(db).await? {
        0 => Err(ScheduleError::ScriptNotFound(script_id)),
        _ => Ok(()),
    }
}

async fn find_script(db: &impl ConnectionTrait, script_id: i64) -> Result<script::Model, ScheduleError> {
    script::Entity::find_by_id(script_id).one(db).await?.ok_or(ScheduleError::ScriptNotFound(script_id))
}

async fn find(db: &impl ConnectionTrait, script_id: i64, id: i64) -> Result<schedule::Model, ScheduleError> {
    script_exists(db, script_id).await?;
    schedule::Entity::find_by_id(id)
        .filter(schedule::Column::ScriptId.eq(script_id))
        .one(db)
        .await?
        .ok_or(ScheduleError::NotFound { script_id, id })
}

async fn to_api(db: &impl ConnectionTrait, row: schedule::Model, script: &script::Model) -> Result<Schedule, ScheduleError> {
    let shown: serde_json::Map<String, serde_json::Value> =
        row.inputs.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default();
    // Checked as a fire will check them (the shown `***` stands for a secret's text).
    let inputs_problem = match report_of(script) {
        Some(report) => report.resolve(&shown).err().map(|err| err.to_string()),
        None if shown.is_empty() => None,
        None => Some(inputs::InputsError::Unknown(script.name.clone()).to_string()),
    };
    let last_run = execution::Entity::find()
        .filter(execution::Column::ScheduleId.eq(row.id))
        .order_by_desc(execution::Column::Id)
        .one(db)
        .await?
        .map(|run| ScheduledRun { id: run.id, status: run.status, queued_at: run.queued_at });
    Ok(Schedule {
        id: row.id,
        script_id: row.script_id,
        cron_expression: row.cron_expression,
        timezone: row.timezone,
        is_active: row.is_active,
        description: row.description,
        next_run_at: row.next_run_at,
        last_run,
        inputs: shown,
        inputs_problem,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
