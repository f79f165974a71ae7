//! The sandbox, tried as a hostile script would: nothing of the server, its data directory or
//! another script is in reach; the run's limits hold for all its processes; a run with
//! `network: false` has none; `--sandbox required` without bubblewrap refuses runs and says why.

use std::time::Duration;

use app::model::{ExecutionStatus, Health, LogLine, LogStream, UserInfo};
use serde_json::json;

use crate::helpers::{eventually, free_port, lines_of, spawn_app, spawn_app_with, wait_for_pids, wait_gone, Api, Backend, Server, TestDb};
use crate::on_both_backends;

on_both_backends!(hostile_script_reaches_nothing, detached_processes_die_with_the_run, caps_hold_for_the_whole_run);

fn stdout(log: &[LogLine]) -> Vec<&str> {
    lines_of(log, LogStream::Stdout)
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
            assert_eq!(app.stop(&admin, run.id).await.status(), 200);
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
    assert!((7 * 1024 * 1024..=8 * 1024 * 1024).contains(&written), "{written} bytes in an 8 MiB /tmp");
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

on_both_backends!(server_sigterm_ends_detached_processes, sdist_builds_are_sandboxed);

async fn server_sigterm_ends_detached_processes(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    let server = Server::start(&db.url, data.path(), &["--shutdown-grace-seconds", "1", "--kill-grace-seconds", "1"]);
    let admin = server.sign_in_admin().await;
    let marker = format!("detached-{}", uuid::Uuid::new_v4());
    let script = server.new_script(&admin, json!({ "name": "detaches", "content": DETACHES.replace("MARKER", &marker) })).await;
    server.execute(&admin, script.id).await;
    wait_for_pids(&marker).await;
    server.terminate();
    wait_gone(&marker).await;
    drop(server);
}

/// Writes an sdist of `name` 1.0 whose build backend (no build requirement: nothing else is
/// fetched) runs `hostile` when uv builds it, into a PEP 503 index under `index`.
fn publish_sdist(index: &std::path::Path, name: &str, hostile: &str) {
    let pkg = name.replace('-', "_");
    let root = index.join("build").join(format!("{name}-1.0"));
    std::fs::create_dir_all(root.join(&pkg)).unwrap();
    std::fs::write(root.join(&pkg).join("__init__.py"), "VALUE = 1\n").unwrap();
    std::fs::write(
        root.join("pyproject.toml"),
        format!("[project]\nname = \"{name}\"\nversion = \"1.0\"\n[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n"),
    )
    .unwrap();
    std::fs::write(root.join("PKG-INFO"), format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")).unwrap();
    let backend = format!(
        r#"import base64, hashlib, os, zipfile
{hostile}
def _record(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{{name}},sha256={{digest}},{{len(data)}}"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    filename = "{pkg}-1.0-py3-none-any.whl"
    files = {{
        "{pkg}/__init__.py": b"VALUE = 1\n",
        "{pkg}-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        "{pkg}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }}
    record = [_record(n, d) for n, d in files.items()] + ["{pkg}-1.0.dist-info/RECORD,,"]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as wheel:
        for n, d in files.items():
            wheel.writestr(n, d)
        wheel.writestr("{pkg}-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return filename
def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError
"#
    );
    std::fs::write(root.join("backend.py"), backend).unwrap();
    let files = index.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let tarball = files.join(format!("{pkg}-1.0.tar.gz"));
    let made = std::process::Command::new("python3")
        .args(["-c", "import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t:\n    t.add(sys.argv[2], arcname=sys.argv[3])"])
        .arg(&tarball)
        .arg(&root)
        .arg(format!("{pkg}-1.0"))
        .status()
        .unwrap();
    assert!(made.success());
    let page = index.join("simple").join(name);
    std::fs::create_dir_all(&page).unwrap();
    std::fs::write(
        page.join("index.html"),
        format!("<html><body><a href=\"../../files/{pkg}-1.0.tar.gz\">{pkg}-1.0.tar.gz</a></body></html>\n"),
    )
    .unwrap();
}

/// A package index on a free port, served by Python's `http.server`; stopped when dropped.
struct Index(std::process::Child, u16);

impl Index {
    async fn serve(dir: &std::path::Path) -> Index {
        let port = free_port();
        let child = std::process::Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let index = Index(child, port);
        eventually(Duration::from_secs(20), async || {
            reqwest::get(format!("http://127.0.0.1:{port}/simple/")).await.map(drop).map_err(|_| "the index did not come up")
        })
        .await;
        index
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn sdist_builds_are_sandboxed(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let index_dir = tempfile::tempdir().unwrap();
    let escape = std::env::temp_dir().join(format!("pytask-escape-{}", uuid::Uuid::new_v4()));
    let data_path = data.path().to_str().unwrap();
    let hostile = format!(
        r#"
import sqlite3
for action in (
    lambda: sqlite3.connect("file:{data_path}/pytask.db?mode=rw", uri=True).execute("UPDATE users SET role = 'viewer'").connection.commit(),
    lambda: open("{data_path}/pwned", "w").write("x"),
    lambda: open("{escape}", "w").write("x"),
    lambda: open("{data_path}/scripts/1/venv/pwned.pth", "w").write("import os"),
):
    try:
        action()
    except Exception:
        pass
"#,
        escape = escape.display()
    );
    publish_sdist(index_dir.path(), "pytask-evil", &hostile);
    let marker = format!("hang-{}", uuid::Uuid::new_v4());
    let hang = format!("import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(3600)', '{marker}'])\ntime.sleep(3600)\n");
    publish_sdist(index_dir.path(), "pytask-hang", &hang);
    let index = Index::serve(index_dir.path()).await;
    let url = format!("http://127.0.0.1:{}/simple/", index.1);

    let db = TestDb::create(backend, data.path()).await;
    let server = Server::start_with_env(
        &db.url,
        data.path(),
        &["--install-timeout-seconds", "10"],
        &[("UV_INDEX_URL", &url), ("UV_DEFAULT_INDEX", &url)],
    );
    let admin = server.sign_in_admin().await;

    // A first script with a venv, for the build to try to reach.
    let victim = server.new_script(&admin, json!({ "name": "victim", "content": "print(1)" })).await;
    let run = server.execute(&admin, victim.id).await;
    assert_eq!(server.finished(&admin, run.id).await.status, ExecutionStatus::Succeeded);

    for (name, content) in [("pytask-evil", "import pytask_evil\nprint(pytask_evil.VALUE)\n"), ("pytask-hang", "print('never')\n")] {
        let script = server.new_script(&admin, json!({ "name": name, "content": content })).await;
        let response = server.add_dependency(&admin, script.id, name, "==1.0").await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let run = server.execute(&admin, script.id).await;
        let run = server.finished(&admin, run.id).await;
        if name == "pytask-hang" {
            assert_eq!(run.status, ExecutionStatus::Failed);
            let error = run.error.unwrap_or_default();
            assert!(error.contains("longer than 10 s") && error.contains("PYTASK_INSTALL_TIMEOUT_SECONDS"), "{error}");
            wait_gone(&marker).await;
        } else {
            // Built and installed, or refused: either way, none of its writes happened.
            assert!(run.status.is_final());
        }
    }
    assert!(!data.path().join("pwned").exists(), "the build wrote into the data directory");
    assert!(!escape.exists(), "the build wrote into the host's /tmp");
    assert!(!data.path().join(format!("scripts/{}/venv/pwned.pth", victim.id)).exists(), "the build reached another venv");
    let users: Vec<UserInfo> = server.json_of(&admin, "/api/users").await;
    assert!(users.iter().all(|u| u.role == app::model::Role::Admin), "{users:?}");
}
