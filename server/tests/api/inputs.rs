//! Run inputs (issue #25): read from the code without running it, checked on every start,
//! stored with the run, given to the script as argv or as `main()`'s keyword arguments.

use std::time::Duration;

use app::model::{
    CreatedHook, ExecutionPage, ExecutionStatus, Hook, HookFired, InputKind, InputStyle, InputsReport, LogStream, Role, Schedule, Trigger,
    UnfitSchedule,
};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use server::db::entities::schedule;

use crate::helpers::{error_of, lines_of, spawn_app, Api, Backend};
use crate::on_both_backends;

on_both_backends!(
    argparse_inputs_become_argv,
    main_is_called_with_typed_inputs_and_its_result_kept,
    bad_inputs_are_refused_naming_the_input_and_the_rule,
    reading_inputs_never_runs_the_code,
    schedules_give_their_inputs_and_fail_when_they_no_longer_fit,
    hooks_start_runs_with_their_body_as_inputs_and_nothing_else
);

const ARGPARSE: &str = r#"import argparse
parser = argparse.ArgumentParser()
parser.add_argument("customer", type=int, help="whose invoices")
parser.add_argument("--day", default="2026-01-01")
parser.add_argument("--dry-run", action="store_true")
parser.add_argument("--mode", choices=["fast", "slow"], default="fast")
parser.add_argument("--api-token")
args = parser.parse_args()
print("customer", args.customer, type(args.customer).__name__)
print("day", args.day, "dry", args.dry_run, "mode", args.mode)
print("token", args.api_token)
print("token length", len(args.api_token or ""))
"#;

/// The saved script's inputs come from its argparse calls; a run's inputs reach it as argv
/// (a value starting with `-` stays a value), are stored with the run (the secret one as
/// `***`) and masked in its log.
async fn argparse_inputs_become_argv(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "invoices", "content": ARGPARSE})).await;
    let report = script.inputs.clone().expect("read on save");
    assert_eq!(report.style, InputStyle::Argparse);
    let names: Vec<&str> = report.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["customer", "day", "dry_run", "mode", "api_token"]);
    assert_eq!(report.inputs[0].kind, InputKind::Integer);
    assert!(report.inputs[0].required);
    assert!(report.inputs[4].secret, "a name ending in token is secret");

    let body = json!({"inputs": {"customer": 42, "day": "-1 day", "dry_run": true, "api_token": "tok-7f3a9c"}});
    let started = app.send_json(Method::POST, &admin, &format!("/api/scripts/{}/execute", script.id), &body).await;
    assert_eq!(started.status(), 201);
    let run: app::model::Execution = started.json().await.unwrap();
    let run = app.finished(&admin, run.id).await;
    let log = app.log_of(&admin, run.id).await;
    let out = lines_of(&log, LogStream::Stdout);
    assert_eq!(out, ["customer 42 int", "day -1 day dry True mode fast", "token ***", "token length 10"], "{log:?}");
    assert_eq!(
        run.inputs,
        json!({"customer": 42, "day": "-1 day", "dry_run": true, "mode": "fast", "api_token": "***"}).as_object().cloned()
    );
    let schema: serde_json::Value = app.json_of(&admin, &format!("/api/scripts/{}/inputs/schema", script.id)).await;
    assert_eq!(schema["required"], json!(["customer"]));
    assert_eq!(schema["properties"]["mode"]["enum"], json!(["fast", "slow"]));
}

const MAIN: &str = r#"import datetime
from typing import Literal

def main(day: datetime.date, ids: list[int], mode: Literal["a", "b"] = "a", note: str | None = None, api_token: str = ""):
    """Sums the ids.

    Args:
        day: the day to look at.
    """
    print(type(day).__name__, day.isoformat(), mode, note)
    return {"day": day.isoformat(), "total": sum(ids), "echo": [api_token]}

if __name__ == "__main__":
    print("this block must not run: the script is imported")
"#;

