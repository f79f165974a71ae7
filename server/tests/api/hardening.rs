//! The web side under attack: a flood of guesses, a rebinding page, a stranger racing for the
//! first admin, stolen sessions after a password change. Each test plays the attacker against
//! the real server.

use std::io::BufRead;
use std::time::Duration;

use app::model::{Credentials, LogStream, Role, SetupStatus, UserInfo};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::json;
use server::db::entities::user;

use crate::helpers::{error_of, memory_kib, session_of, spawn_app, spawn_app_with, Actor, Api, Backend, Server, TestDb, ADMIN, PASSWORD};
use crate::on_both_backends;

const METRICS_TOKEN: &str = "scrape-the-flood-7d1e";

/// Sign-in attempts counted by the server, by outcome, from `/metrics`.
async fn sign_ins_counted(server: &Server) -> u64 {
    let text = server.request(Method::GET, "/metrics", None).bearer_auth(METRICS_TOKEN).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with("pytask_sign_ins_total{"))
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
        .sum()
}

fn login_body(username: &str, password: &str) -> Credentials {
    Credentials { username: username.into(), password: password.into() }
}

/// 500 guesses at once at the admin from one address, then 500 from as many addresses (through
/// a trusted proxy) at as many names: the server's memory peaks within 150 MiB of where it
/// started (at most four hashes of 19 MiB at once; without the bound, 500 would want 9.5 GB,
/// and without main.rs's fixed mmap threshold freed hashes stayed resident), its health
/// probe answers throughout, every attempt is counted, and the right password waits out the
/// throttle and then works.
async fn a_flood_of_guesses_is_bounded_and_counted(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    let server = Server::start(&db.url, data.path(), &["--metrics-token", METRICS_TOKEN, "--trusted-proxies", "127.0.0.1/32"]);
    server.ready().await;
    let pid = server.child.id();
    let before_kib = memory_kib(pid, "VmRSS:");

    let probing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = {
        let (client, url, probing) = (reqwest::Client::new(), server.url("/api/health"), probing.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            while probing.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client.get(&url).timeout(Duration::from_secs(5)).send().await.expect("health answers during the flood");
                assert_eq!(response.status(), 200);
                answered += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            answered
        })
    };

    let one_address = join_all(
        (0..500).map(|i| server.request(Method::POST, "/api/auth/login", None).json(&login_body(ADMIN, &format!("guess-{i}"))).send()),
    )
    .await;
    let mut throttled = 0;
    for response in one_address {
        let status = response.unwrap().status();
        assert!([401, 429, 503].contains(&status.as_u16()), "{status}");
        throttled += usize::from(status == 429);
    }
    assert!(throttled >= 480, "at most a few guesses of one user are checked at once: {throttled} throttled");
    // The right password is refused while the user and address wait.
    let refused = server.sign_in(ADMIN, PASSWORD).await;
    assert_eq!(refused.status(), 429, "even the right password waits");
    let refused_at = std::time::Instant::now();
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();

    let many_addresses = join_all((0..500).map(|i| {
        server
            .request(Method::POST, "/api/auth/login", None)
            .header("x-forwarded-for", format!("198.51.{}.{}", i / 250, i % 250 + 1))
            .json(&login_body(&format!("nobody-{i}"), "guess"))
            .send()
    }))
    .await;
    let mut busy = 0;
    for response in many_addresses {
        let response = response.unwrap();
        let status = response.status();
        assert!([401, 503].contains(&status.as_u16()), "{status}");
        if status == 503 {
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(error_of(response).await.code, "busy");
            busy += 1;
        }
    }
    assert!(busy > 0, "500 hashes at once are more than the server takes on: some are told to come back");
    probing.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(probe.await.unwrap() > 0);

    let peak_kib = memory_kib(pid, "VmHWM:");
    assert!(peak_kib < before_kib + 150 * 1024, "memory went from {before_kib} KiB to a peak of {peak_kib} KiB");
    assert_eq!(sign_ins_counted(&server).await, 1001, "every attempt is counted");

    // Once the wait it was told is over, the right password works.
    assert!(wait <= 300, "{wait}");
    tokio::time::sleep(
        (refused_at + Duration::from_secs(wait) + Duration::from_millis(200)).saturating_duration_since(std::time::Instant::now()),
    )
    .await;
    assert_eq!(server.sign_in(ADMIN, PASSWORD).await.status(), 200, "waiting as told lets the right password in");
    assert_eq!(sign_ins_counted(&server).await, 1002);
}

