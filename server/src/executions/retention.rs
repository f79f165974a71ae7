//! Retention: finished runs (and their logs) older than `PYTASK_RETENTION_DAYS`, or beyond the
//! newest `PYTASK_RETENTION_RUNS` of their script, are deleted by a background task of `all` and
//! `worker` instances, shortly after start and then every few minutes. Queued and running runs
//! are never touched, however old.
//!
//! A script's newest run is kept whatever its age: the script list shows it (and caches it, see
//! `scripts::list_cache`, which relies on a script's newest run going only with its script).
//!
//! Deletion goes in batches of at most `BATCH` runs (fewer when their logs are long), each its
//! own short transaction, with a pause between them, so writers (log lines, claims) wait at most
//! one batch. On PostgreSQL a batch is picked `FOR UPDATE SKIP LOCKED`: instances pruning at once
//! take different runs and never wait on each other; a run deleted meanwhile is simply gone.

use std::time::Duration;

use app::model::ExecutionStatus;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter, Statement,
    TransactionTrait, Value,
};
use tokio::sync::watch;

use crate::config::Config;
use crate::db::entities::{execution, execution_log_chunk};
use crate::telemetry::metrics;

/// Most runs deleted per transaction.
pub const BATCH: usize = 500;
/// Most log lines deleted per transaction (a batch of runs with long logs is cut short; a
/// single run always makes a batch).
const BATCH_LINES: i64 = 200_000;
/// Left to writers between two batches.
const PAUSE: Duration = Duration::from_millis(50);
/// The first pass, after start (not at once: start-up has its own work).
const FIRST_PASS: Duration = Duration::from_secs(30);
const EVERY: Duration = Duration::from_secs(300);

/// What to keep. A zero turns its rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Finished runs are kept this many days after their end.
    pub days: u32,
    /// Finished runs kept per script, the newest ones.
    pub runs_per_script: u32,
}

impl RetentionSettings {
    pub fn from_config(config: &Config) -> RetentionSettings {
        RetentionSettings { days: config.retention_days, runs_per_script: config.retention_runs }
    }

    fn keeps_everything(&self) -> bool {
        self.days == 0 && self.runs_per_script == 0
    }
}

/// What one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub executions: u64,
    /// Rows of `execution_log_chunks` (each holds many lines).
    pub log_chunks: u64,
    /// Transactions that deleted something.
    pub batches: u64,
}

/// Which finished runs a rule selects.
#[derive(Debug, Clone, Copy)]
enum Rule {
    EndedBefore(DateTime<Utc>),
    BeyondNewest(u32),
}

/// One pass at `now` (an argument, so tests can move the clock).
pub async fn prune(db: &DatabaseConnection, now: DateTime<Utc>, settings: &RetentionSettings) -> Result<Pruned, DbErr> {
    let mut pruned = Pruned::default();
    if settings.days > 0 {
        apply(db, Rule::EndedBefore(now - chrono::Duration::days(i64::from(settings.days))), &mut pruned).await?;
    }
    if settings.runs_per_script > 0 {
        apply(db, Rule::BeyondNewest(settings.runs_per_script), &mut pruned).await?;
    }
    Ok(pruned)
}

#[derive(Debug, FromQueryResult)]
struct Victim {
    id: i64,
    log_lines: i64,
}

