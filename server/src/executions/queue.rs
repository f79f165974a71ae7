//! The run queue and a run's life in the database: enqueue, claim, finish, stop, and `lost`.
//!
//! The database is the queue: a worker claims the oldest `queued` run with one conditional
//! UPDATE (with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers of several instances never
//! take the same run, nor wait on each other's row). Every status change is conditional on the
//! status it leaves, so a late writer (a stop racing the end, a sweep racing a finish) changes
//! nothing instead of overwriting a final status.
//!
//! A run queued by an instance with an idle worker may be queued *held*: `worker_id` is set
//! from the start, no other worker claims it, and the holder marks it `running` while its
//! process starts (`start_held`) instead of claiming it first. The holder dying leaves it
//! `lost`, like a running run: it may have started.

use app::model::{ExecutionStatus, InputStyle, ResourceUsage, Trigger};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use super::inputs::RunInputs;
use crate::db::entities::{execution, instance};

pub fn now() -> DateTime<Utc> {
    // Both backends keep microseconds; a value read back then equals the one written.
    Utc::now().trunc_subsecs(6)
}

/// A run queued held by an instance (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// The instance that starts it.
    pub instance: &'a str,
    /// The id `starting` reserved for it, if any.
    pub id: Option<i64>,
    /// The script's network setting the holder starts it with (`Starting::network`), stored
    /// now: no claim will record it.
    pub network: bool,
}

/// Adds a queued run, held if `held` says by whom. The run is given back as inserted, not read
/// again: a worker may take it at once, and the caller answers "queued".
pub async fn enqueue(
    db: &impl ConnectionTrait,
    script_id: i64,
    trigger: Trigger,
    held: Option<Held<'_>>,
    inputs: Option<&RunInputs>,
) -> Result<execution::Model, sea_orm::DbErr> {
    let queued_at = now();
    let mut row = queued(script_id, trigger, None, queued_at);
    if let Some(inputs) = inputs {
        row.input_style = Set(Some(inputs.style));
        row.inputs = Set(Some(inputs.shown.clone()));
        row.inputs_sealed = Set(Some(inputs.sealed.clone()));
    }
    if let Some(held) = held {
        row.worker_id = Set(Some(held.instance.to_string()));
        row.network = Set(Some(held.network));
        if let Some(id) = held.id {
            row.id = Set(id);
        }
    }
    let id = execution::Entity::insert(row).exec(db).await?.last_insert_id;
    Ok(execution::Model {
        id,
        script_id,
        status: ExecutionStatus::Queued,
        trigger,
        schedule_id: None,
        queued_at,
        started_at: None,
        finished_at: None,
        exit_code: None,
        error: None,
        worker_id: held.map(|h| h.instance.to_string()),
        log_lines: 0,
        cancel_requested: false,
        network: held.map(|h| h.network),
        sandboxed: None,
        peak_memory_bytes: None,
        cpu_seconds: None,
        masked: 0,
        input_style: inputs.map(|i| i.style),
        inputs: inputs.map(|i| i.shown.clone()),
        inputs_sealed: inputs.map(|i| i.sealed.clone()),
        result: None,
        due_at: None,
        caught_up: false,
    })
}

/// What starting a run reads of its script, in one round trip: the script, its requirement
/// count and, on PostgreSQL when `reserve` is asked, the id of the run about to be queued, from
/// the table's own sequence (a read, no commit: the run's process can start while its insert
/// commits). SQLite leaves `reserved` empty: there the insert gives the id and costs no fsync.
#[derive(Debug, FromQueryResult)]
pub struct Starting {
    pub name: String,
    pub content: String,
    pub is_active: bool,
    pub timeout_seconds: Option<i32>,
    pub network: bool,
    /// Its inputs as read from its code (`InputsReport` as JSON); empty if unread.
    pub inputs: Option<String>,
    pub requirements: i64,
    /// Runs of the script waiting in the queue now.
    pub queued: i64,
    pub reserved: Option<i64>,
}

