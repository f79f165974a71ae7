//! Schedules of a script: list, create, change, delete. Every write that can move a due time
//! computes `next_run_at` itself; the caller wakes the scheduler.

use app::model::{InputsReport, NewSchedule, Schedule, ScheduleUpdate, ScheduledRun, SkippedTime, UnfitSchedule};
use app::validate::Invalid;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::cron::{Cron, CronError};
use super::ScheduleError;
use crate::db::entities::{execution, schedule, schedule_skip, script};
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

pub async fn list(db: &impl ConnectionTrait, key: &SecretKey, script_id: i64) -> Result<Vec<Schedule>, ScheduleError> {
    let script = find_script(db, script_id).await?;
    let rows = schedule::Entity::find().filter(schedule::Column::ScriptId.eq(script_id)).order_by_asc(schedule::Column::Id).all(db).await?;
    let mut schedules = Vec::with_capacity(rows.len());
    for row in rows {
        schedules.push(to_api(db, key, row, &script).await?);
    }
    Ok(schedules)
}

/// Every active schedule whose inputs no longer fit its script's saved code, by script name: the
/// dashboard's warning. Reads the schedules and only the names and inputs of their scripts.
pub async fn unfit(db: &impl ConnectionTrait, key: &SecretKey) -> Result<Vec<UnfitSchedule>, ScheduleError> {
    let rows = schedule::Entity::find().filter(schedule::Column::IsActive.eq(true)).order_by_asc(schedule::Column::Id).all(db).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = rows.iter().map(|row| row.script_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut scripts = std::collections::HashMap::with_capacity(ids.len());
    // In chunks: a statement's parameters are bounded (SQLite's 32766).
    for chunk in ids.chunks(1000) {
        // A paused script's schedules fire nothing: nothing of them can fail.
        let found: Vec<(i64, String, Option<String>)> = script::Entity::find()
            .select_only()
            .columns([script::Column::Id, script::Column::Name, script::Column::Inputs])
            .filter(script::Column::Id.is_in(chunk.iter().copied()))
            .filter(script::Column::IsActive.eq(true))
            .into_tuple()
            .all(db)
            .await?;
        scripts.extend(found.into_iter().map(|(id, name, inputs)| (id, (name, inputs))));
    }
    let mut unfit: Vec<UnfitSchedule> = rows
        .into_iter()
        .filter_map(|row| {
            let (name, stored) = scripts.get(&row.script_id)?;
            let problem = inputs_problem(key, &row, name, stored.as_deref())?;
            Some(UnfitSchedule {
                script_id: row.script_id,
                script_name: name.clone(),
                schedule_id: row.id,
                description: row.description,
                problem,
            })
        })
        .collect();
    unfit.sort_by(|a, b| a.script_name.cmp(&b.script_name).then(a.schedule_id.cmp(&b.schedule_id)));
    Ok(unfit)
}

/// Why a schedule's stored inputs no longer fit its script's saved inputs, checked as a fire
/// checks them: the sealed values, secrets included (an error never quotes a secret's value);
/// `None` when they fit.
fn inputs_problem(key: &SecretKey, row: &schedule::Model, script_name: &str, script_inputs: Option<&str>) -> Option<String> {
    let given: serde_json::Map<String, serde_json::Value> = match &row.inputs_sealed {
        Some(sealed) => inputs::open_for_schedule(key, row.script_id, sealed).unwrap_or_default(),
        None => row.inputs.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default(),
    };
    match inputs::stored_report(script_inputs) {
        Some(report) => report.resolve(&given).err().map(|err| err.to_string()),
        None if given.is_empty() => None,
        None => Some(inputs::InputsError::Unknown(script_name.to_string()).to_string()),
    }
}

pub async fn create(db: &impl ConnectionTrait, key: &SecretKey, script_id: i64, new: NewSchedule) -> Result<Schedule, ScheduleError> {
    let script = find_script(db, script_id).await?;
    let cron = checked(&new.cron_expression, new.timezone.as_deref().unwrap_or(DEFAULT_ZONE))?;
    let mut given = new.inputs;
    inputs::keep_secrets(report_of(&script).as_ref(), &mut given, None)?;
    let (shown, sealed) = sealed_inputs(key, &script, &given)?;
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
        overlap: Set(new.overlap),
        catch_up: Set(new.catch_up),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    to_api(db, key, row, &script).await
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
    let inputs = match change.inputs {
        Some(mut given) => {
            let stored = row.inputs_sealed.as_deref().and_then(|sealed| inputs::open_for_schedule(key, script_id, sealed));
            inputs::keep_secrets(report_of(&script).as_ref(), &mut given, stored.as_ref())?;
            Some(sealed_inputs(key, &script, &given)?)
        }
        None => None,
    };
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
    if let Some(overlap) = change.overlap {
        active.overlap = Set(overlap);
    }
    if let Some(catch_up) = change.catch_up {
        active.catch_up = Set(catch_up);
    }
    active.updated_at = Set(at);
    let row = active.update(db).await?;
    to_api(db, key, row, &script).await
}

/// The due times the schedule passed over, newest first (at most `SKIPS_KEPT` are kept).
pub async fn skipped(db: &impl ConnectionTrait, script_id: i64, id: i64) -> Result<Vec<SkippedTime>, ScheduleError> {
    find(db, script_id, id).await?;
    let rows = schedule_skip::Entity::find()
        .filter(schedule_skip::Column::ScheduleId.eq(id))
        .order_by_desc(schedule_skip::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|row| SkippedTime { due_at: row.due_at, reason: row.reason, recorded_at: row.recorded_at }).collect())
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

async fn to_api(
    db: &impl ConnectionTrait,
    key: &SecretKey,
    row: schedule::Model,
    script: &script::Model,
) -> Result<Schedule, ScheduleError> {
    let inputs_problem = inputs_problem(key, &row, &script.name, script.inputs.as_deref());
    let shown: serde_json::Map<String, serde_json::Value> =
        row.inputs.as_deref().and_then(|json| serde_json::from_str(json).ok()).unwrap_or_default();
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
        overlap: row.overlap,
        catch_up: row.catch_up,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