async fn apply(db: &DatabaseConnection, rule: Rule, pruned: &mut Pruned) -> Result<(), DbErr> {
    loop {
        let (txn, victims) = match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let txn = db.begin().await?;
                let victims = pick(&txn, rule).await?;
                (txn, victims)
            }
            // One instance per SQLite file: nobody else prunes, and picking outside the write
            // lock keeps the (whole-table) selection of the per-script rule from blocking writers.
            _ => {
                let victims = pick(db, rule).await?;
                if victims.is_empty() {
                    return Ok(());
                }
                (crate::db::begin_write(db).await?, victims)
            }
        };
        if victims.is_empty() {
            return Ok(());
        }
        let mut lines = 0;
        let mut ids = Vec::new();
        for victim in &victims {
            lines += victim.log_lines.max(0);
            if !ids.is_empty() && lines > BATCH_LINES {
                break;
            }
            ids.push(victim.id);
        }
        let log_chunks = execution_log_chunk::Entity::delete_many()
            .filter(execution_log_chunk::Column::ExecutionId.is_in(ids.clone()))
            .exec(&txn)
            .await?
            .rows_affected;
        let executions = execution::Entity::delete_many()
            .filter(execution::Column::Id.is_in(ids.clone()))
            .filter(execution::Column::Status.is_in(finished()))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        if executions == 0 {
            return Ok(());
        }
        metrics::runs_pruned(executions);
        pruned.executions += executions;
        pruned.log_chunks += log_chunks;
        pruned.batches += 1;
        if victims.len() < BATCH && ids.len() == victims.len() {
            return Ok(());
        }
        tokio::time::sleep(PAUSE).await;
    }
}

fn finished() -> impl Iterator<Item = ExecutionStatus> {
    ExecutionStatus::ALL.iter().copied().filter(|status| status.is_final())
}

/// The next batch of runs `rule` deletes, oldest first.
async fn pick(db: &impl ConnectionTrait, rule: Rule) -> Result<Vec<Victim>, DbErr> {
    let backend = db.get_database_backend();
    // The words of the closed enum, not user input: safe to write into the statement.
    let finished = finished().map(|status| format!("'{}'", status.as_str())).collect::<Vec<_>>().join(", ");
    let param = match backend {
        DatabaseBackend::Postgres => "$1",
        _ => "?",
    };
    let lock = match backend {
        DatabaseBackend::Postgres => "FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let (condition, value): (String, Value) = match rule {
        Rule::EndedBefore(cutoff) => (
            format!(
                "status IN ({finished}) AND finished_at < {param} \
                 AND id < (SELECT MAX(newest.id) FROM executions newest WHERE newest.script_id = executions.script_id)"
            ),
            cutoff.into(),
        ),
        Rule::BeyondNewest(keep) => (
            format!(
                "id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY script_id ORDER BY id DESC) AS newer \
                 FROM executions WHERE status IN ({finished})) ranked WHERE newer > {param})"
            ),
            i64::from(keep).into(),
        ),
    };
    let sql = format!("SELECT id, log_lines FROM executions WHERE {condition} ORDER BY id LIMIT {BATCH} {lock}");
    Victim::find_by_statement(Statement::from_sql_and_values(backend, sql, [value])).all(db).await
}

/// The background pruning of one instance. Cheap to clone.
#[derive(Clone)]
pub struct Retention {
    db: DatabaseConnection,
    settings: RetentionSettings,
    closing: watch::Sender<bool>,
}

impl Retention {
    pub fn new(db: DatabaseConnection, settings: RetentionSettings) -> Retention {
        Retention { db, settings, closing: watch::channel(false).0 }
    }

    /// Starts the passes, unless both rules are off.
    pub fn start(&self) {
        if self.settings.keeps_everything() {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move { this.run().await });
    }

    /// Stops between two batches at the latest (at shutdown).
    pub fn stop(&self) {
        self.closing.send_replace(true);
    }

    async fn run(&self) {
        let mut closing = self.closing.subscribe();
        let mut pause = FIRST_PASS;
        loop {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = closing.wait_for(|c| *c) => return,
            }
            pause = EVERY;
            let pass = tokio::select! {
                pass = prune(&self.db, Utc::now(), &self.settings) => pass,
                // A batch cut short rolls back whole; the next start finishes the work.
                _ = closing.wait_for(|c| *c) => return,
            };
            match pass {
                Ok(pruned) if pruned.executions > 0 => {
                    tracing::info!(
                        executions = pruned.executions,
                        log_chunks = pruned.log_chunks,
                        batches = pruned.batches,
                        "finished runs past retention deleted with their logs"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::error!(%err, "pruning old runs failed; trying again at the next pass"),
            }
        }
    }
}
