//! The sandbox, tried as a hostile script would: nothing of the server, its data directory or
//! another script is in reach; the run's limits hold for all its processes; a run with
//! `network: false` has none; `--sandbox required` without bubblewrap refuses runs and says why.

use app::model::{ExecutionStatus, Health, LogStream, UserInfo};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, wait_for_pids, wait_gone, Backend};
use crate::on_both_backends;

on_both_backends!(hostile_script_reaches_nothing, detached_processes_die_with_the_run, caps_hold_for_the_whole_run);

fn stdout(log: &[app::model::LogLine]) -> Vec<&str> {
    log.iter().filter(|l| l.stream == LogStream::Stdout).map(|l| l.line.as_str()).collect()
}

/// Each attempt prints `BLOCKED <what>` or `OPEN <what>`.
const HOSTILE: &str = r#"
import glob, os, sqlite3, sys

def attempt(what, action):
    try:
        action()
        print("OPEN", what, flush=True)
    except Exception as err:
        print("BLOCKED", what, type(err).__name__, flush=True)

def update_users(path):
    db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    db.execute("UPDATE users SET role = 'viewer'")
    db.commit()

def environ_of_others():
    found = []
    for path in glob.glob("/proc/[0-9]*/environ"):
        if path.split("/")[2] == str(os.getpid()):
            continue
        try:
            found.append(open(path, "rb").read())
        except OSError:
            pass
    if not any(b"DATABASE_URL" in env or b"PYTASK" in env for env in found):
        raise PermissionError("no environment of another process")

def server_visible():
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text = open(cmdline, "rb").read()
        except OSError:
            continue
        if b"bwrap" not in text and b"python" not in text and b"setpriv" not in text and text:
            return
    raise LookupError("only the sandbox's own processes")

def write_own_venv():
    with open(os.path.join(sys.prefix, "pytask-was-here.pth"), "w") as f:
        f.write("import os\n")

def write_site_root():
    with open("SITE/pytask-was-here.js", "w") as f:
        f.write("alert(1)")

attempt("sqlite by absolute path", lambda: update_users("DATA/pytask.db"))
attempt("sqlite by relative path", lambda: update_users("../../pytask.db"))
attempt("list the data directory", lambda: os.listdir("DATA"))
attempt("list the runs", lambda: os.listdir("DATA/runs"))
attempt("list the scripts' venvs", lambda: os.listdir("DATA/scripts"))
attempt("read another venv", lambda: os.listdir("DATA/scripts/OTHER/venv"))
attempt("read the uv cache", lambda: os.listdir("DATA/uv-cache"))
attempt("write into its own venv", write_own_venv)
attempt("read another process's environment", environ_of_others)
attempt("see the server's process", server_visible)
attempt("write into the site root", write_site_root)
attempt("read the server's home", lambda: os.listdir(os.path.expanduser("~root")))
print("done")
"#;

async fn hostile_script_reaches_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let data = app.data_dir.path().to_str().unwrap().to_string();
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site");
    // Another script with a venv and a run of its own, for the hostile one to look for.
    let (other_run, _) = app.run_to_end(&admin, json!({ "name": "victim", "content": "open('secret.txt', 'w').write('x')\n" })).await;
    assert_eq!(other_run.status, ExecutionStatus::Succeeded);
    let content = HOSTILE.replace("DATA", &data).replace("SITE", site).replace("OTHER", &other_run.script_id.to_string());
    let (run, log) = app.run_to_end(&admin, json!({ "name": "hostile", "content": content })).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?} {log:?}");
    let said = stdout(&log);
    assert_eq!(said.last(), Some(&"done"), "{said:?}");
    let open: Vec<&&str> = said.iter().filter(|l| l.starts_with("OPEN")).collect();
    assert!(open.is_empty(), "the sandbox let these through: {open:?}");
    assert_eq!(said.iter().filter(|l| l.starts_with("BLOCKED")).count(), 12, "{said:?}");

    // Nothing stored changed, nothing was written.
    let users: Vec<UserInfo> = app.get_as(&admin, "/api/users").await.json().await.unwrap();
    assert!(users.iter().all(|u| u.role == app::model::Role::Admin), "{users:?}");
    assert!(!std::path::Path::new(site).join("pytask-was-here.js").exists());
    let scripts = app.data_dir.path().join("scripts");
    for script in std::fs::read_dir(&scripts).unwrap() {
        let venv = script.unwrap().path().join("venv");
        assert!(venv.join("pyvenv.cfg").exists(), "{venv:?}");
        let planted = walk(&venv).into_iter().filter(|p| p.ends_with("pytask-was-here.pth")).collect::<Vec<_>>();
        assert!(planted.is_empty(), "{planted:?}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// A grandchild that double-forked and left the session with `setsid()`: its host pid is found
/// by a marker in its command line.
const DETACHES: &str = r#"
import os, subprocess, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "MARKER"])
    os._exit(0)
print("detached", flush=True)
time.sleep(600)
"#;

