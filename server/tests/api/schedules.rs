//! Schedules: the API (CRUD, refusals, the cron preview), the scheduler driven by a chosen clock
//! (fire, never twice, concurrent passes, inactive, no replay after down), and in real time: one
//! instance on SQLite, three processes on one PostgreSQL, each minute fired exactly once.

use std::time::Duration;

use app::model::{CatchUp, CronDescription, DstShift, ExecutionPage, ExecutionStatus, OverlapPolicy, Role, Schedule, SkippedTime, Trigger};
use chrono::{DateTime, Duration as Span, DurationRound, Utc};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use server::db::entities::{execution, schedule};
use server::schedules::realign::{realign, Realigned};
use server::schedules::scheduler::{fire_due, Fired, SKIPS_KEPT};

use crate::helpers::{error_of, spawn_app, spawn_app_with, Actor, Api, Backend, Server, TestApp, TestDb};
use crate::on_both_backends;

const GRACE: Duration = Duration::from_secs(60);

/// A script for schedules to start, named `name`.
fn ticking(name: &str) -> serde_json::Value {
    json!({ "name": name, "content": "print('tick')\n" })
}

async fn create(api: &impl Api, actor: &Actor, script_id: i64, body: serde_json::Value) -> reqwest::Response {
    api.send_json(Method::POST, actor, &format!("/api/scripts/{script_id}/schedules"), &body).await
}

async fn change(app: &TestApp, actor: &Actor, script_id: i64, id: i64, body: serde_json::Value) -> reqwest::Response {
    app.send_json(Method::PUT, actor, &format!("/api/scripts/{script_id}/schedules/{id}"), &body).await
}

