//! Malformed requests get the SPEC's JSON error with a fitting status, never a 500: unknown
//! routes and methods, bad bodies (huge, slow, deep, not text), bad URLs.

use std::time::Duration;

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{error_of, spawn_app, spawn_app_with, Api, Backend, TestApp};
use crate::on_both_backends;

async fn unknown_api_route_is_json_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for path in ["/api/nope", "/api", "/api/scripts/1/no/such/thing"] {
        let response = app.get_as(&admin, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_of(response).await.code, "not_found");
    }
}

async fn wrong_method_is_json_405(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.delete(app.url("/api/health")).send().await.unwrap();
    // Unsigned, the gate answers first; signed in, the router says the method is wrong.
    assert_eq!(response.status(), 401);
    let admin = app.setup_admin().await;
    let response = app.request(Method::DELETE, "/api/health", Some(&admin)).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let error = error_of(response).await;
    assert_eq!(error.code, "method_not_allowed");
    assert!(error.message.contains("DELETE"));
}

async fn malformed_bodies_get_clear_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.request(Method::POST, "/api/users", Some(&admin)).header("content-type", content_type).body(body).send()
    };
    let response = post(b"{\"username\": ".to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await.message.contains("not valid JSON"));

    let response = post(br#"{"username": "x", "password": "longenough", "role": "boss"}"#.to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 422);
    let error = error_of(response).await;
    assert_eq!(error.field.as_deref(), Some("role"), "{error:?}");

    let response = post(br#"{"username": 5}"#.to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(error_of(response).await.field.as_deref(), Some("username"));

    let response = post(b"username=x".to_vec(), "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(response.status(), 415);
    assert!(error_of(response).await.message.contains("application/json"));

    let response = post(b"{\"username\": \"\xff\xfe\"}".to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 400, "non-UTF-8 JSON is malformed");

    let huge = format!(r#"{{"username": "{}", "password": "x", "role": "viewer"}}"#, "a".repeat(100_000));
    let response = post(huge.into_bytes(), "application/json").await.unwrap();
    assert_eq!(response.status(), 413);
    assert!(error_of(response).await.message.contains("65536"));
}

async fn non_numeric_ids_are_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for path in ["/api/users/abc", "/api/users/1.5", "/api/users/99999999999999999999999"] {
        let response = app.request(Method::DELETE, path, Some(&admin)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let error = error_of(response).await;
        assert_eq!(error.field.as_deref(), Some("id"), "{path}: {error:?}");
    }
    let response = app.request(Method::DELETE, "/api/users/424242", Some(&admin)).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

async fn openapi_document_lists_the_routes(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/api/openapi.json").await.status(), 401);
    let admin = app.setup_admin().await;
    let response = app.get_as(&admin, "/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert!(document["paths"]["/api/health"]["get"].is_object(), "{document}");
    assert!(document["paths"]["/api/users/{id}"]["put"].is_object(), "{document}");
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
}

/// Sends raw bytes as one request and reads the answer until the server closes or `wait` ends:
/// (status, body). The server closes after answering a request whose body it did not read.
async fn raw_exchange(app: &TestApp, bytes: &[u8], wait: Duration) -> (u16, String) {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|length| answer.len() >= end + 4 + length) {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(wait, read).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    (status, body)
}

fn script_head(app: &TestApp, token: &str, framing: &str) -> String {
    format!(
        "POST /api/scripts HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\n{framing}\r\n",
        app.addr
    )
}

/// A body beyond `--max-body-bytes` (65536 in tests) is a JSON 413 naming the limit however it
/// is framed: a true Content-Length (refused unread), chunked with no length (refused once the
/// limit is passed); a Content-Length smaller than what follows only ever lets that much in;
/// one larger than what arrives is a 408 after the client timeout. Nothing is stored.
async fn huge_bodies_get_json_413_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app_with(backend, &["--client-timeout-seconds", "2"]).await;
    let admin = app.setup_admin().await;
    // A bearer token for the raw requests (a cookie works as well; a token is one header).
    let token = app.token(&admin, "raw").await;
    let huge = format!(r#"{{"name": "huge", "content": "{}"}}"#, "x".repeat(100_000));

    let response = app
        .request(Method::POST, "/api/scripts", Some(&admin))
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let error = error_of(response).await;
    assert_eq!(error.code, "payload_too_large");
    assert!(error.message.contains("65536"), "{error:?}");

    // Chunked, no Content-Length: refused when the limit is passed.
    let mut chunked = script_head(&app, &token, "transfer-encoding: chunked\r\n").into_bytes();
    for piece in huge.as_bytes().chunks(8192) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, body) = raw_exchange(&app, &chunked, Duration::from_secs(10)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large") && body.contains("65536"), "{body}");

    // A Content-Length that understates the body: only that much is read, a JSON fragment.
    let mut lying = script_head(&app, &token, "content-length: 100\r\n").into_bytes();
    lying.extend_from_slice(huge.as_bytes());
    let (status, body) = raw_exchange(&app, &lying, Duration::from_secs(10)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not valid JSON"), "{body}");

    // One that promises more than arrives: the body read times out, the connection is freed.
    let mut short = script_head(&app, &token, "content-length: 60000\r\n").into_bytes();
    short.extend_from_slice(br#"{"name": "slow", "#);
    let begun = std::time::Instant::now();
    let (status, body) = raw_exchange(&app, &short, Duration::from_secs(20)).await;
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("request_timeout"), "{body}");
    assert!(begun.elapsed() < Duration::from_secs(10), "took {:?}", begun.elapsed());

    let scripts: Vec<serde_json::Value> = app.get_as(&admin, "/api/scripts").await.json().await.unwrap();
    assert!(scripts.is_empty(), "nothing is stored: {scripts:?}");
}

/// 100,000 nested arrays or objects: refused, never a stack overflow; the server answers
/// afterwards.
async fn deep_json_is_refused_and_the_server_still_answers(backend: Backend) {
    let app = spawn_app_with(backend, &["--max-body-bytes", "1048576"]).await;
    let admin = app.setup_admin().await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies = [
        deep.clone(),
        format!(r#"{{"content": {deep}}}"#),
        format!(r#"{{"name": "deep", "content": "print(1)", "tags": {deep}}}"#),
        format!(r#"{{"name": "deep", "content": "print(1)", "extra": {deep}}}"#),
        "{\"a\":".repeat(100_000),
    ];
    for (i, body) in bodies.into_iter().enumerate() {
        for path in ["/api/scripts", "/api/code/check", "/api/requirements/check"] {
            let response = app
                .request(Method::POST, path, Some(&admin))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            // Each is refused as an invalid value where the first value does not fit (an array
            // for an object or a string, an unknown field), before its depth is reached. The last
            // body is never closed, but the parser stops at its first key, unknown to every type.
            assert_eq!(response.status(), 422, "body {i} to {path}");
            error_of(response).await;
        }
    }
    assert_eq!(app.get("/api/health").await.status(), 200);
}

/// Text that is not text: NUL in a JSON string (PostgreSQL cannot store it), invalid UTF-8 in
/// a body, NUL or invalid UTF-8 in a path or query parameter. Each is a 4xx that says why.
async fn invalid_text_is_a_clear_4xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let post = |path: &'static str, body: &'static [u8]| {
        app.request(Method::POST, path, Some(&admin)).header("content-type", "application/json").body(body).send()
    };

    let response = post("/api/scripts", br#"{"name": "nul\u0000name", "content": "print(1)"}"#).await.unwrap();
    assert_eq!(response.status(), 422);
    let error = error_of(response).await;
    assert_eq!(error.field.as_deref(), Some("name"), "{error:?}");
    assert!(error.message.contains("NUL"), "{error:?}");
    let response = post("/api/scripts", br#"{"name": "ok", "content": "print(1)", "tags": ["a\u0000"]}"#).await.unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(error_of(response).await.field.as_deref(), Some("tags[0]"));
    let response = post("/api/auth/login", br#"{"username": "\u0000", "password": "x"}"#).await.unwrap();
    assert_eq!(response.status(), 422);
    let response = post("/api/scripts", b"{\"name\": \"bad \xc3\x28 utf8\", \"content\": \"print(1)\"}").await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await.message.contains("not valid JSON"));
    let response = post("/api/scripts", b"{\"name\": \"raw \x00 nul\", \"content\": \"print(1)\"}").await.unwrap();
    assert_eq!(response.status(), 400);

    let response = post("/api/scripts", br#"{"name": "target", "content": "print(1)"}"#).await.unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<app::model::Script>().await.unwrap().id;
    for path in [
        format!("/api/scripts/{id}/dependencies/%00"),
        format!("/api/scripts/{id}/dependencies/a%00b"),
        format!("/api/scripts/{id}/dependencies/%ff"),
        "/api/scripts?q=%00".to_string(),
        "/api/scripts?q=%ff%fe".to_string(),
        "/api/scripts?tag=a%00".to_string(),
        "/api/cron/describe?expr=%00".to_string(),
        "/api/cron/describe?expr=*+*+*+*+*&tz=%C0%AF".to_string(),
        "/api/executions?status=%00".to_string(),
        "/api/%ff%fe".to_string(),
        "/ws/executions/1?after=%00".to_string(),
    ] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let response = app
                .request(method.clone(), &path, Some(&admin))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{method} {path}");
            let error = error_of(response).await;
            assert!(error.message.contains("NUL") || error.message.contains("UTF-8"), "{method} {path}: {error:?}");
        }
    }
    let scripts: Vec<serde_json::Value> = app.get_as(&admin, "/api/scripts").await.json().await.unwrap();
    assert_eq!(scripts.len(), 1, "only the valid script is stored: {scripts:?}");
}

on_both_backends!(
    huge_bodies_get_json_413_and_nothing_is_stored,
    deep_json_is_refused_and_the_server_still_answers,
    invalid_text_is_a_clear_4xx,
    unknown_api_route_is_json_404,
    wrong_method_is_json_405,
    malformed_bodies_get_clear_errors,
    non_numeric_ids_are_400,
    openapi_document_lists_the_routes,
);
