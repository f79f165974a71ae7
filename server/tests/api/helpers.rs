//! `spawn_app`: the real router on 127.0.0.1:0 with a fresh database per test (a temp-file
//! SQLite, or a PostgreSQL database created for the test and dropped with it); `Server`: the real
//! `pytask` binary in a process of its own; `Api`: what a test does to either over HTTP and
//! WebSocket, written once; and `eventually`, the one way a test waits for something.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app::model::{Credentials, Event, Execution, ExecutionStatus, LogLine, LogPage, LogStream, NewUser, Role, Script};
use clap::Parser;
use futures_util::StreamExt;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde::de::DeserializeOwned;
use serde_json::json;
use server::config::Cli;
use server::App;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once per backend, as `<name>::sqlite` and `<name>::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )+
    };
}

pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "correct horse battery";

/// How long a test waits for a run to end, an install or the next event before it fails: long
/// enough for a first venv made from a cold uv cache.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Asks `check` every 50 ms until it gives `Ok`; once `within` has passed, fails with what its
/// last `Err` said was still missing. Tests wait with this instead of sleeping for a guessed time.
pub async fn eventually<T, E: Display>(within: Duration, mut check: impl AsyncFnMut() -> Result<T, E>) -> T {
    let begun = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(missing) => assert!(begun.elapsed() < within, "{missing} (waited {within:?})"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    pub db_url: String,
    pub data_dir: tempfile::TempDir,
    _test_db: TestDb,
    _shutdown: oneshot::Sender<()>,
}

/// How a request proves who sends it.
#[derive(Debug, Clone)]
pub enum Actor {
    Cookie(String),
    Token(String),
}

impl Actor {
    /// The session's `cookie` header value, for requests written by hand.
    pub fn cookie(&self) -> &str {
        let Actor::Cookie(cookie) = self else { panic!("{self:?} is not a signed-in session") };
        cookie
    }
}

/// The `cookie` header value that carries the session set by `response`.
pub fn session_of(response: &reqwest::Response) -> Actor {
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pytask_session="))
        .expect("a session cookie is set");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    Actor::Cookie(set_cookie.split(';').next().unwrap().to_string())
}

/// Reads a JSON error body and checks its shape.
pub async fn error_of(response: reqwest::Response) -> app::error::ErrorDetail {
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(content_type.starts_with("application/json"), "error is not JSON: {content_type}");
    response.json::<app::error::ErrorBody>().await.expect("error body has the SPEC's shape").error
}

/// The HTTP client of every test: redirects are answers to check, not to follow.
fn test_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// What a test does to a server over HTTP and WebSocket, the same whether the server is the
/// in-process `TestApp` or a `pytask` process (`Server`). Each helper asserts the status the
/// SPEC gives for success, so a test reads as the steps it takes.
pub trait Api {
    fn client(&self) -> &reqwest::Client;

    /// `path` on this server, as an `http://` URL.
    fn url(&self, path: &str) -> String;

    /// A request, signed as `actor` if given.
    fn request(&self, method: Method, path: &str, actor: Option<&Actor>) -> reqwest::RequestBuilder {
        let builder = self.client().request(method, self.url(path));
        match actor {
            Some(Actor::Cookie(cookie)) => builder.header("cookie", cookie),
            Some(Actor::Token(token)) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client().get(self.url(path)).send().await.expect("GET failed")
    }

    async fn get_as(&self, actor: &Actor, path: &str) -> reqwest::Response {
        self.request(Method::GET, path, Some(actor)).send().await.expect("GET failed")
    }

    /// A GET that must succeed, its body decoded.
    async fn json_of<T: DeserializeOwned>(&self, actor: &Actor, path: &str) -> T {
        let response = self.get_as(actor, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("the body decodes")
    }

    /// Sends `body` as JSON, signed as `actor`.
    async fn send_json(&self, method: Method, actor: &Actor, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.request(method, path, Some(actor)).json(body).send().await.expect("request failed")
    }

    /// A POST without a body (run, stop, install), signed as `actor`.
    async fn post(&self, actor: &Actor, path: &str) -> reqwest::Response {
        self.request(Method::POST, path, Some(actor)).send().await.expect("POST failed")
    }

    /// The setup code this instance logs, where the test can work it out; none where the server
    /// exempts the test (a loopback server with no public URL, asked from loopback).
    fn setup_code(&self) -> Option<String> {
        None
    }

    /// Creates the first admin through `/api/setup` (with the setup code, where there is one: it
    /// is needed behind a public URL or trusted proxies) and returns its session.
    async fn setup_admin(&self) -> Actor {
        let response = self
            .request(Method::POST, "/api/setup", None)
            .json(&serde_json::json!({"username": ADMIN, "password": PASSWORD, "setup_code": self.setup_code()}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "setup failed");
        session_of(&response)
    }

    async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        self.request(Method::POST, "/api/auth/login", None)
            .json(&Credentials { username: username.into(), password: password.into() })
            .send()
            .await
            .unwrap()
    }

    /// Adds a user as `admin` and returns the new user's session.
    async fn add_user(&self, admin: &Actor, username: &str, role: Role) -> Actor {
        let response = self
            .request(Method::POST, "/api/users", Some(admin))
            .json(&NewUser { username: username.into(), password: PASSWORD.into(), role })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "adding {username} failed");
        let response = self.sign_in(username, PASSWORD).await;
        assert_eq!(response.status(), 200);
        session_of(&response)
    }

    /// A new API token of `actor`'s, named `name`: its secret.
    async fn token(&self, actor: &Actor, name: &str) -> String {
        let response = self.send_json(Method::POST, actor, "/api/tokens", &json!({ "name": name })).await;
        assert_eq!(response.status(), 201);
        response.json::<app::model::CreatedToken>().await.unwrap().secret
    }

    /// Creates a script from a JSON body (201 expected).
    async fn new_script(&self, actor: &Actor, body: serde_json::Value) -> Script {
        let response = self.send_json(Method::POST, actor, "/api/scripts", &body).await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    async fn script_of(&self, actor: &Actor, id: i64) -> Script {
        self.json_of(actor, &format!("/api/scripts/{id}")).await
    }

    /// Changes a script (200 expected); `body` carries the `updated_at` it was read with.
    async fn update_script(&self, actor: &Actor, id: i64, body: serde_json::Value) -> Script {
        let response = self.send_json(Method::PUT, actor, &format!("/api/scripts/{id}"), &body).await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    async fn add_dependency(&self, actor: &Actor, script_id: i64, name: &str, version_spec: &str) -> reqwest::Response {
        let body = json!({ "name": name, "version_spec": version_spec });
        self.send_json(Method::POST, actor, &format!("/api/scripts/{script_id}/dependencies"), &body).await
    }

    /// Installs the script's requirements and gives back the events `socket` (the script's
    /// feed) sends up to the outcome.
    async fn install(&self, actor: &Actor, socket: &mut Socket, script_id: i64) -> Vec<Event> {
        let response = self.post(actor, &format!("/api/scripts/{script_id}/dependencies/install")).await;
        assert_eq!(response.status(), 202);
        install_outcome(socket).await
    }

    /// Starts a run of the script by hand: 201, and the run waits in the queue.
    async fn execute(&self, actor: &Actor, script_id: i64) -> Execution {
        let response = self.post(actor, &format!("/api/scripts/{script_id}/execute")).await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let run: Execution = response.json().await.unwrap();
        assert_eq!(run.status, ExecutionStatus::Queued);
        run
    }

    async fn stop(&self, actor: &Actor, id: i64) -> reqwest::Response {
        self.post(actor, &format!("/api/executions/{id}/stop")).await
    }

    async fn run_of(&self, actor: &Actor, id: i64) -> Execution {
        self.json_of(actor, &format!("/api/executions/{id}")).await
    }

    /// Polls until the run is over.
    async fn finished(&self, actor: &Actor, id: i64) -> Execution {
        eventually(PATIENCE, async || {
            let run = self.run_of(actor, id).await;
            if run.status.is_final() {
                Ok(run)
            } else {
                Err(format!("run {id} still {}", run.status))
            }
        })
        .await
    }

    /// The whole stored log, through the paged API.
    async fn log_of(&self, actor: &Actor, id: i64) -> Vec<LogLine> {
        let mut lines = Vec::new();
        let mut after = 0;
        loop {
            let page: LogPage = self.json_of(actor, &format!("/api/executions/{id}/logs?after={after}&limit=10000")).await;
            let done = page.lines.is_empty();
            after = page.next_after;
            lines.extend(page.lines);
            if done {
                return lines;
            }
        }
    }

    /// Creates the script, runs it to its end, and gives back the run and its log.
    async fn run_to_end(&self, actor: &Actor, body: serde_json::Value) -> (Execution, Vec<LogLine>) {
        let script = self.new_script(actor, body).await;
        let run = self.execute(actor, script.id).await;
        let run = self.finished(actor, run.id).await;
        let log = self.log_of(actor, run.id).await;
        (run, log)
    }

    /// Opens a WebSocket at `path`, signed as `actor`; the refusal, if it is refused.
    async fn try_connect(&self, actor: &Actor, path: &str) -> Result<Socket, WsError> {
        let mut request = self.url(path).replacen("http://", "ws://", 1).into_client_request().unwrap();
        let (name, value) = match actor {
            Actor::Cookie(cookie) => ("cookie", cookie.clone()),
            Actor::Token(token) => ("authorization", format!("Bearer {token}")),
        };
        request.headers_mut().insert(name, value.parse().unwrap());
        tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
    }

    async fn connect(&self, actor: &Actor, path: &str) -> Socket {
        self.try_connect(actor, path).await.expect("websocket opens")
    }
}

/// The next event on `socket`; `None` once the server has closed it.
pub async fn next_event(socket: &mut Socket) -> Option<Event> {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next()).await.expect("an event within the patience")?;
        let message = message.unwrap_or_else(|err| panic!("the WebSocket failed: {err}"));
        if message.is_close() {
            return None;
        }
        if let Ok(text) = message.to_text() {
            return Some(serde_json::from_str(text).unwrap_or_else(|err| panic!("not an event ({err}): {text}")));
        }
    }
}