pub async fn starting(db: &impl ConnectionTrait, script_id: i64, reserve: bool) -> Result<Option<Starting>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let (reserved, param) = match backend {
        DatabaseBackend::Postgres if reserve => ("nextval(pg_get_serial_sequence('executions', 'id'))", "$1"),
        DatabaseBackend::Postgres => ("CAST(NULL AS BIGINT)", "$1"),
        _ => ("NULL", "?"),
    };
    let sql = format!(
        "SELECT name, content, is_active, timeout_seconds, network, inputs, \
         (SELECT COUNT(*) FROM dependencies WHERE dependencies.script_id = scripts.id) AS requirements, \
         (SELECT COUNT(*) FROM executions WHERE executions.script_id = scripts.id AND executions.status = 'queued') AS queued, \
         {reserved} AS reserved FROM scripts WHERE id = {param}"
    );
    Starting::find_by_statement(Statement::from_sql_and_values(backend, sql, [script_id.into()])).one(db).await
}

/// A run a schedule fires: for which due time, and whether that time was missed while no
/// instance ran.
#[derive(Debug, Clone, Copy)]
pub struct Fire {
    pub script_id: i64,
    pub schedule_id: i64,
    pub due_at: DateTime<Utc>,
    pub caught_up: bool,
}

/// Adds the runs schedules fire with one INSERT.
pub async fn enqueue_fired(db: &impl ConnectionTrait, runs: &[Fire]) -> Result<(), sea_orm::DbErr> {
    if runs.is_empty() {
        return Ok(());
    }
    let queued_at = now();
    let rows = runs.iter().map(|fire| {
        let mut row = queued(fire.script_id, Trigger::Schedule, Some(fire.schedule_id), queued_at);
        row.due_at = Set(Some(fire.due_at));
        row.caught_up = Set(fire.caught_up);
        row
    });
    execution::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

fn queued(script_id: i64, trigger: Trigger, schedule_id: Option<i64>, queued_at: DateTime<Utc>) -> execution::ActiveModel {
    execution::ActiveModel {
        script_id: Set(script_id),
        status: Set(ExecutionStatus::Queued),
        trigger: Set(trigger),
        schedule_id: Set(schedule_id),
        queued_at: Set(queued_at),
        log_lines: Set(0),
        cancel_requested: Set(false),
        caught_up: Set(false),
        ..Default::default()
    }
}

/// A claimed run with what starting it needs of its script, read by the claim itself (one
/// round trip, not three, between "a run is queued" and "its process starts").
#[derive(Debug, FromQueryResult)]
pub struct Claimed {
    pub id: i64,
    pub script_id: i64,
    pub name: Option<String>,
    pub content: Option<String>,
    pub timeout_seconds: Option<i32>,
    /// Whether the run may reach the network: the script's setting, stored with the run by the
    /// claim (or, for a held run, by its insert), so the run's record says what it ran with.
    pub network: bool,
    /// How many requirements the script has (none: a venv is all it needs).
    pub requirements: i64,
    /// How the run takes its inputs, and what its process is given of them, sealed
    /// (`executions::inputs`); empty for a run without inputs.
    pub input_style: Option<InputStyle>,
    pub inputs_sealed: Option<Vec<u8>>,
    /// The schedule that fired it: its inputs are read as it starts.
    pub schedule_id: Option<i64>,
}

/// The claim records the script's network setting with the run. A script deleted meanwhile
/// (its runs go with it) has none: no network, the safe side.
const CLAIM_NETWORK: &str = "network = COALESCE((SELECT network FROM scripts WHERE scripts.id = executions.script_id), FALSE)";

const CLAIM_RETURNING: &str = "RETURNING id, script_id, schedule_id, network, input_style, inputs_sealed, \
    (SELECT name FROM scripts WHERE scripts.id = executions.script_id) AS name, \
    (SELECT content FROM scripts WHERE scripts.id = executions.script_id) AS content, \
    (SELECT timeout_seconds FROM scripts WHERE scripts.id = executions.script_id) AS timeout_seconds, \
    (SELECT COUNT(*) FROM dependencies WHERE dependencies.script_id = executions.script_id) AS requirements";

/// Takes the oldest queued run for `instance`, marking it `running`; `None` when the queue is empty.
pub async fn claim(db: &DatabaseConnection, instance: &str) -> Result<Option<(Claimed, DateTime<Utc>)>, sea_orm::DbErr> {
    let started = now();
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            "UPDATE executions SET status = 'running', worker_id = $1, started_at = $2, {CLAIM_NETWORK} \
             WHERE id = (SELECT id FROM executions WHERE status = 'queued' AND worker_id IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             AND status = 'queued' {CLAIM_RETURNING}"
        ),
        // SQLite runs one writer at a time: the statement is atomic as it stands.
        _ => format!(
            "UPDATE executions SET status = 'running', worker_id = ?, started_at = ?, {CLAIM_NETWORK} \
             WHERE id = (SELECT id FROM executions WHERE status = 'queued' AND worker_id IS NULL ORDER BY id LIMIT 1) \
             AND status = 'queued' {CLAIM_RETURNING}"
        ),
    };
    let statement = Statement::from_sql_and_values(backend, sql, [instance.into(), started.into()]);
    Ok(Claimed::find_by_statement(statement).one(db).await?.map(|claimed| (claimed, started)))
}