async fn detached_processes_die_with_the_run(backend: Backend) {
    let app = spawn_app_with(backend, &["--kill-grace-seconds", "1"]).await;
    let admin = app.setup_admin().await;
    for how in ["stop", "timeout"] {
        let marker = format!("detached-{}", uuid::Uuid::new_v4());
        let script =
            app.new_script(&admin, json!({ "name": format!("detaches {how}"), "content": DETACHES.replace("MARKER", &marker), "timeout_seconds": if how == "timeout" { 3 } else { 600 } })).await;
        let run = app.execute(&admin, script.id).await;
        wait_for_pids(&marker).await;
        if how == "stop" {
            let response = app.request(Method::POST, &format!("/api/executions/{}/stop", run.id), Some(&admin)).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let run = app.finished(&admin, run.id).await;
        let expected = if how == "stop" { ExecutionStatus::Stopped } else { ExecutionStatus::TimedOut };
        assert_eq!(run.status, expected);
        wait_gone(&marker).await;
    }
}

async fn caps_hold_for_the_whole_run(backend: Backend) {
    let app = spawn_app_with(backend, &["--run-processes", "40", "--run-memory-mb", "256", "--run-tmp-mb", "8"]).await;
    let admin = app.setup_admin().await;

    // A fork bomb: stopped at the cap, and the server answers meanwhile.
    let bomb = r#"
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as err:
    print("refused after", children, err.errno, flush=True)
"#;
    let script = app.new_script(&admin, json!({ "name": "bomb", "content": bomb, "timeout_seconds": 20 })).await;
    let run = app.execute(&admin, script.id).await;
    let health = app.get("/api/health").await;
    assert_eq!(health.status(), 200);
    let run = app.finished(&admin, run.id).await;
    let log = app.log_of(&admin, run.id).await;
    let said = stdout(&log);
    let refused: Vec<&str> = said.iter().filter_map(|l| l.strip_prefix("refused after ")).collect();
    assert_eq!(refused.len(), 1, "{said:?}");
    let children: u64 = refused[0].split(' ').next().unwrap().parse().unwrap();
    assert!(children < 40, "{children} children with a cap of 40");
    assert_eq!(refused[0].split(' ').nth(1), Some("11"), "EAGAIN");

    // Memory held by several processes together: the cgroup's cap, not each one's rlimit.
    let hog = r#"
import os, sys
pids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (100 * 1024 * 1024)
        import time; time.sleep(5)
        os._exit(0)
    pids.append(pid)
ok = all(os.waitpid(pid, 0)[1] == 0 for pid in pids)
sys.exit(0 if ok else 1)
"#;
    let (run, _) = app.run_to_end(&admin, json!({ "name": "hog", "content": hog })).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    let error = run.error.clone().unwrap_or_default();
    assert!(error.contains("memory limit of 256 MiB") && error.contains("out of memory"), "{error}");

    // /tmp fills to its cap and no further.
    let fill = r#"
import errno
written = 0
try:
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(b"x" * 65536)
            f.flush()
            written += 65536
except OSError as err:
    print("stopped", written, err.errno, flush=True)
"#;
    let (run, log) = app.run_to_end(&admin, json!({ "name": "fill", "content": fill })).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{log:?}");
    let said = stdout(&log);
    let stopped: Vec<&str> = said[0].strip_prefix("stopped ").unwrap().split(' ').collect();
    let written: u64 = stopped[0].parse().unwrap();
    assert!(written <= 8 * 1024 * 1024 && written >= 7 * 1024 * 1024, "{written} bytes in an 8 MiB /tmp");
    assert_eq!(stopped[1], "28", "ENOSPC");
}

on_both_backends!(no_network_means_none, refused_without_a_sandbox);

async fn no_network_means_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let port = app.addr.port();
    let connect = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n    print('connected')\nexcept OSError as err:\n    print('refused', type(err).__name__)\n"
    );
    let (run, log) = app.run_to_end(&admin, json!({ "name": "online", "content": connect })).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(stdout(&log), ["connected"], "with network, the server's port is reachable");
    let (run, log) = app.run_to_end(&admin, json!({ "name": "offline", "content": connect, "network": false })).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert!(stdout(&log)[0].starts_with("refused"), "{log:?}");
}

async fn refused_without_a_sandbox(backend: Backend) {
    let app = spawn_app_with(backend, &["--bwrap", "/nonexistent/bwrap"]).await;
    let admin = app.setup_admin().await;
    let health: Health = app.get("/api/health").await.json().await.unwrap();
    assert!(!health.sandbox.isolated);
    let problem = health.sandbox.problem.clone().unwrap();
    assert!(problem.contains("/nonexistent/bwrap") && problem.contains("--sandbox off"), "{problem}");
    let (run, log) = app.run_to_end(&admin, json!({ "name": "refused", "content": "open('/tmp/ran', 'w')\nprint('ran')\n" })).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert!(run.error.as_deref().is_some_and(|e| e.contains("/nonexistent/bwrap")), "{run:?}");
    assert!(stdout(&log).is_empty(), "nothing of the script ran: {log:?}");
}