/// Reads a run's feed up to its end, the socket's close, or `max` lines: the lines as (seq,
/// text), and the `execution_finished` event if it came.
pub async fn read_run(socket: &mut Socket, max: usize) -> (Vec<(i64, String)>, Option<Event>) {
    let mut lines = Vec::new();
    while lines.len() < max {
        match next_event(socket).await {
            None => break,
            Some(Event::LogOutput { seq, line, .. }) => lines.push((seq, line)),
            Some(finished @ Event::ExecutionFinished { .. }) => return (lines, Some(finished)),
            Some(_) => {}
        }
    }
    (lines, None)
}

/// The events of an install on the script's feed, up to its outcome.
pub async fn install_outcome(socket: &mut Socket) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(socket).await.expect("the feed stays open until the install ends");
        let done = matches!(event, Event::InstallationFinished { .. } | Event::InstallationError { .. });
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// The texts of the log's lines on `stream`.
pub fn lines_of(log: &[LogLine], stream: LogStream) -> Vec<&str> {
    log.iter().filter(|l| l.stream == stream).map(|l| l.line.as_str()).collect()
}

impl Api for TestApp {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Worked out from the instance's key, as the server does.
    fn setup_code(&self) -> Option<String> {
        let key = server::env::SecretKey::load_or_generate(None, self.data_dir.path()).expect("the instance's key");
        Some(server::auth::setup_code::SetupCode::new(&key, self.addr, true).shown())
    }
}