/// Marks `running` a run queued held by `instance`: false if it is no longer queued (stopped
/// before it started).
pub async fn start_held(db: &impl ConnectionTrait, id: i64, instance: &str, at: DateTime<Utc>) -> Result<bool, sea_orm::DbErr> {
    let result = execution::Entity::update_many()
        .col_expr(execution::Column::Status, Expr::value(ExecutionStatus::Running))
        .col_expr(execution::Column::StartedAt, Expr::value(at))
        .filter(execution::Column::Id.eq(id))
        .filter(execution::Column::Status.eq(ExecutionStatus::Queued))
        .filter(execution::Column::WorkerId.eq(instance))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How a run ended, as stored.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: ExecutionStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// What its processes used, from its cgroup (empty when it could not be read).
    pub usage: ResourceUsage,
    /// Whether it ran in a sandbox.
    pub sandboxed: bool,
    /// Secret values replaced in its output and error.
    pub masked: i64,
    /// What `main()` returned (JSON).
    pub result: Option<String>,
}

impl Outcome {
    /// An outcome whose usage and isolation are filled in once the run's sandbox is read.
    pub fn new(status: ExecutionStatus, exit_code: Option<i32>, error: Option<String>) -> Outcome {
        Outcome { status, exit_code, error, usage: ResourceUsage::default(), sandboxed: false, masked: 0, result: None }
    }
}

