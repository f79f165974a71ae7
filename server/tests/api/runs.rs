//! Running scripts for real: the venv's Python, real processes, real limits. Outcomes, logs
//! (streams, long lines, invalid UTF-8, the output cap), stop / timeout / orphans, the clean
//! environment, replay over WebSocket across reconnects, and runs left by a killed server.

use std::collections::HashSet;
use std::time::Duration;

use app::model::{Event, Execution, ExecutionStatus, LogLine, LogStream, Trigger};
use futures_util::StreamExt;
use serde_json::json;

use crate::helpers::{
    error_of, eventually, lines_of, next_event, pids_with, read_run, spawn_app, spawn_app_with, wait_for_pids, wait_gone, Actor, Api,
    Backend, Server, TestApp, TestDb, PATIENCE,
};
use crate::on_both_backends;

/// A script's body: its name and code.
fn named(name: &str, content: &str) -> serde_json::Value {
    json!({ "name": name, "content": content })
}

fn assert_numbered(log: &[LogLine]) {
    let seqs: Vec<i64> = log.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>(), "seqs are 1..n without gaps");
}

async fn outcomes(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;

    let (run, log) =
        app.run_to_end(&admin, named("ok", "import sys\nprint('hello')\nprint('warning', file=sys.stderr)\nprint('bye')\n")).await;
    assert_eq!((run.status, run.exit_code, run.error.as_deref()), (ExecutionStatus::Succeeded, Some(0), None));
    assert_eq!(run.trigger, Trigger::Manual);
    assert!(run.started_at.is_some() && run.finished_at >= run.started_at);
    assert_eq!(lines_of(&log, LogStream::Stdout), ["hello", "bye"]);
    assert!(lines_of(&log, LogStream::Stderr).contains(&"warning"));
    assert_numbered(&log);
    assert_eq!(run.log_lines, log.len() as i64);

    let (run, _) = app.run_to_end(&admin, named("exit 3", "import sys\nsys.exit(3)\n")).await;
    assert_eq!((run.status, run.exit_code), (ExecutionStatus::Failed, Some(3)));
    assert!(run.error.unwrap().contains("code 3"));

    let (run, log) = app.run_to_end(&admin, named("raises", "def f():\n    return 1 / 0\nf()\n")).await;
    assert_eq!((run.status, run.exit_code), (ExecutionStatus::Failed, Some(1)));
    let stderr = lines_of(&log, LogStream::Stderr);
    assert!(stderr.contains(&"Traceback (most recent call last):"), "{stderr:?}");
    assert!(stderr.iter().any(|l| l.starts_with("ZeroDivisionError")), "{stderr:?}");

    let (run, log) = app
        .run_to_end(&admin, named("bytes", "import sys\nsys.stdout.buffer.write(b'bad \\xff\\xfe end\\nno newline at the end')\n"))
        .await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(lines_of(&log, LogStream::Stdout), ["bad \u{fffd}\u{fffd} end", "no newline at the end"]);

    // A 1 MB line arrives whole, in pieces, in order.
    let (run, log) = app.run_to_end(&admin, named("long", "import sys\nsys.stdout.write('ab' * 500000 + '\\n')\nprint('after')\n")).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    let stdout = lines_of(&log, LogStream::Stdout);
    assert!(stdout.len() > 2, "the long line is split");
    assert_eq!(stdout[..stdout.len() - 1].concat(), "ab".repeat(500_000));
    assert_eq!(stdout.last(), Some(&"after"));
    assert_numbered(&log);

    // Nothing of the server's environment reaches the script: on its first run (the venv is
    // made first), nor on its next ones (started behind the start gate, or kept warm since the
    // last, whose pipe and variable are gone before the script's first line).
    let env = app.new_script(&admin, named("env", "import os, json, sys\nprint(json.dumps(sorted(os.environ)))\nprint(os.getcwd())\nprint(repr(sys.stdin.read()))\nprint(os.environ['PYTASK_EXECUTION_ID'], os.environ['PYTASK_SCRIPT_NAME'])\n")).await;
    for _ in 0..3 {
        let run = app.finished(&admin, app.execute(&admin, env.id).await.id).await;
        let log = app.log_of(&admin, run.id).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{log:?}");
        let stdout = lines_of(&log, LogStream::Stdout);
        let keys: Vec<String> = serde_json::from_str(stdout[0]).unwrap();
        // `PWD` is bubblewrap's, the working directory the run sees anyway.
        let allowed = [
            "HOME", "LANG", "PATH", "PWD", "PYTASK_EXECUTION_ID", "PYTASK_SCRIPT_NAME", "PYTHONIOENCODING", "PYTHONUNBUFFERED", "TMPDIR",
            "VIRTUAL_ENV",
        ];
        assert!(keys.iter().all(|k| allowed.contains(&k.as_str())), "unexpected variables: {keys:?}");
        assert!(!keys.contains(&"DATABASE_URL".to_string()));
        // A fresh working directory per run, removed after.
        let workdir = stdout[1].to_string();
        assert!(workdir.starts_with(app.data_dir.path().join("runs").to_str().unwrap()), "{workdir}");
        assert!(!std::path::Path::new(&workdir).exists(), "the working directory is removed");
        assert_eq!(stdout[2], "''", "stdin is empty");
        assert_eq!(stdout[3], format!("{} env", run.id), "the run's own variables");
    }
}