impl TestApp {
    /// Where the script's venv keeps its Python.
    pub fn venv_python(&self, script_id: i64) -> PathBuf {
        self.data_dir.path().join("scripts").join(script_id.to_string()).join("venv/bin/python")
    }

    /// Stores a run of the script as a row, with no process behind it (`queued_at` as SQL text).
    pub async fn insert_run(&self, script_id: i64, status: &str, queued_at: &str) {
        self.db
            .execute_unprepared(&format!(
                "INSERT INTO executions (script_id, status, \"trigger\", queued_at, log_lines) VALUES ({script_id}, '{status}', 'manual', '{queued_at}', 0)"
            ))
            .await
            .unwrap();
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Like `spawn_app`, with more command-line flags.
pub async fn spawn_app_with(backend: Backend, extra: &[&str]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let test_db = TestDb::create(backend, data_dir.path()).await;
    let mut args = vec![
        "pytask".to_string(),
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data_dir.path().to_str().expect("utf-8 temp dir").into(),
        "--database-url".into(),
        test_db.url.clone(),
        "--log".into(),
        "warn".into(),
        "--site-root".into(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site").into(),
    ];
    // A small body limit unless the test sets its own (clap refuses a flag given twice).
    if !extra.contains(&"--max-body-bytes") {
        args.extend(["--max-body-bytes".to_string(), "65536".to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(args).expect("test config parses");
    let app = App::build(cli.config).await.expect("server builds");
    let addr = app.local_addr();
    let db = app.state.db.clone();
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp { addr, client: test_client(), db, db_url: test_db.url.clone(), data_dir, _test_db: test_db, _shutdown: shutdown }
}

/// The database of one test. A PostgreSQL one is dropped when the test ends.
pub struct TestDb {
    pub url: String,
    postgres: Option<(String, String)>,
}

fn postgres_admin_url() -> String {
    std::env::var("PYTASK_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDb {
    pub async fn create(backend: Backend, dir: &Path) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb { url: format!("sqlite://{}", dir.join("test.db").display()), postgres: None },
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let template = TEMPLATE.get_or_init(|| postgres_template(&admin)).await;
                let name = format!("pytask_test_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin).await.expect("PostgreSQL for tests (PYTASK_TEST_POSTGRES_URL)");
                conn.execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}")).await.expect("create test database");
                let _ = conn.close().await;
                let base = admin.rsplit_once('/').map(|(base, _)| base).expect("database URL has a path");
                TestDb { url: format!("{base}/{name}"), postgres: Some((admin, name)) }
            }
        }
    }
}

/// The migrated database every PostgreSQL test's database is copied from, once per test process.
static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// A database migrated as the server would migrate it, named for its migrations and kept between
/// runs: copying it (`CREATE DATABASE … TEMPLATE`) is much cheaper than migrating each test's
/// database, and the server then finds nothing to do. Test processes running at once make it
/// once, under an advisory lock; it is renamed into place only once migrated.
async fn postgres_template(admin: &str) -> String {
    use migration::MigratorTrait;
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    for migration in migration::Migrator::migrations() {
        migration.name().hash(&mut hasher);
    }
    let name = format!("pytask_template_{:016x}", hasher.finish());
    // The lock is the session's: one connection takes it and gives it back.
    let mut options = sea_orm::ConnectOptions::new(admin);
    options.max_connections(1).sqlx_logging(false);
    let conn = Database::connect(options).await.expect("PostgreSQL for tests (PYTASK_TEST_POSTGRES_URL)");
    conn.execute_unprepared("SELECT pg_advisory_lock(7220417)").await.expect("lock for the template database");
    let exists = conn
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        ))
        .await
        .expect("look for the template database")
        .is_some();
    if !exists {
        let building = format!("{name}_building");
        conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).await.expect("drop a half-built template");
        conn.execute_unprepared(&format!("CREATE DATABASE {building}")).await.expect("create the template database");
        let base = admin.rsplit_once('/').map(|(base, _)| base).expect("database URL has a path");
        let template = Database::connect(format!("{base}/{building}")).await.expect("connect to the template database");
        migration::Migrator::up(&template, None).await.expect("migrate the template database");
        template.close().await.expect("close the template database");
        conn.execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {name}")).await.expect("name the template database");
    }
    conn.execute_unprepared("SELECT pg_advisory_unlock(7220417)").await.expect("unlock");
    let _ = conn.close().await;
    name
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                if let Ok(conn) = Database::connect(&admin).await {
                    let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

/// The real `pytask` binary in its own process, on a free port, against `db_url`; killed when
/// dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
    client: reqwest::Client,
}

impl Api for Server {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A port no one listens on now, for a server process to bind.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    pub fn start(db_url: &str, data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with(db_url, data_dir, extra, |_| {})
    }

    /// Like `start`, with more environment variables.
    pub fn start_with_env(db_url: &str, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_with(db_url, data_dir, extra, |command| {
            command.envs(env.iter().copied());
        })
    }

    /// Like `start`, with the command changed by `adjust` before it runs (its environment, its user).
    pub fn start_with(db_url: &str, data_dir: &Path, extra: &[&str], adjust: impl FnOnce(&mut std::process::Command)) -> Server {
        Server::start_binary(Path::new(env!("CARGO_BIN_EXE_pytask")), db_url, data_dir, extra, adjust)
    }

    /// Like `start_with`, running the server binary at `binary` (a copy another user may execute).
    pub fn start_binary(
        binary: &Path,
        db_url: &str,
        data_dir: &Path,
        extra: &[&str],
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Server {
        let port = free_port();
        let mut command = std::process::Command::new(binary);
        // Instances of one database share the key that seals its variables, as they must.
        if !extra.contains(&"--secret-key-file") {
            command.arg("--secret-key-file").arg(Server::shared_key_file());
        }
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--log", "warn"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--database-url", db_url])
            .args(extra)
            .env("PYTASK_ADMIN_USER", ADMIN)
            .env("PYTASK_ADMIN_PASSWORD", PASSWORD)
            .stdout(std::process::Stdio::null());
        adjust(&mut command);
        Server::serving(command.spawn().expect("pytask starts"), port)
    }

    /// One key file for every server process this test process starts: its instances of a database
    /// must open each other's sealed values.
    fn shared_key_file() -> &'static Path {
        static KEY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            let path = std::env::temp_dir().join(format!("pytask-test-key-{}", std::process::id()));
            std::fs::write(&path, "dGhlIHRlc3RzJyBzaGFyZWQga2V5LCAzMiBieXRlcyE=\n").unwrap();
            path
        })
    }

    /// A server process already started, that serves on `port`.
    pub fn serving(child: std::process::Child, port: u16) -> Server {
        Server { child, base: format!("http://127.0.0.1:{port}"), client: test_client() }
    }

    /// Waits until the server answers its health probe (it may still be starting).
    pub async fn ready(&self) {
        eventually(Duration::from_secs(60), async || {
            let healthy = self.client.get(self.url("/api/health")).send().await.is_ok_and(|r| r.status() == 200);
            healthy.then_some(()).ok_or_else(|| format!("the server at {} did not come up", self.base))
        })
        .await
    }

    /// Signs in as the admin once the server answers (it may still be starting).
    pub async fn sign_in_admin(&self) -> Actor {
        let credentials = Credentials { username: ADMIN.into(), password: PASSWORD.into() };
        eventually(Duration::from_secs(60), async || match self.client.post(self.url("/api/auth/login")).json(&credentials).send().await {
            Ok(response) if response.status() == 200 => Ok(session_of(&response)),
            _ => Err(format!("the server at {} did not come up", self.base)),
        })
        .await
    }

    /// Sends SIGTERM, as a service manager stops the server.
    pub fn terminate(&self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The host pids of the processes whose command line holds `marker`.
pub fn pids_with(marker: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.windows(marker.len()).any(|w| w == marker.as_bytes())))
        .filter(|pid| *pid != std::process::id() as i32)
        .collect()
}

/// Waits until a process with `marker` in its command line runs; gives back their pids.
pub async fn wait_for_pids(marker: &str) -> Vec<i32> {
    eventually(PATIENCE, async || {
        let pids = pids_with(marker);
        if pids.is_empty() {
            Err(format!("no process with {marker}"))
        } else {
            Ok(pids)
        }
    })
    .await
}

/// Waits until no process has `marker` in its command line.
pub async fn wait_gone(marker: &str) {
    eventually(Duration::from_secs(10), async || {
        let pids = pids_with(marker);
        if pids.is_empty() {
            Ok(())
        } else {
            Err(format!("a process with {marker} outlived its run: {pids:?}"))
        }
    })
    .await
}

/// Kibibytes of memory the process holds now (`VmRSS`) or held at most (`VmHWM`).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with(field)).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
