//! Nothing is open to a stranger: every route needs an identity, viewers change nothing,
//! sessions and tokens start and end as they should, and bad input changes nothing.

use app::model::{CreatedToken, Role, SetupStatus, TokenInfo, UserInfo};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use server::db::entities::{session, user};

use crate::helpers::{error_of, session_of, spawn_app, spawn_app_with, Actor, Api, Backend, ADMIN, PASSWORD};
use crate::on_both_backends;

/// Routes anyone may call.
/// (A webhook's token is its credential: a wrong one is 404, tested in `inputs`.)
const PUBLIC: &[(&str, &str)] =
    &[("GET", "/api/health"), ("POST", "/api/auth/login"), ("GET", "/api/setup"), ("POST", "/api/setup"), ("POST", "/api/hooks/{token}")];
/// Changes a viewer may make: to their own session, password and tokens.
const SELF_SERVICE: &[(&str, &str)] =
    &[("POST", "/api/auth/logout"), ("POST", "/api/auth/password"), ("POST", "/api/tokens"), ("DELETE", "/api/tokens/{id}")];
/// POSTs that compute an answer and store nothing, so viewers may send them too.
const READ_ONLY: &[(&str, &str)] = &[
    ("POST", "/api/code/check"),
    ("POST", "/api/code/inputs"),
    ("POST", "/api/code/metadata"),
    ("POST", "/api/code/metadata/write"),
    ("POST", "/api/requirements/check"),
];

/// Every (method, path) of the API, read from the served OpenAPI document.
async fn api_operations(app: &crate::helpers::TestApp, admin: &Actor) -> Vec<(String, String)> {
    let document: serde_json::Value = app.get_as(admin, "/api/openapi.json").await.json().await.unwrap();
    let mut operations = vec![("GET".to_string(), "/api/openapi.json".to_string())];
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase(), path.clone()));
        }
    }
    assert!(operations.len() >= 14, "{operations:?}");
    operations
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
}

async fn every_route_refuses_a_stranger(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for (method, path) in api_operations(&app, &admin).await {
        if PUBLIC.contains(&(method.as_str(), path.as_str())) {
            continue;
        }
        let response = app.request(method.parse().unwrap(), &concrete(&path), None).json(&serde_json::json!({})).send().await.unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
        assert_eq!(error_of(response).await.code, "unauthorized");
    }
    for page in server::http::page_paths() {
        if page == "/login" || page == "/setup" {
            continue;
        }
        let response = app.get(&page).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("/login?next="), "{page} -> {location}");
    }
}

async fn a_viewer_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let viewer = app.add_user(&admin, "vera", Role::Viewer).await;
    let users_before = user::Entity::find().count(&app.db).await.unwrap();
    let mut checked = 0;
    for (method, path) in api_operations(&app, &admin).await {
        let op = (method.as_str(), path.as_str());
        if method == "GET" || PUBLIC.contains(&op) || SELF_SERVICE.contains(&op) || READ_ONLY.contains(&op) {
            continue;
        }
        let response =
            app.request(method.parse().unwrap(), &concrete(&path), Some(&viewer)).json(&serde_json::json!({})).send().await.unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_eq!(error_of(response).await.code, "forbidden");
        checked += 1;
    }
    assert!(checked >= 3, "the sweep must cover the mutating routes");
    assert_eq!(app.get_as(&viewer, "/api/users").await.status(), 403);
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), users_before);
    let me: UserInfo = app.get_as(&viewer, "/api/auth/me").await.json().await.unwrap();
    assert_eq!(me.role, Role::Viewer);
}

async fn first_admin_setup_works_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let status: SetupStatus = app.get("/api/setup").await.json().await.unwrap();
    assert!(status.needs_setup);
    let response = app.get("/").await;
    assert_eq!(response.headers()["location"], "/setup");
    assert_eq!(app.get("/login").await.headers()["location"], "/setup");
    assert_eq!(app.get("/setup").await.status(), 200);

    let admin = app.setup_admin().await;
    let me: UserInfo = app.get_as(&admin, "/api/auth/me").await.json().await.unwrap();
    assert_eq!((me.username.as_str(), me.role), (ADMIN, Role::Admin));

    let again = app
        .client
        .post(app.url("/api/setup"))
        .json(&serde_json::json!({"username": "mallory", "password": "mallory-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    assert!(error_of(again).await.message.contains("sign in"));
    let status: SetupStatus = app.get("/api/setup").await.json().await.unwrap();
    assert!(!status.needs_setup);
    assert_eq!(app.get("/setup").await.headers()["location"], "/login");
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 1);
}

async fn admin_from_the_environment(backend: Backend) {
    let app = spawn_app_with(backend, &["--admin-user", "ops", "--admin-password", "from-the-env-123"]).await;
    let status: SetupStatus = app.get("/api/setup").await.json().await.unwrap();
    assert!(!status.needs_setup);
    let response = app.sign_in("ops", "from-the-env-123").await;
    assert_eq!(response.status(), 200);
    let me: UserInfo = response.json().await.unwrap();
    assert_eq!(me.role, Role::Admin);
}

async fn sign_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let wrong = app.sign_in(ADMIN, "not the password").await;
    assert_eq!(wrong.status(), 401);
    let error = error_of(wrong).await;
    assert_eq!(error.code, "bad_credentials");
    let unknown = app.sign_in("nobody", PASSWORD).await;
    assert_eq!(error_of(unknown).await.message, error.message, "unknown user and wrong password look alike");

    let response = app.sign_in(&format!("  {ADMIN} "), PASSWORD).await;
    assert_eq!(response.status(), 200);
    let session = session_of(&response);
    assert_eq!(app.get_as(&session, "/api/auth/me").await.status(), 200);
    assert_eq!(app.get_as(&session, "/").await.status(), 200);
    assert_eq!(app.get_as(&session, "/login").await.headers()["location"], "/");

    let out = app.request(Method::POST, "/api/auth/logout", Some(&session)).send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(app.get_as(&session, "/api/auth/me").await.status(), 401, "the session ended on the server");
    assert_eq!(session::Entity::find().count(&app.db).await.unwrap(), 1, "only the setup session is left");
}

