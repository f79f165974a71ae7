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
//! Each schedule decides what its time does while a run it started still waits or runs
//! (`OverlapPolicy`: allow, skip, queue, cancel_previous). A due time found more than `grace`
//! late was missed while no instance ran: by its `CatchUp` policy the schedule passes those times
//! over, runs once for the latest, or runs each (up to `CATCH_UP_CAP`, marked `caught_up`), then
//! takes the next time after now. Every time passed over is recorded (`schedule_skips`, the
//! newest `SKIPS_KEPT` kept) with its reason, in the transaction that claims it. Between fires
//! the loop sleeps until the earliest due time, woken early when a schedule changes on this instance.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use app::model::{CatchUp, ExecutionStatus, OverlapPolicy, CATCH_UP_CAP};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{CaseStatement, Condition, Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set, TransactionTrait,
};
use tokio::sync::{watch, Notify};

use super::cron::Cron;
use super::realign::realign;
use crate::db::entities::{execution, schedule, schedule_skip};
use crate::events::relay::Bell;
use crate::executions::queue;
use crate::executions::worker::Runner;
use crate::telemetry::metrics;

/// Due schedules handled per transaction.
const BATCH: u64 = 256;

/// Skipped times kept per schedule; older ones are deleted as new ones come.
pub const SKIPS_KEPT: u64 = 100;

/// Missed times of one schedule looked at after a down time: a schedule firing every minute,
/// down for a week, is 10,080; beyond this they are counted as "more", not listed.
const MISSED_SCAN: usize = 20_000;

/// A due schedule, with what deciding about it needs.
#[derive(Debug, FromQueryResult)]
struct Due {
    id: i64,
    script_id: i64,
    cron_expression: String,
    timezone: String,
    next_run_at: DateTime<Utc>,
    overlap: OverlapPolicy,
    catch_up: CatchUp,
    script_active: bool,
    /// Runs of the script waiting in the queue now.
    queued: i64,
    /// Runs this schedule started that wait or run now.
    own_queued: i64,
    own_running: i64,
}

/// A due time fired: its schedule, script and the time it was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub schedule_id: i64,
    pub script_id: i64,
    pub due: DateTime<Utc>,
    /// Fired for a time missed while no instance ran.
    pub caught_up: bool,
}

/// A due time passed over, and why (stored in `schedule_skips`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub schedule_id: i64,
    pub due: DateTime<Utc>,
    pub reason: String,
}

/// What one pass of `fire_due` did.
#[derive(Debug, Default)]
pub struct Pass {
    /// Due times fired, one queued run each.
    pub fired: Vec<Fired>,
    /// Due times passed over and recorded: a run still going, a full queue, missed while down.
    pub skipped: Vec<Skipped>,
    /// Runs stopped, or asked to stop, for a schedule whose policy is `cancel_previous`.
    pub cancelled: Vec<i64>,
}

/// What to do with one claimed due schedule, decided from its row alone (the queue's fullness
/// is checked after, across the batch).
#[derive(Debug, Default)]
struct Plan {
    next: Option<DateTime<Utc>>,
    /// Due times to fire, with whether each is caught up.
    fire: Vec<(DateTime<Utc>, bool)>,
    skip: Vec<(DateTime<Utc>, String)>,
    cancel_previous: bool,
}

