//! The command line and the one typed `Config`, read once in `main` from flags and environment
//! variables (a flag wins over its variable). Nothing else in the server reads the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use app::model::{Role, SandboxMode};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "pytask",
    version,
    about = "PyTask Manager: keep, schedule and run Python scripts, each with its own dependencies.",
    after_help = "Every setting can be given as a flag or as the environment variable shown beside it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run web, API and worker (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage users from the shell, against the configured database.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Manage the key that encrypts variables and secrets.
    Secrets {
        #[command(subcommand)]
        action: SecretsCommand,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every variable and secret with the key in NEW_KEY_FILE, in one transaction.
    /// Stop every instance first; start them again with PYTASK_SECRET_KEY_FILE=NEW_KEY_FILE (a
    /// key generated in the data directory is replaced by the new one instead).
    RotateKey {
        /// The new key: 32 bytes in base64 on one line (`openssl rand -base64 32 > FILE`).
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from the terminal (or the first line of stdin).
    Add {
        username: String,
        /// admin, editor or viewer.
        #[arg(id = "user_role", value_name = "ROLE", default_value = "viewer", value_parser = parse_role)]
        role: Role,
    },
    /// List the users.
    List,
    /// Set a user's password (read like `add`); their sessions end.
    Passwd { username: String },
    /// Create an API token for a user and print its secret.
    Token {
        username: String,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// Days until it expires; without it, it never does.
        #[arg(long)]
        days: Option<u32>,
    },
}

/// The address users reach the server at: scheme and authority only (`https://host[:port]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    pub https: bool,
    /// `host` or `host:port`, lower-cased, as browsers send it in `Host` and `Origin`.
    pub authority: String,
}

fn parse_public_url(value: &str) -> Result<PublicUrl, String> {
    let url = url::Url::parse(value.trim()).map_err(|err| format!("not a URL ({err}); e.g. https://tasks.example.com"))?;
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        other => return Err(format!("the scheme must be http or https, not {other}")),
    };
    let Some(host) = url.host_str() else { return Err("the URL has no host".into()) };
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("give the scheme and host only (and a port if any), e.g. https://tasks.example.com".into());
    }
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    Ok(PublicUrl { https, authority: authority.to_ascii_lowercase() })
}

/// A secret compared byte for byte: empty or with blanks is surely a mistake in a file or unit.
fn parse_token(value: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err("the token must be non-empty and without spaces".into());
    }
    Ok(value.to_string())
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse::<Role>().map_err(|err| err.to_string())
}

fn parse_sandbox(value: &str) -> Result<SandboxMode, String> {
    value.parse::<SandboxMode>()
}