/// Waits for a stored line that starts with `prefix` and gives back the rest of it.
async fn line_starting(app: &TestApp, admin: &Actor, id: i64, prefix: &str) -> String {
    eventually(PATIENCE, async || {
        let line = app.log_of(admin, id).await.into_iter().find(|l| l.line.starts_with(prefix));
        line.map(|l| l.line[prefix.len()..].to_string()).ok_or_else(|| format!("no line `{prefix}…` in run {id}"))
    })
    .await
}

const SPAWNS_CHILD: &str = r#"
import subprocess, sys, time, signal
child = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(300)", "MARKER"])
print(f"child {child.pid}", flush=True)
if "--ignore-term" in sys.argv or IGNORE_TERM:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(300)
"#;

async fn stop_ends_the_whole_tree(backend: Backend) {
    let app = spawn_app_with(backend, &["--kill-grace-seconds", "1"]).await;
    let admin = app.setup_admin().await;
    for ignore_term in [false, true] {
        // The child is found by a marker in its command line: in its sandbox it has a pid of
        // its own namespace, not the host's.
        let marker = format!("child-{}", uuid::Uuid::new_v4());
        let content = SPAWNS_CHILD.replace("IGNORE_TERM", if ignore_term { "True" } else { "False" }).replace("MARKER", &marker);
        let script = app.new_script(&admin, named(&format!("tree {ignore_term}"), &content)).await;
        let run = app.execute(&admin, script.id).await;
        line_starting(&app, &admin, run.id, "ready").await;
        wait_for_pids(&marker).await;
        let response = app.stop(&admin, run.id).await;
        assert_eq!(response.status(), 200);
        let run = app.finished(&admin, run.id).await;
        assert_eq!(run.status, ExecutionStatus::Stopped);
        assert_eq!(run.error.as_deref(), Some("stopped by admin"));
        wait_gone(&marker).await;
        let log = app.log_of(&admin, run.id).await;
        assert!(log.iter().any(|l| l.stream == LogStream::Server && l.line.starts_with("[pytask] stopped by admin")), "the log says why");

        let response = app.stop(&admin, run.id).await;
        assert_eq!(response.status(), 409, "stopping a finished run");
        assert!(error_of(response).await.message.contains("already over"));
    }

    // Children left behind by a script that exits normally die with it.
    let marker = format!("left-{}", uuid::Uuid::new_v4());
    let leaves = format!(
        "import subprocess, sys\nchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])\nprint(child.pid)\n"
    );
    let (run, _) = app.run_to_end(&admin, named("leaves a child", &leaves)).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    wait_gone(&marker).await;

    // A queued run that is stopped never starts.
    let slow = app.new_script(&admin, named("slow", "import time\ntime.sleep(300)\n")).await;
    let runs: Vec<Execution> = futures_util::future::join_all((0..5).map(|_| app.execute(&admin, slow.id))).await;
    // Four workers: four runs start, the fifth waits.
    let waiting = eventually(PATIENCE, async || {
        let now: Vec<Execution> = futures_util::future::join_all(runs.iter().map(|run| app.run_of(&admin, run.id))).await;
        if now.iter().filter(|run| run.status == ExecutionStatus::Running).count() == 4 {
            Ok(now.into_iter().find(|run| run.status == ExecutionStatus::Queued).expect("the fifth run waits"))
        } else {
            Err(format!("four runs did not start: {now:?}"))
        }
    })
    .await;
    let response = app.stop(&admin, waiting.id).await;
    assert_eq!(response.status(), 200);
    let stopped = app.finished(&admin, waiting.id).await;
    assert_eq!((stopped.status, stopped.started_at), (ExecutionStatus::Stopped, None), "stopped while queued");
    for run in runs.iter().filter(|run| run.id != waiting.id) {
        app.stop(&admin, run.id).await;
        assert_eq!(app.finished(&admin, run.id).await.status, ExecutionStatus::Stopped);
    }

    // Stopped the moment it is queued, while an idle worker is taking it: stopped either way
    // (before or after its process started), and nothing of it runs on.
    for _ in 0..5 {
        let run = app.execute(&admin, slow.id).await;
        let response = app.stop(&admin, run.id).await;
        assert_eq!(response.status(), 200);
        let run = app.finished(&admin, run.id).await;
        assert_eq!(run.status, ExecutionStatus::Stopped, "{run:?}");
    }
    let left: Vec<Execution> = app
        .get_as(&admin, &format!("/api/executions?script_id={}&status=running", slow.id))
        .await
        .json::<app::model::ExecutionPage>()
        .await
        .unwrap()
        .items;
    assert!(left.is_empty(), "{left:?}");
}

