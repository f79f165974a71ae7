//! Retention: which runs a pass deletes (old and surplus finished runs, with their logs) and
//! which it never does (queued, running, a script's newest), a zero turning a rule off, and a
//! large prune in batches, also with two pruners at once. Runs are made directly in the
//! database, on a `web` instance (no worker, no background pruning to race the test).

use app::model::{ExecutionStatus, LogLine, LogStream, Trigger};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;
use server::db::entities::{execution, execution_log_chunk};
use server::executions::logs;
use server::executions::retention::{prune, Pruned, RetentionSettings, BATCH};

use crate::helpers::{spawn_app_with, Api, Backend, TestApp};
use crate::on_both_backends;

async fn app_with_scripts(backend: Backend, names: &[&str]) -> (TestApp, Vec<i64>) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let mut ids = Vec::new();
    for name in names {
        ids.push(app.new_script(&admin, json!({ "name": name })).await.id);
    }
    (app, ids)
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A run of `status` that ended `days_ago` (queued and running ones never ended), as a row.
fn row(script_id: i64, status: ExecutionStatus, days_ago: i64, now: DateTime<Utc>) -> execution::ActiveModel {
    let at = now - Duration::days(days_ago);
    execution::ActiveModel {
        script_id: Set(script_id),
        status: Set(status),
        trigger: Set(Trigger::Manual),
        schedule_id: Set(None),
        queued_at: Set(at - Duration::minutes(1)),
        started_at: Set((status != ExecutionStatus::Queued).then_some(at - Duration::seconds(30))),
        finished_at: Set(status.is_final().then_some(at)),
        exit_code: Set(None),
        error: Set(None),
        worker_id: Set(None),
        log_lines: Set(2),
        cancel_requested: Set(false),
        ..Default::default()
    }
}

/// Inserts a run with a two-line log in two chunks; gives back its id.
async fn run(app: &TestApp, script_id: i64, status: ExecutionStatus, days_ago: i64, now: DateTime<Utc>) -> i64 {
    let id = execution::Entity::insert(row(script_id, status, days_ago, now)).exec(&app.db).await.unwrap().last_insert_id;
    for seq in 1..=2 {
        logs::store(&app.db, id, &[LogLine { seq, stream: LogStream::Stdout, line: format!("line {seq}"), at: now }]).await.unwrap();
    }
    id
}

async fn remaining(app: &TestApp) -> Vec<i64> {
    execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .order_by_asc(execution::Column::Id)
        .into_tuple()
        .all(&app.db)
        .await
        .unwrap()
}

async fn chunks_of(app: &TestApp, ids: &[i64]) -> u64 {
    execution_log_chunk::Entity::find().filter(execution_log_chunk::Column::ExecutionId.is_in(ids.to_vec())).count(&app.db).await.unwrap()
}

const DAYS_ONLY: RetentionSettings = RetentionSettings { days: 30, runs_per_script: 0 };

async fn old_finished_runs_go_with_their_logs(backend: Backend) {
    let (app, scripts) = app_with_scripts(backend, &["busy", "quiet"]).await;
    let (busy, quiet) = (scripts[0], scripts[1]);
    let now = now();
    let mut old = Vec::new();
    for status in
        [ExecutionStatus::Succeeded, ExecutionStatus::Failed, ExecutionStatus::Stopped, ExecutionStatus::TimedOut, ExecutionStatus::Lost]
    {
        old.push(run(&app, busy, status, 40, now).await);
    }
    let forgotten_queue = run(&app, busy, ExecutionStatus::Queued, 100, now).await;
    let stuck = run(&app, busy, ExecutionStatus::Running, 90, now).await;
    let recent = run(&app, busy, ExecutionStatus::Succeeded, 29, now).await;
    let newest = run(&app, busy, ExecutionStatus::Succeeded, 1, now).await;
    // The only run of a script that has not run for long: the list still shows it.
    let last_of_quiet = run(&app, quiet, ExecutionStatus::Failed, 200, now).await;

    let pruned = prune(&app.db, now, &DAYS_ONLY).await.unwrap();
    assert_eq!(pruned, Pruned { executions: 5, log_chunks: 10, batches: 1 });
    let kept = vec![forgotten_queue, stuck, recent, newest, last_of_quiet];
    assert_eq!(remaining(&app).await, kept);
    assert_eq!(chunks_of(&app, &old).await, 0, "the logs went with their runs");
    assert_eq!(chunks_of(&app, &kept).await, 10);

    // A second pass finds nothing; a later one takes the run that has aged meanwhile.
    assert_eq!(prune(&app.db, now, &DAYS_ONLY).await.unwrap(), Pruned::default());
    let later = prune(&app.db, now + Duration::days(2), &DAYS_ONLY).await.unwrap();
    assert_eq!(later.executions, 1);
    assert_eq!(remaining(&app).await, vec![forgotten_queue, stuck, newest, last_of_quiet]);
}