async fn sessions_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    assert_eq!(app.get_as(&admin, "/api/auth/me").await.status(), 200);
    app.db.execute_unprepared("UPDATE sessions SET expires_at = '2001-01-01 00:00:00+00:00'").await.unwrap();
    assert_eq!(app.get_as(&admin, "/api/auth/me").await.status(), 401);
    let page = app.get_as(&admin, "/executions?status=failed").await;
    assert_eq!(page.headers()["location"], "/login?next=%2Fexecutions%3Fstatus%3Dfailed");
}

async fn tokens_are_created_used_and_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let editor = app.add_user(&admin, "eddie", Role::Editor).await;
    let response = app
        .request(Method::POST, "/api/tokens", Some(&editor))
        .json(&serde_json::json!({"name": "ci", "expires_in_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: CreatedToken = response.json().await.unwrap();
    assert!(created.secret.starts_with(&created.token.prefix));
    let token = Actor::Token(created.secret.clone());

    let me: UserInfo = app.get_as(&token, "/api/auth/me").await.json().await.unwrap();
    assert_eq!((me.username.as_str(), me.role), ("eddie", Role::Editor), "a token acts as its owner");
    assert_eq!(app.get_as(&token, "/api/users").await.status(), 403, "with the owner's role");

    let listed = app.get_as(&editor, "/api/tokens").await.text().await.unwrap();
    assert!(!listed.contains(&created.secret), "the secret is shown once only");
    let listed: Vec<TokenInfo> = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some());

    let duplicate = app.request(Method::POST, "/api/tokens", Some(&editor)).json(&serde_json::json!({"name": "ci"})).send().await.unwrap();
    assert_eq!(duplicate.status(), 409);
    let others = app.request(Method::DELETE, &format!("/api/tokens/{}", created.token.id), Some(&admin)).send().await.unwrap();
    assert_eq!(others.status(), 404, "nobody revokes another user's token");

    let revoked = app.request(Method::DELETE, &format!("/api/tokens/{}", created.token.id), Some(&editor)).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    let response = app.get_as(&token, "/api/auth/me").await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_of(response).await.code, "invalid_token");

    for header in ["Bearer", "Bearer ", "Basic abc", "Bearer pt_nope", "bearer  pt_nope"] {
        let response = app.client.get(app.url("/api/auth/me")).header("authorization", header).send().await.unwrap();
        assert_eq!(response.status(), 401, "{header:?}");
    }
}

async fn foreign_origins_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let host = app.addr.to_string();
    let evil = app.request(Method::POST, "/api/auth/logout", Some(&admin)).header("origin", "http://evil.example").send().await.unwrap();
    assert_eq!(evil.status(), 403);
    assert!(error_of(evil).await.message.contains("another site"));
    assert_eq!(app.get_as(&admin, "/api/auth/me").await.status(), 200, "the refused request changed nothing");

    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"username": ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 403, "no sign-in from another site");

    let same = app.request(Method::POST, "/api/auth/logout", Some(&admin)).header("origin", format!("http://{host}")).send().await.unwrap();
    assert_eq!(same.status(), 204);
}