/// How a due time reads in a skip's reason: in UTC, to the second.
fn at(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn plan(row: &Due, now: DateTime<Utc>, missed_before: DateTime<Utc>) -> Plan {
    let cron = match Cron::parse(&row.cron_expression, &row.timezone) {
        Ok(cron) => cron,
        Err(err) => {
            tracing::error!(schedule_id = row.id, %err, "a stored schedule no longer parses; it is paused");
            return Plan::default();
        }
    };
    if row.next_run_at >= missed_before {
        let mut plan = Plan { next: cron.next_after(row.next_run_at), ..Plan::default() };
        let due = row.next_run_at;
        let busy = row.own_queued + row.own_running > 0;
        match row.overlap {
            OverlapPolicy::Skip if busy => {
                plan.skip.push((due, "the schedule's previous run was still going (overlap: skip)".into()));
            }
            OverlapPolicy::Queue if row.own_queued > 0 => {
                plan.skip.push((due, "a run of the schedule was already waiting to start (overlap: queue)".into()));
            }
            OverlapPolicy::CancelPrevious if busy => {
                plan.cancel_previous = true;
                plan.fire.push((due, false));
            }
            _ => plan.fire.push((due, false)),
        }
        return plan;
    }
    // Missed while no instance ran: the times from the one stored to now, by the policy.
    let mut missed = Vec::new();
    let mut more = 0_usize;
    let mut time = Some(row.next_run_at);
    while let Some(t) = time.filter(|t| *t <= now) {
        if missed.len() < MISSED_SCAN {
            missed.push(t);
        } else {
            more += 1;
            if more > MISSED_SCAN {
                break;
            }
        }
        time = cron.next_after(t);
    }
    let mut plan = Plan { next: cron.next_after(now), ..Plan::default() };
    let fired: Vec<DateTime<Utc>> = match row.catch_up {
        CatchUp::None => Vec::new(),
        CatchUp::Last => missed.last().copied().into_iter().collect(),
        CatchUp::All => missed.iter().copied().take(CATCH_UP_CAP).collect(),
    };
    plan.fire = fired.iter().map(|t| (*t, true)).collect();
    let passed: Vec<DateTime<Utc>> = missed.iter().copied().filter(|t| !fired.contains(t)).collect();
    // One record for the lot: a week down must not write ten thousand rows.
    if let (Some(first), Some(last)) = (passed.first(), passed.last()) {
        let count = passed.len() + more;
        let what = if count == 1 {
            "missed while no instance was running".to_string()
        } else {
            format!(
                "{count} times missed while no instance was running, {} to {}{}",
                at(*first),
                at(*last),
                if more > 0 { " and later" } else { "" }
            )
        };
        let policy = match row.catch_up {
            CatchUp::None => "catch-up: none",
            CatchUp::Last => "catch-up: last, which ran the latest of them",
            CatchUp::All => "catch-up: all, up to its cap",
        };
        plan.skip.push((*first, format!("{what} ({policy})")));
    }
    plan
}

/// Fires every schedule due at `now` (an argument, so tests can move the clock), each by its
/// overlap and catch-up policies. A due time of a script with `max_queued` runs waiting already
/// is skipped (and recorded): a schedule firing faster than its runs finish must not fill the
/// queue without end.
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
                schedule::Column::Overlap,
                schedule::Column::CatchUp,
            ])
            .column_as(crate::db::entities::script::Column::IsActive, "script_active")
            .column_as(
                Expr::cust(
                    "(SELECT COUNT(*) FROM executions WHERE executions.script_id = schedules.script_id AND executions.status = 'queued')",
                ),
                "queued",
            )
            .column_as(
                Expr::cust(
                    "(SELECT COUNT(*) FROM executions WHERE executions.schedule_id = schedules.id AND executions.status = 'queued')",
                ),
                "own_queued",
            )
            .column_as(
                Expr::cust(
                    "(SELECT COUNT(*) FROM executions WHERE executions.schedule_id = schedules.id AND executions.status = 'running')",
                ),
                "own_running",
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
        let moves: Vec<(Due, Plan)> = due
            .into_iter()
            .map(|row| {
                let plan = plan(&row, now, missed_before);
                (row, plan)
            })
            .collect();
        let fired_before = pass.fired.len();
        let txn = db.begin().await?;
        let claimed = claim(&txn, &moves).await?;
        let mut runs = Vec::new();
        let mut skips = Vec::new();
        // Runs this batch adds to each script's queue, on top of what was read.
        let mut added: std::collections::HashMap<i64, u64> = std::collections::HashMap::new();
        for (row, plan) in moves.iter().filter(|(row, _)| claimed.contains(&row.id)) {
            // A paused script's times pass silently: its schedules are paused with it.
            if !row.script_active {
                continue;
            }
            if plan.cancel_previous {
                pass.cancelled.extend(cancel_runs_of(&txn, row.id, now).await?);
            }
            for &(due, caught_up) in &plan.fire {
                let waiting = u64::try_from(row.queued).unwrap_or(0) + added.get(&row.script_id).copied().unwrap_or(0);
                if waiting >= max_queued {
                    tracing::warn!(
                        schedule_id = row.id,
                        script_id = row.script_id,
                        queued = waiting,
                        "a due time is skipped: the script has PYTASK_MAX_QUEUED_PER_SCRIPT runs waiting already"
                    );
                    let reason = format!("the script had {waiting} runs waiting already, its most (PYTASK_MAX_QUEUED_PER_SCRIPT)");
                    skips.push(Skipped { schedule_id: row.id, due, reason });
                    continue;
                }
                runs.push(queue::Fire { script_id: row.script_id, schedule_id: row.id, due_at: due, caught_up });
                *added.entry(row.script_id).or_default() += 1;
                pass.fired.push(Fired { schedule_id: row.id, script_id: row.script_id, due, caught_up });
            }
            for (due, reason) in &plan.skip {
                tracing::info!(schedule_id = row.id, due = %due, reason, "a due time is skipped");
                skips.push(Skipped { schedule_id: row.id, due: *due, reason: reason.clone() });
            }
        }
        queue::enqueue_fired(&txn, &runs).await?;
        record_skips(&txn, &skips, now).await?;
        txn.commit().await?;
        pass.skipped.extend(skips);
        for fired in &pass.fired[fired_before..] {
            metrics::schedule_fired(now - fired.due);
        }
        if !full {
            return Ok(pass);
        }
    }
}

