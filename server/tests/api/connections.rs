//! Slow and numerous clients: headers sent a byte at a time or never, a WebSocket viewer that
//! stops reading while a run logs a lot, and more viewers than `--max-websockets`. Each is cut
//! off or refused with a clear answer, and the server keeps serving everyone else.

use std::time::{Duration, Instant};

use app::error::ErrorBody;
use app::model::{Event, LogStream};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::helpers::{eventually, free_port, next_event, spawn_app_with, Actor, Api, Backend, Server, Socket, TestApp};
use crate::on_both_backends;

/// Asserts the answer is the WebSocket limit's refusal: 503, `Retry-After`, a JSON error that
/// names the limit and the setting.
fn assert_refused(result: Result<Socket, WsError>, limit: u32) {
    let response = match result {
        Err(WsError::Http(response)) => response,
        Err(other) => panic!("expected a 503 refusal, got {other}"),
        Ok(_) => panic!("expected a 503 refusal, the WebSocket opened"),
    };
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    let body: ErrorBody = serde_json::from_slice(response.body().as_deref().expect("the refusal has a body")).expect("a JSON error");
    assert_eq!(body.error.code, "too_many_websockets");
    assert!(body.error.message.contains(&limit.to_string()) && body.error.message.contains("PYTASK_MAX_WEBSOCKETS"), "{:?}", body.error);
}

/// Opens a WebSocket, retrying while the limit refuses it (slots free up once the server has
/// seen earlier sockets end).
async fn connect_when_free(app: &TestApp, admin: &Actor, path: &str) -> Socket {
    eventually(Duration::from_secs(15), async || match app.try_connect(admin, path).await {
        Ok(socket) => Ok(socket),
        Err(WsError::Http(response)) if response.status() == 503 => Err("no WebSocket slot came free"),
        Err(other) => panic!("the WebSocket did not open: {other}"),
    })
    .await
}

/// 60 viewers against a limit of 50: the last 10 are refused with a 503 that says why, the API
/// keeps answering, closing viewers frees their slots, and the open ones keep getting events.
async fn websockets_beyond_the_limit_are_refused_with_503(backend: Backend) {
    let app = spawn_app_with(backend, &["--max-websockets", "50", "--max-websockets-per-user", "1000"]).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({ "name": "watched", "content": "print('hi')" })).await;
    let path = format!("/ws/scripts/{}", script.id);
    let mut open = Vec::new();
    for _ in 0..50 {
        open.push(app.try_connect(&admin, &path).await.expect("a viewer within the limit is served"));
    }
    for _ in 0..10 {
        assert_refused(app.try_connect(&admin, &path).await, 50);
    }
    assert_refused(app.try_connect(&admin, "/ws/executions/1").await, 50);
    assert_eq!(app.get_as(&admin, "/api/scripts").await.status(), 200, "the API answers with every slot taken");

    for mut socket in open.drain(..10) {
        socket.close(None).await.unwrap();
    }
    for _ in 0..10 {
        open.push(connect_when_free(&app, &admin, &path).await);
    }
    assert_refused(app.try_connect(&admin, &path).await, 50);

    let run = app.execute(&admin, script.id).await;
    let last = open.len() - 1;
    for i in [0, last] {
        let socket = &mut open[i];
        loop {
            let event = next_event(socket).await.expect("an open viewer stays open");
            if matches!(event, Event::ExecutionFinished { execution_id, .. } if execution_id == run.id) {
                break;
            }
        }
    }
}

