//! Listing and reading runs: filters, order, pages, and refused parameters.

use app::model::{ExecutionPage, ExecutionStatus, LogLine, LogPage, LogStream};
use sea_orm::ConnectionTrait;
use serde_json::json;
use server::executions::logs;

use crate::helpers::{error_of, spawn_app_with, Api, Backend};
use crate::on_both_backends;

/// A moment of the hand-made runs' morning, as SQL text.
fn minute(minute: u32) -> String {
    format!("2026-03-01 10:{minute:02}:00+00:00")
}

async fn filters_order_and_pages(backend: Backend) {
    // A web instance: no worker touches the hand-made runs.
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let mut ids = Vec::new();
    for name in ["One", "Two"] {
        ids.push(app.new_script(&admin, json!({ "name": name })).await.id);
    }
    for at in 0..7 {
        app.insert_run(ids[0], if at % 2 == 0 { "succeeded" } else { "failed" }, &minute(at)).await;
    }
    app.insert_run(ids[1], "succeeded", &minute(30)).await;

    let page = |query: String| {
        let app = &app;
        let admin = &admin;
        async move {
            let response = app.get_as(admin, &format!("/api/executions{query}")).await;
            assert_eq!(response.status(), 200, "{query}");
            response.json::<ExecutionPage>().await.unwrap()
        }
    };
    let all = page(String::new()).await;
    assert_eq!(all.total, 8);
    assert_eq!(all.items[0].script_name, "Two", "newest first");

    let first = page(format!("?script_id={}&per_page=3", ids[0])).await;
    assert_eq!((first.total, first.items.len()), (7, 3));
    let third = page(format!("?script_id={}&per_page=3&page=3", ids[0])).await;
    assert_eq!(third.items.len(), 1);
    assert!(first.items.windows(2).all(|w| w[0].id > w[1].id));

    let failed = page(format!("?script_id={}&status=failed&sort=oldest", ids[0])).await;
    assert_eq!(failed.total, 3);
    assert!(failed.items.iter().all(|run| run.status == ExecutionStatus::Failed));
    assert!(failed.items.windows(2).all(|w| w[0].id < w[1].id), "oldest first");

    let one = app.run_of(&admin, all.items[0].id).await;
    assert_eq!(one, all.items[0]);
    assert_eq!(app.get_as(&admin, "/api/executions/999999").await.status(), 404);

    for (query, status) in [("?status=done", 400), ("?page=0", 422), ("?per_page=1000", 422), ("?script_id=x", 400), ("?colour=red", 400)] {
        let response = app.get_as(&admin, &format!("/api/executions{query}")).await;
        assert_eq!(response.status(), status, "{query}");
        assert!(!error_of(response).await.message.is_empty());
    }
}

/// A stored log read back a page at a time, from every `after`, with pages that begin and end
/// inside chunks, span several, and cross a gap (a batch that could not be stored).
async fn log_pages_across_chunks_and_gaps(backend: Backend) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let script_id = app.new_script(&admin, json!({ "name": "Chatty" })).await.id;
    app.insert_run(script_id, "succeeded", &minute(0)).await;
    let id = app.get_as(&admin, "/api/executions").await.json::<ExecutionPage>().await.unwrap().items[0].id;
    let at = chrono::Utc::now();
    // Chunks of 1, 7 and 3 lines, then lines 12..=20 lost, then chunks of 5 and 1.
    let stored: Vec<i64> = (1..=11).chain(21..=26).collect();
    for range in [1..=1, 2..=8, 9..=11, 21..=25, 26..=26] {
        let lines: Vec<LogLine> = range.map(|seq| LogLine { seq, stream: LogStream::Stdout, line: format!("line {seq}"), at }).collect();
        logs::store(&app.db, id, &lines).await.unwrap();
    }
    for limit in [1, 2, 3, 4, 9, 30] {
        for start in [0, 1, 4, 8, 11, 15, 20, 25, 26] {
            let mut after = start;
            let mut seen = Vec::new();
            loop {
                let page: LogPage =
                    app.get_as(&admin, &format!("/api/executions/{id}/logs?after={after}&limit={limit}")).await.json().await.unwrap();
                assert!(page.lines.len() <= limit, "after={after} limit={limit}: a page longer than asked");
                assert!(page.lines.iter().all(|l| l.line == format!("line {}", l.seq)));
                seen.extend(page.lines.iter().map(|l| l.seq));
                if page.complete {
                    break;
                }
                assert!(page.next_after > after, "after={after} limit={limit}: no progress");
                after = page.next_after;
            }
            let expected: Vec<i64> = stored.iter().copied().filter(|&seq| seq > start).collect();
            assert_eq!(seen, expected, "from after={start} in pages of {limit}");
        }
    }
}

/// What a run ran with and used (SPEC "Isolation") is part of every run the API shows: `null`
/// until known, the stored values after.
async fn runs_show_their_isolation_and_usage(backend: Backend) {
    let app = spawn_app_with(backend, &["--role", "web"]).await;
    let admin = app.setup_admin().await;
    let script_id = app.new_script(&admin, json!({ "name": "Measured" })).await.id;
    app.insert_run(script_id, "queued", &minute(0)).await;
    app.insert_run(script_id, "succeeded", &minute(1)).await;
    let page: ExecutionPage = app.get_as(&admin, "/api/executions").await.json().await.unwrap();
    let (ended, waiting) = (page.items[0].id, page.items[1].id);
    app.db
        .execute_unprepared(&format!(
            "UPDATE executions SET network = FALSE, sandboxed = TRUE, peak_memory_bytes = 40055603, cpu_seconds = 0.41 WHERE id = {ended}"
        ))
        .await
        .unwrap();

    const FIELDS: [&str; 4] = ["network", "sandboxed", "peak_memory_bytes", "cpu_seconds"];
    let json = |path: String| {
        let (app, admin) = (&app, &admin);
        async move { app.get_as(admin, &path).await.json::<serde_json::Value>().await.unwrap() }
    };
    let one = json(format!("/api/executions/{waiting}")).await;
    for field in FIELDS {
        assert_eq!(one.get(field), Some(&serde_json::Value::Null), "{field} is shown, empty: {one}");
    }
    let one = json(format!("/api/executions/{ended}")).await;
    assert_eq!(FIELDS.map(|field| one[field].clone()), [json!(false), json!(true), json!(40_055_603), json!(0.41)], "{one}");
    let listed = json("/api/executions".to_string()).await;
    assert_eq!(listed["items"][0], one, "the list shows the same run");

    let run = app.run_of(&admin, ended).await;
    assert_eq!(
        (run.network, run.sandboxed, run.peak_memory_bytes, run.cpu_seconds),
        (Some(false), Some(true), Some(40_055_603), Some(0.41))
    );
}

on_both_backends!(filters_order_and_pages, log_pages_across_chunks_and_gaps, runs_show_their_isolation_and_usage);