async fn limits(backend: Backend) {
    let app = spawn_app_with(backend, &["--run-memory-mb", "256", "--run-output-mb", "1", "--kill-grace-seconds", "1"]).await;
    let admin = app.setup_admin().await;

    let timed = app
        .new_script(&admin, json!({ "name": "sleeper", "content": "import time\nprint('start')\ntime.sleep(60)\n", "timeout_seconds": 1 }))
        .await;
    let run = app.execute(&admin, timed.id).await;
    let run = app.finished(&admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::TimedOut);
    assert_eq!(run.error.as_deref(), Some("timed out after 1 s"));
    let log = app.log_of(&admin, run.id).await;
    assert_eq!(lines_of(&log, LogStream::Stdout), ["start"]);
    assert!(lines_of(&log, LogStream::Server).iter().any(|l| l.starts_with("[pytask] timed out after 1 s")));

    let (run, log) =
        app.run_to_end(&admin, named("hungry", "print('allocating')\nblock = bytearray(512 * 1024 * 1024)\nprint('never')\n")).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert!(run.error.as_deref().unwrap().contains("memory limit of 256 MiB"), "{:?}", run.error);
    assert!(lines_of(&log, LogStream::Stderr).iter().any(|l| l.starts_with("MemoryError")));
    assert_eq!(lines_of(&log, LogStream::Stdout), ["allocating"]);

    // 2 MB of output with a 1 MiB cap: cut, said so, and the run still finishes its work.
    let (run, log) = app.run_to_end(&admin, named("chatty", "for i in range(20000):\n    print(f'{i:099d}')\nprint('the end')\n")).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    let stored: usize = lines_of(&log, LogStream::Stdout).iter().map(|l| l.len() + 1).sum();
    assert!((1_000_000..=1_048_576).contains(&stored), "{stored} bytes kept");
    assert!(lines_of(&log, LogStream::Server).iter().any(|l| l.starts_with("[pytask] output cut")));
    assert!(!lines_of(&log, LogStream::Stdout).contains(&"the end"));
}