async fn main_is_called_with_typed_inputs_and_its_result_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "summer", "content": MAIN})).await;
    let report: InputsReport = script.inputs.clone().unwrap();
    assert_eq!(report.style, InputStyle::Main);
    assert_eq!(report.inputs[0].description.as_deref(), Some("the day to look at."));
    let body = json!({"inputs": {"day": "2026-12-05", "ids": [1, 2, 39], "api_token": "tok-5b1c9e77"}});
    let started = app.send_json(Method::POST, &admin, &format!("/api/scripts/{}/execute", script.id), &body).await;
    assert_eq!(started.status(), 201);
    let run: app::model::Execution = started.json().await.unwrap();
    let run = app.finished(&admin, run.id).await;
    let log = app.log_of(&admin, run.id).await;
    assert_eq!(run.status, app::model::ExecutionStatus::Succeeded, "{log:?}");
    assert_eq!(lines_of(&log, LogStream::Stdout), ["date 2026-12-05 a None"]);
    // A secret input returned is masked in the result as in the log.
    assert_eq!(run.result, Some(json!({"day": "2026-12-05", "total": 42, "echo": ["***"]})));
    assert!(run.masked >= 1, "{run:?}");

    // Saved without `main()`'s parameters, the script runs as a file again.
    let plain = app.update_script(&admin, script.id, json!({"content": "print('plain')\n", "updated_at": script.updated_at})).await;
    assert_eq!(plain.inputs.unwrap().style, InputStyle::None);
}

async fn bad_inputs_are_refused_naming_the_input_and_the_rule(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "invoices", "content": ARGPARSE})).await;
    let path = format!("/api/scripts/{}/execute", script.id);
    let cases = [
        (json!({}), "inputs.customer", "input `customer`: is required"),
        (json!({"inputs": {"customer": "42"}}), "inputs.customer", "input `customer`: must be a whole number, not \"42\""),
        (json!({"inputs": {"customer": 1, "mode": "medium"}}), "inputs.mode", "input `mode`: must be one of \"fast\", \"slow\""),
        (json!({"inputs": {"customer": 1, "colour": "red"}}), "inputs.colour", "input `colour`: the script takes no such input"),
    ];
    for (body, field, message) in cases {
        let response = app.send_json(Method::POST, &admin, &path, &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let error = error_of(response).await;
        assert_eq!(error.field.as_deref(), Some(field));
        assert!(error.message.starts_with(message), "{} does not start with {message}", error.message);
    }
    let response = app.send_json(Method::POST, &admin, &path, &json!({"inputs": []})).await;
    assert_eq!(response.status(), 422);
    // Nothing was queued by a refused start.
    let page: app::model::ExecutionPage = app.json_of(&admin, &format!("/api/executions?script_id={}", script.id)).await;
    assert_eq!(page.total, 0);

    // A script without inputs runs with no body, and refuses any input.
    let plain = app.new_script(&admin, json!({"name": "plain", "content": "print('hi')\n"})).await;
    let path = format!("/api/scripts/{}/execute", plain.id);
    assert_eq!(app.request(Method::POST, &path, Some(&admin)).send().await.unwrap().status(), 201);
    let response = app.send_json(Method::POST, &admin, &path, &json!({"inputs": {"x": 1}})).await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_of(response).await.message, "input `x`: the script takes no inputs");
}

/// The code is parsed, never run, to read its inputs: a script that would write a file when
/// imported or run writes nothing on save or in the editor's preview.
async fn reading_inputs_never_runs_the_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let marker = tempfile::tempdir().unwrap();
    let target = marker.path().join("ran");
    let content = format!(
        "import os\nopen({target:?}, 'w').write('ran')\nos.system('touch {t}')\ndef main(x: int = open({target:?}, 'w').write('default ran')):\n    pass\n",
        target = target.display().to_string(),
        t = target.display()
    );
    let script = app.new_script(&admin, json!({"name": "harmful", "content": content})).await;
    let report = script.inputs.unwrap();
    assert_eq!(report.style, InputStyle::Main);
    assert!(report.notices.iter().any(|n| n.message.contains("default is computed")), "{:?}", report.notices);
    let preview = app.send_json(Method::POST, &admin, "/api/code/inputs", &json!({"content": content})).await;
    assert_eq!(preview.status(), 200);
    assert!(!target.exists(), "reading the inputs ran the script");
}