/// A page on another name that resolves to us (DNS rebinding) reaches nothing: not the setup,
/// not the sign-in, not a page. Our own names, IP literals and localhost work.
async fn requests_for_foreign_hosts_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, &["--allowed-hosts", "tasks.example.com,intranet:8080", "--trusted-proxies", "127.0.0.1/32"]).await;
    let port = app.addr.port();
    let send = |method: Method, path: &str, host: &str| {
        app.request(method, path, None).header("host", host.to_string()).json(&login_body("mallory", "mallory-password")).send()
    };
    for (method, path) in
        [(Method::GET, "/setup"), (Method::GET, "/api/setup"), (Method::POST, "/api/setup"), (Method::POST, "/api/auth/login")]
    {
        for host in ["evil.example", &format!("evil.example:{port}"), "127.0.0.1.nip.io", "intranet:9090", "tasks.example.com.evil.example"]
        {
            let response = send(method.clone(), path, host).await.unwrap();
            assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{method} {path} for {host}");
            let error = error_of(response).await;
            assert_eq!(error.code, "misdirected_host");
            assert!(error.message.contains("PYTASK_ALLOWED_HOSTS"), "{}", error.message);
        }
        // A trusted proxy's forwarded host is the one checked.
        let forwarded = app.request(method.clone(), path, None).header("x-forwarded-host", "evil.example").send().await.unwrap();
        assert_eq!(forwarded.status(), StatusCode::MISDIRECTED_REQUEST, "{method} {path} forwarded");
    }
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 0, "nothing was created");
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "tasks.example.com".into(),
        "TASKS.example.com:443".into(),
        "intranet:8080".into(),
    ] {
        let response = send(Method::GET, "/api/setup", &host).await.unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
}

/// The server's log (its standard output), line by line, from a thread (a pipe read blocks).
fn log_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let log = child.stdout.take().expect("stdout is piped");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(log).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    received
}