async fn refusals(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let inactive = app.new_script(&admin, json!({ "name": "off", "is_active": false })).await;
    let response = app.post(&admin, &format!("/api/scripts/{}/execute", inactive.id)).await;
    assert_eq!(response.status(), 409);
    assert!(error_of(response).await.message.contains("inactive"));
    assert_eq!(app.post(&admin, "/api/scripts/999999/execute").await.status(), 404);
    assert_eq!(app.post(&admin, "/api/scripts/abc/execute").await.status(), 400);
    assert_eq!(app.stop(&admin, 999999).await.status(), 404);

    let viewer = app.add_user(&admin, "vic", app::model::Role::Viewer).await;
    let script = app.new_script(&admin, named("fine", "print(1)\n")).await;
    assert_eq!(app.post(&viewer, &format!("/api/scripts/{}/execute", script.id)).await.status(), 403);
    let run = app.execute(&admin, script.id).await;
    assert_eq!(app.stop(&viewer, run.id).await.status(), 403);
    app.finished(&admin, run.id).await;
    assert_eq!(app.get_as(&viewer, &format!("/api/executions/{}/logs", run.id)).await.status(), 200, "viewers read logs");

    for (query, status) in
        [("?after=-1", 422), ("?limit=0", 422), ("?limit=10001", 422), ("?after=x", 400), ("?format=pdf", 400), ("?colour=red", 400)]
    {
        let response = app.get_as(&admin, &format!("/api/executions/{}/logs{query}", run.id)).await;
        assert_eq!(response.status(), status, "{query}");
        assert!(!error_of(response).await.message.is_empty());
    }
    assert_eq!(app.get_as(&admin, "/api/executions/999999/logs").await.status(), 404);

    let response = app.get_as(&admin, &format!("/api/executions/{}/logs?format=text", run.id)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains(&format!("execution-{}.log", run.id)));
    let text = response.text().await.unwrap();
    assert!(text.lines().any(|l| l.ends_with(" stdout 1")), "{text}");

    // A venv whose Python cannot start: the run fails and says why.
    let venv_python = app.venv_python(script.id);
    std::fs::remove_file(&venv_python).unwrap();
    std::fs::write(&venv_python, "not a program").unwrap();
    let run = app.execute(&admin, script.id).await;
    let run = app.finished(&admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert!(run.error.as_deref().unwrap().contains("could not be started"), "{:?}", run.error);
}

async fn replay_across_reconnects(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app
        .new_script(
            &admin,
            named("counter", "import time\nfor i in range(1, 401):\n    print(i)\n    if i % 20 == 0:\n        time.sleep(0.05)\n"),
        )
        .await;
    let run = app.execute(&admin, script.id).await;

    let mut seen = Vec::new();
    let mut after = 0;
    let mut finished_event = None;
    while finished_event.is_none() {
        let mut socket = app.connect(&admin, &format!("/ws/executions/{}?after={after}", run.id)).await;
        let (lines, end) = read_run(&mut socket, 37).await;
        drop(socket);
        after = lines.last().map_or(after, |(seq, _)| *seq);
        seen.extend(lines.into_iter().map(|(seq, _)| seq));
        finished_event = end;
    }
    // The first run also says it makes the environment: count every stored line.
    let log = app.log_of(&admin, run.id).await;
    assert_eq!(lines_of(&log, LogStream::Stdout), (1..=400).map(|i| i.to_string()).collect::<Vec<_>>());
    let total = log.len() as i64;
    assert_eq!(seen, (1..=total).collect::<Vec<_>>(), "every line once, in order, across reconnects");
    assert!(matches!(finished_event, Some(Event::ExecutionFinished { status: ExecutionStatus::Succeeded, .. })));

    // After the end: the rest from any point, then the outcome, then a normal close.
    let mut socket = app.connect(&admin, &format!("/ws/executions/{}?after={}", run.id, total - 10)).await;
    let (lines, end) = read_run(&mut socket, usize::MAX).await;
    assert_eq!(lines.into_iter().map(|(seq, _)| seq).collect::<Vec<_>>(), (total - 9..=total).collect::<Vec<_>>());
    assert!(end.is_some());
    let close = socket.next().await;
    assert!(matches!(close, Some(Ok(message)) if message.is_close()), "closed after the outcome");

    match app.try_connect(&admin, &format!("/ws/executions/{}?after=-5", run.id)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 422),
        Err(other) => panic!("a negative `after` is refused, got {other}"),
        Ok(_) => panic!("a negative `after` is refused, the WebSocket opened"),
    }

    // The script's socket sees its runs: started, lines, finished.
    let mut socket = app.connect(&admin, &format!("/ws/scripts/{}", script.id)).await;
    let again = app.execute(&admin, script.id).await;
    let mut lines = HashSet::new();
    loop {
        match next_event(&mut socket).await.expect("the script's feed stays open") {
            Event::LogOutput { execution_id, seq, .. } if execution_id == again.id => {
                lines.insert(seq);
            }
            Event::ExecutionFinished { execution_id, .. } if execution_id == again.id => break,
            _ => {}
        }
    }
    assert_eq!(lines.len(), 400);
}