/// Writes the final status of a run this instance holds; false if it is no longer `running`
/// here (another instance declared it lost meanwhile).
pub async fn finish(
    db: &impl ConnectionTrait,
    id: i64,
    instance: &str,
    outcome: &Outcome,
    at: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let result = execution::Entity::update_many()
        .col_expr(execution::Column::Status, Expr::value(outcome.status))
        .col_expr(execution::Column::FinishedAt, Expr::value(at))
        .col_expr(execution::Column::ExitCode, Expr::value(outcome.exit_code))
        .col_expr(execution::Column::Error, Expr::value(outcome.error.clone()))
        .col_expr(execution::Column::Sandboxed, Expr::value(outcome.sandboxed))
        .col_expr(execution::Column::PeakMemoryBytes, Expr::value(outcome.usage.peak_memory_bytes))
        .col_expr(execution::Column::CpuSeconds, Expr::value(outcome.usage.cpu_seconds))
        .col_expr(execution::Column::Masked, Expr::value(outcome.masked))
        .col_expr(execution::Column::Result, Expr::value(outcome.result.clone()))
        // Its process has had them: the sealed copy of its inputs is not kept.
        .col_expr(execution::Column::InputsSealed, Expr::value(Option::<Vec<u8>>::None))
        .filter(execution::Column::Id.eq(id))
        .filter(execution::Column::Status.eq(ExecutionStatus::Running))
        .filter(execution::Column::WorkerId.eq(instance))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records the inputs a run of a schedule was given as it started.
pub async fn set_inputs(db: &impl ConnectionTrait, id: i64, inputs: &RunInputs) -> Result<(), sea_orm::DbErr> {
    execution::Entity::update_many()
        .col_expr(execution::Column::InputStyle, Expr::value(Some(inputs.style)))
        .col_expr(execution::Column::Inputs, Expr::value(Some(inputs.shown.clone())))
        .filter(execution::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends a run that has not started: true if it was still queued.
pub async fn stop_queued(db: &impl ConnectionTrait, id: i64, reason: &str, at: DateTime<Utc>) -> Result<bool, sea_orm::DbErr> {
    let result = execution::Entity::update_many()
        .col_expr(execution::Column::Status, Expr::value(ExecutionStatus::Stopped))
        .col_expr(execution::Column::FinishedAt, Expr::value(at))
        .col_expr(execution::Column::Error, Expr::value(reason))
        .col_expr(execution::Column::InputsSealed, Expr::value(Option::<Vec<u8>>::None))
        .filter(execution::Column::Id.eq(id))
        .filter(execution::Column::Status.eq(ExecutionStatus::Queued))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Asks the instance running `id` to stop it: true if it is running.
pub async fn request_cancel(db: &impl ConnectionTrait, id: i64) -> Result<bool, sea_orm::DbErr> {
    let result = execution::Entity::update_many()
        .col_expr(execution::Column::CancelRequested, Expr::value(true))
        .filter(execution::Column::Id.eq(id))
        .filter(execution::Column::Status.eq(ExecutionStatus::Running))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn cancel_requested(db: &impl ConnectionTrait, id: i64) -> Result<bool, sea_orm::DbErr> {
    let flag: Option<bool> =
        execution::Entity::find_by_id(id).select_only().column(execution::Column::CancelRequested).into_tuple().one(db).await?;
    Ok(flag.unwrap_or(false))
}

/// Records how many lines a run has stored.
pub async fn set_log_lines(db: &impl ConnectionTrait, id: i64, lines: i64) -> Result<(), sea_orm::DbErr> {
    execution::Entity::update_many()
        .col_expr(execution::Column::LogLines, Expr::value(lines))
        .filter(execution::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The scripts whose runs were queued last, most recent first (`limit` of them).
pub async fn recent_scripts(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<i64>, sea_orm::DbErr> {
    execution::Entity::find()
        .select_only()
        .column(execution::Column::ScriptId)
        .group_by(execution::Column::ScriptId)
        .order_by_desc(Expr::col(execution::Column::Id).max())
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// How many runs are queued and how many running, across instances: one range of the
/// (status, queued_at) index, cheap enough to run at every scrape.
pub async fn unfinished(db: &impl ConnectionTrait) -> Result<(u64, u64), sea_orm::DbErr> {
    let counts: Vec<(ExecutionStatus, i64)> = execution::Entity::find()
        .select_only()
        .column(execution::Column::Status)
        .column_as(execution::Column::Id.count(), "runs")
        .filter(execution::Column::Status.is_in([ExecutionStatus::Queued, ExecutionStatus::Running]))
        .group_by(execution::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let of = |status| counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
    Ok((of(ExecutionStatus::Queued), of(ExecutionStatus::Running)))
}

/// Announces this instance (its heartbeat row).
pub async fn register_instance(db: &impl ConnectionTrait, id: &str, role: &str) -> Result<(), sea_orm::DbErr> {
    let at = now();
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
    instance::ActiveModel {
        id: Set(id.to_string()),
        role: Set(role.to_string()),
        host: Set(host.chars().take(255).collect()),
        pid: Set(i64::from(std::process::id())),
        started_at: Set(at),
        heartbeat_at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn heartbeat(db: &impl ConnectionTrait, id: &str) -> Result<(), sea_orm::DbErr> {
    instance::Entity::update_many()
        .col_expr(instance::Column::HeartbeatAt, Expr::value(now()))
        .filter(instance::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// How many instances that run work (`all` or `worker`) have a heartbeat newer than `cutoff`.
pub async fn live_workers(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
    instance::Entity::find()
        .filter(instance::Column::HeartbeatAt.gt(cutoff))
        .filter(instance::Column::Role.is_in(["all", "worker"]))
        .count(db)
        .await
}

pub async fn unregister_instance(db: &impl ConnectionTrait, id: &str) -> Result<(), sea_orm::DbErr> {
    instance::Entity::delete_by_id(id.to_string()).exec(db).await?;
    Ok(())
}

/// Marks `lost` the runs held by instances other than `me` whose heartbeat is older than
/// `cutoff` (or that have no instance row at all); gives back their ids. `everyone_else`: every
/// other instance counts as dead (SQLite, where only one instance can use the database).
/// Marks the runs of dead instances `lost`; gives back each as (execution id, script id).
pub async fn sweep_lost(
    db: &DatabaseConnection,
    me: &str,
    cutoff: DateTime<Utc>,
    everyone_else: bool,
) -> Result<Vec<(i64, i64)>, sea_orm::DbErr> {
    let alive: Vec<String> = if everyone_else {
        vec![me.to_string()]
    } else {
        instance::Entity::find()
            .select_only()
            .column(instance::Column::Id)
            .filter(instance::Column::HeartbeatAt.gt(cutoff))
            .into_tuple()
            .all(db)
            .await?
    };
    // Running runs, and queued ones held by an instance (see `start_held`).
    let orphans: Vec<(i64, i64, ExecutionStatus, Option<String>)> = execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .column(execution::Column::ScriptId)
        .column(execution::Column::Status)
        .column(execution::Column::WorkerId)
        .filter(Condition::any().add(execution::Column::Status.eq(ExecutionStatus::Running)).add(
            Condition::all().add(execution::Column::Status.eq(ExecutionStatus::Queued)).add(execution::Column::WorkerId.is_not_null()),
        ))
        .into_tuple()
        .all(db)
        .await?;
    let mut lost = Vec::new();
    for (id, script_id, status, worker) in orphans {
        if worker.as_ref().is_some_and(|w| alive.contains(w)) {
            continue;
        }
        let message = match (&worker, status) {
            (Some(worker), ExecutionStatus::Queued) => {
                format!("the instance that was starting it ({worker}) stopped (no heartbeat); the script may have started")
            }
            (Some(worker), _) => format!(
                "the instance running it ({worker}) stopped without finishing it (no heartbeat); the log keeps the lines it had stored"
            ),
            (None, _) => "it was marked running without an instance".to_string(),
        };
        let result = execution::Entity::update_many()
            .col_expr(execution::Column::Status, Expr::value(ExecutionStatus::Lost))
            .col_expr(execution::Column::FinishedAt, Expr::value(now()))
            .col_expr(execution::Column::Error, Expr::value(message))
            .col_expr(execution::Column::InputsSealed, Expr::value(Option::<Vec<u8>>::None))
            .filter(execution::Column::Id.eq(id))
            .filter(execution::Column::Status.eq(status))
            .filter(match &worker {
                Some(w) => execution::Column::WorkerId.eq(w.clone()),
                None => execution::Column::WorkerId.is_null(),
            })
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            lost.push((id, script_id));
        }
    }
    // Rows of instances dead for a day are history nobody needs.
    instance::Entity::delete_many().filter(instance::Column::HeartbeatAt.lt(cutoff - chrono::Duration::days(1))).exec(db).await?;
    Ok(lost)
}
