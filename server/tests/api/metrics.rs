//! `GET /metrics`: who may scrape it, and that the counters move with real work. The counting
//! tests run the real binary: each process has its own recorder, so the numbers are this test's
//! alone (in this test process, every `App` shares one).

use std::time::Duration;

use app::model::{ExecutionStatus, Role};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_of, eventually, spawn_app, spawn_app_with, Actor, Api, Backend, Server, TestDb};
use crate::on_both_backends;

/// The sum of the samples of `name` whose labels include all of `labels` (0 when there is none).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let wanted = labels.iter().all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")));
            (metric == name && wanted).then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

async fn scrape(server: &Server, admin: &Actor) -> String {
    let response = server.get_as(admin, "/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

async fn counts_real_work(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, dir.path()).await;
    let server = Server::start(&db.url, dir.path(), &[]);
    let admin = server.sign_in_admin().await;
    let before = scrape(&server, &admin).await;

    let printed = 5;
    let script =
        server.new_script(&admin, json!({ "name": "counted", "content": format!("for i in range({printed}):\n    print(i)\n") })).await;

    // A socket on the script counts while it is open.
    let mut socket = server.connect(&admin, &format!("/ws/scripts/{}", script.id)).await;
    let open = scrape(&server, &admin).await;
    assert_eq!(sample(&open, "pytask_websocket_clients", &[("kind", "script")]), 1.0, "{open}");

    let run = server.execute(&admin, script.id).await;
    let run = server.finished(&admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert!(run.log_lines >= printed, "{run:?}");
    socket.close(None).await.unwrap();
    drop(socket);

    let after = scrape(&server, &admin).await;
    let delta = |name: &str, labels: &[(&str, &str)]| sample(&after, name, labels) - sample(&before, name, labels);
    assert_eq!(delta("pytask_executions_finished_total", &[("status", "succeeded")]), 1.0, "{after}");
    assert_eq!(delta("pytask_executions_finished_total", &[("status", "failed")]), 0.0);
    assert_eq!(delta("pytask_execution_duration_seconds_count", &[("status", "succeeded")]), 1.0);
    // Every stored line: the script's and the server's own notes (its first run made its venv).
    assert_eq!(delta("pytask_log_lines_total", &[]), run.log_lines as f64);
    assert!(delta("pytask_log_batch_store_seconds_count", &[]) >= 1.0, "{after}");
    assert_eq!(delta("pytask_installs_total", &[("outcome", "succeeded")]), 1.0);
    assert!(after.contains("\npytask_queue_depth 0\n"), "{after}");
    assert!(after.contains("pytask_executions{status=\"running\"} 0"), "{after}");
    assert!(after.contains("# TYPE pytask_execution_duration_seconds histogram"), "buckets, not a summary");

    // Routes are counted by their template, never by the raw path.
    let polled = sample(&after, "pytask_http_requests_total", &[("method", "GET"), ("route", "/api/executions/{id}"), ("status", "200")]);
    assert!(polled >= 1.0, "{after}");
    assert!(!after.contains(&format!("/api/executions/{}", run.id)), "a raw path became a label");
    assert!(sample(&after, "pytask_http_request_duration_seconds_count", &[("route", "/api/scripts/{id}/execute")]) >= 1.0);
    let missing = server.get_as(&admin, "/api/no/such/thing").await;
    assert_eq!(missing.status(), 404);

    // The socket's task ends a moment after the close.
    let now = eventually(Duration::from_secs(10), async || {
        let now = scrape(&server, &admin).await;
        if sample(&now, "pytask_websocket_clients", &[("kind", "script")]) == 0.0 {
            Ok(now)
        } else {
            Err(format!("the socket is still counted: {now}"))
        }
    })
    .await;
    assert!(sample(&now, "pytask_http_requests_total", &[("route", "unmatched"), ("status", "404")]) >= 1.0, "{now}");
}

async fn needs_a_user_without_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_of(response).await.code, "unauthorized");
    let viewer = app.add_user(&admin, "watcher", Role::Viewer).await;
    let response = app.get_as(&viewer, "/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("pytask_"));
    // An API token works like on the API; a made-up one does not.
    let token = app.token(&admin, "prometheus").await;
    assert_eq!(app.get_as(&Actor::Token(token), "/metrics").await.status(), 200);
    let response = app.get_as(&Actor::Token("pt_made_up".into()), "/metrics").await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_of(response).await.code, "invalid_token");
}

async fn a_metrics_token_is_all_it_takes(backend: Backend) {
    let app = spawn_app_with(backend, &["--metrics-token", "scrape-me-9f3c"]).await;
    let admin = app.setup_admin().await;
    let response = app.get_as(&Actor::Token("scrape-me-9f3c".into()), "/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("pytask_queue_depth"));
    for (actor, code) in [
        (None, "unauthorized"),
        (Some(Actor::Token("scrape-me-9f3".into())), "invalid_token"),
        (Some(Actor::Token("wrong".into())), "invalid_token"),
        (Some(admin), "unauthorized"),
    ] {
        let response = app.request(Method::GET, "/metrics", actor.as_ref()).send().await.unwrap();
        assert_eq!(response.status(), 401, "{actor:?}");
        assert_eq!(error_of(response).await.code, code, "{actor:?}");
    }
    let response = app.client.get(app.url("/metrics")).header("authorization", "Basic c2NyYXBl").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(error_of(response).await.code, "invalid_token");
}

on_both_backends!(counts_real_work, needs_a_user_without_a_token, a_metrics_token_is_all_it_takes);
