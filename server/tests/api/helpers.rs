//! `spawn_app`: the real router on 127.0.0.1:0 with a fresh database per test (a temp-file
//! SQLite, or a PostgreSQL database created for the test and dropped with it), and helpers to
//! act as a signed-in user.

use std::net::SocketAddr;

use app::model::{Credentials, NewUser, Role};
use clap::Parser;
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use server::config::Cli;
use server::App;
use tokio::sync::oneshot;

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

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET failed")
    }

    /// A request, signed as `actor` if given.
    pub fn request(&self, method: Method, path: &str, actor: Option<&Actor>) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match actor {
            Some(Actor::Cookie(cookie)) => builder.header("cookie", cookie),
            Some(Actor::Token(token)) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get_as(&self, actor: &Actor, path: &str) -> reqwest::Response {
        self.request(Method::GET, path, Some(actor)).send().await.expect("GET failed")
    }

    /// Creates the first admin through `/api/setup` and returns its session.
    pub async fn setup_admin(&self) -> Actor {
        let response = self
            .client
            .post(self.url("/api/setup"))
            .json(&Credentials { username: ADMIN.into(), password: PASSWORD.into() })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "setup failed");
        session_of(&response)
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/auth/login"))
            .json(&Credentials { username: username.into(), password: password.into() })
            .send()
            .await
            .unwrap()
    }

    /// Adds a user as `admin` and returns the new user's session.
    pub async fn add_user(&self, admin: &Actor, username: &str, role: Role) -> Actor {
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
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    TestApp { addr, client, db, db_url: test_db.url.clone(), data_dir, _test_db: test_db, _shutdown: shutdown }
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
    pub async fn create(backend: Backend, dir: &std::path::Path) -> TestDb {
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

/// Reads a JSON error body and checks its shape.
pub async fn error_of(response: reqwest::Response) -> app::error::ErrorDetail {
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(content_type.starts_with("application/json"), "error is not JSON: {content_type}");
    response.json::<app::error::ErrorBody>().await.expect("error body has the SPEC's shape").error
}

/// The real `pytask` binary in its own process, on a free port, against `db_url`; killed when
/// dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Server {
    pub fn start(db_url: &str, data_dir: &std::path::Path, extra: &[&str]) -> Server {
        Server::start_with(db_url, data_dir, extra, |_| {})
    }

    /// Like `start`, with more environment variables.
    pub fn start_with_env(db_url: &str, data_dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_with(db_url, data_dir, extra, |command| {
            command.envs(env.iter().copied());
        })
    }

    /// Like `start`, with the command changed by `adjust` before it runs (its environment, its user).
    pub fn start_with(db_url: &str, data_dir: &std::path::Path, extra: &[&str], adjust: impl FnOnce(&mut std::process::Command)) -> Server {
        Server::start_binary(std::path::Path::new(env!("CARGO_BIN_EXE_pytask")), db_url, data_dir, extra, adjust)
    }

    /// Like `start_with`, running the server binary at `binary` (a copy another user may execute).
    pub fn start_binary(
        binary: &std::path::Path,
        db_url: &str,
        data_dir: &std::path::Path,
        extra: &[&str],
        adjust: impl FnOnce(&mut std::process::Command),
    ) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = std::process::Command::new(binary);
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
        let child = command.spawn().expect("pytask starts");
        Server { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// Signs in as the admin once the server answers (it may still be starting).
    pub async fn sign_in(&self, client: &reqwest::Client) -> Actor {
        let begun = std::time::Instant::now();
        loop {
            let credentials = Credentials { username: ADMIN.into(), password: PASSWORD.into() };
            if let Ok(response) = client.post(format!("{}/api/auth/login", self.base)).json(&credentials).send().await {
                if response.status() == 200 {
                    return session_of(&response);
                }
            }
            assert!(begun.elapsed() < std::time::Duration::from_secs(60), "the server at {} did not come up", self.base);
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Scripts and their runs, for tests about what a run does.
impl TestApp {
    /// Creates a script from a JSON body (201 expected).
    pub async fn new_script(&self, admin: &Actor, body: serde_json::Value) -> app::model::Script {
        let response = self.request(Method::POST, "/api/scripts", Some(admin)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    /// Starts a run of the script by hand (201 expected).
    pub async fn execute(&self, admin: &Actor, script_id: i64) -> app::model::Execution {
        let response = self.request(Method::POST, &format!("/api/scripts/{script_id}/execute"), Some(admin)).send().await.unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    pub async fn run_of(&self, admin: &Actor, id: i64) -> app::model::Execution {
        self.get_as(admin, &format!("/api/executions/{id}")).await.json().await.unwrap()
    }

    /// Polls until the run is over (a slow first venv included).
    pub async fn finished(&self, admin: &Actor, id: i64) -> app::model::Execution {
        let begun = std::time::Instant::now();
        loop {
            let run = self.run_of(admin, id).await;
            if run.status.is_final() {
                return run;
            }
            assert!(begun.elapsed() < std::time::Duration::from_secs(120), "run {id} still {} after 2 min", run.status);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The whole stored log, through the paged API.
    pub async fn log_of(&self, admin: &Actor, id: i64) -> Vec<app::model::LogLine> {
        let mut lines = Vec::new();
        let mut after = 0;
        loop {
            let page: app::model::LogPage =
                self.get_as(admin, &format!("/api/executions/{id}/logs?after={after}&limit=10000")).await.json().await.unwrap();
            let done = page.lines.is_empty();
            after = page.next_after;
            lines.extend(page.lines);
            if done {
                return lines;
            }
        }
    }

    /// Creates the script, runs it to its end, and gives back the run and its log.
    pub async fn run_to_end(&self, admin: &Actor, body: serde_json::Value) -> (app::model::Execution, Vec<app::model::LogLine>) {
        let script = self.new_script(admin, body).await;
        let run = self.execute(admin, script.id).await;
        let run = self.finished(admin, run.id).await;
        let log = self.log_of(admin, run.id).await;
        (run, log)
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
    let begun = std::time::Instant::now();
    loop {
        let pids = pids_with(marker);
        if !pids.is_empty() {
            return pids;
        }
        assert!(begun.elapsed() < std::time::Duration::from_secs(120), "no process with {marker}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until no process has `marker` in its command line.
pub async fn wait_gone(marker: &str) {
    let begun = std::time::Instant::now();
    while !pids_with(marker).is_empty() {
        assert!(begun.elapsed() < std::time::Duration::from_secs(10), "a process with {marker} outlived its run: {:?}", pids_with(marker));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
