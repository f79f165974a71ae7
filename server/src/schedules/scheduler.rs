//! Fires due schedules as queued runs, each due time exactly once.
//!
//! `schedules.next_run_at` is the claim: an instance fires a due time by moving `next_run_at`
//! from that time to the next one with a conditional UPDATE (`WHERE next_run_at = <due>`, one
//! statement for a batch of schedules) and queueing the runs in the same transaction (one
//! INSERT). Another instance racing for the same row waits for
//! that commit, then matches nothing; a crash before the commit leaves the due time unclaimed
//! and still due; after it, both the run and the new due time are stored. So each due time
//! fires once whatever the number of instances or restarts.
//!
//! A due time found more than `grace` late was missed while no instance ran: it is skipped, not
//! fired late, and the next one after now is taken. Between fires the loop sleeps until the
//! earliest due time, woken early when a schedule changes on this instance.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use app::model::Trigger;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{CaseStatement, Condition, Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, TransactionTrait,
};
use tokio::sync::{watch, Notify};

use super::cron::Cron;
use super::realign::realign;
use crate::db::entities::schedule;
use crate::events::relay::Bell;
use crate::executions::queue;
use crate::executions::worker::Runner;
use crate::telemetry::metrics;

/// Due schedules handled per transaction.
const BATCH: u64 = 256;

/// A due schedule, with what deciding about it needs.
#[derive(Debug, FromQueryResult)]
struct Due {
    id: i64,
    script_id: i64,
    cron_expression: String,
    timezone: String,
    next_run_at: DateTime<Utc>,
    script_active: bool,
    /// Runs of the script waiting in the queue now.
    queued: i64,
}

/// A due time fired: its schedule, script and the time it was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub schedule_id: i64,
    pub script_id: i64,
    pub due: DateTime<Utc>,
}

/// What one pass of `fire_due` did.
#[derive(Debug, Default)]
pub struct Pass {
    /// Due times fired, one queued run each.
    pub fired: Vec<Fired>,
    /// Due times passed over: too late (missed while down) or of an inactive script.
    pub skipped: usize,
}

/// Fires every schedule due at `now` (an argument, so tests can move the clock). A due time of a
/// script with `max_queued` runs waiting already is skipped (and logged): a schedule firing
/// faster than its runs finish must not fill the queue without end.
pub async fn fire_due(db: &DatabaseConnection, now: DateTime<Utc>, grace: Duration, max_queued: u64) -> Result<Pass, sea_orm::DbErr> {
    let missed_before = now - chrono::Duration::from_std(grace).unwrap_or_default();
    let mut pass = Pass::default();
    loop {
        let due = schedule::Entity::find()
            .select_only()
            .columns([
                schedule::Column::Id,
                schedule::Column::ScriptId,
                schedule::Column::CronExpression,
                schedule::Column::Timezone,
                schedule::Column::NextRunAt,
            ])
            .column_as(crate::db::entities::script::Column::IsActive, "script_active")
            .column_as(
                sea_orm::sea_query::Expr::cust(
                    "(SELECT COUNT(*) FROM executions WHERE executions.script_id = schedules.script_id AND executions.status = 'queued')",
                ),
                "queued",
            )
            .join(JoinType::InnerJoin, schedule::Relation::Script.def())
            .filter(schedule::Column::IsActive.eq(true))
            .filter(schedule::Column::NextRunAt.lte(now))
            .order_by_asc(schedule::Column::NextRunAt)
            .order_by_asc(schedule::Column::Id)
            .limit(BATCH)
            .into_model::<Due>()
            .all(db)
            .await?;
        let full = due.len() as u64 == BATCH;
        if due.is_empty() {
            return Ok(pass);
        }
        let moves: Vec<(Due, Option<DateTime<Utc>>)> = due
            .into_iter()
            .map(|row| {
                let on_time = row.next_run_at >= missed_before;
                let next = match Cron::parse(&row.cron_expression, &row.timezone) {
                    // Missed times are not replayed: the next due time counts from now.
                    Ok(cron) => cron.next_after(if on_time { row.next_run_at } else { now }),
                    Err(err) => {
                        tracing::error!(schedule_id = row.id, %err, "a stored schedule no longer parses; it is paused");
                        None
                    }
                };
                (row, next)
            })
            .collect();
        let fired_before = pass.fired.len();
        let txn = db.begin().await?;
        let claimed = claim(&txn, &moves).await?;
        let mut runs = Vec::new();
        // Runs this batch adds to each script's queue, on top of what was read.
        let mut added: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
        for (row, _) in moves.iter().filter(|(row, _)| claimed.contains(&row.id)) {
            let waiting = u64::try_from(row.queued).unwrap_or(0) + added.get(&row.script_id).copied().unwrap_or(0);
            let queue_full = waiting >= max_queued;
            if row.script_active && row.next_run_at >= missed_before && !queue_full {
                runs.push((row.script_id, Some(row.id)));
                *added.entry(row.script_id).or_default() += 1;
                pass.fired.push(Fired { schedule_id: row.id, script_id: row.script_id, due: row.next_run_at });
            } else {
                if row.script_active && queue_full {
                    tracing::warn!(
                        schedule_id = row.id,
                        script_id = row.script_id,
                        queued = row.queued,
                        "a due time is skipped: the script has PYTASK_MAX_QUEUED_PER_SCRIPT runs waiting already"
                    );
                } else if row.script_active {
                    tracing::warn!(schedule_id = row.id, due = %row.next_run_at, "a due time missed while no instance was running is skipped");
                }
                pass.skipped += 1;
            }
        }
        queue::enqueue_many(&txn, &runs, Trigger::Schedule).await?;
        txn.commit().await?;
        for fired in &pass.fired[fired_before..] {
            metrics::schedule_fired(now - fired.due);
        }
        if !full {
            return Ok(pass);
        }
    }
}

