//! Several real `pytask` processes on one PostgreSQL (two `web`, two `worker`): runs started on
//! one web instance execute once on a worker and stream live to a viewer on the other web
//! instance; a killed worker's run becomes `lost` while the other goes on. And SIGTERM: a server
//! stopped mid-run leaves a final status and the whole log, on both databases.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use app::model::{Event, Execution, ExecutionStatus, LogPage, Script};
use futures_util::StreamExt;
use sea_orm::{Database, DatabaseConnection, EntityTrait};
use serde_json::json;

use crate::helpers::{Actor, Backend, Server, TestDb};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Lines each of the many runs prints.
const LINES: i64 = 60;

struct Web<'a> {
    client: &'a reqwest::Client,
    cookie: String,
}

impl Web<'_> {
    async fn post<T: serde::de::DeserializeOwned>(&self, server: &Server, path: &str, body: serde_json::Value) -> T {
        let response = self.client.post(format!("{}{path}", server.base)).header("cookie", &self.cookie).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "POST {path}: {} {}", response.status(), response.text().await.unwrap_or_default());
        response.json().await.unwrap()
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, server: &Server, path: &str) -> T {
        let response = self.client.get(format!("{}{path}", server.base)).header("cookie", &self.cookie).send().await.unwrap();
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().await.unwrap()
    }

    async fn watch(&self, server: &Server, run: i64) -> Socket {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/ws/executions/{run}?after=0", server.base.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("cookie", self.cookie.parse().unwrap());
        tokio_tungstenite::connect_async(request).await.expect("websocket opens").0
    }

    async fn until_final(&self, server: &Server, run: i64, within: Duration) -> Execution {
        let begun = Instant::now();
        loop {
            let execution: Execution = self.get(server, &format!("/api/executions/{run}")).await;
            if execution.status.is_final() {
                return execution;
            }
            assert!(begun.elapsed() < within, "run {run} still {} after {within:?}", execution.status);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Waits until a server (of any role) answers its health probe.
async fn ready(client: &reqwest::Client, server: &Server) {
    let begun = Instant::now();
    while !client.get(format!("{}/api/health", server.base)).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(begun.elapsed() < Duration::from_secs(60), "{} did not come up", server.base);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads one run's events to its end: the log lines' (seq, text) and the final event.
async fn read_run(socket: &mut Socket) -> (Vec<(i64, String)>, Option<Event>) {
    let mut lines = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(120), socket.next()).await.expect("an event within two minutes");
        let Some(Ok(message)) = message else { return (lines, None) };
        if message.is_close() {
            return (lines, None);
        }
        let Ok(text) = message.to_text() else { continue };
        match serde_json::from_str::<Event>(text).unwrap() {
            // The server's own notes (a first venv being made) are not the script's.
            Event::LogOutput { line, .. } if line.starts_with("[pytask]") => {}
            Event::LogOutput { seq, line, .. } => lines.push((seq, line)),
            finished @ Event::ExecutionFinished { .. } => return (lines, Some(finished)),
            _ => {}
        }
    }
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
    let client = reqwest::Client::new();
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    // The first web instance makes the schema and the admin; the others join it.
    let web_a = Server::start(&db.url, dirs[0].path(), &["--role", "web"]);
    let Actor::Cookie(cookie) = web_a.sign_in(&client).await else { unreachable!() };
    let web_c = Server::start(&db.url, dirs[1].path(), &["--role", "web"]);
    let worker_args = ["--role", "worker", "--workers", "4", "--lost-after-seconds", "6", "--kill-grace-seconds", "1"];
    let mut workers: Vec<Server> = dirs[2..].iter().map(|dir| Server::start(&db.url, dir.path(), &worker_args)).collect();
    for server in [&web_c].into_iter().chain(&workers) {
        ready(&client, server).await;
    }
    let web = Web { client: &client, cookie };

    // A worker serves its probes, nothing else.
    let page = client.get(format!("{}/api/scripts", workers[0].base)).header("cookie", &web.cookie).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("PYTASK_ROLE=worker"));
    let metrics = client.get(format!("{}/metrics", workers[0].base)).header("cookie", &web.cookie).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("pytask_queue_depth"));
    assert_eq!(client.get(format!("{}/metrics", workers[0].base)).send().await.unwrap().status(), 401);

    // Live across instances: the run waits for a file once it has printed its first line, so
    // that line can only reach the viewer on C while the run is going, from a worker, via A.
    // The run is let go by a port that starts listening (its sandbox sees no file of the test).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let waits = format!(
        "import socket, time\nprint('waiting', flush=True)\nwhile True:\n    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=1).close()\n        break\n    except OSError:\n        time.sleep(0.05)\nprint('done')\n"
    );
    let gated: Script = web.post(&web_a, "/api/scripts", json!({ "name": "gated", "content": waits })).await;
    let run: Execution = web.post(&web_a, &format!("/api/scripts/{}/execute", gated.id), json!({})).await;
    let mut socket = web.watch(&web_c, run.id).await;
    let first = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let Some(Ok(message)) = socket.next().await else { panic!("the socket closed before the first line") };
            if let Ok(Event::LogOutput { line, .. }) = serde_json::from_str::<Event>(message.to_text().unwrap_or_default()) {
                if !line.starts_with("[pytask]") {
                    return line;
                }
            }
        }
    })
    .await
    .expect("the first line reaches the other web instance while the run waits");
    assert_eq!(first, "waiting");
    let _go = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (rest, end) = read_run(&mut socket).await;
    assert!(rest.iter().any(|(_, line)| line == "done"), "{rest:?}");
    assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Succeeded, .. })), "{end:?}");

    // Fifty runs started through both web instances, each watched on the other one.
    let counter: Script = web.post(&web_c, "/api/scripts", json!({ "name": "counter", "content": format!("import time\nfor i in range(1, {}):\n    print(f'line {{i}}')\n    time.sleep(0.005)\n", LINES + 1) })).await;
    let mut runs = Vec::new();
    for n in 0..50 {
        let (starts, views) = if n % 2 == 0 { (&web_a, &web_c) } else { (&web_c, &web_a) };
        let run: Execution = web.post(starts, &format!("/api/scripts/{}/execute", counter.id), json!({})).await;
        runs.push((run.id, web.watch(views, run.id).await));
    }
    let expected: Vec<String> = (1..=LINES).map(|i| format!("line {i}")).collect();
    for (id, socket) in &mut runs {
        let (lines, end) = read_run(socket).await;
        assert!(lines.windows(2).all(|w| w[0].0 < w[1].0), "run {id}: seqs in order, none twice");
        let texts: Vec<String> = lines.into_iter().map(|(_, line)| line).collect();
        assert_eq!(texts, expected, "run {id}: every line once, in order");
        assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Succeeded, .. })), "run {id}: {end:?}");
    }
    // Each ran exactly once, and both workers took a share.
    let sql = Database::connect(&db.url).await.unwrap();
    let mut by_worker: HashMap<u32, usize> = HashMap::new();
    for (id, _) in &runs {
        let run: Execution = web.get(&web_a, &format!("/api/executions/{id}")).await;
        assert_eq!(run.status, ExecutionStatus::Succeeded);
        let page: LogPage = web.get(&web_c, &format!("/api/executions/{id}/logs?after=0&limit=10000")).await;
        let stored = page.lines.iter().filter(|l| !l.line.starts_with("[pytask]")).count();
        assert_eq!(stored, usize::try_from(LINES).unwrap(), "run {id} stored each line once");
        *by_worker.entry(pid_running(&sql, *id).await.expect("a worker ran it")).or_default() += 1;
    }
    let pids: Vec<u32> = workers.iter().map(|w| w.child.id()).collect();
    assert!(by_worker.keys().all(|pid| pids.contains(pid)), "only workers run: {by_worker:?} vs {pids:?}");
    assert_eq!(by_worker.len(), 2, "both workers took runs: {by_worker:?}");

    // kill -9 the worker running a long run: it becomes lost; the other worker goes on.
    let long: Script = web
        .post(&web_a, "/api/scripts", json!({ "name": "long", "content": "import time\nprint('started', flush=True)\ntime.sleep(600)\n" }))
        .await;
    let doomed: Execution = web.post(&web_a, &format!("/api/scripts/{}/execute", long.id), json!({})).await;
    let begun = Instant::now();
    let pid = loop {
        if let Some(pid) = pid_running(&sql, doomed.id).await {
            break pid;
        }
        assert!(begun.elapsed() < Duration::from_secs(60), "the long run was not claimed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let victim = workers.iter().position(|w| w.child.id() == pid).expect("a worker holds it");
    let mut killed = workers.remove(victim);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let lost = web.until_final(&web_c, doomed.id, Duration::from_secs(60)).await;
    assert_eq!(lost.status, ExecutionStatus::Lost);
    assert!(lost.error.as_deref().unwrap_or_default().contains("no heartbeat"), "{:?}", lost.error);
    let after: Execution = web.post(&web_c, &format!("/api/scripts/{}/execute", counter.id), json!({})).await;
    assert_eq!(web.until_final(&web_a, after.id, Duration::from_secs(60)).await.status, ExecutionStatus::Succeeded);
    assert_eq!(pid_running(&sql, after.id).await, Some(workers[0].child.id()));

    // A stop asked on a web instance reaches the worker running the run.
    let stopped: Execution = web.post(&web_a, &format!("/api/scripts/{}/execute", long.id), json!({})).await;
    let mut socket = web.watch(&web_c, stopped.id).await;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next()).await.expect("the long run starts");
        let Some(Ok(message)) = message else { panic!("closed before the run started") };
        if matches!(serde_json::from_str::<Event>(message.to_text().unwrap_or_default()), Ok(Event::LogOutput { .. })) {
            break;
        }
    }
    // The killed worker comes back (same data dir): its start does not touch the live one's run.
    let restarted = Server::start(&db.url, dirs[2 + victim].path(), &worker_args);
    ready(&client, &restarted).await;
    let still: Execution = web.get(&web_a, &format!("/api/executions/{}", stopped.id)).await;
    assert_eq!(still.status, ExecutionStatus::Running, "a restarted worker leaves a live instance's run alone");
    workers.push(restarted);
    let _: Execution = web.post(&web_c, &format!("/api/executions/{}/stop", stopped.id), json!({})).await;
    let (_, end) = read_run(&mut socket).await;
    assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Stopped, .. })), "{end:?}");
    drop(sql);
}