/// A client that sends its headers a byte at a time is cut off after `--client-timeout-seconds`,
/// as is one that connects and sends nothing; others are served meanwhile.
async fn slow_and_idle_connections_are_cut_off(backend: Backend) {
    let app = spawn_app_with(backend, &["--client-timeout-seconds", "2"]).await;
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    let begun = Instant::now();
    let request = format!("GET /api/health HTTP/1.1\r\nhost: {}\r\nx-padding: {}\r\n\r\n", app.addr, "a".repeat(200));
    let mut cut_after = None;
    for byte in request.bytes() {
        if slow.write_all(&[byte]).await.is_err() {
            cut_after = Some(begun.elapsed());
            break;
        }
        let mut buffer = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(200), slow.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => {
                cut_after = Some(begun.elapsed());
                break;
            }
            Ok(Ok(n)) => panic!("an answer to unfinished headers: {:?}", String::from_utf8_lossy(&buffer[..n])),
            Err(_) => {}
        }
        if byte == b'\n' {
            assert_eq!(app.get("/api/health").await.status(), 200, "others are served meanwhile");
        }
    }
    let cut_after = cut_after.expect("the slow client was cut off before its headers were complete");
    assert!(cut_after >= Duration::from_millis(1500) && cut_after < Duration::from_secs(8), "cut off after {cut_after:?}");

    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buffer)).await.expect("the idle connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert_eq!(app.get("/api/health").await.status(), 200);
}

/// A viewer that upgrades and then never reads, while a run logs far more than the socket
/// buffers hold: the server's write to it cannot finish, so after `--client-timeout-seconds`
/// it is disconnected and its slot freed; a second viewer of the same run gets every line
/// meanwhile.
async fn a_viewer_that_stops_reading_is_cut_off(backend: Backend) {
    let app = spawn_app_with(backend, &["--client-timeout-seconds", "2", "--max-websockets", "2"]).await;
    let admin = app.setup_admin().await;
    let lines = 200_000;
    let script =
        app.new_script(&admin, json!({ "name": "chatty", "content": format!("for i in range({lines}):\n    print('x' * 100, i)") })).await;
    let run = app.execute(&admin, script.id).await;
    let path = format!("/ws/executions/{}", run.id);

    // A tiny receive buffer, so the server's side fills after a few MB.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(app.addr).await.unwrap();
    let upgrade = format!(
        "GET {path} HTTP/1.1\r\nhost: {}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\ncookie: {}\r\n\r\n",
        app.addr,
        admin.cookie()
    );
    stuck.write_all(upgrade.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stuck.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));

    let mut viewer = app.try_connect(&admin, &path).await.expect("the second viewer is served");
    let mut seen = 0;
    while let Some(event) = next_event(&mut viewer).await {
        match event {
            Event::LogOutput { stream: LogStream::Stdout, .. } => seen += 1,
            Event::ExecutionFinished { .. } => break,
            _ => {}
        }
    }
    assert_eq!(seen, lines, "the reading viewer got every line while the other one was stuck");

    // Both slots free again: the finished viewer's, and the stuck one's although it never read.
    let _first = connect_when_free(&app, &admin, "/ws/scripts/1").await;
    let _second = connect_when_free(&app, &admin, "/ws/scripts/1").await;
    drop(stuck);
}

on_both_backends!(
    websockets_beyond_the_limit_are_refused_with_503,
    slow_and_idle_connections_are_cut_off,
    a_viewer_that_stops_reading_is_cut_off,
);

/// Started with the soft open-files limit of a systemd service or a shell (here 512), the
/// server takes the hard limit for itself: viewers must not fail with EMFILE before the
/// WebSocket cap answers them.
#[tokio::test]
async fn the_open_files_limit_is_raised_at_start() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("sqlite://{}", data.path().join("test.db").display());
    let child = std::process::Command::new("sh")
        .args(["-c", "ulimit -Sn 512 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_pytask"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--log", "warn", "--database-url", &url])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // `exec` keeps the pid: the child is the server itself.
    let server = Server::serving(child, port);
    let open_files = |text: &str| -> Option<(String, String)> {
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        let mut fields = line["Max open files".len()..].split_whitespace();
        Some((fields.next()?.to_string(), fields.next()?.to_string()))
    };
    server.ready().await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap_or_default();
    let (soft, hard) = open_files(&limits).expect("/proc/<pid>/limits lists open files");
    drop(server);
    assert_ne!(soft, "512", "the soft limit was left at 512 (hard: {hard})");
    if hard != "unlimited" {
        assert!(soft == hard || soft == (1u64 << 20).to_string(), "soft {soft}, hard {hard}");
    }
}