/// Fires `schedule_id` now through the scheduler's own pass and waits for its run to end.
async fn fire(app: &crate::helpers::TestApp, admin: &crate::helpers::Actor, schedule_id: i64) -> app::model::Execution {
    let due = chrono::Utc::now() + chrono::Duration::hours(3);
    let row = schedule::Entity::find_by_id(schedule_id).one(&app.db).await.unwrap().unwrap();
    let mut row: schedule::ActiveModel = row.into();
    row.next_run_at = Set(Some(due));
    row.update(&app.db).await.unwrap();
    let pass = server::schedules::scheduler::fire_due(&app.db, due, Duration::from_secs(60), 100).await.unwrap();
    assert_eq!(pass.fired.len(), 1);
    let page: ExecutionPage = app.json_of(admin, &format!("/api/executions?schedule_id={schedule_id}")).await;
    app.finished(admin, page.items[0].id).await
}

/// A schedule keeps its inputs (checked on save, the secret one shown as `***`), gives them to
/// every run it fires; when an edit of the script makes them unfit, the schedule says why and
/// its next run fails with that reason.
async fn schedules_give_their_inputs_and_fail_when_they_no_longer_fit(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "invoices", "content": ARGPARSE})).await;
    let path = format!("/api/scripts/{}/schedules", script.id);
    let refused = app.send_json(Method::POST, &admin, &path, &json!({"cron_expression": "0 3 * * *", "inputs": {"customer": "x"}})).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_of(refused).await.field.as_deref(), Some("inputs.customer"));

    let body = json!({"cron_expression": "0 3 * * *", "inputs": {"customer": 7, "api_token": "sched-9d2e4b"}});
    let made = app.send_json(Method::POST, &admin, &path, &body).await;
    assert_eq!(made.status(), 201);
    let made: Schedule = made.json().await.unwrap();
    assert_eq!(made.inputs, json!({"customer": 7, "api_token": "***"}).as_object().cloned().unwrap());
    assert_eq!(made.inputs_problem, None);
    let unfit: Vec<UnfitSchedule> = app.json_of(&admin, "/api/schedules/unfit").await;
    assert!(unfit.is_empty(), "{unfit:?}");

    let run = fire(&app, &admin, made.id).await;
    let log = app.log_of(&admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{log:?}");
    assert_eq!(lines_of(&log, LogStream::Stdout)[0], "customer 7 int");
    assert_eq!(lines_of(&log, LogStream::Stdout)[2], "token ***");
    assert_eq!(run.inputs.as_ref().unwrap()["api_token"], json!("***"));

    // An edit that sends the secret back as shown keeps the stored one; a new schedule cannot
    // pass `***` off as a value.
    let kept = json!({"inputs": {"customer": 8, "api_token": "***"}});
    let edited = app.send_json(Method::PUT, &admin, &format!("{path}/{}", made.id), &kept).await;
    assert_eq!(edited.status(), 200);
    let run = fire(&app, &admin, made.id).await;
    let log = app.log_of(&admin, run.id).await;
    let out = lines_of(&log, LogStream::Stdout);
    assert_eq!((out[0], out[3]), ("customer 8 int", "token length 12"), "sched-9d2e4b kept");
    let masked = app
        .send_json(Method::POST, &admin, &path, &json!({"cron_expression": "0 4 * * *", "inputs": {"customer": 1, "api_token": "***"}}))
        .await;
    assert_eq!(masked.status(), 422);
    assert_eq!(error_of(masked).await.field.as_deref(), Some("inputs.api_token"));

    // The script now requires a `region` the schedule does not give.
    let content = ARGPARSE.replace("args = parser", "parser.add_argument(\"region\")\nargs = parser");
    app.update_script(&admin, script.id, json!({"content": content, "updated_at": script.updated_at})).await;
    let schedules: Vec<Schedule> = app.json_of(&admin, &path).await;
    assert_eq!(schedules[0].inputs_problem.as_deref(), Some("input `region`: is required"));
    // The dashboard's warning names it, for anyone signed in.
    let viewer = app.add_user(&admin, "vera", Role::Viewer).await;
    let unfit: Vec<UnfitSchedule> = app.json_of(&viewer, "/api/schedules/unfit").await;
    assert_eq!(unfit.len(), 1, "{unfit:?}");
    assert_eq!((unfit[0].schedule_id, unfit[0].script_name.as_str()), (made.id, "invoices"));
    assert_eq!(unfit[0].problem, "input `region`: is required");
    let run = fire(&app, &admin, made.id).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    let error = run.error.unwrap();
    assert!(error.contains("input `region`: is required") && error.contains("edit the schedule"), "{error}");
}