async fn websockets_need_identity_and_same_origin(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let upgrade = |actor: Option<&Actor>, origin: Option<String>| {
        let mut request = app
            .request(Method::GET, "/ws/executions/1", actor)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let stranger = upgrade(None, Some(format!("http://{}", app.addr))).await.unwrap();
    assert_eq!(stranger.status(), 401);
    let foreign = upgrade(Some(&admin), Some("http://evil.example".into())).await.unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(error_of(foreign).await.message.contains("another site"));
}

async fn bad_credentials_input_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let users_before = user::Entity::find().count(&app.db).await.unwrap();
    for (username, password, field) in [
        ("", PASSWORD, "username"),
        ("has space", PASSWORD, "username"),
        (&"u".repeat(65) as &str, PASSWORD, "username"),
        ("newbie", "short", "password"),
        ("newbie", &"p".repeat(257) as &str, "password"),
    ] {
        let response = app
            .request(Method::POST, "/api/users", Some(&admin))
            .json(&serde_json::json!({"username": username, "password": password, "role": "viewer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{username:?}");
        assert_eq!(error_of(response).await.field.as_deref(), Some(field));
    }
    let taken = app
        .request(Method::POST, "/api/users", Some(&admin))
        .json(&serde_json::json!({"username": ADMIN, "password": PASSWORD, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 409);
    for (username, password) in [("", ""), (ADMIN, ""), (&"a".repeat(10_000) as &str, PASSWORD)] {
        let response = app.sign_in(username, password).await;
        assert_eq!(response.status(), 401, "{username:?}");
    }
    // NUL is no text of ours: refused as such before any lookup.
    let response = app.sign_in("\u{0}", PASSWORD).await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_of(response).await.field.as_deref(), Some("username"));
    let tampered = Actor::Cookie("pytask_session=ps_0000".into());
    assert_eq!(app.get_as(&tampered, "/api/auth/me").await.status(), 401);
    let flipped = Actor::Cookie(format!("{}0", admin.cookie()));
    assert_eq!(app.get_as(&flipped, "/api/auth/me").await.status(), 401);
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), users_before);
    assert_eq!(app.sign_in(ADMIN, PASSWORD).await.status(), 200, "the admin still signs in");
}

async fn repeated_failures_are_slowed_down(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    for _ in 0..5 {
        assert_eq!(app.sign_in(ADMIN, "guess").await.status(), 401);
    }
    let response = app.sign_in(ADMIN, PASSWORD).await;
    assert_eq!(response.status(), 429, "even the right password waits");
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_of(response).await.code, "too_many_requests");
}

async fn there_is_always_an_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let me: UserInfo = app.get_as(&admin, "/api/auth/me").await.json().await.unwrap();
    let demote = app
        .request(Method::PUT, &format!("/api/users/{}", me.id), Some(&admin))
        .json(&serde_json::json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(demote.status(), 409);
    let delete = app.request(Method::DELETE, &format!("/api/users/{}", me.id), Some(&admin)).send().await.unwrap();
    assert_eq!(delete.status(), 409);

    let other = app.add_user(&admin, "second", Role::Editor).await;
    let second: UserInfo = app.get_as(&other, "/api/auth/me").await.json().await.unwrap();
    let promote = app
        .request(Method::PUT, &format!("/api/users/{}", second.id), Some(&admin))
        .json(&serde_json::json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(promote.status(), 200);
    let disable = app
        .request(Method::PUT, &format!("/api/users/{}", second.id), Some(&admin))
        .json(&serde_json::json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disable.status(), 200);
    assert_eq!(app.get_as(&other, "/api/auth/me").await.status(), 401, "disabling ends the sessions");
    let response = app.sign_in("second", PASSWORD).await;
    assert_eq!(response.status(), 403);
    assert!(error_of(response).await.message.contains("disabled"));
}

async fn users_from_the_shell(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let pytask = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pytask"))
            .args(args)
            .args(["--database-url", &app.db_url, "--data-dir", app.data_dir.path().to_str().unwrap(), "--log", "warn"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let added = pytask(&["user", "add", "shelly", "editor"], "shell-password-1\n");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let listed = pytask(&["user", "list"], "");
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("shelly") && listed.contains("editor"), "{listed}");

    let refused = pytask(&["user", "add", "bad name"], "shell-password-1\n");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not allowed in a user name"));

    let token = pytask(&["user", "token", "shelly", "--name", "cron"], "");
    assert!(token.status.success());
    let secret = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let me: UserInfo = app.get_as(&Actor::Token(secret), "/api/auth/me").await.json().await.unwrap();
    assert_eq!(me.username, "shelly");

    let passwd = pytask(&["user", "passwd", "shelly"], "a-new-password\n");
    assert!(passwd.status.success());
    assert_eq!(app.sign_in("shelly", "a-new-password").await.status(), 200);
    assert_eq!(app.get_as(&admin, "/api/users").await.json::<Vec<UserInfo>>().await.unwrap().len(), 2);
}

on_both_backends!(
    every_route_refuses_a_stranger,
    a_viewer_changes_nothing,
    first_admin_setup_works_once,
    admin_from_the_environment,
    sign_in_and_out,
    sessions_expire,
    tokens_are_created_used_and_revoked,
    foreign_origins_are_refused,
    websockets_need_identity_and_same_origin,
    bad_credentials_input_changes_nothing,
    repeated_failures_are_slowed_down,
    there_is_always_an_admin,
    users_from_the_shell,
);