/// A viewer of the script that joins while a run is going sees that run's later lines and its
/// end: every run event names its script.
async fn script_viewer_joining_mid_run(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    // The run waits for the test on a port: it goes on only once the viewer is there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let content = format!(
        "import socket\nprint('before', flush=True)\nsocket.create_connection(('127.0.0.1', {port})).recv(1)\nprint('after')\nraise SystemExit(3)\n"
    );
    let script = app.new_script(&admin, named("mid-run", &content)).await;
    let run = app.execute(&admin, script.id).await;
    line_starting(&app, &admin, run.id, "before").await;
    let mut socket = app.connect(&admin, &format!("/ws/scripts/{}", script.id)).await;
    let (mut waiting, _) = tokio::time::timeout(Duration::from_secs(60), listener.accept()).await.unwrap().unwrap();
    // The socket is subscribed once its upgrade is answered; the byte goes after that.
    tokio::io::AsyncWriteExt::write_all(&mut waiting, b"g").await.unwrap();
    let (mut lines, mut ends) = (Vec::new(), Vec::new());
    loop {
        match next_event(&mut socket).await.expect("the script's feed stays open") {
            Event::LogOutput { execution_id, script_id, line, .. } => lines.push((execution_id, script_id, line)),
            Event::ExecutionError { execution_id, script_id, error, .. } => ends.push((execution_id, script_id, error)),
            Event::ExecutionFinished { execution_id, script_id, status, exit_code, .. } => {
                assert_eq!((execution_id, script_id, status, exit_code), (run.id, script.id, ExecutionStatus::Failed, Some(3)));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(lines, vec![(run.id, script.id, "after".to_string())]);
    assert_eq!(ends, vec![(run.id, script.id, "the script exited with code 3".to_string())]);
}

async fn requirements_installed_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, named("needs six", "import six\nprint(six.__version__)\n")).await;
    assert_eq!(app.add_dependency(&admin, script.id, "six", "==1.17.0").await.status(), 201);
    let run = app.execute(&admin, script.id).await;
    let run = app.finished(&admin, run.id).await;
    let log = app.log_of(&admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{log:?}");
    assert!(
        lines_of(&log, LogStream::Server).iter().any(|l| l.contains("installing its requirements first (six==1.17.0)")),
        "the log says so"
    );
    assert_eq!(lines_of(&log, LogStream::Stdout), ["1.17.0"]);

    // Ready now: the next run starts without installing.
    let run = app.execute(&admin, script.id).await;
    let run = app.finished(&admin, run.id).await;
    let log = app.log_of(&admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert!(!log.iter().any(|l| l.line.contains("installing")), "{log:?}");
}

/// The real binary, killed with SIGKILL mid-run and started again on the same database.
async fn killed_server_leaves_a_lost_run(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    let serve = || Server::start(&db.url, data.path(), &["--lost-after-seconds", "3", "--shutdown-grace-seconds", "1"]);
    let mut server = serve();
    let admin = server.sign_in_admin().await;
    let created = server
        .new_script(
            &admin,
            named("long", "import os, time\nprint(os.getpid(), flush=True)\nfor i in range(100000):\n    print(i, flush=True)\n    time.sleep(0.02)\n"),
        )
        .await;
    let run = server.execute(&admin, created.id).await;
    eventually(PATIENCE, async || {
        let printed = server.log_of(&admin, run.id).await.len();
        if printed < 20 {
            Err(format!("the run printed {printed} lines of 20"))
        } else {
            Ok(())
        }
    })
    .await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // The run's processes (bubblewrap's and the script's) all name its working directory, in
    // the data directory; the killed server's sandbox took them with it.
    wait_gone(data.path().to_str().unwrap()).await;
    let kept = read_log_direct(&db.url, run.id).await;
    assert!(kept >= 20, "the stored lines survive the kill ({kept})");

    server = serve();
    let admin = server.sign_in_admin().await;
    let run = eventually(Duration::from_secs(30), async || {
        let run = server.run_of(&admin, run.id).await;
        if run.status.is_final() {
            Ok(run)
        } else {
            Err("the run was not marked lost")
        }
    })
    .await;
    assert_eq!(run.status, ExecutionStatus::Lost);
    assert!(run.error.as_deref().unwrap().contains("stopped without finishing"), "{:?}", run.error);
    assert_eq!(server.log_of(&admin, run.id).await.len() as i64, kept, "the lines it had are kept");
    // The script run last gets a Python kept waiting at start (a warm interpreter's directory).
    let warm_dirs = || {
        std::fs::read_dir(data.path().join("runs"))
            .map(|dirs| dirs.flatten().filter(|d| d.file_name().to_string_lossy().starts_with("warm-")).count())
            .unwrap_or(0)
    };
    eventually(Duration::from_secs(30), async || if warm_dirs() == 0 { Err("no interpreter was warmed at start") } else { Ok(()) }).await;

    // SIGTERM mid-run: the run gets the grace period, is stopped, the log says why, exit 0.
    let run = server.execute(&admin, created.id).await;
    eventually(Duration::from_secs(60), async || {
        if server.log_of(&admin, run.id).await.len() < 5 {
            Err("the second run did not print")
        } else {
            Ok(())
        }
    })
    .await;
    server.terminate();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "exit 0 after SIGTERM: {status:?}");
    let db_conn = sea_orm::Database::connect(&db.url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let row = db_conn
        .query_one(sea_orm::Statement::from_string(
            db_conn.get_database_backend(),
            format!("SELECT status, error FROM executions WHERE id = {}", run.id),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "status").unwrap(), "stopped");
    assert!(row.try_get::<String>("", "error").unwrap().contains("shutting down"));
    let stored = read_log_direct(&db.url, run.id).await;
    assert!(stored >= 5);
    assert_eq!(warm_dirs(), 0, "a clean shutdown ends the kept interpreters and removes their directories");
}

/// Lines stored for a run, read straight from the database (the server is down).
async fn read_log_direct(url: &str, id: i64) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(url).await.unwrap();
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT MAX(last_seq) AS n FROM execution_log_chunks WHERE execution_id = {id}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<Option<i64>>("", "n").unwrap().unwrap_or(0)
}

on_both_backends!(killed_server_leaves_a_lost_run);

/// A run queued *held* by an instance (its idle worker was taking it, see `queue::start_held`)
/// whose instance died is `lost`: its script may have started, so no one else runs it. A plain
/// queued run of the same dead server is kept and run.
async fn held_run_of_a_dead_instance_is_lost(backend: Backend) {
    use sea_orm::{ActiveModelTrait, Set};
    use server::db::entities::execution;
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    let server = Server::start(&db.url, data.path(), &[]);
    let admin = server.sign_in_admin().await;
    let created = server.new_script(&admin, named("kept", "print('ran')")).await;
    drop(server);

    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    let queued = |worker: Option<&str>| execution::ActiveModel {
        script_id: Set(created.id),
        status: Set(ExecutionStatus::Queued),
        trigger: Set(Trigger::Manual),
        queued_at: Set(chrono::Utc::now()),
        worker_id: Set(worker.map(str::to_string)),
        log_lines: Set(0),
        cancel_requested: Set(false),
        ..Default::default()
    };
    let held = queued(Some("gone-instance")).insert(&conn).await.unwrap().id;
    let plain = queued(None).insert(&conn).await.unwrap().id;
    let _ = conn.close().await;

    let server = Server::start(&db.url, data.path(), &[]);
    let admin = server.sign_in_admin().await;
    let held = server.run_of(&admin, held).await;
    assert_eq!(held.status, ExecutionStatus::Lost, "{held:?}");
    assert!(held.error.as_deref().unwrap_or_default().contains("gone-instance"), "{held:?}");
    let plain = server.finished(&admin, plain).await;
    assert_eq!(plain.status, ExecutionStatus::Succeeded, "{plain:?}");
}

on_both_backends!(held_run_of_a_dead_instance_is_lost);

/// Seconds since boot, as the kernel counts a process's start time.
fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime").unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

/// The script prints when its process started (seconds since boot) and a marker of its text.
fn started_and(marker: &str) -> String {
    format!("import os\nprint(int(open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19]) / os.sysconf('SC_CLK_TCK'))\nprint('{marker}', os.environ['PYTASK_EXECUTION_ID'])\n")
}

/// When the process `pid` started, in seconds since boot, if it is a Python (not the sandbox
/// around one).
fn python_started(pid: i32) -> Option<f64> {
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    if !command.starts_with("python") {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks: f64 = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system; it has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks / per_second as f64)
}

/// How long the newest Python kept warm in the app's data directory has been waiting, in
/// seconds; `None` while none is kept.
fn kept_python_age(app: &TestApp) -> Option<f64> {
    let warm = app.data_dir.path().join("runs").join("warm-");
    let started = pids_with(warm.to_str().unwrap()).into_iter().filter_map(python_started).reduce(f64::max)?;
    Some(uptime() - started)
}

/// Waits until a Python has been kept warm for over a second: a run asked for then tells it
/// apart from one started for the run by more than the 0.5 s its assertion allows.
async fn kept_for_a_second(app: &TestApp) {
    eventually(Duration::from_secs(30), async || match kept_python_age(app) {
        Some(age) if age > 1.0 => Ok(()),
        age => Err(format!("no Python kept warm for a second (the newest: {age:?} s)")),
    })
    .await
}

/// A run and, from its log, when its Python started and what it printed after.
async fn run_reporting_start(app: &TestApp, admin: &Actor, script_id: i64) -> (Execution, f64, String) {
    let run = app.finished(admin, app.execute(admin, script_id).await.id).await;
    let log = app.log_of(admin, run.id).await;
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{log:?}");
    let stdout = lines_of(&log, LogStream::Stdout);
    (run.clone(), stdout[0].parse().unwrap(), stdout[1].to_string())
}

/// After a run, the script's next one gets a Python started and waiting since (warm), with the
/// script as it is now and its own variables; after an install swapped the venv, one started
/// from the new venv once the install ended, not the one kept since before.
async fn warm_interpreter_serves_the_next_run(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = app.new_script(&admin, named("warm", &started_and("first"))).await;
    let (run, _, said) = run_reporting_start(&app, &admin, s.id).await;
    assert_eq!(said, format!("first {}", run.id));

    kept_for_a_second(&app).await;
    let current = app.script_of(&admin, s.id).await;
    app.update_script(&admin, s.id, json!({"updated_at": current.updated_at, "content": started_and("edited")})).await;
    let before = uptime();
    let (run, started, said) = run_reporting_start(&app, &admin, s.id).await;
    assert_eq!(said, format!("edited {}", run.id), "the script as it is now, with its own id");
    assert!(started < before - 0.5, "a Python started before the run was asked for ({started} vs {before})");

    // An install swaps the venv: the Python kept since the last run read the old one.
    eventually(Duration::from_secs(30), async || kept_python_age(&app).ok_or("no Python kept since the last run")).await;
    let warm_dirs = || -> std::collections::HashSet<std::ffi::OsString> {
        let runs = std::fs::read_dir(app.data_dir.path().join("runs")).unwrap();
        runs.flatten().map(|d| d.file_name()).filter(|name| name.to_string_lossy().starts_with("warm-")).collect()
    };
    let kept = warm_dirs();
    assert_eq!(kept.len(), 1, "one Python kept since the last run");
    let posted = uptime();
    let mut events = app.connect(&admin, &format!("/ws/scripts/{}", s.id)).await;
    let seen = app.install(&admin, &mut events, s.id).await;
    assert!(matches!(seen.last(), Some(Event::InstallationFinished { .. })), "{seen:?}");
    eventually(
        Duration::from_secs(30),
        async || {
            if warm_dirs().is_subset(&kept) {
                Err("no Python was started from the new venv")
            } else {
                Ok(())
            }
        },
    )
    .await;
    assert!(warm_dirs().is_disjoint(&kept), "the Python that read the old venv is ended");
    kept_for_a_second(&app).await;
    let before = uptime();
    let (run, started, said) = run_reporting_start(&app, &admin, s.id).await;
    assert_eq!(said, format!("edited {}", run.id));
    assert!(
        started > posted && started < before - 0.5,
        "a Python started after the install, before the run ({posted} < {started} < {before})"
    );
}

/// Each run records the network setting it ran with, whether it was handed to an idle worker
/// (queued held, the setting stored with it) or claimed from the queue (stored by the claim),
/// and, once over, whether it was isolated (SPEC "Isolation").
async fn runs_record_their_network_and_isolation(backend: Backend) {
    let app = spawn_app_with(backend, &["--workers", "1", "--sandbox", "off"]).await;
    let admin = app.setup_admin().await;
    let offline = app.new_script(&admin, json!({ "name": "offline", "content": "import time\ntime.sleep(300)\n", "network": false })).await;
    let online = app.new_script(&admin, named("online", "print('hi')\n")).await;

    // The one worker is idle: this run is handed to it.
    let busy = app.execute(&admin, offline.id).await;
    let busy = eventually(PATIENCE, async || {
        let run = app.run_of(&admin, busy.id).await;
        if run.status == ExecutionStatus::Running {
            Ok(run)
        } else {
            Err(format!("the run did not start: {run:?}"))
        }
    })
    .await;
    assert_eq!((busy.network, busy.sandboxed), (Some(false), None), "known as it runs; isolation once over");

    // The worker is busy: this one waits in the queue and is claimed when the worker is free.
    let waiting = app.execute(&admin, online.id).await;
    assert_eq!(waiting.network, None, "not claimed yet");
    let response = app.stop(&admin, busy.id).await;
    assert_eq!(response.status(), 200);
    let busy = app.finished(&admin, busy.id).await;
    assert_eq!((busy.status, busy.network, busy.sandboxed), (ExecutionStatus::Stopped, Some(false), Some(false)), "{busy:?}");
    let claimed = app.finished(&admin, waiting.id).await;
    assert_eq!((claimed.status, claimed.network, claimed.sandboxed), (ExecutionStatus::Succeeded, Some(true), Some(false)), "{claimed:?}");
}

on_both_backends!(
    outcomes,
    runs_record_their_network_and_isolation,
    stop_ends_the_whole_tree,
    limits,
    refusals,
    replay_across_reconnects,
    script_viewer_joining_mid_run,
    requirements_installed_first,
    warm_interpreter_serves_the_next_run
);