/// A fresh server with no user, its log read for the setup code.
fn fresh_server(db_url: &str, data: &std::path::Path, extra: &[&str]) -> (Server, String) {
    let mut server = Server::start_with(db_url, data, extra, |command| {
        command.env_remove("PYTASK_ADMIN_USER").env_remove("PYTASK_ADMIN_PASSWORD").stdout(std::process::Stdio::piped());
    });
    let lines = log_lines(&mut server.child);
    let code = loop {
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("the server logs its setup code");
        if let Some((_, after)) = line.split_once("setup code ") {
            break after.split_whitespace().next().unwrap().trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-').to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || while lines.recv().is_ok() {});
    (server, code)
}

/// From anywhere but this machine, the first admin needs the code from the server's log; a
/// wrong one is refused and counted, the right one works once.
async fn the_setup_code_guards_the_first_admin(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    // No proxy configured: a request that bears a proxy's header is still taken as from afar.
    let (server, code) = fresh_server(&db.url, data.path(), &[]);
    server.ready().await;
    assert_eq!(code.len(), 14, "{code}");
    let remote = |method: Method, path: &str| server.request(method, path, None).header("x-forwarded-for", "203.0.113.7");

    let local: SetupStatus = server.get("/api/setup").await.json().await.unwrap();
    assert_eq!((local.needs_setup, local.needs_code), (true, false), "a browser on the server's machine needs no code");
    let published = tempfile::tempdir().unwrap();
    let published_db = TestDb::create(backend, published.path()).await;
    let (proxied, _) = fresh_server(&published_db.url, published.path(), &["--trusted-proxies", "127.0.0.1/32"]);
    proxied.ready().await;
    let behind: SetupStatus = proxied.get("/api/setup").await.json().await.unwrap();
    assert!(behind.needs_code, "with trusted proxies configured, a proxy may stand in front: everyone gives the code");
    drop(proxied);
    let far: SetupStatus = remote(Method::GET, "/api/setup").send().await.unwrap().json().await.unwrap();
    assert_eq!((far.needs_setup, far.needs_code), (true, true));
    let page = remote(Method::GET, "/setup").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"setup_code\""), "the page asks a far browser for the code");
    assert!(!server.get("/setup").await.text().await.unwrap().contains("name=\"setup_code\""));
    // A proxy on this machine that the server was not told of still marks what it forwards, and
    // a stranger behind it is asked for the code: any forwarding header, or a public host name.
    for (header, value) in [("via", "1.1 nginx"), ("x-real-ip", "203.0.113.7"), ("forwarded", "for=203.0.113.7")] {
        let status: SetupStatus =
            server.request(Method::GET, "/api/setup", None).header(header, value).send().await.unwrap().json().await.unwrap();
        assert!(status.needs_code, "{header}");
    }

    let admin = |setup_code: Option<&str>| json!({"username": "mallory", "password": "mallory-password", "setup_code": setup_code});
    let missing = remote(Method::POST, "/api/setup").json(&admin(None)).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert!(error_of(missing).await.message.contains("setup code"));
    let wrong = remote(Method::POST, "/api/setup").json(&admin(Some("0000-0000-0000"))).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    assert!(error_of(wrong).await.message.contains("wrong"));
    assert_eq!(user::Entity::find().count(&sea_orm::Database::connect(&db.url).await.unwrap()).await.unwrap(), 0);

    let right = remote(Method::POST, "/api/setup")
        .json(&json!({"username": "owner", "password": "owner-password-1", "setup_code": code.to_lowercase()}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 201);
    let again = remote(Method::POST, "/api/setup").json(&admin(Some(&code))).send().await.unwrap();
    assert_eq!(again.status(), 409, "the code is good for one setup");
    assert_eq!(user::Entity::find().count(&sea_orm::Database::connect(&db.url).await.unwrap()).await.unwrap(), 1);

    // Guessing the code is throttled like guessing a password.
    let other_data = tempfile::tempdir().unwrap();
    let other_db = TestDb::create(backend, other_data.path()).await;
    let (other, _) = fresh_server(&other_db.url, other_data.path(), &["--trusted-proxies", "127.0.0.1/32"]);
    other.ready().await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let guess =
            other.request(Method::POST, "/api/setup", None).header("x-forwarded-for", "203.0.113.8").json(&admin(Some("AAAA-BBBB-CCCC")));
        statuses.push(guess.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [403, 403, 403, 403, 403, 429, 429]);
    // Per address: the stranger's guesses do not lock the owner out of setup.
    let owner =
        other.request(Method::POST, "/api/setup", None).header("x-forwarded-for", "198.51.100.20").json(&admin(Some("AAAA-BBBB-CCCC")));
    assert_eq!(owner.send().await.unwrap().status(), 403, "counted apart, refused only for the wrong code");
}

/// Two instances of one database, each asked at once to make a different first admin: one
/// admin exists afterwards, and every other request hears there are users already.
#[tokio::test]
async fn two_instances_racing_for_the_first_admin_make_one() {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(Backend::Postgres, data.path()).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (a, _) = fresh_server(&db.url, dirs[0].path(), &[]);
    a.ready().await;
    let (b, _) = fresh_server(&db.url, dirs[1].path(), &[]);
    b.ready().await;
    let attempts = (0..20).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        server
            .request(Method::POST, "/api/setup", None)
            .json(&json!({"username": format!("admin{i}"), "password": "racing-password"}))
            .send()
    });
    let statuses: Vec<u16> = join_all(attempts).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| [201, 409].contains(s)), "{statuses:?}");
    assert_eq!(user::Entity::find().count(&sea_orm::Database::connect(&db.url).await.unwrap()).await.unwrap(), 1);
}