/// SIGTERM during a run: the run ends within the shutdown grace, its final status is stored, its
/// log is whole, and the process exits 0.
async fn sigterm_leaves_a_final_status_and_the_whole_log(backend: Backend) {
    let data = tempfile::tempdir().unwrap();
    let db = TestDb::create(backend, data.path()).await;
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let args = ["--shutdown-grace-seconds", "2", "--kill-grace-seconds", "1"];
    let mut server = Server::start(&db.url, dir.path(), &args);
    let Actor::Cookie(cookie) = server.sign_in(&client).await else { unreachable!() };
    let web = Web { client: &client, cookie };
    let script: Script = web.post(&server, "/api/scripts", json!({ "name": "endless", "content": "import time\ni = 0\nwhile True:\n    i += 1\n    print(i, flush=True)\n    time.sleep(0.01)\n" })).await;
    let run: Execution = web.post(&server, &format!("/api/scripts/{}/execute", script.id), json!({})).await;
    let mut socket = web.watch(&server, run.id).await;
    let mut seen = 0;
    while seen < 20 {
        let message = tokio::time::timeout(Duration::from_secs(120), socket.next()).await.expect("lines flow");
        let Some(Ok(message)) = message else { panic!("closed early") };
        if matches!(serde_json::from_str::<Event>(message.to_text().unwrap_or_default()), Ok(Event::LogOutput { .. })) {
            seen += 1;
        }
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    // The viewer is told how the run ended before the server goes.
    let (_, end) = read_run(&mut socket).await;
    assert!(matches!(end, Some(Event::ExecutionFinished { status: ExecutionStatus::Stopped, .. })), "{end:?}");
    let begun = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(begun.elapsed() < Duration::from_secs(30), "the server did not exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");

    // Read back by a fresh server on the same database: final, explained, and every line 1..=n.
    let again = Server::start(&db.url, dir.path(), &[]);
    let Actor::Cookie(cookie) = again.sign_in(&client).await else { unreachable!() };
    let web = Web { client: &client, cookie };
    let stored: Execution = web.get(&again, &format!("/api/executions/{}", run.id)).await;
    assert_eq!(stored.status, ExecutionStatus::Stopped);
    assert!(stored.error.as_deref().unwrap_or_default().contains("shutting down"), "{:?}", stored.error);
    let page: LogPage = web.get(&again, &format!("/api/executions/{}/logs?after=0&limit=10000", run.id)).await;
    let numbers: Vec<i64> = page.lines.iter().filter_map(|l| l.line.parse().ok()).collect();
    assert!(numbers.len() >= 20, "{}", numbers.len());
    assert_eq!(numbers, (1..=i64::try_from(numbers.len()).unwrap()).collect::<Vec<_>>(), "no line lost or doubled");
    let seqs: Vec<i64> = page.lines.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=i64::try_from(seqs.len()).unwrap()).collect::<Vec<_>>());
}

crate::on_both_backends!(sigterm_leaves_a_final_status_and_the_whole_log);