/// Stops the waiting runs of schedule `id` and asks its running ones to stop (the instance
/// running each ends it): its next run replaces them. Gives their ids back.
async fn cancel_runs_of(txn: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<Vec<i64>, sea_orm::DbErr> {
    let going: Vec<(i64, ExecutionStatus)> = execution::Entity::find()
        .select_only()
        .columns([execution::Column::Id, execution::Column::Status])
        .filter(execution::Column::ScheduleId.eq(id))
        .filter(execution::Column::Status.is_in([ExecutionStatus::Queued, ExecutionStatus::Running]))
        .into_tuple()
        .all(txn)
        .await?;
    let mut cancelled = Vec::new();
    for (run, status) in going {
        let done = match status {
            ExecutionStatus::Queued => {
                queue::stop_queued(txn, run, "replaced by the schedule's next run (overlap: cancel_previous)", now).await?
            }
            _ => queue::request_cancel(txn, run).await?,
        };
        if done {
            cancelled.push(run);
        }
    }
    Ok(cancelled)
}

/// Stores the skipped times, and keeps the newest `SKIPS_KEPT` of each schedule.
async fn record_skips(txn: &impl ConnectionTrait, skips: &[Skipped], now: DateTime<Utc>) -> Result<(), sea_orm::DbErr> {
    if skips.is_empty() {
        return Ok(());
    }
    let rows = skips.iter().map(|skip| schedule_skip::ActiveModel {
        schedule_id: Set(skip.schedule_id),
        due_at: Set(skip.due),
        reason: Set(skip.reason.clone()),
        recorded_at: Set(now),
        ..Default::default()
    });
    schedule_skip::Entity::insert_many(rows).exec(txn).await?;
    let schedules: std::collections::BTreeSet<i64> = skips.iter().map(|skip| skip.schedule_id).collect();
    for id in schedules {
        let oldest_kept: Option<i64> = schedule_skip::Entity::find()
            .select_only()
            .column(schedule_skip::Column::Id)
            .filter(schedule_skip::Column::ScheduleId.eq(id))
            .order_by_desc(schedule_skip::Column::Id)
            .offset(SKIPS_KEPT - 1)
            .into_tuple()
            .one(txn)
            .await?;
        if let Some(oldest_kept) = oldest_kept {
            schedule_skip::Entity::delete_many()
                .filter(schedule_skip::Column::ScheduleId.eq(id))
                .filter(schedule_skip::Column::Id.lt(oldest_kept))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// Moves each schedule from its due time to its next one, in one UPDATE, only where the due
/// time is still the one read (else another instance, or a user, got there first); gives back
/// the ids moved.
async fn claim(txn: &impl ConnectionTrait, moves: &[(Due, Plan)]) -> Result<HashSet<i64>, sea_orm::DbErr> {
    let mut next: Option<CaseStatement> = None;
    let mut still_due = Condition::any();
    for (row, plan) in moves {
        let to = plan.next;
        let this = Expr::col(schedule::Column::Id).eq(row.id);
        next = Some(match next {
            None => Expr::case(this.clone(), Expr::value(to)),
            Some(case) => case.case(this.clone(), Expr::value(to)),
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