/// Changing your password signs out every other browser of yours, keeps this one signed in
/// (under a new session id), and revokes your API tokens when asked. An admin setting someone's
/// password can revoke their tokens too.
async fn a_password_change_ends_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let first = app.add_user(&admin, "pat", Role::Editor).await;
    let second = session_of(&app.sign_in("pat", PASSWORD).await);
    let token = Actor::Token(app.token(&first, "ci").await);

    let change = |current: &str, new: &str, revoke_tokens: bool| {
        app.request(Method::POST, "/api/auth/password", Some(&first))
            .json(&json!({"current_password": current, "new_password": new, "revoke_tokens": revoke_tokens}))
            .send()
    };
    let wrong = change("not my password", "pat-new-password", false).await.unwrap();
    assert_eq!(wrong.status(), 422);
    assert_eq!(error_of(wrong).await.field.as_deref(), Some("current_password"));
    let short = change(PASSWORD, "short", false).await.unwrap();
    assert_eq!(error_of(short).await.field.as_deref(), Some("new_password"));
    assert_eq!(app.get_as(&second, "/api/auth/me").await.status(), 200, "a refused change ends nothing");

    let changed = change(PASSWORD, "pat-new-password", false).await.unwrap();
    assert_eq!(changed.status(), 200);
    let renewed = session_of(&changed);
    assert_eq!(app.get_as(&renewed, "/api/auth/me").await.status(), 200, "this browser stays signed in");
    assert_eq!(app.get_as(&first, "/api/auth/me").await.status(), 401, "under a new session id");
    assert_eq!(app.get_as(&second, "/api/auth/me").await.status(), 401, "the other browser is signed out");
    assert_eq!(app.get_as(&token, "/api/auth/me").await.status(), 200, "tokens stay unless asked");
    assert_eq!(app.sign_in("pat", PASSWORD).await.status(), 401);

    let again = app
        .request(Method::POST, "/api/auth/password", Some(&renewed))
        .json(&json!({"current_password": "pat-new-password", "new_password": "pat-third-password", "revoke_tokens": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(app.get_as(&token, "/api/auth/me").await.status(), 401, "asked: the tokens end too");

    // An admin resets the password and revokes the tokens.
    let pat = session_of(&app.sign_in("pat", "pat-third-password").await);
    let token = Actor::Token(app.token(&pat, "ci-2").await);
    let me: UserInfo = app.json_of(&pat, "/api/auth/me").await;
    let reset = app
        .send_json(Method::PUT, &admin, &format!("/api/users/{}", me.id), &json!({"password": "reset-by-admin", "revoke_tokens": true}))
        .await;
    assert_eq!(reset.status(), 200);
    assert_eq!(app.get_as(&pat, "/api/auth/me").await.status(), 401);
    assert_eq!(app.get_as(&token, "/api/auth/me").await.status(), 401);
}

/// Signing in replaces the session the browser had (one planted by someone else, perhaps); a
/// session unused past the idle timeout has ended, one in use has not.
async fn sessions_rotate_and_idle_out(backend: Backend) {
    let app = spawn_app_with(backend, &["--session-idle-minutes", "5"]).await;
    let admin = app.setup_admin().await;
    let planted = session_of(&app.sign_in(ADMIN, PASSWORD).await);
    let renewed = app.request(Method::POST, "/api/auth/login", Some(&planted)).json(&login_body(ADMIN, PASSWORD)).send().await.unwrap();
    assert_eq!(renewed.status(), 200);
    let renewed = session_of(&renewed);
    assert_ne!(renewed.cookie(), planted.cookie());
    assert_eq!(app.get_as(&planted, "/api/auth/me").await.status(), 401, "the old session id is dead");
    assert_eq!(app.get_as(&renewed, "/api/auth/me").await.status(), 200);

    let stale = chrono::Utc::now() - chrono::Duration::minutes(6);
    let fresh = chrono::Utc::now() - chrono::Duration::minutes(2);
    let set_last_seen = |cookie: &Actor, at: chrono::DateTime<chrono::Utc>| {
        let secret = cookie.cookie().split_once('=').unwrap().1.to_string();
        let digest = server::auth::secret::digest(&secret);
        let backend = app.db.get_database_backend();
        app.db.execute(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "UPDATE sessions SET last_seen_at = $1 WHERE id = $2",
                _ => "UPDATE sessions SET last_seen_at = ? WHERE id = ?",
            },
            [at.into(), digest.into()],
        ))
    };
    set_last_seen(&admin, stale).await.unwrap();
    set_last_seen(&renewed, fresh).await.unwrap();
    assert_eq!(app.get_as(&admin, "/api/auth/me").await.status(), 401, "idle for 6 minutes of 5");
    assert_eq!(app.get_as(&renewed, "/api/auth/me").await.status(), 200, "idle for 2 minutes of 5");
}

