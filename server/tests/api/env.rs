//! Variables and secrets: set, replace, delete and the script-over-global override on both
//! databases; runs see exactly their values (a warm interpreter too, changed a moment before);
//! viewers read names only where they may; no answer ever holds a secret; a script printing its
//! secret in every form leaves `***` in the stored log, the WebSocket and the download; the
//! database holds no value in clear; a wrong key stops the start; rotate-key re-seals all.

use app::model::{EnvVar, Event, ExecutionStatus, LogStream, Role};
use base64::Engine;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{error_of, eventually, lines_of, read_run, spawn_app, Actor, Api, Backend, Server, TestApp, TestDb, PATIENCE};
use crate::on_both_backends;

const SECRET: &str = "s3cr3t-Valu3/with space+é";
const GLOBAL_SECRET: &str = "gl0bal-secret-value";

async fn put(app: &TestApp, actor: &Actor, path: &str, value: &str, secret: bool) -> reqwest::Response {
    app.send_json(Method::PUT, actor, path, &json!({ "value": value, "secret": secret })).await
}

fn sha256(value: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(value.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Prints what the run sees of each name: a variable's value, a secret's SHA-256 (so the test
/// checks the value without printing it), `-` when unset.
const SHOW_ENV: &str = r#"import hashlib, os
for name in ["GREETING", "ONLY_GLOBAL", "API_TOKEN", "GLOBAL_TOKEN"]:
    value = os.environ.get(name)
    shown = "-" if value is None else (hashlib.sha256(value.encode()).hexdigest() if "TOKEN" in name else value)
    print(f"{name}={shown}")
"#;

async fn set_replace_delete_and_override(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let editor = app.add_user(&admin, "eddie", Role::Editor).await;
    let viewer = app.add_user(&admin, "vera", Role::Viewer).await;
    let script = app.new_script(&editor, json!({ "name": "env", "content": SHOW_ENV })).await;
    let own = |name: &str| format!("/api/scripts/{}/env/{name}", script.id);

    // Globals: admins only.
    assert_eq!(put(&app, &editor, "/api/env/GREETING", "hello-global", false).await.status(), 403);
    assert_eq!(put(&app, &admin, "/api/env/GREETING", "hello-global", false).await.status(), 200);
    assert_eq!(put(&app, &admin, "/api/env/ONLY_GLOBAL", "from-global", false).await.status(), 200);
    let response = put(&app, &admin, "/api/env/GLOBAL_TOKEN", GLOBAL_SECRET, true).await;
    assert_eq!(response.status(), 200);
    let set: EnvVar = response.json().await.unwrap();
    assert_eq!((set.secret, set.value.as_deref(), set.set_by.as_str()), (true, None, "admin"));

    // A script's own: editors, not viewers; its GREETING overrides the global one.
    assert_eq!(put(&app, &viewer, &own("GREETING"), "nope", false).await.status(), 403);
    assert_eq!(put(&app, &editor, &own("GREETING"), "hello-script", false).await.status(), 200);
    assert_eq!(put(&app, &editor, &own("API_TOKEN"), "first-value", true).await.status(), 200);
    // Replaced: the later value is the one.
    assert_eq!(put(&app, &editor, &own("API_TOKEN"), SECRET, true).await.status(), 200);

    let list: Vec<EnvVar> = app.json_of(&viewer, &format!("/api/scripts/{}/env", script.id)).await;
    let names: Vec<(&str, bool, bool)> = list.iter().map(|v| (v.name.as_str(), v.secret, v.overridden)).collect();
    assert_eq!(
        names,
        [
            ("API_TOKEN", true, false),
            ("GREETING", false, false),
            ("GLOBAL_TOKEN", true, false),
            ("GREETING", false, true),
            ("ONLY_GLOBAL", false, false)
        ]
    );
    assert!(list.iter().all(|v| v.secret == v.value.is_none()), "{list:?}");
    assert_eq!(list[1].value.as_deref(), Some("hello-script"));
    assert_eq!(list[0].set_by, "eddie");

    let run = app.execute(&editor, script.id).await;
    let run = app.finished(&editor, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{:?}", run.error);
    let log = app.log_of(&editor, run.id).await;
    let expected = [
        "GREETING=hello-script".to_string(),
        "ONLY_GLOBAL=from-global".into(),
        format!("API_TOKEN={}", sha256(SECRET)),
        format!("GLOBAL_TOKEN={}", sha256(GLOBAL_SECRET)),
    ];
    assert_eq!(lines_of(&log, LogStream::Stdout), expected.iter().map(String::as_str).collect::<Vec<_>>());

    // Deleted: gone from the next run; the global shows through again.
    assert_eq!(app.send_json(Method::DELETE, &viewer, &own("GREETING"), &json!(null)).await.status(), 403);
    assert_eq!(app.send_json(Method::DELETE, &editor, &own("GREETING"), &json!(null)).await.status(), 204);
    assert_eq!(app.send_json(Method::DELETE, &editor, &own("GREETING"), &json!(null)).await.status(), 404);
    assert_eq!(app.send_json(Method::DELETE, &editor, "/api/env/ONLY_GLOBAL", &json!(null)).await.status(), 403);
    assert_eq!(app.send_json(Method::DELETE, &admin, "/api/env/ONLY_GLOBAL", &json!(null)).await.status(), 204);
    let run = app.execute(&editor, script.id).await;
    let run = app.finished(&editor, run.id).await;
    let log = app.log_of(&editor, run.id).await;
    let stdout = lines_of(&log, LogStream::Stdout);
    assert_eq!(&stdout[..2], ["GREETING=hello-global", "ONLY_GLOBAL=-"]);

    // Bad names and values: 422 naming the field, and nothing stored changes.
    for (name, value, secret, field, says) in [
        ("PATH", "x", false, "name", "set by the runtime"),
        ("PYTASK_X", "x", false, "name", "PYTASK_"),
        ("PYTHONPATH", "x", false, "name", "not allowed"),
        ("LD_PRELOAD", "x", false, "name", "not allowed"),
        ("9LIVES", "x", false, "name", "not starting with a digit"),
        ("API_TOKEN", "abc", true, "value", "at least 4"),
    ] {
        let response = put(&app, &editor, &own(name), value, secret).await;
        assert_eq!(response.status(), 422, "{name}");
        let error = error_of(response).await;
        assert_eq!(error.field.as_deref(), Some(field), "{name}");
        assert!(error.message.contains(says), "{name}: {}", error.message);
    }
    let huge = "x".repeat(app::model::env::VALUE_MAX + 1);
    assert_eq!(put(&app, &editor, &own("BIG"), &huge, false).await.status(), 422);
    let response = app.send_json(Method::PUT, &editor, &own("X"), &json!({ "value": "v", "secret": true, "extra": 1 })).await;
    assert_eq!(response.status(), 422);
    assert_eq!(put(&app, &editor, "/api/scripts/999999/env/X", "value", false).await.status(), 404);
    assert_eq!(app.get_as(&editor, "/api/scripts/999999/env").await.status(), 404);
    let list: Vec<EnvVar> = app.json_of(&viewer, &format!("/api/scripts/{}/env", script.id)).await;
    assert_eq!(list.iter().filter(|v| v.name == "API_TOKEN").count(), 1);

    // No answer holds a secret's value: lists, the script, the runs, the logs, the document.
    for path in [
        format!("/api/scripts/{}/env", script.id),
        "/api/env".into(),
        format!("/api/scripts/{}", script.id),
        "/api/scripts".into(),
        "/api/executions".into(),
        format!("/api/executions/{}", run.id),
        format!("/api/executions/{}/logs?format=text", run.id),
        "/api/openapi.json".into(),
    ] {
        for actor in [&admin, &viewer] {
            let body = app.get_as(actor, &path).await.text().await.unwrap();
            assert!(!body.contains(SECRET) && !body.contains(GLOBAL_SECRET) && !body.contains("first-value"), "{path} shows a secret");
        }
    }
}

async fn secrets_are_masked_in_every_form_and_every_channel(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let code = r#"import base64, json, os, sys, time, urllib.parse
s = os.environ["API_TOKEN"]
print("plain:", s)
print("b64:", base64.b64encode(s.encode()).decode())
print("basic:", base64.b64encode(("user:" + s).encode()).decode())
print("url:", urllib.parse.quote(s), urllib.parse.quote_plus(s))
print("json:", json.dumps({"token": s}), json.dumps({"token": s}, ensure_ascii=False))
sys.stdout.write("bytes: ")
for b in s.encode():
    sys.stdout.buffer.write(bytes([b]))
    sys.stdout.flush()
    time.sleep(0.002)
sys.stdout.write("\n")
print("stderr:", s, file=sys.stderr)
raise SystemExit("failing with " + s)
"#;
    let script = app.new_script(&admin, json!({ "name": "leaky", "content": code })).await;
    assert_eq!(put(&app, &admin, &format!("/api/scripts/{}/env/API_TOKEN", script.id), SECRET, true).await.status(), 200);
    let run = app.execute(&admin, script.id).await;
    let mut socket = app.connect(&admin, &format!("/ws/executions/{}", run.id)).await;
    let (live, finished) = read_run(&mut socket, 1000).await;
    assert!(matches!(finished, Some(Event::ExecutionFinished { .. })), "{finished:?}");
    let run = app.finished(&admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Failed);

    let encoded = [
        SECRET.to_string(),
        base64::engine::general_purpose::STANDARD.encode(SECRET),
        urlencoding(SECRET),
        serde_json::to_string(SECRET).unwrap().trim_matches('"').to_string(),
    ];
    let stored = app.log_of(&admin, run.id).await;
    let download = app.get_as(&admin, &format!("/api/executions/{}/logs?format=text", run.id)).await.text().await.unwrap();
    let texts = [
        ("stored", stored.iter().map(|l| l.line.clone()).collect::<Vec<_>>().join("\n")),
        ("websocket", live.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>().join("\n")),
        ("download", download),
        ("error", run.error.clone().unwrap_or_default()),
    ];
    for (channel, text) in &texts {
        for form in &encoded {
            assert!(!text.contains(form.as_str()), "the {channel} holds the secret as {form:?}:\n{text}");
        }
        assert!(!text.contains("s3cr3t"), "the {channel} holds part of the secret:\n{text}");
    }
    let stdout = lines_of(&stored, LogStream::Stdout);
    for prefix in ["plain: ***", "b64: ***", "url: *** ***", "bytes: ***"] {
        assert!(stdout.iter().any(|l| l.starts_with(prefix)), "no `{prefix}` in {stdout:?}");
    }
    assert!(stdout.iter().any(|l| l.starts_with("json: {\"token\": \"***\"} {\"token\": \"***\"}")), "{stdout:?}");
    assert!(stdout.iter().any(|l| l.starts_with("basic: ") && l.contains("***")), "{stdout:?}");
    assert!(lines_of(&stored, LogStream::Stderr).contains(&"stderr: ***"));
    assert_eq!(run.error.as_deref(), Some("the script exited with code 1"));
    assert!(stored.iter().any(|l| l.line == "failing with ***"), "the exit message is masked");
    // plain, b64, basic, 2 url, 2 json, bytes, stderr, the exit message.
    assert!(run.masked >= 10, "{} masks", run.masked);
}

fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Neither the SQLite file nor a `pg_dump` of the database holds a value in clear, a variable's
/// included.
async fn the_database_holds_no_value_in_clear(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({ "name": "s", "content": "pass" })).await;
    assert_eq!(put(&app, &admin, "/api/env/PLAIN_VARIABLE", "visible-variable-value", false).await.status(), 200);
    assert_eq!(put(&app, &admin, &format!("/api/scripts/{}/env/API_TOKEN", script.id), SECRET, true).await.status(), 200);
    let dump: Vec<u8> = match backend {
        Backend::Sqlite => {
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(app.data_dir.path()).unwrap().flatten() {
                if entry.file_name().to_string_lossy().starts_with("test.db") {
                    bytes.extend(std::fs::read(entry.path()).unwrap());
                }
            }
            assert!(!bytes.is_empty());
            bytes
        }
        Backend::Postgres => {
            let out = std::process::Command::new("pg_dump").arg(&app.db_url).output().expect("pg_dump runs");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        }
    };
    let text = String::from_utf8_lossy(&dump);
    assert!(text.contains("PLAIN_VARIABLE") && text.contains("API_TOKEN"), "the dump is not of this database");
    for value in ["visible-variable-value", SECRET, "s3cr3t"] {
        assert!(!text.contains(value), "the database holds {value:?} in clear");
    }
}

/// A warm interpreter (started before the change) runs with the value set a moment before.
async fn a_changed_secret_reaches_the_next_run_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, json!({ "name": "env", "content": SHOW_ENV })).await;
    let path = format!("/api/scripts/{}/env/API_TOKEN", script.id);
    for value in ["value-one", "value-two", "value-three"] {
        assert_eq!(put(&app, &admin, &path, value, true).await.status(), 200);
        let run = app.execute(&admin, script.id).await;
        let run = app.finished(&admin, run.id).await;
        let log = app.log_of(&admin, run.id).await;
        let expected = format!("API_TOKEN={}", sha256(value));
        assert!(lines_of(&log, LogStream::Stdout).contains(&expected.as_str()), "{value}: {log:?}");
        // The next run's Python is kept warm before the value changes.
        eventually(PATIENCE, async || {
            let warm = std::fs::read_dir(app.data_dir.path().join("runs"))
                .map(|dirs| dirs.flatten().any(|d| d.file_name().to_string_lossy().starts_with("warm-")))
                .unwrap_or(false);
            warm.then_some(()).ok_or("no interpreter kept warm")
        })
        .await;
    }
}

on_both_backends!(
    set_replace_delete_and_override,
    secrets_are_masked_in_every_form_and_every_channel,
    the_database_holds_no_value_in_clear,
    a_changed_secret_reaches_the_next_run_at_once
);

/// A new random key in a file, as an operator makes one.
fn key_file(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let out = std::process::Command::new("openssl").args(["rand", "-base64", "32"]).output().expect("openssl makes a key");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// The real binary: a key other than the one the values were written with stops the start with
/// a message naming the setting; `pytask secrets rotate-key` re-seals every value for the new key,
/// which runs then read, and the old key opens nothing.
#[tokio::test]
async fn a_wrong_key_stops_the_start_and_rotate_key_reseals_everything() {
    let root = tempfile::tempdir().unwrap();
    let (data, keys) = (root.path().join("data"), root.path().join("keys"));
    std::fs::create_dir_all(&keys).unwrap();
    let db = TestDb::create(Backend::Sqlite, root.path()).await;
    let (old, new, wrong) = (key_file(&keys, "old"), key_file(&keys, "new"), key_file(&keys, "wrong"));
    let with_key = |key: &std::path::Path| vec!["--secret-key-file".to_string(), key.to_str().unwrap().to_string()];

    let args = with_key(&old);
    let server = Server::start(&db.url, &data, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let admin = server.sign_in_admin().await;
    let script = server.new_script(&admin, json!({ "name": "env", "content": SHOW_ENV })).await;
    let path = format!("/api/scripts/{}/env/API_TOKEN", script.id);
    let response = server.send_json(Method::PUT, &admin, &path, &json!({ "value": SECRET, "secret": true })).await;
    assert_eq!(response.status(), 200);
    server.terminate();
    drop(server);

    // A server that does not stop by itself within the patience has started: the key opened.
    let refused = |key: &std::path::Path| -> String {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pytask"))
            .args(["serve", "--bind", "127.0.0.1:0", "--database-url", &db.url, "--data-dir"])
            .arg(&data)
            .arg("--secret-key-file")
            .arg(key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let begun = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if begun.elapsed() > PATIENCE {
                let _ = child.kill();
                panic!("the server started with the key {}", key.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = refused(&wrong);
    assert!(said.contains("does not decrypt") && said.contains("PYTASK_SECRET_KEY_FILE"), "{said}");
    assert!(!said.contains(SECRET));

    let rotate = std::process::Command::new(env!("CARGO_BIN_EXE_pytask"))
        .args(["secrets", "rotate-key", "--database-url", &db.url, "--data-dir"])
        .arg(&data)
        .arg("--secret-key-file")
        .arg(&old)
        .arg("--new-key-file")
        .arg(&new)
        .output()
        .unwrap();
    assert!(rotate.status.success(), "{}", String::from_utf8_lossy(&rotate.stderr));
    assert!(String::from_utf8_lossy(&rotate.stderr).contains("re-encrypted"));

    let said = refused(&old);
    assert!(said.contains("does not decrypt"), "{said}");

    let args = with_key(&new);
    let server = Server::start(&db.url, &data, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let admin = server.sign_in_admin().await;
    let run = server.execute(&admin, script.id).await;
    let run = server.finished(&admin, run.id).await;
    let log = server.log_of(&admin, run.id).await;
    let expected = format!("API_TOKEN={}", sha256(SECRET));
    assert!(lines_of(&log, LogStream::Stdout).contains(&expected.as_str()), "{log:?}");
}

/// Without a key file the server makes one in the data directory, private, and keeps it.
#[tokio::test]
async fn a_key_is_generated_in_the_data_directory_once() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app(Backend::Sqlite).await;
    let key = app.data_dir.path().join("secret.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap().len(), 32);
}