async fn list(app: &TestApp, actor: &Actor, script_id: i64) -> Vec<Schedule> {
    let response = app.get_as(actor, &format!("/api/scripts/{script_id}/schedules")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn crud_and_refusals(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let viewer = app.add_user(&admin, "vera", Role::Viewer).await;
    let job = app.new_script(&admin, ticking("job")).await;
    let other = app.new_script(&admin, ticking("other")).await;

    let response = create(&app, &admin, job.id, json!({ "cron_expression": "  */5  * * * * ", "timezone": "Europe/Berlin" })).await;
    assert_eq!(response.status(), 201);
    let made: Schedule = response.json().await.unwrap();
    assert_eq!((made.cron_expression.as_str(), made.timezone.as_str(), made.is_active), ("*/5 * * * *", "Europe/Berlin", true));
    assert!(made.description.contains("5 minutes"), "{}", made.description);
    let next = made.next_run_at.expect("an active schedule has a due time");
    assert!(next > Utc::now() && next <= Utc::now() + Span::minutes(5) && next.timestamp() % 300 == 0, "{next}");
    assert_eq!(made.last_run, None);
    assert_eq!(list(&app, &viewer, job.id).await, std::slice::from_ref(&made), "viewers read");
    assert!(list(&app, &admin, other.id).await.is_empty());

    // Defaults: UTC, active.
    let response = create(&app, &admin, job.id, json!({ "cron_expression": "@daily" })).await;
    let daily: Schedule = response.json().await.unwrap();
    assert_eq!((daily.timezone.as_str(), daily.is_active), ("UTC", true));

    // Paused: no due time; resumed: one again.
    let paused: Schedule = change(&app, &admin, job.id, made.id, json!({ "is_active": false })).await.json().await.unwrap();
    assert_eq!((paused.is_active, paused.next_run_at), (false, None));
    let resumed: Schedule = change(&app, &admin, job.id, made.id, json!({ "is_active": true })).await.json().await.unwrap();
    assert!(resumed.next_run_at.is_some());
    let moved: Schedule =
        change(&app, &admin, job.id, made.id, json!({ "cron_expression": "0 9 * * MON-FRI", "timezone": "America/New_York" }))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(moved.cron_expression, "0 9 * * MON-FRI");
    let local = moved.next_run_at.unwrap().with_timezone(&chrono_tz::America::New_York);
    assert_eq!(local.format("%H:%M").to_string(), "09:00");

    // Refusals name the field and leave what is stored as it was.
    for (body, field) in [
        (json!({ "cron_expression": "0 0 * * * *" }), "cron_expression"),
        (json!({ "cron_expression": "61 * * * *" }), "cron_expression"),
        (json!({ "cron_expression": "" }), "cron_expression"),
        (json!({ "cron_expression": "* * * * *", "timezone": "Mars/Olympus" }), "timezone"),
    ] {
        let response = create(&app, &admin, job.id, body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        let error = error_of(response).await;
        assert_eq!(error.field.as_deref(), Some(field), "{body}: {}", error.message);
        let response = change(&app, &admin, job.id, made.id, body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
    }
    let response = create(&app, &admin, job.id, json!({ "cron_expression": "* * * * *", "when": "now" })).await;
    assert_eq!(response.status(), 422, "an unknown field");
    let response = create(&app, &admin, job.id, json!({ "cron_expression": 5 })).await;
    assert_eq!(response.status(), 422, "a field of the wrong type");
    assert_eq!(list(&app, &admin, job.id).await, [moved.clone(), daily.clone()], "nothing stored changed");

    // Who and what.
    assert_eq!(create(&app, &viewer, job.id, json!({ "cron_expression": "@hourly" })).await.status(), 403);
    assert_eq!(change(&app, &viewer, job.id, made.id, json!({ "is_active": false })).await.status(), 403);
    assert_eq!(create(&app, &admin, 999_999, json!({ "cron_expression": "@hourly" })).await.status(), 404);
    assert_eq!(change(&app, &admin, other.id, made.id, json!({ "is_active": false })).await.status(), 404, "another script's schedule");
    assert_eq!(app.get("/api/scripts/1/schedules").await.status(), 401);
    assert_eq!(app.get_as(&admin, "/api/scripts/abc/schedules").await.status(), 400);

    let delete = |id: i64| app.request(Method::DELETE, &format!("/api/scripts/{}/schedules/{id}", job.id), Some(&admin)).send();
    assert_eq!(
        app.request(Method::DELETE, &format!("/api/scripts/{}/schedules/{}", job.id, made.id), Some(&viewer))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(delete(made.id).await.unwrap().status(), 204);
    assert_eq!(delete(made.id).await.unwrap().status(), 404);
    assert_eq!(list(&app, &admin, job.id).await, [daily]);
}

async fn describe_and_zones(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let describe = |query: &str| {
        let url = format!("/api/cron/describe?{query}");
        let (app, admin) = (&app, &admin);
        async move { app.get_as(admin, &url).await }
    };

    let preview: CronDescription =
        describe("expr=30%202%20*%20*%20*&tz=America/New_York&count=3&from=2026-03-07T00:00:00-05:00").await.json().await.unwrap();
    assert_eq!(preview.expression, "30 2 * * *");
    let local: Vec<String> = preview.next.iter().map(|fire| fire.local.to_rfc3339()).collect();
    assert_eq!(local, ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]);
    assert_eq!(preview.next.iter().map(|f| f.dst).collect::<Vec<_>>(), [None, Some(DstShift::Skipped), None]);
    // The day fields' rule, in words.
    let words = |query: &'static str| {
        let describe = &describe;
        async move { describe(query).await.json::<CronDescription>().await.unwrap().description }
    };
    assert_eq!(words("expr=0%200%2022%20*%20*/2").await, "At 00:00, on the 22nd if it is a Sunday, Tuesday, Thursday or Saturday.");
    assert_eq!(words("expr=0%200%201%20*%20MON").await, "At 00:00, on the 1st, or on Mondays.");
    let defaults: CronDescription = describe("expr=%40hourly").await.json().await.unwrap();
    assert_eq!((defaults.timezone.as_str(), defaults.next.len()), ("UTC", 5));
    assert!(defaults.next[0].at > Utc::now());

    for (query, field) in [
        ("expr=", "expr"),
        ("tz=UTC", "expr"),
        ("expr=*%20*%20*", "expr"),
        ("expr=*%20*%20*%20*%20*&tz=Nowhere", "tz"),
        ("expr=*%20*%20*%20*%20*&count=0", "count"),
        ("expr=*%20*%20*%20*%20*&count=101", "count"),
        ("expr=*%20*%20*%20*%20*&count=many", "count"),
        ("expr=*%20*%20*%20*%20*&from=yesterday", "from"),
    ] {
        let response = describe(query).await;
        assert_eq!(response.status(), 422, "{query}");
        assert_eq!(error_of(response).await.field.as_deref(), Some(field), "{query}");
    }
    assert_eq!(describe("expr=*%20*%20*%20*%20*&color=red").await.status(), 400, "unknown parameter");
    assert_eq!(app.get("/api/cron/describe?expr=@daily").await.status(), 401);

    let zones: Vec<String> = app.get_as(&admin, "/api/cron/timezones").await.json().await.unwrap();
    assert!(zones.len() > 300 && zones.iter().any(|z| z == "Europe/London") && zones.iter().any(|z| z == "UTC"));
}

/// Sets a schedule's due time directly, as if computed at another moment.
async fn set_due(app: &TestApp, id: i64, due: DateTime<Utc>) {
    let row = schedule::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
    let mut row: schedule::ActiveModel = row.into();
    row.next_run_at = Set(Some(due));
    row.update(&app.db).await.unwrap();
}

async fn due_of(app: &TestApp, id: i64) -> Option<DateTime<Utc>> {
    schedule::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap().next_run_at
}

/// The scheduler's pass with a chosen clock (`--role web`: no scheduler of its own runs).
async fn fires_each_due_time_once(backend: Backend) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let job = app.new_script(&admin, ticking("hourly job")).await;
    // `allow`: with `--role web` no worker takes the runs, which stay queued; each due time must
    // still fire (the overlap policies have tests of their own).
    let made: Schedule =
        create(&app, &admin, job.id, json!({ "cron_expression": "0 * * * *", "overlap": "allow" })).await.json().await.unwrap();
    let due = Utc::now().duration_trunc(Span::hours(1)).unwrap() + Span::hours(5);
    set_due(&app, made.id, due).await;

    assert!(fire_due(&app.db, due - Span::seconds(1), GRACE, 100).await.unwrap().fired.is_empty(), "not yet due");
    let pass = fire_due(&app.db, due + Span::milliseconds(200), GRACE, 100).await.unwrap();
    assert_eq!(pass.fired.len(), 1);
    assert_eq!(pass.fired[0], Fired { schedule_id: made.id, script_id: job.id, due, caught_up: false });
    let queued: ExecutionPage = app.get_as(&admin, &format!("/api/executions?schedule_id={}", made.id)).await.json().await.unwrap();
    let run = &queued.items[0];
    assert_eq!(
        (run.script_id, run.trigger, run.schedule_id, run.status),
        (job.id, Trigger::Schedule, Some(made.id), ExecutionStatus::Queued)
    );
    assert_eq!(due_of(&app, made.id).await, Some(due + Span::hours(1)));
    assert!(fire_due(&app.db, due + Span::seconds(30), GRACE, 100).await.unwrap().fired.is_empty(), "never twice");

    // Passes racing for the same due time (instances, or a restart mid-pass): one fires it.
    let at = due + Span::hours(1);
    let passes = futures_util::future::join_all((0..6).map(|_| fire_due(&app.db, at, GRACE, 100))).await;
    let fired: usize = passes.into_iter().map(|pass| pass.unwrap().fired.len()).sum();
    assert_eq!(fired, 1);

    // Down for three hours: the missed due times are not replayed; the next one counts from now.
    let after_down = due + Span::hours(4) + Span::minutes(10);
    let pass = fire_due(&app.db, after_down, GRACE, 100).await.unwrap();
    assert_eq!((pass.fired.len(), pass.skipped.len()), (0, 1), "the missed times are one record");
    assert_eq!(due_of(&app, made.id).await, Some(due + Span::hours(5)));
    // Late within the grace period (a busy or restarting instance): still fired.
    assert_eq!(fire_due(&app.db, due + Span::hours(5) + Span::seconds(40), GRACE, 100).await.unwrap().fired.len(), 1);

    // An inactive schedule never fires.
    change(&app, &admin, job.id, made.id, json!({ "is_active": false })).await;
    set_due(&app, made.id, due + Span::hours(6)).await;
    assert!(fire_due(&app.db, due + Span::hours(6), GRACE, 100).await.unwrap().fired.is_empty());
    change(&app, &admin, job.id, made.id, json!({ "is_active": true })).await;

    // Nor does the schedule of an inactive script; its due time moves on.
    app.update_script(&admin, job.id, json!({ "updated_at": job.updated_at, "is_active": false })).await;
    set_due(&app, made.id, due + Span::hours(7)).await;
    let pass = fire_due(&app.db, due + Span::hours(7), GRACE, 100).await.unwrap();
    assert_eq!((pass.fired.len(), pass.skipped.len()), (0, 0), "a paused script's times pass unrecorded");
    assert_eq!(due_of(&app, made.id).await, Some(due + Span::hours(8)));

    let runs: ExecutionPage = app.get_as(&admin, &format!("/api/executions?schedule_id={}", made.id)).await.json().await.unwrap();
    assert_eq!(runs.total, 3, "three due times fired in all");
    assert!(runs.items.iter().all(|run| run.schedule_id == Some(made.id) && run.trigger == Trigger::Schedule));
    let listed = list(&app, &admin, job.id).await;
    assert_eq!(listed[0].last_run.as_ref().map(|run| run.id), Some(runs.items[0].id), "the newest run is shown");
}

/// More due at once than one claim statement takes (256): all fire, once, even with passes racing.
async fn many_due_at_once(backend: Backend) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let job = app.new_script(&admin, ticking("busy")).await;
    for minute in 0..300 {
        let response = create(&app, &admin, job.id, json!({ "cron_expression": format!("{} * * * *", minute % 60) })).await;
        assert_eq!(response.status(), 201);
    }
    let due = Utc::now().duration_trunc(Span::hours(1)).unwrap() + Span::hours(3);
    schedule::Entity::update_many()
        .col_expr(schedule::Column::NextRunAt, sea_orm::sea_query::Expr::value(Some(due)))
        .exec(&app.db)
        .await
        .unwrap();
    let passes = futures_util::future::join_all((0..3).map(|_| fire_due(&app.db, due, GRACE, 1000))).await;
    let mut fired: Vec<i64> = passes.into_iter().flat_map(|pass| pass.unwrap().fired).map(|fire| fire.schedule_id).collect();
    fired.sort_unstable();
    let count = fired.len();
    fired.dedup();
    assert_eq!((count, fired.len()), (300, 300), "each schedule once");
    let runs: ExecutionPage = app.get_as(&admin, &format!("/api/executions?script_id={}&per_page=1", job.id)).await.json().await.unwrap();
    assert_eq!(runs.total, 300);
    assert!(fire_due(&app.db, due, GRACE, 100).await.unwrap().fired.is_empty());
}

/// Waits past the schedule's next two due times and checks each fired exactly once, on time.
async fn two_minutes_fired_once(api: &impl Api, actor: &Actor, made: &Schedule) {
    let first = made.next_run_at.unwrap();
    let second = first + Span::minutes(1);
    // Not a condition to poll: that no instance fires a minute a second time takes waiting out
    // the time in which one would (each looks at the database every 5 s).
    let wait = (second + Span::seconds(8) - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let page: ExecutionPage = api.json_of(actor, &format!("/api/executions?schedule_id={}&sort=oldest&per_page=200", made.id)).await;
    let runs = page.items;
    let queued: Vec<DateTime<Utc>> = runs.iter().map(|run| run.queued_at).collect();
    assert_eq!(runs.len(), 2, "each minute once: {queued:?}");
    for (run, due) in runs.iter().zip([first, second]) {
        assert_eq!(run.trigger, Trigger::Schedule);
        let late = run.queued_at - due;
        assert!(late >= Span::zero() && late < Span::seconds(3), "fired at {} for {due}", run.queued_at);
    }
}

/// Waits, if needed, so that the next minute boundary is at least 8 s away: a schedule made now
/// is then seen by every instance (another instance looks at the database every 5 s) before it
/// is due, and "on time" can be asserted.
async fn clear_of_a_minute_boundary() {
    let to_boundary = 60 - Utc::now().timestamp() % 60;
    if to_boundary < 8 {
        // The clock has to move on: nothing the test could poll brings the boundary nearer.
        tokio::time::sleep(Duration::from_secs(to_boundary as u64 + 1)).await;
    }
}

#[tokio::test]
async fn one_instance_on_sqlite_fires_each_minute_once() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.setup_admin().await;
    let job = app.new_script(&admin, ticking("every minute")).await;
    clear_of_a_minute_boundary().await;
    let made: Schedule = create(&app, &admin, job.id, json!({ "cron_expression": "* * * * *" })).await.json().await.unwrap();
    two_minutes_fired_once(&app, &admin, &made).await;
}

/// Three instances on one PostgreSQL: each minute is fired by exactly one of them.
#[tokio::test]
async fn three_instances_on_postgres_fire_each_minute_once() {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(Backend::Postgres, data.path()).await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // The first creates the schema and the admin; the others join it.
    let first = Server::start(&db.url, dirs[0].path(), &[]);
    let admin = first.sign_in_admin().await;
    let others: Vec<Server> = dirs[1..].iter().map(|dir| Server::start(&db.url, dir.path(), &[])).collect();
    for server in &others {
        server.sign_in_admin().await;
    }
    let job = first.new_script(&admin, ticking("every minute")).await;
    clear_of_a_minute_boundary().await;
    // Made through the second instance: the others learn of it from the database.
    let made: Schedule = create(&others[0], &admin, job.id, json!({ "cron_expression": "* * * * *" })).await.json().await.unwrap();
    two_minutes_fired_once(&first, &admin, &made).await;
}

/// Stored schedules whose due time the day-field rule now gives differently are moved at start;
/// the rest keep theirs, and a second pass changes nothing.
async fn stored_schedules_realigned(backend: Backend) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let job = app.new_script(&admin, ticking("realigned")).await;
    let make = |expression: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let made: Schedule = create(app, admin, job.id, json!({ "cron_expression": expression })).await.json().await.unwrap();
            made.id
        }
    };
    let now = at("2026-12-03T12:00:00Z");
    // As the OR reading stored it: 2026-12-06 is a Sunday, not the 22nd.
    let stale = make("0 0 22 * */2").await;
    set_due(&app, stale, at("2026-12-06T00:00:00Z")).await;
    set_description(&app, stale, "At 00:00, on day 22 or Sunday, Tuesday, Thursday, and Saturday.").await;
    // Right as stored, ahead of now and already reached.
    let ahead = make("0 12 * * *").await;
    set_due(&app, ahead, at("2026-12-04T12:00:00Z")).await;
    let reached = make("30 11 * * *").await;
    set_due(&app, reached, at("2026-12-03T11:30:00Z")).await;
    // Reached, but not a fire time of its expression: the next one after now.
    let wrong = make("0 6 * * MON").await;
    set_due(&app, wrong, at("2026-12-03T06:00:00Z")).await;
    let paused = make("0 0 22 * */2").await;
    change(&app, &admin, job.id, paused, json!({ "is_active": false })).await;

    let done = realign(&app.db, now).await.unwrap();
    assert_eq!(done.moved, [stale, wrong]);
    // 2026-12-22 is a Tuesday.
    assert_eq!(due_of(&app, stale).await, Some(at("2026-12-22T00:00:00Z")));
    assert_eq!(due_of(&app, ahead).await, Some(at("2026-12-04T12:00:00Z")));
    assert_eq!(due_of(&app, reached).await, Some(at("2026-12-03T11:30:00Z")));
    assert_eq!(due_of(&app, wrong).await, Some(at("2026-12-07T06:00:00Z")));
    assert_eq!(due_of(&app, paused).await, None);
    let listed = list(&app, &admin, job.id).await;
    assert_eq!(listed[0].description, "At 00:00, on the 22nd if it is a Sunday, Tuesday, Thursday or Saturday.");
    assert_eq!(realign(&app.db, now).await.unwrap(), Realigned::default());
}