/// Moves each schedule from its due time to its next one, in one UPDATE, only where the due
/// time is still the one read (else another instance, or a user, got there first); gives back
/// the ids moved.
async fn claim(txn: &impl ConnectionTrait, moves: &[(Due, Option<DateTime<Utc>>)]) -> Result<HashSet<i64>, sea_orm::DbErr> {
    let mut next: Option<CaseStatement> = None;
    let mut still_due = Condition::any();
    for (row, to) in moves {
        let this = Expr::col(schedule::Column::Id).eq(row.id);
        next = Some(match next {
            None => Expr::case(this.clone(), Expr::value(*to)),
            Some(case) => case.case(this.clone(), Expr::value(*to)),
        });
        still_due = still_due.add(Condition::all().add(this).add(Expr::col(schedule::Column::NextRunAt).eq(row.next_run_at)));
    }
    let Some(next) = next else { return Ok(HashSet::new()) };
    let next: SimpleExpr = next.finally(Expr::col(schedule::Column::NextRunAt)).into();
    let update = Query::update()
        .table(schedule::Entity)
        .value(schedule::Column::NextRunAt, next)
        .cond_where(
            Condition::all()
                // The id list lets SQLite look the rows up by key instead of testing every row
                // against the whole OR.
                .add(Expr::col(schedule::Column::Id).is_in(moves.iter().map(|(row, _)| row.id)))
                .add(Expr::col(schedule::Column::IsActive).eq(true))
                .add(still_due),
        )
        .returning_col(schedule::Column::Id)
        .to_owned();
    let rows = txn.query_all(txn.get_database_backend().build(&update)).await?;
    rows.iter().map(|row| row.try_get::<i64>("", "id")).collect()
}

/// The earliest due time of an active schedule.
async fn next_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
    let earliest: Option<Option<DateTime<Utc>>> = schedule::Entity::find()
        .select_only()
        .column_as(schedule::Column::NextRunAt.min(), "earliest")
        .filter(schedule::Column::IsActive.eq(true))
        .into_tuple()
        .one(db)
        .await?;
    Ok(earliest.flatten())
}

/// The scheduler of one instance. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    db: DatabaseConnection,
    runner: Runner,
    grace: Duration,
    wake: Arc<Notify>,
    closing: watch::Sender<bool>,
}

impl Scheduler {
    pub fn new(db: DatabaseConnection, runner: Runner, grace: Duration) -> Scheduler {
        Scheduler { db, runner, grace, wake: Arc::default(), closing: watch::channel(false).0 }
    }

    /// A schedule was created, changed or deleted: the sleep until the old earliest due time
    /// may be wrong.
    pub fn wake(&self) {
        self.wake_here();
        self.runner.events.ring(Bell::Schedules);
    }

    /// Wakes this instance's loop only (another instance rang).
    pub fn wake_here(&self) {
        self.wake.notify_one();
    }

    pub fn start(&self) {
        let this = self.clone();
        tokio::spawn(async move { this.run().await });
    }

    /// Stops firing (at shutdown, before the runs are drained).
    pub fn stop(&self) {
        self.closing.send_replace(true);
    }

    async fn run(&self) {
        match realign(&self.db, Utc::now()).await {
            Ok(done) if done.reworded > 0 => tracing::info!(schedules = done.reworded, "schedule descriptions reworded"),
            Ok(_) => {}
            // The schedules keep firing as stored; the next start tries again.
            Err(err) => tracing::error!(%err, "could not bring stored schedules in line with this version's cron rules"),
        }
        let mut closing = self.closing.subscribe();
        // Changes made on other instances ring this one (events::relay); the look-again is the
        // safety net for a notification lost while the listening connection was down.
        let look_again = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => Duration::from_secs(60),
            _ => Duration::from_secs(5),
        };
        loop {
            if *closing.borrow() {
                return;
            }
            let pause = match self.pass().await {
                Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or_default().min(look_again),
                Ok(None) => look_again,
                Err(err) => {
                    tracing::error!(%err, "the scheduler could not read or fire schedules; retrying in a second");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.wake.notified() => {}
                _ = closing.wait_for(|c| *c) => return,
            }
        }
    }

    /// Fires what is due and tells when the next due time is.
    async fn pass(&self) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
        let pass = fire_due(&self.db, Utc::now(), self.grace, self.runner.settings.max_queued_per_script).await?;
        if !pass.fired.is_empty() {
            tracing::info!(runs = pass.fired.len(), "schedules fired");
            self.runner.wake();
        }
        next_due(&self.db).await
    }
}