async fn each_script_keeps_its_newest_runs(backend: Backend) {
    let (app, scripts) = app_with_scripts(backend, &["chatty", "calm"]).await;
    let now = now();
    let mut chatty = Vec::new();
    for _ in 0..6 {
        chatty.push(run(&app, scripts[0], ExecutionStatus::Succeeded, 1, now).await);
    }
    // Unfinished runs neither count against the limit nor go.
    let queued = run(&app, scripts[0], ExecutionStatus::Queued, 0, now).await;
    let running = run(&app, scripts[0], ExecutionStatus::Running, 0, now).await;
    chatty.push(run(&app, scripts[0], ExecutionStatus::Failed, 0, now).await);
    let calm = vec![
        run(&app, scripts[1], ExecutionStatus::Succeeded, 1, now).await,
        run(&app, scripts[1], ExecutionStatus::Succeeded, 1, now).await,
    ];

    let pruned = prune(&app.db, now, &RetentionSettings { days: 0, runs_per_script: 3 }).await.unwrap();
    assert_eq!((pruned.executions, pruned.log_chunks), (4, 8));
    let mut kept = chatty[4..].to_vec();
    kept.extend([queued, running]);
    kept.extend(&calm);
    kept.sort_unstable();
    assert_eq!(remaining(&app).await, kept);
    assert_eq!(chunks_of(&app, &chatty[..4]).await, 0);
}

async fn zero_turns_a_rule_off(backend: Backend) {
    let (app, scripts) = app_with_scripts(backend, &["ancient"]).await;
    let now = now();
    for _ in 0..4 {
        run(&app, scripts[0], ExecutionStatus::Succeeded, 400, now).await;
    }
    run(&app, scripts[0], ExecutionStatus::Succeeded, 1, now).await;
    let all = remaining(&app).await;
    let keep_all = RetentionSettings { days: 0, runs_per_script: 0 };
    assert_eq!(prune(&app.db, now, &keep_all).await.unwrap(), Pruned::default());
    // Old, but within the count, with no age limit.
    assert_eq!(prune(&app.db, now, &RetentionSettings { days: 0, runs_per_script: 5 }).await.unwrap(), Pruned::default());
    // Too many, but none old, with no count limit.
    assert_eq!(
        prune(&app.db, now - Duration::days(1000), &RetentionSettings { days: 30, runs_per_script: 0 }).await.unwrap(),
        Pruned::default()
    );
    assert_eq!(remaining(&app).await, all);
    // Both rules on: the age rule takes the old ones, the count rule has nothing left to do.
    let pruned = prune(&app.db, now, &RetentionSettings { days: 30, runs_per_script: 1 }).await.unwrap();
    assert_eq!(pruned.executions, 4);
    assert_eq!(remaining(&app).await, all[4..].to_vec());
}

/// `count` finished runs of `script_id` that ended 40 days ago, one log chunk each.
async fn many_old_runs(app: &TestApp, script_id: i64, count: usize, now: DateTime<Utc>) {
    let first = execution::Entity::find()
        .select_only()
        .column_as(execution::Column::Id.max(), "m")
        .into_tuple::<Option<i64>>()
        .one(&app.db)
        .await
        .unwrap()
        .flatten()
        .unwrap_or(0);
    for start in (0..count).step_by(500) {
        let rows = (start..count.min(start + 500)).map(|_| row(script_id, ExecutionStatus::Succeeded, 40, now));
        execution::Entity::insert_many(rows).exec(&app.db).await.unwrap();
    }
    let ids: Vec<i64> = execution::Entity::find()
        .select_only()
        .column(execution::Column::Id)
        .filter(execution::Column::Id.gt(first))
        .into_tuple()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(ids.len(), count);
    let body = logs::encode(&[LogLine { seq: 1, stream: LogStream::Stdout, line: "x".into(), at: now }]);
    for part in ids.chunks(500) {
        let chunks = part.iter().map(|&id| execution_log_chunk::ActiveModel {
            execution_id: Set(id),
            first_seq: Set(1),
            last_seq: Set(1),
            body: Set(body.clone()),
        });
        execution_log_chunk::Entity::insert_many(chunks).exec_without_returning(&app.db).await.unwrap();
    }
}

async fn a_large_prune_goes_in_batches(backend: Backend) {
    let (app, scripts) = app_with_scripts(backend, &["nightly"]).await;
    let now = now();
    many_old_runs(&app, scripts[0], 3000, now).await;
    let newest = run(&app, scripts[0], ExecutionStatus::Succeeded, 1, now).await;
    let pruned = prune(&app.db, now, &DAYS_ONLY).await.unwrap();
    assert_eq!(pruned, Pruned { executions: 3000, log_chunks: 3000, batches: (3000 / BATCH) as u64 });
    assert_eq!(remaining(&app).await, vec![newest]);

    // Two pruners at once (two instances on PostgreSQL): each run is deleted once, none is
    // left, neither fails.
    many_old_runs(&app, scripts[0], 1200, now).await;
    run(&app, scripts[0], ExecutionStatus::Succeeded, 1, now).await;
    let (a, b) = tokio::join!(prune(&app.db, now, &DAYS_ONLY), prune(&app.db, now, &DAYS_ONLY));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.executions + b.executions, 1200, "{a:?} {b:?}");
    assert_eq!(remaining(&app).await.len(), 2);
    assert_eq!(execution_log_chunk::Entity::find().count(&app.db).await.unwrap(), 4);
}

on_both_backends!(
    old_finished_runs_go_with_their_logs,
    each_script_keeps_its_newest_runs,
    zero_turns_a_rule_off,
    a_large_prune_goes_in_batches
);