fn at(instant: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(instant).unwrap().with_timezone(&Utc)
}

async fn set_description(app: &TestApp, id: i64, description: &str) {
    let row = schedule::Entity::find_by_id(id).one(&app.db).await.unwrap().unwrap();
    let mut row: schedule::ActiveModel = row.into();
    row.description = Set(description.to_string());
    row.update(&app.db).await.unwrap();
}

/// The runs a schedule started, newest first.
async fn runs_of(app: &TestApp, actor: &Actor, schedule_id: i64) -> Vec<app::model::Execution> {
    let page: ExecutionPage = app.json_of(actor, &format!("/api/executions?schedule_id={schedule_id}&per_page=100")).await;
    page.items
}

async fn skipped_of(app: &TestApp, actor: &Actor, script_id: i64, schedule_id: i64) -> Vec<SkippedTime> {
    app.json_of(actor, &format!("/api/scripts/{script_id}/schedules/{schedule_id}/skipped")).await
}

/// Sets a run's status by hand: with `--role web` no worker takes the runs, so "still running"
/// is made so.
async fn set_status(app: &TestApp, run_id: i64, status: ExecutionStatus) {
    let row = execution::Entity::find_by_id(run_id).one(&app.db).await.unwrap().unwrap();
    let mut row: execution::ActiveModel = row.into();
    row.status = Set(status);
    row.update(&app.db).await.unwrap();
}

