//! Several real `pytask` processes on one PostgreSQL (two `web`, two `worker`): runs started on
//! one web instance execute once on a worker and stream live to a viewer on the other web
//! instance; a killed worker's run becomes `lost` while the other goes on. And SIGTERM: a server
//! stopped mid-run leaves a final status and the whole log, on both databases.

use std::collections::HashMap;
use std::time::Duration;

use app::model::{Event, ExecutionStatus};
use sea_orm::{Database, DatabaseConnection, EntityTrait};
use serde_json::json;

use crate::helpers::{eventually, free_port, next_event, read_run, Actor, Api, Backend, Server, Socket, TestDb};

/// Lines each of the many runs prints.
const LINES: i64 = 60;

/// Reads one run's feed to its end: the script's log lines as (seq, text), and the final event.
/// The server's own notes (a first venv being made) are not the script's.
async fn script_lines(socket: &mut Socket) -> (Vec<(i64, String)>, Option<Event>) {
    let (mut lines, end) = read_run(socket, usize::MAX).await;
    lines.retain(|(_, line)| !line.starts_with("[pytask]"));
    (lines, end)
}

/// A viewer of the run's feed from its first line.
async fn watch(server: &Server, admin: &Actor, run: i64) -> Socket {
    server.connect(admin, &format!("/ws/executions/{run}?after=0")).await
}

/// Which instance (by its row in `instances`) runs or ran `run`, as the pid of its process.
async fn pid_running(db: &DatabaseConnection, run: i64) -> Option<u32> {
    use server::db::entities::{execution, instance};
    let worker = execution::Entity::find_by_id(run).one(db).await.unwrap()?.worker_id?;
    let row = instance::Entity::find_by_id(worker).one(db).await.unwrap()?;
    u32::try_from(row.pid).ok()
}

#[tokio::test]
async fn two_web_and_two_worker_instances_share_the_work() {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(Backend::Postgres, data.path()).await;
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    // The first web instance makes the schema and the admin; the others join it.
    let web_a = Server::start(&db.url, dirs[0].path(), &["--role", "web"]);
    let admin = web_a.sign_in_admin().await;
    let web_c = Server::start(&db.url, dirs[1].path(), &["--role", "web"]);
    let worker_args = ["--role", "worker", "--workers", "4", "--lost-after-seconds", "6", "--kill-grace-seconds", "1"];
    let mut workers: Vec<Server> = dirs[2..].iter().map(|dir| Server::start(&db.url, dir.path(), &worker_args)).collect();
    for server in [&web_c].into_iter().chain(&workers) {
        server.ready().await;
    }

    // A worker serves its probes, nothing else.
    let page = workers[0].get_as(&admin, "/api/scripts").await;
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("PYTASK_ROLE=worker"));
    let metrics = workers[0].get_as(&admin, "/metrics").await;
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("pytask_queue_depth"));
    assert_eq!(workers[0].get("/metrics").await.status(), 401);

    // Live across instances: the run waits for a file once it has printed its first line, so
    // that line can only reach the viewer on C while the run is going, from a worker, via A.
    // The run is let go by a port that starts listening (its sandbox sees no file of the test).
    let port = free_port();
    let waits = format!(
        "import socket, time\nprint('waiting', flush=True)\nwhile True:\n    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n        break\n    except OSError:\n        time.sleep(0.05)\nprint('done')\n"
    );
    let gated = web_a.new_script(&admin, json!({ "name": "gated", "content": waits })).await;
    let run = web_a.execute(&admin, gated.id).await;
    let mut socket = watch(&web_c, &admin, run.id).await;
    let first = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match next_event(&mut socket).await {
                Some(Event::LogOutput { line, .. }) if !line.starts_with("[pytask]") => return line,
                Some(_) => {}
                None => panic!("the socket closed before the first line"),
            }
        }
    })
    .await
    .expect("the first line reaches the other web instance while the run waits");
    assert_eq!(first, "waiting");
    let _go = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (rest, end) = script_lines(&mut socket).await;
    assert!(rest.iter().any(|(_, line)| line == "done"), "{rest:?}");
    assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Succeeded, .. })), "{end:?}");

    // Fifty runs started through both web instances, each watched on the other one.
    let counter = web_c.new_script(&admin, json!({ "name": "counter", "content": format!("import time\nfor i in range(1, {}):\n    print(f'line {{i}}')\n    time.sleep(0.005)\n", LINES + 1) })).await;
    let mut runs = Vec::new();
    for n in 0..50 {
        let (starts, views) = if n % 2 == 0 { (&web_a, &web_c) } else { (&web_c, &web_a) };
        let run = starts.execute(&admin, counter.id).await;
        runs.push((run.id, watch(views, &admin, run.id).await));
    }
    let expected: Vec<String> = (1..=LINES).map(|i| format!("line {i}")).collect();
    for (id, socket) in &mut runs {
        let (lines, end) = script_lines(socket).await;
        assert!(lines.windows(2).all(|w| w[0].0 < w[1].0), "run {id}: seqs in order, none twice");
        let texts: Vec<String> = lines.into_iter().map(|(_, line)| line).collect();
        assert_eq!(texts, expected, "run {id}: every line once, in order");
        assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Succeeded, .. })), "run {id}: {end:?}");
    }
    // Each ran exactly once, and both workers took a share.
    let sql = Database::connect(&db.url).await.unwrap();
    let mut by_worker: HashMap<u32, usize> = HashMap::new();
    for (id, _) in &runs {
        assert_eq!(web_a.run_of(&admin, *id).await.status, ExecutionStatus::Succeeded);
        let log = web_c.log_of(&admin, *id).await;
        let stored = log.iter().filter(|l| !l.line.starts_with("[pytask]")).count();
        assert_eq!(stored, usize::try_from(LINES).unwrap(), "run {id} stored each line once");
        *by_worker.entry(pid_running(&sql, *id).await.expect("a worker ran it")).or_default() += 1;
    }
    let pids: Vec<u32> = workers.iter().map(|w| w.child.id()).collect();
    assert!(by_worker.keys().all(|pid| pids.contains(pid)), "only workers run: {by_worker:?} vs {pids:?}");
    assert_eq!(by_worker.len(), 2, "both workers took runs: {by_worker:?}");

    // kill -9 the worker running a long run: it becomes lost; the other worker goes on.
    let long = web_a
        .new_script(&admin, json!({ "name": "long", "content": "import time\nprint('started', flush=True)\ntime.sleep(600)\n" }))
        .await;
    let doomed = web_a.execute(&admin, long.id).await;
    let pid = eventually(Duration::from_secs(60), async || pid_running(&sql, doomed.id).await.ok_or("the long run was not claimed")).await;
    let victim = workers.iter().position(|w| w.child.id() == pid).expect("a worker holds it");
    let mut killed = workers.remove(victim);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let lost = web_c.finished(&admin, doomed.id).await;
    assert_eq!(lost.status, ExecutionStatus::Lost);
    assert!(lost.error.as_deref().unwrap_or_default().contains("no heartbeat"), "{:?}", lost.error);
    let after = web_c.execute(&admin, counter.id).await;
    assert_eq!(web_a.finished(&admin, after.id).await.status, ExecutionStatus::Succeeded);
    assert_eq!(pid_running(&sql, after.id).await, Some(workers[0].child.id()));

    // A stop asked on a web instance reaches the worker running the run.
    let stopped = web_a.execute(&admin, long.id).await;
    let mut socket = watch(&web_c, &admin, stopped.id).await;
    while !matches!(next_event(&mut socket).await.expect("open until the long run starts"), Event::LogOutput { .. }) {}
    // The killed worker comes back (same data dir): its start does not touch the live one's run.
    let restarted = Server::start(&db.url, dirs[2 + victim].path(), &worker_args);
    restarted.ready().await;
    let still = web_a.run_of(&admin, stopped.id).await;
    assert_eq!(still.status, ExecutionStatus::Running, "a restarted worker leaves a live instance's run alone");
    workers.push(restarted);
    assert_eq!(web_c.stop(&admin, stopped.id).await.status(), 200);
    let (_, end) = script_lines(&mut socket).await;
    assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Stopped, .. })), "{end:?}");
    drop(sql);
}

