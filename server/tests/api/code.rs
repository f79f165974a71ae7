//! Syntax check and formatting with the real Python and the real ruff.

use app::model::{CheckReport, Severity, Source};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_of, spawn_app, spawn_app_with, Actor, Api, Backend, TestApp};
use crate::on_both_backends;

async fn check(app: &TestApp, actor: &Actor, content: &str) -> CheckReport {
    let response = app.request(Method::POST, "/api/code/check", Some(actor)).json(&json!({ "content": content })).send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{content:?}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn format(app: &TestApp, actor: &Actor, content: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/code/format", Some(actor)).json(&json!({ "content": content })).send().await.unwrap()
}

async fn syntax_errors_have_line_and_column(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    assert!(check(&app, &admin, "import sys\nprint(sys.argv)\n").await.problems.is_empty());
    assert!(check(&app, &admin, "").await.problems.is_empty());

    let report = check(&app, &admin, "x = 1\nprint(x +)\n").await;
    let [problem] = report.problems.as_slice() else { panic!("one problem: {report:?}") };
    assert_eq!((problem.severity, problem.line), (Severity::Error, 2));
    assert!(problem.column >= 9, "{problem:?}");
    assert!(problem.message.starts_with("SyntaxError"), "{problem:?}");

    let report = check(&app, &admin, "if True:\nprint(1)\n").await;
    assert_eq!(report.problems[0].line, 2);
    assert!(report.problems[0].message.starts_with("IndentationError"), "{report:?}");

    // Found by the sweep: Python ends this error at column -1, which is no column at all.
    let report = check(&app, &admin, " \u{f4f5e}H\u{9856f}\u{b6}").await;
    let [problem] = report.problems.as_slice() else { panic!("one problem: {report:?}") };
    assert!(problem.message.starts_with("IndentationError"), "{problem:?}");
    assert_eq!((problem.line, problem.end_column), (1, None), "{problem:?}");

    // Only compiled, never run: the file would appear if it were.
    let marker = app.data_dir.path().join("ran");
    let report = check(&app, &admin, &format!("open({:?}, 'w').write('x')\n", marker.display().to_string())).await;
    assert!(report.problems.is_empty());
    assert!(!marker.exists(), "checking must not run the script");

    // Compiles, but Python warns about it.
    let report = check(&app, &admin, "x = 1\nif x is 1:\n    pass\n").await;
    assert!(report.problems.iter().any(|p| p.severity == Severity::Warning && p.line == 2), "{report:?}");

    // A NUL cannot be in a script at all: refused like on save, naming the field.
    let response =
        app.request(Method::POST, "/api/code/check", Some(&admin)).json(&json!({ "content": "x = 'a\0b'\n" })).send().await.unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(error_of(response).await.field.as_deref(), Some("content"));
}

async fn format_uses_ruff_and_refuses_what_does_not_parse(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let response = format(&app, &admin, "x=[1,2 ,3]\ndef f( a ):\n  return a\n").await;
    assert_eq!(response.status(), 200);
    let formatted: Source = response.json().await.unwrap();
    assert_eq!(formatted.content, "x = [1, 2, 3]\n\n\ndef f(a):\n    return a\n");

    let response = format(&app, &admin, "def f(:\n").await;
    assert_eq!(response.status(), 422);
    let error = error_of(response).await;
    assert_eq!(error.field.as_deref(), Some("content"));
    assert!(error.message.contains("line 1"), "{error:?}");

    let viewer = app.add_user(&admin, "vic", app::model::Role::Viewer).await;
    assert_eq!(format(&app, &viewer, "x=1").await.status(), 403, "formatting is editing");
    assert!(check(&app, &viewer, "x=1").await.problems.is_empty(), "viewers may check");
}

async fn bad_input_and_missing_tools(backend: Backend) {
    let app = spawn_app_with(backend, &["--ruff", "/nonexistent/ruff"]).await;
    let admin = app.setup_admin().await;
    let response = format(&app, &admin, "x = 1\n").await;
    assert_eq!(response.status(), 503);
    assert!(error_of(response).await.message.contains("PYTASK_RUFF"));

    // Beyond the body limit of the test server the request itself is refused.
    let big = "#".repeat(app::validate::CONTENT_MAX_BYTES + 1);
    let response = app.send_json(Method::POST, &admin, "/api/code/check", &json!({ "content": big })).await;
    assert_eq!(response.status(), 413);
    // Valid JSON of the wrong shape (a field missing, of the wrong type, unknown): an invalid value.
    for body in [json!({}), json!({"content": 5}), json!({"content": "x", "extra": 1})] {
        let response = app.send_json(Method::POST, &admin, "/api/code/check", &body).await;
        assert_eq!(response.status(), 422, "{body}");
    }
    assert_eq!(app.request(Method::POST, "/api/code/check", None).json(&json!({"content": ""})).send().await.unwrap().status(), 401);
}

on_both_backends!(syntax_errors_have_line_and_column, format_uses_ruff_and_refuses_what_does_not_parse, bad_input_and_missing_tools);