/// A hook's URL starts the script with its JSON body as inputs (from any site, with no session),
/// and is good for nothing else; a wrong or revoked token is 404, a bad body 422, a big one 413,
/// a flood 429; a `payload` input takes the body whole.
async fn hooks_start_runs_with_their_body_as_inputs_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "invoices", "content": ARGPARSE})).await;
    let hooks = format!("/api/scripts/{}/hooks", script.id);
    let viewer = app.add_user(&admin, "vic", Role::Viewer).await;
    assert_eq!(app.send_json(Method::POST, &viewer, &hooks, &json!({"name": "ci"})).await.status(), 403);
    let made = app.send_json(Method::POST, &admin, &hooks, &json!({"name": "billing"})).await;
    assert_eq!(made.status(), 201);
    let made: CreatedHook = made.json().await.unwrap();
    assert_eq!(made.url, format!("/api/hooks/{}", made.token));
    let listed: Vec<Hook> = app.json_of(&viewer, &hooks).await;
    assert_eq!(listed.len(), 1);
    assert!(!serde_json::to_string(&listed).unwrap().contains(&made.token), "the token is shown once");

    // From another site, with no session: the token is the credential.
    let fired = app
        .request(Method::POST, &made.url, None)
        .header("Origin", "https://elsewhere.example")
        .header("Content-Type", "application/json")
        .body(r#"{"customer": 5, "mode": "slow"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(fired.status(), 202);
    let fired: HookFired = fired.json().await.unwrap();
    assert_eq!(fired.url, format!("/executions/{}", fired.execution_id));
    let run = app.finished(&admin, fired.execution_id).await;
    assert_eq!(run.trigger, Trigger::Webhook);
    assert_eq!(run.inputs.as_ref().unwrap()["customer"], json!(5));
    assert_eq!(lines_of(&app.log_of(&admin, run.id).await, LogStream::Stdout)[1], "day 2026-01-01 dry False mode slow");
    let listed: Vec<Hook> = app.json_of(&admin, &hooks).await;
    assert!(listed[0].last_used_at.is_some());

    // The hook's token opens nothing else.
    let as_bearer = app.request(Method::GET, "/api/scripts", None).bearer_auth(&made.token).send().await.unwrap();
    assert_eq!(as_bearer.status(), 401);
    let wrong = app.request(Method::POST, &format!("/api/hooks/{}x", made.token), None).send().await.unwrap();
    assert_eq!(wrong.status(), 404);
    let bad = app.request(Method::POST, &made.url, None).body(r#"{"customer": "five"}"#).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(error_of(bad).await.field.as_deref(), Some("inputs.customer"));
    let big = app.request(Method::POST, &made.url, None).body(vec![b' '; 3 << 20]).send().await.unwrap();
    assert_eq!(big.status(), 413);

    // A flood: each hook gets 30 a minute (refused bodies count too).
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(app.request(Method::POST, &made.url, None).body(r#"{"customer": "x"}"#).send().await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = app.request(Method::POST, &made.url, None).body("{}").send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));

    assert_eq!(app.request(Method::DELETE, &format!("{hooks}/{}", made.hook.id), Some(&admin)).send().await.unwrap().status(), 204);
    let revoked = app.request(Method::POST, &made.url, None).body("{}").send().await.unwrap();
    assert_eq!(revoked.status(), 404);

    // A script with a `payload` input takes the body whole, as text.
    let content = "def main(payload: str):\n    print(len(payload), payload[:12])\n";
    let catcher = app.new_script(&admin, json!({"name": "catcher", "content": content})).await;
    let made = app.send_json(Method::POST, &admin, &format!("/api/scripts/{}/hooks", catcher.id), &json!({"name": "github"})).await;
    let made: CreatedHook = made.json().await.unwrap();
    let fired = app.request(Method::POST, &made.url, None).body(r#"{"action": "opened", "x": [1, 2]}"#).send().await.unwrap();
    assert_eq!(fired.status(), 202);
    let fired: HookFired = fired.json().await.unwrap();
    let run = app.finished(&admin, fired.execution_id).await;
    assert_eq!(lines_of(&app.log_of(&admin, run.id).await, LogStream::Stdout), ["33 {\"action\": \""]);
}
