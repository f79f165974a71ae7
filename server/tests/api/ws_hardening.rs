//! The WebSockets under hostile use (issue #23): a socket outlives the sign-in it was opened
//! with, a client sends a message the size of a file, one account opens socket after socket.

use std::time::Duration;

use app::model::{Event, Role, TokenInfo, UserInfo};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::helpers::{
    eventually, memory_kib, next_event, session_of, spawn_app, spawn_app_with, Actor, Api, Backend, Server, Socket, TestApp, TestDb,
    PASSWORD,
};
use crate::on_both_backends;

on_both_backends!(sockets_close_when_their_sign_in_ends, a_huge_client_message_closes_the_socket, a_user_has_a_share_of_the_websockets);

/// How long the issue allows an ended sign-in's socket to stream on.
const WITHIN: Duration = Duration::from_secs(5);

/// How the server ended a socket.
#[derive(Debug, PartialEq)]
enum Closed {
    /// With a close frame: its code and reason.
    Said(u16, String),
    /// Without one: the connection was dropped.
    Dropped,
}

/// Reads `socket` (whatever it is still sent) until the server ends it, at most `within`.
async fn closing(socket: &mut Socket, within: Duration) -> Closed {
    tokio::time::timeout(within, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return Closed::Said(u16::from(frame.code), frame.reason.to_string()),
                Some(Ok(Message::Close(None)) | Err(_)) | None => return Closed::Dropped,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the socket is still open after {within:?}"))
}

fn ended(reason: &str) -> Closed {
    Closed::Said(1008, reason.into())
}

/// Waits until `socket` delivers a line of the run: it is streaming.
async fn streaming(socket: &mut Socket) {
    loop {
        match next_event(socket).await {
            Some(Event::LogOutput { .. }) => return,
            Some(_) => {}
            None => panic!("the socket closed before it streamed"),
        }
    }
}

async fn user_id(app: &TestApp, admin: &Actor, name: &str) -> i64 {
    let users: Vec<UserInfo> = app.json_of(admin, "/api/users").await;
    users.into_iter().find(|u| u.username == name).unwrap().id
}

/// A new user, signed in, with a socket to `path` that is streaming.
async fn watcher(app: &TestApp, admin: &Actor, name: &str, role: Role, path: &str) -> (Actor, Socket) {
    let actor = app.add_user(admin, name, role).await;
    let mut socket = app.connect(&actor, path).await;
    streaming(&mut socket).await;
    (actor, socket)
}

/// While a run streams (a line every 0.2 s for a minute), each way a sign-in ends closes the
/// sockets opened with it, with 1008 saying why, within 5 s, on either feed: signing out,
/// being disabled, demoted or deleted, a token revoked, a password changed elsewhere (which
/// ends the other sessions and, when asked, the tokens). An admin's socket streams on.
async fn sockets_close_when_their_sign_in_ends(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = "import time\nfor i in range(300):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.2)\n";
    let created = app.new_script(&admin, json!({"name": "ticker", "content": script})).await;
    let run = app.execute(&admin, created.id).await;
    let (run_feed, script_feed) = (format!("/ws/executions/{}?after=0", run.id), format!("/ws/scripts/{}", created.id));
    let mut bystander = app.connect(&admin, &run_feed).await;
    streaming(&mut bystander).await;

    let (leaver, mut socket) = watcher(&app, &admin, "leaver", Role::Viewer, &run_feed).await;
    assert_eq!(app.post(&leaver, "/api/auth/logout").await.status(), 204);
    assert_eq!(closing(&mut socket, WITHIN).await, ended("signed out"));

    let (_, mut socket) = watcher(&app, &admin, "disabled", Role::Viewer, &script_feed).await;
    let id = user_id(&app, &admin, "disabled").await;
    assert_eq!(app.send_json(Method::PUT, &admin, &format!("/api/users/{id}"), &json!({"is_active": false})).await.status(), 200);
    assert_eq!(closing(&mut socket, WITHIN).await, ended("the account was disabled"));

    let (_, mut socket) = watcher(&app, &admin, "demoted", Role::Editor, &run_feed).await;
    let id = user_id(&app, &admin, "demoted").await;
    assert_eq!(app.send_json(Method::PUT, &admin, &format!("/api/users/{id}"), &json!({"role": "viewer"})).await.status(), 200);
    assert_eq!(closing(&mut socket, WITHIN).await, ended("your role changed"));

    let (_, mut socket) = watcher(&app, &admin, "deleted", Role::Viewer, &script_feed).await;
    let id = user_id(&app, &admin, "deleted").await;
    assert_eq!(app.request(Method::DELETE, &format!("/api/users/{id}"), Some(&admin)).send().await.unwrap().status(), 204);
    assert_eq!(closing(&mut socket, WITHIN).await, ended("the account was deleted"));

    let tokened = app.add_user(&admin, "tokened", Role::Viewer).await;
    let token = Actor::Token(app.token(&tokened, "watcher").await);
    let tokens: Vec<TokenInfo> = app.json_of(&tokened, "/api/tokens").await;
    let mut socket = app.connect(&token, &run_feed).await;
    streaming(&mut socket).await;
    let revoked = app.request(Method::DELETE, &format!("/api/tokens/{}", tokens[0].id), Some(&tokened)).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(closing(&mut socket, WITHIN).await, ended("the API token was revoked"));

    // A password changed in one browser: the sockets of another browser and of a token close.
    let here = app.add_user(&admin, "changer", Role::Editor).await;
    let there = session_of(&app.sign_in("changer", PASSWORD).await);
    let mut elsewhere = app.connect(&there, &script_feed).await;
    streaming(&mut elsewhere).await;
    let token = Actor::Token(app.token(&here, "ci").await);
    let mut by_token = app.connect(&token, &run_feed).await;
    streaming(&mut by_token).await;
    let change = json!({"current_password": PASSWORD, "new_password": "changer-new-password", "revoke_tokens": true});
    assert_eq!(app.send_json(Method::POST, &here, "/api/auth/password", &change).await.status(), 200);
    assert_eq!(closing(&mut elsewhere, WITHIN).await, ended("signed out"));
    assert_eq!(closing(&mut by_token, WITHIN).await, ended("the API token was revoked"));

    // The admin's socket never stopped streaming.
    streaming(&mut bystander).await;
    assert_eq!(app.stop(&admin, run.id).await.status(), 200);
}

/// A client that sends a 1 MB WebSocket message is cut off at the first 16 KiB, with 1009 if
/// the close frame reaches it before the dropped connection does: twenty of them leave the
/// server's peak memory within 10 MiB of where it was (without the cap each message is buffered
/// whole, up to 64 MiB each), and it goes on serving, small messages included.
async fn a_huge_client_message_closes_the_socket(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    let server = Server::start(&db.url, data.path(), &[]);
    let admin = server.sign_in_admin().await;
    let script = server.new_script(&admin, json!({"name": "quiet", "content": "print('hi')\n"})).await;
    let path = format!("/ws/scripts/{}", script.id);
    let pid = server.child.id();
    let mut sockets = Vec::new();
    for _ in 0..20 {
        sockets.push(server.connect(&admin, &path).await);
    }
    let before_kib = memory_kib(pid, "VmHWM:");
    let huge = "x".repeat(1 << 20);
    for socket in &mut sockets {
        // The server may cut the connection before the whole message is written.
        let _ = socket.send(Message::Text(huge.clone().into())).await;
    }
    for socket in &mut sockets {
        match closing(socket, Duration::from_secs(10)).await {
            Closed::Dropped => {}
            Closed::Said(code, reason) => assert_eq!((code, reason.as_str()), (1009, "a message may be 16384 bytes at most")),
        }
    }
    let peak_kib = memory_kib(pid, "VmHWM:");
    assert!(peak_kib < before_kib + 10 * 1024, "peak memory went from {before_kib} KiB to {peak_kib} KiB");
    assert_eq!(server.get("/api/health").await.status(), 200);

    let mut fresh = server.connect(&admin, &path).await;
    fresh.send(Message::Text("small and fine".into())).await.unwrap();
    server.execute(&admin, script.id).await;
    assert!(next_event(&mut fresh).await.is_some(), "a socket that sent a small message is still served");
}

/// The 429 or 503 that refused an upgrade: its status and its message.
async fn refusal(app: &TestApp, actor: &Actor, path: &str) -> (u16, String) {
    match app.try_connect(actor, path).await {
        Err(WsError::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            let error: app::error::ErrorBody = serde_json::from_slice(body).expect("the refusal is a JSON error");
            (response.status().as_u16(), error.error.message)
        }
        other => panic!("the upgrade must be refused: {:?}", other.map(|_| ())),
    }
}

/// One user may hold `--max-websockets-per-user` sockets: the next is refused with 429 naming
/// the setting, another user is not affected, the instance's `--max-websockets` still holds
/// (503 naming it), and a closed socket's slot can be taken again.
async fn a_user_has_a_share_of_the_websockets(backend: Backend) {
    let app = spawn_app_with(backend, &["--max-websockets-per-user", "2", "--max-websockets", "3"]).await;
    let admin = app.setup_admin().await;
    let viewer = app.add_user(&admin, "vic", Role::Viewer).await;
    let script = app.new_script(&admin, json!({"name": "shared", "content": "print('hi')\n"})).await;
    let path = format!("/ws/scripts/{}", script.id);
    let first = app.connect(&admin, &path).await;
    let _second = app.connect(&admin, &path).await;
    let (status, message) = refusal(&app, &admin, &format!("/ws/executions/{}", i64::MAX)).await;
    assert_eq!(status, 429, "{message}");
    assert!(message.contains("PYTASK_MAX_WEBSOCKETS_PER_USER"), "{message}");

    let _theirs = app.connect(&viewer, &path).await;
    let (status, message) = refusal(&app, &viewer, &path).await;
    assert_eq!(status, 503, "the instance is full before vic's share is: {message}");
    assert!(message.contains("PYTASK_MAX_WEBSOCKETS "), "{message}");

    drop(first);
    let _again = eventually(Duration::from_secs(5), async || app.try_connect(&admin, &path).await).await;
    assert_eq!(refusal(&app, &admin, &path).await.0, 429, "the freed slot was taken again");
}
