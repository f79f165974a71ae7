//! `GET /metrics`: who may scrape it, and that the counters move with real work. The counting
//! tests run the real binary: each process has its own recorder, so the numbers are this test's
//! alone (in this test process, every `App` shares one).

use std::time::{Duration, Instant};

use app::model::{CreatedToken, Execution, ExecutionStatus, NewToken, Role, Script};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_of, spawn_app, spawn_app_with, Actor, Backend, Server, TestDb};
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

fn with_cookie(request: reqwest::RequestBuilder, actor: &Actor) -> reqwest::RequestBuilder {
    match actor {
        Actor::Cookie(cookie) => request.header("cookie", cookie),
        Actor::Token(token) => request.bearer_auth(token),
    }
}

async fn scrape(client: &reqwest::Client, base: &str, admin: &Actor) -> String {
    let response = with_cookie(client.get(format!("{base}/metrics")), admin).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

async fn counts_real_work(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, dir.path()).await;
    let server = Server::start(&db.url, dir.path(), &[]);
    let client = reqwest::Client::new();
    let admin = server.sign_in(&client).await;
    let base = server.base.clone();
    let before = scrape(&client, &base, &admin).await;

    let printed = 5;
    let script: Script = with_cookie(client.post(format!("{base}/api/scripts")), &admin)
        .json(&json!({ "name": "counted", "content": format!("for i in range({printed}):\n    print(i)\n") }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // A socket on the script counts while it is open.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/ws/scripts/{}", base.replace("http://", "ws://"), script.id).into_client_request().unwrap();
    let Actor::Cookie(cookie) = &admin else { panic!("the admin signs in with a cookie") };
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket opens");
    let open = scrape(&client, &base, &admin).await;
    assert_eq!(sample(&open, "pytask_websocket_clients", &[("kind", "script")]), 1.0, "{open}");

    let run: Execution =
        with_cookie(client.post(format!("{base}/api/scripts/{}/execute", script.id)), &admin).send().await.unwrap().json().await.unwrap();
    let begun = Instant::now();
    let run = loop {
        let now: Execution =
            with_cookie(client.get(format!("{base}/api/executions/{}", run.id)), &admin).send().await.unwrap().json().await.unwrap();
        if now.status.is_final() {
            break now;
        }
        assert!(begun.elapsed() < Duration::from_secs(120), "the run did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert!(run.log_lines >= printed, "{run:?}");
    socket.close(None).await.unwrap();
    drop(socket);

    let after = scrape(&client, &base, &admin).await;
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
    let missing = with_cookie(client.get(format!("{base}/api/no/such/thing")), &admin).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    // The socket's task ends a moment after the close.
    let begun = Instant::now();
    loop {
        let now = scrape(&client, &base, &admin).await;
        if sample(&now, "pytask_websocket_clients", &[("kind", "script")]) == 0.0 {
            assert!(sample(&now, "pytask_http_requests_total", &[("route", "unmatched"), ("status", "404")]) >= 1.0, "{now}");
            break;
        }
        assert!(begun.elapsed() < Duration::from_secs(10), "the socket is still counted: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let token: CreatedToken = app
        .request(Method::POST, "/api/tokens", Some(&admin))
        .json(&NewToken { name: "prometheus".into(), expires_in_days: None })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app.get_as(&Actor::Token(token.secret), "/metrics").await.status(), 200);
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