/// Each overlap policy meets a run of its schedule still waiting or running, and each catch-up
/// policy a down time of three hours, on a chosen clock; every time passed over is recorded with
/// its reason and listed by the API.
async fn overlap_and_catch_up_policies(backend: Backend) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let viewer = app.add_user(&admin, "vera", Role::Viewer).await;
    let job = app.new_script(&admin, ticking("policies")).await;
    let due = Utc::now().duration_trunc(Span::hours(1)).unwrap() + Span::hours(5);
    let hourly = |policies: serde_json::Value| {
        let mut body = json!({ "cron_expression": "0 * * * *" });
        body.as_object_mut().unwrap().extend(policies.as_object().unwrap().clone());
        body
    };
    // One schedule at a time: made, its time set, fired on the test's clock, then deleted.
    let made = async |policies: serde_json::Value| -> Schedule {
        let schedule: Schedule = create(&app, &admin, job.id, hourly(policies)).await.json().await.unwrap();
        set_due(&app, schedule.id, due).await;
        schedule
    };
    let delete = async |schedule: &Schedule| {
        let response =
            app.request(Method::DELETE, &format!("/api/scripts/{}/schedules/{}", job.id, schedule.id), Some(&admin)).send().await;
        assert_eq!(response.unwrap().status(), 204);
    };
    let at = |hours: i64| due + Span::hours(hours) + Span::seconds(1);

    // A new schedule skips by default, and catches nothing up.
    let skip = made(json!({})).await;
    assert_eq!((skip.overlap, skip.catch_up), (OverlapPolicy::Skip, CatchUp::None));
    assert_eq!(fire_due(&app.db, at(0), GRACE, 100).await.unwrap().fired.len(), 1);
    let pass = fire_due(&app.db, at(1), GRACE, 100).await.unwrap();
    assert!(pass.fired.is_empty(), "the first run still waits");
    assert_eq!(pass.skipped.len(), 1);
    let skipped = skipped_of(&app, &viewer, job.id, skip.id).await;
    assert_eq!(skipped.len(), 1, "viewers see them too");
    assert_eq!(skipped[0].due_at, due + Span::hours(1));
    assert!(skipped[0].reason.contains("still going (overlap: skip)"), "{}", skipped[0].reason);
    // Once it has run, the next time fires again.
    let first = runs_of(&app, &admin, skip.id).await[0].id;
    set_status(&app, first, ExecutionStatus::Succeeded).await;
    assert_eq!(fire_due(&app.db, at(2), GRACE, 100).await.unwrap().fired.len(), 1);
    delete(&skip).await;

    // allow: every time starts a run, whatever is still going.
    let allow = made(json!({ "overlap": "allow" })).await;
    for hours in 0..3 {
        assert_eq!(fire_due(&app.db, at(hours), GRACE, 100).await.unwrap().fired.len(), 1);
    }
    assert_eq!(runs_of(&app, &admin, allow.id).await.len(), 3);
    assert!(skipped_of(&app, &admin, job.id, allow.id).await.is_empty());
    delete(&allow).await;

    // queue: behind a running run one more waits; a third time finds it waiting and is skipped.
    let queue = made(json!({ "overlap": "queue" })).await;
    assert_eq!(fire_due(&app.db, at(0), GRACE, 100).await.unwrap().fired.len(), 1);
    let running = runs_of(&app, &admin, queue.id).await[0].id;
    set_status(&app, running, ExecutionStatus::Running).await;
    assert_eq!(fire_due(&app.db, at(1), GRACE, 100).await.unwrap().fired.len(), 1, "one waits behind the running one");
    let pass = fire_due(&app.db, at(2), GRACE, 100).await.unwrap();
    assert!(pass.fired.is_empty());
    assert!(skipped_of(&app, &admin, job.id, queue.id).await[0].reason.contains("already waiting to start (overlap: queue)"));
    set_status(&app, running, ExecutionStatus::Succeeded).await;
    delete(&queue).await;

    // cancel_previous: the waiting run is stopped, with the reason, and the new one queued.
    let cancel = made(json!({ "overlap": "cancel_previous" })).await;
    assert_eq!(fire_due(&app.db, at(0), GRACE, 100).await.unwrap().fired.len(), 1);
    let previous = runs_of(&app, &admin, cancel.id).await[0].id;
    let pass = fire_due(&app.db, at(1), GRACE, 100).await.unwrap();
    assert_eq!((pass.fired.len(), pass.cancelled.as_slice()), (1, [previous].as_slice()));
    let runs = runs_of(&app, &admin, cancel.id).await;
    let stopped = runs.iter().find(|run| run.id == previous).unwrap();
    assert_eq!(stopped.status, ExecutionStatus::Stopped);
    assert!(stopped.error.as_deref().unwrap_or_default().contains("overlap: cancel_previous"), "{:?}", stopped.error);
    assert_eq!(runs.iter().filter(|run| run.status == ExecutionStatus::Queued).count(), 1);
    for run in &runs {
        set_status(&app, run.id, ExecutionStatus::Succeeded).await;
    }
    delete(&cancel).await;

    // Down from `due` until three hours and ten minutes later: four times missed.
    let after_down = due + Span::hours(3) + Span::minutes(10);
    let none = made(json!({ "overlap": "allow", "catch_up": "none" })).await;
    let pass = fire_due(&app.db, after_down, GRACE, 100).await.unwrap();
    assert!(pass.fired.is_empty());
    let skipped = skipped_of(&app, &admin, job.id, none.id).await;
    assert_eq!(skipped.len(), 1, "one record for the lot");
    assert!(skipped[0].reason.starts_with("4 times missed while no instance was running"), "{}", skipped[0].reason);
    assert_eq!(due_of(&app, none.id).await, Some(due + Span::hours(4)));
    delete(&none).await;

    let last = made(json!({ "overlap": "allow", "catch_up": "last" })).await;
    let pass = fire_due(&app.db, after_down, GRACE, 100).await.unwrap();
    assert_eq!(pass.fired, [Fired { schedule_id: last.id, script_id: job.id, due: due + Span::hours(3), caught_up: true }]);
    let run = &runs_of(&app, &admin, last.id).await[0];
    assert_eq!((run.caught_up, run.due_at), (true, Some(due + Span::hours(3))));
    assert!(skipped_of(&app, &admin, job.id, last.id).await[0].reason.starts_with("3 times missed"));
    delete(&last).await;

    let all = made(json!({ "overlap": "allow", "catch_up": "all" })).await;
    let pass = fire_due(&app.db, after_down, GRACE, 100).await.unwrap();
    let times: Vec<_> = pass.fired.iter().map(|fired| (fired.due, fired.caught_up)).collect();
    assert_eq!(times, (0..4).map(|hours| (due + Span::hours(hours), true)).collect::<Vec<_>>());
    assert!(skipped_of(&app, &admin, job.id, all.id).await.is_empty());
    assert_eq!(due_of(&app, all.id).await, Some(due + Span::hours(4)));

    // The policies are changed like any field, and a word that is none of them is refused.
    let response = change(&app, &admin, job.id, all.id, json!({ "overlap": "queue", "catch_up": "last" })).await;
    let changed: Schedule = response.json().await.unwrap();
    assert_eq!((changed.overlap, changed.catch_up), (OverlapPolicy::Queue, CatchUp::Last));
    let response = change(&app, &admin, job.id, all.id, json!({ "overlap": "sometimes" })).await;
    assert_eq!(response.status(), 422);
    let schedule = list(&app, &admin, job.id).await.into_iter().find(|s| s.id == all.id).unwrap();
    assert_eq!(schedule.overlap, OverlapPolicy::Queue, "a refused change stores nothing");
}

/// Skipped times are kept per schedule, the newest `SKIPS_KEPT`.
async fn skipped_times_are_bounded(backend: Backend) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let job = app.new_script(&admin, ticking("often")).await;
    let schedule: Schedule = create(&app, &admin, job.id, json!({ "cron_expression": "* * * * *" })).await.json().await.unwrap();
    let start = Utc::now().duration_trunc(Span::minutes(1)).unwrap() + Span::hours(1);
    set_due(&app, schedule.id, start).await;
    let passes = SKIPS_KEPT as i64 + 20;
    for minute in 0..=passes {
        fire_due(&app.db, start + Span::minutes(minute) + Span::seconds(1), GRACE, 1000).await.unwrap();
    }
    let skipped = skipped_of(&app, &admin, job.id, schedule.id).await;
    assert_eq!(skipped.len() as u64, SKIPS_KEPT);
    assert_eq!(skipped[0].due_at, start + Span::minutes(passes), "newest first");
}

on_both_backends!(
    crud_and_refusals,
    describe_and_zones,
    fires_each_due_time_once,
    many_due_at_once,
    stored_schedules_realigned,
    overlap_and_catch_up_policies,
    skipped_times_are_bounded
);