/// SIGTERM during a run: the run ends within the shutdown grace, its final status is stored, its
/// log is whole, and the process exits 0.
async fn sigterm_leaves_a_final_status_and_the_whole_log(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let args = ["--shutdown-grace-seconds", "2", "--kill-grace-seconds", "1"];
    let mut server = Server::start(&db.url, dir.path(), &args);
    let admin = server.sign_in_admin().await;
    let script = server.new_script(&admin, json!({ "name": "endless", "content": "import time\ni = 0\nwhile True:\n    i += 1\n    print(i, flush=True)\n    time.sleep(0.01)\n" })).await;
    let run = server.execute(&admin, script.id).await;
    let mut socket = watch(&server, &admin, run.id).await;
    let mut seen = 0;
    while seen < 20 {
        if matches!(next_event(&mut socket).await.expect("lines flow"), Event::LogOutput { .. }) {
            seen += 1;
        }
    }
    server.terminate();
    // The viewer is told how the run ended before the server goes.
    let (_, end) = script_lines(&mut socket).await;
    assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Stopped, .. })), "{end:?}");
    let status =
        eventually(Duration::from_secs(30), async || server.child.try_wait().unwrap().ok_or("the server did not exit after SIGTERM")).await;
    assert!(status.success(), "exit status {status}");

    // Read back by a fresh server on the same database: final, explained, and every line 1..=n.
    let again = Server::start(&db.url, dir.path(), &[]);
    let admin = again.sign_in_admin().await;
    let stored = again.run_of(&admin, run.id).await;
    assert_eq!(stored.status, ExecutionStatus::Stopped);
    assert!(stored.error.as_deref().unwrap_or_default().contains("shutting down"), "{:?}", stored.error);
    let log = again.log_of(&admin, run.id).await;
    let numbers: Vec<i64> = log.iter().filter_map(|l| l.line.parse().ok()).collect();
    assert!(numbers.len() >= 20, "{}", numbers.len());
    assert_eq!(numbers, (1..=i64::try_from(numbers.len()).unwrap()).collect::<Vec<_>>(), "no line lost or doubled");
    let seqs: Vec<i64> = log.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=i64::try_from(seqs.len()).unwrap()).collect::<Vec<_>>());
}

crate::on_both_backends!(sigterm_leaves_a_final_status_and_the_whole_log);
