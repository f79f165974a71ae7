//! The PyTask server: one process serving the pages (Leptos SSR), the REST and WebSocket API,
//! and running the worker.
//!
//! - `auth`: users, sessions, API tokens and the gate in front of every route.
//! - `cli`: `pytask user …`.
//! - `config`: the command line and the typed `Config`.
//! - `db`: connection, migrations, SeaORM entities.
//! - `env`: variables and secrets given to runs, sealed at rest, masked in output.
//! - `http`: the router, the API's error type and extractors, health and OpenAPI.
//! - `private`: what keeps the server's secrets from the host's other processes and users.
//! - `sandbox`: the bubblewrap sandbox and cgroup every run and install is made in.
//! - `schedules`: cron schedules of scripts and the scheduler that fires them.
//! - `state`: what every request handler can reach.
//! - `telemetry`: tracing setup and the Prometheus metrics.

pub mod auth;
pub mod bounded;
pub mod cli;
pub mod code;
pub mod config;
pub mod db;
pub mod deps;
pub mod env;
pub mod events;
pub mod executions;
pub mod hooks;
pub mod http;
pub mod private;
pub mod sandbox;
pub mod schedules;
pub mod scripts;
pub mod state;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::AppState;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error("cannot listen on {addr} (PYTASK_BIND / --bind): {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot create the data directory {} (PYTASK_DATA_DIR / --data-dir): {source}", path.display())]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot create the admin from PYTASK_ADMIN_USER / PYTASK_ADMIN_PASSWORD: {0}")]
    Admin(#[from] auth::AuthError),
    #[error("set both PYTASK_ADMIN_USER and PYTASK_ADMIN_PASSWORD (or --admin-user and --admin-password), or neither")]
    AdminHalfSet,
    #[error("cannot register this instance in the database: {0}")]
    Register(sea_orm::DbErr),
    #[error(transparent)]
    SecretKey(#[from] env::crypto::KeyError),
    #[error("{0}")]
    Secrets(#[from] env::EnvError),
}

/// A built server, bound to its port but not yet serving. Tests build it on port 0.
pub struct App {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
}

impl App {
    pub async fn build(config: Config) -> Result<App, StartError> {
        create_data_dir(&config)?;
        let db = db::connect(&config.database()).await?;
        // Installed before anything is recorded: a count made earlier would be lost.
        telemetry::metrics::handle();
        bootstrap_admin(&config, &db).await?;
        let secret_key = secret_key(&config, &db).await?;
        let state = AppState::new(config, db, secret_key);
        let role = state.config.role;
        let role_name = match role {
            config::InstanceRole::All => "all",
            config::InstanceRole::Web => "web",
            config::InstanceRole::Worker => "worker",
        };
        let works = role != config::InstanceRole::Web;
        if let Some(outbox) = &state.outbox {
            let (runner, scheduler) = (state.runner.clone(), state.scheduler.clone());
            let on_bell = std::sync::Arc::new(move |bell: events::relay::Bell| match bell {
                events::relay::Bell::Schedules if works => scheduler.wake_here(),
                other => runner.answer(other, works),
            });
            let url = state.config.database().connection_string();
            events::relay::start(
                state.db.clone(),
                url,
                state.runner.instance.clone(),
                state.runner.events.clone(),
                outbox.clone(),
                on_bell,
            );
        }
        state.runner.start(role_name, works).await.map_err(StartError::Register)?;
        if works {
            state.scheduler.start();
            state.retention.start();
        }
        let listener = TcpListener::bind(state.config.bind).await.map_err(|source| StartError::Bind { addr: state.config.bind, source })?;
        let router = http::router(state.clone());
        Ok(App { listener, router, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has an address; the bind address is the fallback for the log line.
        self.listener.local_addr().unwrap_or(self.state.config.bind)
    }

    /// Serves until `shutdown`, then lets running executions finish within the grace period
    /// (stopping those that do not) before returning.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let runner = self.state.runner.clone();
        let scheduler = self.state.scheduler.clone();
        let retention = self.state.retention.clone();
        let grace = std::time::Duration::from_secs(self.state.config.shutdown_grace_seconds);
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let header_timeout = std::time::Duration::from_secs(self.state.config.client_timeout_seconds);
        let serve = http::serve::serve(self.listener, self.router, header_timeout, async move {
            shutdown.await;
            let _ = stopping.send(());
        });
        let drain = async move {
            if stopped.await.is_ok() {
                scheduler.stop();
                retention.stop();
                runner.shutdown(grace).await;
                // Viewers have had every run's end; now their sockets close, saying why.
                runner.events.announce_closing();
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        };
        tokio::join!(serve, drain);
        Ok(())
    }
}

/// Makes the data directory, private when it is new, before anything is written into it.
fn create_data_dir(config: &Config) -> Result<(), StartError> {
    private::create_data_dir(&config.data_dir).map_err(|source| StartError::DataDir { path: config.data_dir.clone(), source })
}

/// The key that seals variables and secrets, checked against every stored value: an instance
/// with another key than the one they were written with stops here, never runs a script without
/// its secret.
async fn secret_key(config: &Config, db: &sea_orm::DatabaseConnection) -> Result<std::sync::Arc<env::SecretKey>, StartError> {
    let key = env::SecretKey::load_or_generate(config.secret_key_file.as_deref(), &config.data_dir)?;
    let count = env::store::verify(db, &key).await?;
    tracing::info!(key = %key.path.display(), variables = count, "variables and secrets are sealed with this key");
    Ok(std::sync::Arc::new(key))
}

/// Creates the admin named by the configuration when there is no user yet, so an automated
/// install never shows the setup page.
async fn bootstrap_admin(config: &Config, db: &sea_orm::DatabaseConnection) -> Result<(), StartError> {
    match (&config.admin_user, &config.admin_password) {
        (None, None) => Ok(()),
        (Some(username), Some(password)) => match auth::users::setup_first_admin(db, username.clone(), password.clone()).await {
            Ok(_) | Err(auth::AuthError::AlreadySetUp) => Ok(()),
            Err(err) => Err(err.into()),
        },
        _ => Err(StartError::AdminHalfSet),
    }
}

/// `pytask serve`: run until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let app = App::build(config).await?;
    tracing::info!(addr = %app.local_addr(), "PyTask Manager is listening on http://{}", app.local_addr());
    announce_setup(&app).await;
    app.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// With no user yet, says how to create the first admin, with the setup code a browser not on
/// this machine must give (see `auth::setup_code`).
async fn announce_setup(app: &App) {
    if app.state.config.role == config::InstanceRole::Worker || !app.state.needs_setup().await.unwrap_or(false) {
        return;
    }
    let code = app.state.setup_code.shown();
    if app.state.config.bind.ip().is_loopback() && app.state.config.public_url.is_none() && app.state.config.trusted_proxies.is_empty() {
        tracing::warn!(
            "there is no admin yet: open http://{}/setup in a browser on this machine; from elsewhere (through a proxy) it asks for the setup code {code}. Behind a proxy on this machine, set PYTASK_PUBLIC_URL so every browser is asked for it",
            app.local_addr()
        );
    } else {
        tracing::warn!("there is no admin yet: open /setup and enter the setup code {code}");
    }
}

/// `pytask migrate`: bring the database schema up to date and exit.
pub async fn migrate(config: Config) -> Result<(), StartError> {
    create_data_dir(&config)?;
    db::connect(&config.database()).await?;
    tracing::info!("the database schema is up to date");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing requests");
}