/// With an https public URL the cookie is `__Host-` and `Secure`; behind a trusted proxy that
/// says https, `Secure` too; a stranger's `X-Forwarded-Proto` changes nothing.
async fn cookies_follow_the_public_url(backend: Backend) {
    let app = spawn_app_with(backend, &["--public-url", "https://tasks.example.com"]).await;
    // Published behind a proxy, the server asks even a local browser for the setup code.
    let setup = app.request(Method::POST, "/api/setup", None).json(&login_body(ADMIN, PASSWORD)).send().await.unwrap();
    assert_eq!(setup.status(), 403);
    let body = json!({"username": ADMIN, "password": PASSWORD, "setup_code": app.setup_code()});
    let setup = app.request(Method::POST, "/api/setup", None).json(&body).send().await.unwrap();
    assert_eq!(setup.status(), 201);
    let response = app
        .request(Method::POST, "/api/auth/login", None)
        .header("host", "tasks.example.com")
        .json(&login_body(ADMIN, PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-pytask_session=") && cookie.contains("; Secure") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.to_lowercase().contains("domain="), "{cookie}");
    let session = Actor::Cookie(cookie.split(';').next().unwrap().to_string());
    assert_eq!(app.get_as(&session, "/api/auth/me").await.status(), 200);
    let plain = Actor::Cookie(session.cookie().replacen("__Host-", "", 1));
    assert_eq!(app.get_as(&plain, "/api/auth/me").await.status(), 401, "only the __Host- cookie counts");

    let proxied = spawn_app_with(backend, &["--trusted-proxies", "127.0.0.1/32"]).await;
    proxied.setup_admin().await;
    let by_proxy = proxied
        .request(Method::POST, "/api/auth/login", None)
        .header("x-forwarded-proto", "https")
        .json(&login_body(ADMIN, PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(by_proxy.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
    let direct = spawn_app(backend).await;
    direct.setup_admin().await;
    let forged = direct
        .request(Method::POST, "/api/auth/login", None)
        .header("x-forwarded-proto", "https")
        .json(&login_body(ADMIN, PASSWORD))
        .send()
        .await
        .unwrap();
    assert!(!forged.headers()["set-cookie"].to_str().unwrap().contains("Secure"), "a stranger's header is not believed");
}

/// Behind a trusted proxy each client has its own throttle: one guesser locks out only itself.
async fn a_proxys_clients_are_throttled_apart(backend: Backend) {
    let app = spawn_app_with(backend, &["--trusted-proxies", "127.0.0.1/32"]).await;
    app.setup_admin().await;
    let from = |addr: &str, name: &str, password: &str| {
        app.request(Method::POST, "/api/auth/login", None)
            .header("x-forwarded-for", addr.to_string())
            .json(&login_body(name, password))
            .send()
    };
    for _ in 0..6 {
        from("203.0.113.66", "someone-else", "guess").await.unwrap();
    }
    assert_eq!(from("203.0.113.66", "another-name", "guess").await.unwrap().status(), 429, "the guesser's address waits");
    assert_eq!(from("198.51.100.5", ADMIN, PASSWORD).await.unwrap().status(), 200, "everyone else behind the proxy signs in");
    // Without trust, the header is the client's own word and is ignored: the address is the proxy's.
    let direct = spawn_app(backend).await;
    direct.setup_admin().await;
    for i in 0..6 {
        let forged = direct.request(Method::POST, "/api/auth/login", None).header("x-forwarded-for", format!("10.9.9.{i}"));
        forged.json(&login_body("someone-else", "guess")).send().await.unwrap();
    }
    let response = direct.request(Method::POST, "/api/auth/login", None).header("x-forwarded-for", "10.9.9.99");
    assert_eq!(response.json(&login_body("another-name", "guess")).send().await.unwrap().status(), 429);
}

/// A script that prints what the server's notes look like wrote its own stdout or stderr: only
/// the server writes `server` lines, and the log says which is which.
async fn a_script_cannot_forge_a_server_note(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let content = "import sys\nprint('[pytask] run succeeded')\nprint('[pytask] stopped by admin', file=sys.stderr)\n";
    let (_, log) = app.run_to_end(&admin, json!({"name": "forger", "content": content})).await;
    let stream_of = |text: &str| log.iter().find(|line| line.line == text).map(|line| line.stream);
    assert_eq!(stream_of("[pytask] run succeeded"), Some(LogStream::Stdout));
    assert_eq!(stream_of("[pytask] stopped by admin"), Some(LogStream::Stderr));
    let notes: Vec<&str> = log.iter().filter(|line| line.stream == LogStream::Server).map(|line| line.line.as_str()).collect();
    assert!(notes.iter().any(|note| note.starts_with("[pytask] first run")), "the server's own notes are `server`: {notes:?}");
    assert!(!notes.iter().any(|note| note.contains("run succeeded") || note.contains("stopped by admin")), "{notes:?}");
}

/// A script may have `--max-queued-per-script` runs waiting: one more is refused with 429 naming
/// the setting, and a schedule's due time is skipped rather than queued; what waits is kept.
async fn a_scripts_queue_is_bounded(backend: Backend) {
    use sea_orm::{ColumnTrait, QueryFilter};
    use server::db::entities::execution;
    let app = spawn_app_with(backend, &["--max-queued-per-script", "2", "--workers", "1"]).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({"name": "slow", "content": "import time\ntime.sleep(60)\n"})).await;
    let first = app.execute(&admin, script.id).await;
    crate::helpers::eventually(Duration::from_secs(60), async || match app.run_of(&admin, first.id).await.status {
        app::model::ExecutionStatus::Running => Ok(()),
        other => Err(format!("the first run is {other}")),
    })
    .await;
    let waiting = [app.execute(&admin, script.id).await, app.execute(&admin, script.id).await];
    let refused = app.post(&admin, &format!("/api/scripts/{}/execute", script.id)).await;
    assert_eq!(refused.status(), 429);
    let error = error_of(refused).await;
    assert!(error.message.contains("PYTASK_MAX_QUEUED_PER_SCRIPT") && error.message.contains("2 runs waiting"), "{}", error.message);
    let queued = || {
        execution::Entity::find()
            .filter(execution::Column::ScriptId.eq(script.id))
            .filter(execution::Column::Status.eq(app::model::ExecutionStatus::Queued))
            .count(&app.db)
    };
    assert_eq!(queued().await.unwrap(), 2, "the waiting runs are kept");

    let schedule = app
        .send_json(Method::POST, &admin, &format!("/api/scripts/{}/schedules", script.id), &json!({"cron_expression": "* * * * *"}))
        .await;
    assert_eq!(schedule.status(), 201);
    let now = chrono::Utc::now();
    let pass =
        server::schedules::scheduler::fire_due(&app.db, now + chrono::Duration::minutes(2), Duration::from_secs(3600), 2).await.unwrap();
    assert!(pass.fired.is_empty(), "a full queue takes no scheduled run");
    assert_eq!(pass.skipped.len(), 1);
    assert_eq!(queued().await.unwrap(), 2);
    for run in waiting.iter().chain([&first]) {
        app.stop(&admin, run.id).await;
    }
}

/// A page of the log API holds at most 4 MiB of text, however long its lines: a run of 600
/// lines of 16 KB (9.6 MB) comes in pages under the cap, and paging on `next_after` reaches
/// every line, `complete` only on the last page.
async fn a_log_page_is_bounded_in_bytes(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let content = "for i in range(600):\n    print(str(i).rjust(6, '0') + 'x' * 16000)\n";
    let (run, _) = app.run_to_end(&admin, json!({"name": "wide", "content": content})).await;
    let mut after = 0;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page: app::model::LogPage = app.json_of(&admin, &format!("/api/executions/{}/logs?after={after}&limit=10000", run.id)).await;
        pages += 1;
        let bytes: usize = page.lines.iter().map(|line| line.line.len()).sum();
        assert!(bytes <= server::executions::logs::PAGE_BYTES, "a page of {bytes} bytes");
        assert!(!page.lines.is_empty() || page.complete);
        seen.extend(page.lines.iter().filter(|line| line.stream == LogStream::Stdout).map(|line| line.line[..6].parse::<u32>().unwrap()));
        if page.complete {
            break;
        }
        assert!(page.next_after > after, "paging moves on");
        after = page.next_after;
        assert!(pages < 10);
    }
    assert!(pages >= 3, "9.6 MB needs three pages of 4 MiB: {pages}");
    assert_eq!(seen, (0..600).collect::<Vec<u32>>(), "every line, once, in order");
}

on_both_backends!(
    a_log_page_is_bounded_in_bytes,
    a_scripts_queue_is_bounded,
    a_script_cannot_forge_a_server_note,
    a_flood_of_guesses_is_bounded_and_counted,
    requests_for_foreign_hosts_are_refused,
    the_setup_code_guards_the_first_admin,
    a_password_change_ends_other_sessions,
    sessions_rotate_and_idle_out,
    cookies_follow_the_public_url,
    a_proxys_clients_are_throttled_apart,
);