impl Cli {
    /// Parses the command line and reads the secret files; a bad value exits with clap's
    /// message, which names the flag, plus the variable that may have carried it.
    pub fn parse_or_exit() -> Cli {
        match Cli::try_parse() {
            Ok(mut cli) => match cli.config.read_secret_files() {
                Ok(()) => cli,
                Err(err) => {
                    eprintln!("pytask: {err}");
                    std::process::exit(2);
                }
            },
            Err(err) => {
                let kind = err.kind();
                let _ = err.print();
                if matches!(kind, clap::error::ErrorKind::InvalidValue | clap::error::ErrorKind::ValueValidation) {
                    eprintln!("\nThe value may come from an environment variable: `pytask --help` lists each setting's variable.");
                }
                std::process::exit(err.exit_code());
            }
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Database URL: `postgres://…` for PostgreSQL, `sqlite://…` for SQLite. Unset: SQLite at
    /// <data dir>/pytask.db.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<DatabaseUrl>,

    /// A file holding the database URL (one trailing newline dropped), instead of --database-url.
    #[arg(long, env = "DATABASE_URL_FILE", value_name = "PATH", global = true)]
    pub database_url_file: Option<PathBuf>,

    /// Directory for the SQLite database, virtual environments, working directories and the uv cache.
    #[arg(long, env = "PYTASK_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Address and port to listen on.
    #[arg(long, env = "PYTASK_BIND", default_value = "127.0.0.1:3000", global = true)]
    pub bind: SocketAddr,

    /// Executions that may run at once on this instance.
    #[arg(long, env = "PYTASK_WORKERS", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub workers: u16,

    /// What this instance does: `all` (web and worker), `web` (pages, API, WebSockets) or
    /// `worker` (runs, installs, schedules).
    #[arg(long, env = "PYTASK_ROLE", value_enum, default_value_t = InstanceRole::All, global = true)]
    pub role: InstanceRole,

    /// Directory of the built web assets (wasm, JS, CSS, Monaco) made by `scripts/build`. Unset:
    /// the assets built into the program (a packaged `pytask`), or else `target/site`.
    #[arg(long, env = "PYTASK_SITE_ROOT", value_name = "PATH", global = true)]
    pub site_root: Option<PathBuf>,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "PYTASK_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024 * 1024), global = true)]
    pub max_body_bytes: u64,

    /// WebSocket connections (live logs, script events) this instance serves at once; beyond it
    /// an upgrade is refused with 503 and `Retry-After`, so viewers cannot exhaust the server.
    #[arg(long, env = "PYTASK_MAX_WEBSOCKETS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_websockets: u32,

    /// Seconds a client may take to send a request's headers (an idle keep-alive connection
    /// included), and a WebSocket viewer to take a batch of frames; slower ones are disconnected.
    #[arg(long, env = "PYTASK_CLIENT_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub client_timeout_seconds: u64,

    /// Hours a sign-in lasts before the user must sign in again.
    #[arg(long, env = "PYTASK_SESSION_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u32).range(1..=8760), global = true)]
    pub session_hours: u32,

    /// Minutes a sign-in may go unused before it ends (0: only --session-hours ends it).
    #[arg(long, env = "PYTASK_SESSION_IDLE_MINUTES", default_value_t = 720, value_parser = clap::value_parser!(u32).range(0..=525_600), global = true)]
    pub session_idle_minutes: u32,

    /// WebSockets one user (or API token's user) may hold open at once on this instance, within
    /// --max-websockets; beyond it an upgrade is refused with 429.
    #[arg(long, env = "PYTASK_MAX_WEBSOCKETS_PER_USER", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_websockets_per_user: u32,

    /// Runs of one script that may wait in the queue at once; beyond it a new run is refused
    /// with 429 (a schedule's run is skipped and logged).
    #[arg(long, env = "PYTASK_MAX_QUEUED_PER_SCRIPT", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_queued_per_script: u32,

    /// Proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed, as CIDRs separated by
    /// commas (e.g. `127.0.0.1/32,10.0.0.0/8`). Those headers from anyone else are ignored.
    #[arg(long, env = "PYTASK_TRUSTED_PROXIES", value_delimiter = ',', value_name = "CIDR", global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The address users reach this server at (e.g. `https://tasks.example.com`): its host is
    /// allowed, and with https the cookies are `Secure` and `__Host-` and HSTS is sent.
    #[arg(long, env = "PYTASK_PUBLIC_URL", value_parser = parse_public_url, global = true)]
    pub public_url: Option<PublicUrl>,

    /// Host names (with an optional `:port`) requests may be addressed to, separated by commas;
    /// any other `Host` is refused with 421 (DNS rebinding). Always allowed: the --public-url's
    /// host, and the bind address with `localhost`, `127.0.0.1` and `[::1]` on its port.
    #[arg(long, env = "PYTASK_ALLOWED_HOSTS", value_delimiter = ',', value_name = "HOST", global = true)]
    pub allowed_hosts: Vec<String>,

    /// With --admin-password: create this admin at start when there is no user yet (for automation).
    #[arg(long, env = "PYTASK_ADMIN_USER", global = true)]
    pub admin_user: Option<String>,

    /// The password of --admin-user.
    #[arg(long, env = "PYTASK_ADMIN_PASSWORD", hide_env_values = true, global = true)]
    pub admin_password: Option<String>,

    /// A file holding the password of --admin-user (one trailing newline dropped), instead of
    /// --admin-password.
    #[arg(long, env = "PYTASK_ADMIN_PASSWORD_FILE", value_name = "PATH", global = true)]
    pub admin_password_file: Option<PathBuf>,

    /// The key that encrypts variables and secrets: 32 bytes in base64 on one line. Every
    /// instance needs the same. Unset: <data dir>/secret.key, generated at first start.
    #[arg(long, env = "PYTASK_SECRET_KEY_FILE", value_name = "PATH", global = true)]
    pub secret_key_file: Option<PathBuf>,

    /// The Python interpreter that checks scripts' syntax and that venvs are made from.
    #[arg(long, env = "PYTASK_PYTHON", default_value = "python3", global = true)]
    pub python: PathBuf,

    /// The `uv` program that makes and fills the scripts' venvs (scripts/setup installs it in .tools/venv).
    #[arg(long, env = "PYTASK_UV", default_value = "uv", global = true)]
    pub uv: PathBuf,

    /// The `ruff` program behind "Format" (scripts/setup installs it in .tools/venv).
    #[arg(long, env = "PYTASK_RUFF", default_value = "ruff", global = true)]
    pub ruff: PathBuf,

    /// Wall-clock seconds a run may take when its script sets no timeout of its own.
    #[arg(long, env = "PYTASK_RUN_TIMEOUT_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=31_536_000), global = true)]
    pub run_timeout_seconds: u64,

    /// Memory (address space) a run may use, in MiB (setrlimit RLIMIT_AS; Python raises MemoryError beyond it).
    #[arg(long, env = "PYTASK_RUN_MEMORY_MB", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(16..=1_048_576), global = true)]
    pub run_memory_mb: u64,

    /// CPU seconds a run may use (setrlimit RLIMIT_CPU).
    #[arg(long, env = "PYTASK_RUN_CPU_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=31_536_000), global = true)]
    pub run_cpu_seconds: u64,

    /// Files a run may hold open at once (setrlimit RLIMIT_NOFILE).
    #[arg(long, env = "PYTASK_RUN_OPEN_FILES", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(16..=1_048_576), global = true)]
    pub run_open_files: u64,

    /// Processes a run may start (setrlimit RLIMIT_NPROC; Linux counts every process of the
    /// user the server runs as, and does not apply it to root).
    #[arg(long, env = "PYTASK_RUN_PROCESSES", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=4_194_304), global = true)]
    pub run_processes: u64,

    /// Output a run may write, in MiB; beyond it the log says it was cut and the run goes on.
    #[arg(long, env = "PYTASK_RUN_OUTPUT_MB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_048_576), global = true)]
    pub run_output_mb: u64,

    /// Pythons kept started and waiting, one for each of the scripts run last on this instance,
    /// so the next run of such a script skips the interpreter's start-up (0: none).
    #[arg(long, env = "PYTASK_WARM_INTERPRETERS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(0..=256), global = true)]
    pub warm_interpreters: u16,

    /// Seconds between SIGTERM and SIGKILL when a run is stopped or times out.
    #[arg(long, env = "PYTASK_KILL_GRACE_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub kill_grace_seconds: u64,

    /// On SIGTERM/SIGINT, seconds running executions get to finish before they are stopped.
    #[arg(long, env = "PYTASK_SHUTDOWN_GRACE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400), global = true)]
    pub shutdown_grace_seconds: u64,

    /// Seconds without a heartbeat after which an instance counts as dead and its runs as `lost`.
    #[arg(long, env = "PYTASK_LOST_AFTER_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=86_400), global = true)]
    pub lost_after_seconds: u64,

    /// A schedule's due time found later than this many seconds (no instance was running then)
    /// is skipped, not fired late; the next due time after now is taken.
    #[arg(long, env = "PYTASK_SCHEDULE_GRACE_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub schedule_grace_seconds: u64,

    /// Days a finished run (with its log) is kept, counted from its end; 0 keeps runs for ever.
    /// A script's newest run is kept whatever its age.
    #[arg(long, env = "PYTASK_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=36_500), global = true)]
    pub retention_days: u32,

    /// Finished runs kept per script, the newest ones; older ones are deleted with their logs.
    /// 0: no limit.
    #[arg(long, env = "PYTASK_RETENTION_RUNS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000_000), global = true)]
    pub retention_runs: u32,

    /// With it, `GET /metrics` answers only `Authorization: Bearer <this token>` (for a
    /// Prometheus scraper); without it, a signed-in user or API token, like the API.
    #[arg(long, env = "PYTASK_METRICS_TOKEN", hide_env_values = true, value_parser = parse_token, global = true)]
    pub metrics_token: Option<String>,

    /// A file holding the metrics token (one trailing newline dropped), instead of --metrics-token.
    #[arg(long, env = "PYTASK_METRICS_TOKEN_FILE", value_name = "PATH", global = true)]
    pub metrics_token_file: Option<PathBuf>,

    /// `required`: every run and install in a bubblewrap sandbox with a cgroup of its own, and
    /// none at all when one cannot be made (the cause shows in /api/health and to admins).
    /// `off`: runs as the server's own user in its filesystem, for hosts that cannot make one.
    #[arg(long, env = "PYTASK_SANDBOX", default_value = "required", value_parser = parse_sandbox, global = true)]
    pub sandbox: SandboxMode,

    /// The bubblewrap program that makes the sandboxes (Debian's `bubblewrap`).
    #[arg(long, env = "PYTASK_BWRAP", default_value = "bwrap", global = true)]
    pub bwrap: PathBuf,

    /// The user id runs and installs have in their sandbox (the server must run as root to
    /// switch to it; otherwise they keep the server's).
    #[arg(long, env = "PYTASK_RUN_UID", default_value_t = 65534, global = true)]
    pub run_uid: u32,

    /// The group id runs and installs have in their sandbox.
    #[arg(long, env = "PYTASK_RUN_GID", default_value_t = 65534, global = true)]
    pub run_gid: u32,

    /// Size of a run's private `/tmp` (a tmpfs), in MiB; writing past it fails with ENOSPC.
    #[arg(long, env = "PYTASK_RUN_TMP_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_048_576), global = true)]
    pub run_tmp_mb: u64,

    /// Seconds an install (venv creation and `uv pip install`, sdist builds included) may take.
    #[arg(long, env = "PYTASK_INSTALL_TIMEOUT_SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub install_timeout_seconds: u64,

    /// Log filter (tracing `EnvFilter` syntax, e.g. `info` or `server=debug,tower_http=debug`).
    #[arg(long, env = "PYTASK_LOG", default_value = "info,sqlx=warn,sea_orm=warn", global = true)]
    pub log: String,
}

/// A setting that holds a secret and may be read from a file instead (`…_FILE`, `--…-file`), as
/// Docker and systemd credentials hand them over: a file's content shows neither in `ps` nor in
/// the environment the server's children could inherit.
struct SecretSetting {
    value: &'static str,
    file: &'static str,
}

const DATABASE_URL: SecretSetting =
    SecretSetting { value: "DATABASE_URL / --database-url", file: "DATABASE_URL_FILE / --database-url-file" };
const ADMIN_PASSWORD: SecretSetting =
    SecretSetting { value: "PYTASK_ADMIN_PASSWORD / --admin-password", file: "PYTASK_ADMIN_PASSWORD_FILE / --admin-password-file" };
const METRICS_TOKEN: SecretSetting =
    SecretSetting { value: "PYTASK_METRICS_TOKEN / --metrics-token", file: "PYTASK_METRICS_TOKEN_FILE / --metrics-token-file" };

/// Why a secret file could not stand for its setting. It names the setting and the path, never
/// the content: a URL that does not parse may still carry its password.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("both {value} and {file} are set: give one of them")]
    Both { value: &'static str, file: &'static str },
    #[error("cannot read {} ({file}): {source}", path.display())]
    Unreadable { file: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the content of {} ({file}) is not valid: {reason}", path.display())]
    Invalid { file: &'static str, path: PathBuf, reason: String },
}

/// Moves the content of `file`, if given, into `value`, parsed like the setting itself.
fn read_secret_file<T>(
    setting: &SecretSetting,
    value: &mut Option<T>,
    file: &mut Option<PathBuf>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<(), SecretFileError> {
    let Some(path) = file.take() else { return Ok(()) };
    if value.is_some() {
        return Err(SecretFileError::Both { value: setting.value, file: setting.file });
    }
    let content = match std::fs::read_to_string(&path) {
        Ok(content) => content,
        Err(source) => return Err(SecretFileError::Unreadable { file: setting.file, path, source }),
    };
    // Editors and `echo` end a file with a newline that is no part of the secret.
    let secret = content.strip_suffix('\n').map_or(content.as_str(), |line| line.strip_suffix('\r').unwrap_or(line));
    match parse(secret) {
        Ok(parsed) => {
            *value = Some(parsed);
            Ok(())
        }
        Err(reason) => Err(SecretFileError::Invalid { file: setting.file, path, reason }),
    }
}

impl Config {
    /// Replaces each `…_FILE` setting by the value its file holds, once, right after parsing: the
    /// rest of the server sees only `database_url`, `admin_password` and `metrics_token`.
    pub fn read_secret_files(&mut self) -> Result<(), SecretFileError> {
        read_secret_file(&DATABASE_URL, &mut self.database_url, &mut self.database_url_file, DatabaseUrl::from_str)?;
        read_secret_file(&ADMIN_PASSWORD, &mut self.admin_password, &mut self.admin_password_file, |password| Ok(password.to_string()))?;
        read_secret_file(&METRICS_TOKEN, &mut self.metrics_token, &mut self.metrics_token_file, parse_token)
    }

    /// The database to use: the configured URL, or the SQLite file in the data directory.
    pub fn database(&self) -> DatabaseUrl {
        self.database_url.clone().unwrap_or_else(|| DatabaseUrl::Sqlite(self.data_dir.join("pytask.db")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstanceRole {
    All,
    Web,
    Worker,
}

/// A database URL that has been checked to name a backend we support.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn connection_string(&self) -> String {
        match self {
            DatabaseUrl::Postgres(url) => url.clone(),
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
        }
    }
}

/// Hides the password of a PostgreSQL URL in logs and `--help`.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(url) => {
                let shown = match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
                    _ => url.clone(),
                };
                write!(f, "Postgres({shown})")
            }
            DatabaseUrl::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            if s.len() <= "postgresql://".len() {
                return Err("the PostgreSQL URL has no host or database".into());
            }
            return Ok(DatabaseUrl::Postgres(s.to_string()));
        }
        if let Some(rest) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("the SQLite URL has no file path (e.g. sqlite://data/pytask.db)".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        Err("expected a postgres:// or sqlite:// URL".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("pytask").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_sqlite_in_data_dir() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.config.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(cli.config.database(), DatabaseUrl::Sqlite(PathBuf::from("./data/pytask.db")));
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = parse(&["--workers", "0"]).unwrap_err().to_string();
        assert!(err.contains("--workers"), "{err}");
        let err = parse(&["--bind", "nowhere"]).unwrap_err().to_string();
        assert!(err.contains("--bind"), "{err}");
        let err = parse(&["--database-url", "mysql://x"]).unwrap_err().to_string();
        assert!(err.contains("--database-url") && err.contains("postgres://"), "{err}");
        let err = parse(&["--role", "boss"]).unwrap_err().to_string();
        assert!(err.contains("--role"), "{err}");
    }

    #[test]
    fn flags_work_after_the_subcommand() {
        let cli = parse(&["migrate", "--data-dir", "/tmp/x"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Migrate)));
        assert_eq!(cli.config.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn retention_and_metrics_settings_are_in_help() {
        let cli = parse(&[]).unwrap();
        assert_eq!((cli.config.retention_days, cli.config.retention_runs, cli.config.metrics_token), (30, 1000, None));
        let help = <Cli as clap::CommandFactory>::command().render_long_help().to_string();
        for wanted in [
            "--retention-days", "PYTASK_RETENTION_DAYS", "[default: 30]", "--retention-runs", "PYTASK_RETENTION_RUNS", "[default: 1000]",
            "--metrics-token", "PYTASK_METRICS_TOKEN",
        ] {
            assert!(help.contains(wanted), "{wanted} is missing from --help");
        }
        let err = parse(&["--metrics-token", ""]).unwrap_err().to_string();
        assert!(err.contains("--metrics-token"), "{err}");
        assert_eq!(parse(&["--retention-days", "0"]).unwrap().config.retention_days, 0);
    }

    /// Parses `args` after writing `content` to a file whose path replaces `{file}` in them.
    fn with_secret_file(content: &str, args: &[&str]) -> (tempfile::TempDir, Result<Config, SecretFileError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, content).unwrap();
        let args: Vec<String> = args.iter().map(|arg| arg.replace("{file}", path.to_str().unwrap())).collect();
        let mut config = parse(&args.iter().map(String::as_str).collect::<Vec<_>>()).unwrap().config;
        let read = config.read_secret_files().map(|()| config);
        (dir, read)
    }

    #[test]
    fn secret_files_stand_for_their_settings() {
        let (_dir, config) = with_secret_file("hunter2 \n\n", &["--admin-password-file", "{file}"]);
        let config = config.unwrap();
        assert_eq!(config.admin_password.as_deref(), Some("hunter2 \n"), "one newline is dropped, the rest kept");
        assert!(config.admin_password_file.is_none());
        let (_dir, config) = with_secret_file("s3cret-token\r\n", &["--metrics-token-file", "{file}"]);
        assert_eq!(config.unwrap().metrics_token.as_deref(), Some("s3cret-token"));
        let (_dir, config) = with_secret_file("postgres://me:pw@db/pytask\n", &["migrate", "--database-url-file", "{file}"]);
        assert_eq!(config.unwrap().database(), DatabaseUrl::Postgres("postgres://me:pw@db/pytask".into()));
        let (_dir, config) = with_secret_file("unused", &[]);
        let config = config.unwrap();
        assert!(config.database_url.is_none() && config.admin_password.is_none() && config.metrics_token.is_none());
    }

    #[test]
    fn a_value_and_its_file_together_are_refused() {
        for (flag, value) in
            [("--admin-password", "pass-in-flag"), ("--metrics-token", "token-in-flag"), ("--database-url", "postgres://u:pw-in-flag@h/d")]
        {
            let file_flag = format!("{flag}-file");
            let (_dir, config) = with_secret_file("in-the-file", &[flag, value, &file_flag, "{file}"]);
            let err = config.unwrap_err().to_string();
            assert!(err.contains(&format!("/ {flag} ")) && err.contains(&format!("/ {file_flag}")), "{err}");
            assert!(!err.contains("in-flag") && !err.contains("in-the-file"), "a secret leaked: {err}");
        }
    }

    #[test]
    fn a_bad_secret_file_is_named_but_not_shown() {
        let missing = std::env::temp_dir().join("pytask-no-such-dir/admin-password");
        let err = parse(&["--admin-password-file", missing.to_str().unwrap()]).unwrap().config.read_secret_files().unwrap_err().to_string();
        assert!(err.contains(missing.to_str().unwrap()) && err.contains("PYTASK_ADMIN_PASSWORD_FILE / --admin-password-file"), "{err}");

        let (dir, config) = with_secret_file("mysql://me:topsecret@db/pytask\n", &["--database-url-file", "{file}"]);
        let err = config.unwrap_err().to_string();
        assert!(err.contains(dir.path().join("secret").to_str().unwrap()) && err.contains("--database-url-file"), "{err}");
        assert!(err.contains("postgres://") && !err.contains("topsecret"), "{err}");
        let (_dir, config) = with_secret_file("two words", &["--metrics-token-file", "{file}"]);
        let err = config.unwrap_err().to_string();
        assert!(err.contains("--metrics-token-file") && !err.contains("words"), "{err}");
    }

    #[test]
    fn secret_files_are_in_help() {
        let help = <Cli as clap::CommandFactory>::command().render_long_help().to_string();
        for wanted in [
            "--database-url-file <PATH>",
            "[env: DATABASE_URL_FILE",
            "--admin-password-file <PATH>",
            "[env: PYTASK_ADMIN_PASSWORD_FILE",
            "--metrics-token-file <PATH>",
            "[env: PYTASK_METRICS_TOKEN_FILE",
        ] {
            assert!(help.contains(wanted), "{wanted} is missing from --help");
        }
    }

    /// `/etc/pytask/pytask.env` as the Debian package must ship it: every setting that has an
    /// environment variable, commented out, with its default, or with the value the packaged
    /// unit gives it (`Environment=` in `pytask.service`).
    fn packaged_settings_file(unit: &str) -> String {
        let unit_values: Vec<(&str, &str)> = unit.lines().filter_map(|line| line.strip_prefix("Environment=")?.split_once('=')).collect();
        let mut file = String::from(
            "# PyTask Manager's settings, read by pytask.service after its own Environment= lines (a value\n\
             # here wins). Each setting is shown commented out with the value it has now: remove the `#`\n\
             # and change the value to set it, then `systemctl restart pytask`. `pytask --help` says more.\n\
             # A secret is better kept in a file of its own named by a `..._FILE` setting (0640 root:pytask).\n\
             # A data directory elsewhere than /var/lib/pytask must also be made writable for the\n\
             # service: `systemctl edit pytask`, then [Service] and ReadWritePaths=<the directory>.\n\
             # This file is generated from server/src/config.rs (its test says how).\n",
        );
        for arg in <Cli as clap::CommandFactory>::command().get_arguments() {
            let Some(name) = arg.get_env().and_then(|name| name.to_str()) else { continue };
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            file.push('\n');
            let mut line = String::from("#");
            for word in help.split_whitespace() {
                if line.len() + 1 + word.len() > 100 {
                    file.push_str(&line);
                    file.push('\n');
                    line = String::from("#");
                }
                line.push(' ');
                line.push_str(word);
            }
            file.push_str(&line);
            file.push('\n');
            let default: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
            let default = default.join(",");
            match unit_values.iter().find(|(unit_name, _)| *unit_name == name) {
                Some((_, value)) => {
                    let own = if default.is_empty() { "unset".to_string() } else { default };
                    file.push_str(&format!("# (set by pytask.service; the program's own default: {own})\n#{name}={value}\n"));
                }
                None => file.push_str(&format!("#{name}={default}\n")),
            }
        }
        file
    }

    /// The settings file the package installs lists every setting with its true default. After a
    /// change to the settings: `UPDATE_EXPECT=1 cargo test --release -p server --lib
    /// packaged_settings` rewrites it, and the diff is reviewed like code.
    #[test]
    fn the_packaged_settings_file_lists_every_setting() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/debian");
        let unit = std::fs::read_to_string(format!("{dir}/pytask.service")).unwrap();
        let expected = packaged_settings_file(&unit);
        let path = format!("{dir}/pytask.env");
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(shipped == expected, "{path} differs from the settings in config.rs: run with UPDATE_EXPECT=1 to rewrite it");
        for name in ["PYTASK_SITE_ROOT", "DATABASE_URL", "PYTASK_SANDBOX", "PYTASK_SECRET_KEY_FILE"] {
            assert!(shipped.contains(&format!("\n#{name}=")), "{name} is missing");
        }
        assert!(shipped.contains("\n#PYTASK_DATA_DIR=/var/lib/pytask\n") && shipped.contains("\n#PYTASK_WORKERS=4\n"), "{shipped}");
        assert!(!shipped.lines().any(|line| !line.is_empty() && !line.starts_with('#')), "every setting stays commented out");
    }

    #[test]
    fn postgres_password_is_hidden() {
        let url: DatabaseUrl = "postgres://me:secret@db:5432/pytask".parse().unwrap();
        assert_eq!(format!("{url:?}"), "Postgres(postgres://***@db:5432/pytask)");
    }
}
