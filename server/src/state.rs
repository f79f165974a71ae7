//! `AppState`: what every handler can reach. Cheap to clone (everything inside is shared).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;

use crate::auth::setup_code::SetupCode;
use crate::auth::throttle::LoginThrottle;
use crate::code::CodeTools;
use crate::config::Config;
use crate::deps::service::Installer;
use crate::deps::uv::Uv;
use crate::env::SecretKey;
use crate::events::relay::Outbox;
use crate::events::EventBus;
use crate::executions::retention::{Retention, RetentionSettings};
use crate::executions::settings::RunSettings;
use crate::executions::worker::Runner;
use crate::http::host::AllowedHosts;
use crate::http::ws_limit::WebSocketSlots;
use crate::sandbox::Sandbox;
use crate::schedules::Scheduler;
use crate::scripts::list_cache::ListCache;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub leptos: LeptosOptions,
    pub throttle: Arc<LoginThrottle>,
    /// Serialises first-admin creation within this process.
    pub setup_lock: Arc<tokio::sync::Mutex<()>>,
    /// Set once a user exists; see `needs_setup`.
    pub has_users: Arc<AtomicBool>,
    /// Syntax check and formatting of script source.
    pub code: Arc<CodeTools>,
    /// Venvs: uv, the install registry and the event bus installs report to.
    pub installer: Installer,
    /// The whole script list as JSON, while unchanged.
    pub script_list: Arc<ListCache>,
    /// Runs executions (or, on a `web` instance, only knows its instance id and the bus).
    pub runner: Runner,
    /// Fires due schedules (started on `all` and `worker` instances); woken by schedule changes.
    pub scheduler: Scheduler,
    /// What this instance announces to the others (PostgreSQL only; `events::relay`).
    pub outbox: Option<Arc<Outbox>>,
    /// Deletes finished runs past retention (started on `all` and `worker` instances).
    pub retention: Retention,
    /// Slots for open WebSockets, `--max-websockets` of them.
    pub websockets: WebSocketSlots,
    /// Each webhook's runs in its current window (`hooks`).
    pub hook_limits: Arc<crate::hooks::HookLimits>,
    /// Seals and opens variables and secrets.
    pub secret_key: Arc<SecretKey>,
    /// The code that lets a stranger create the first admin (printed in the log at start).
    pub setup_code: Arc<SetupCode>,
    /// The host names requests may be addressed to.
    pub allowed_hosts: Arc<AllowedHosts>,
}

impl AppState {
    pub fn new(config: Config, db: DatabaseConnection, secret_key: Arc<SecretKey>) -> AppState {
        let leptos = LeptosOptions::builder()
            .output_name("pytask")
            .site_root(crate::http::site::Site::new(config.site_root.as_deref()).leptos_root())
            .site_pkg_dir("pkg")
            .site_addr(config.bind)
            .build();
        let sandbox = Sandbox::probe(&config);
        let run_settings = RunSettings::from_config(&config, sandbox.clone());
        // The editor's check and format run in the runs' sandbox, within the runs' limits.
        let code = Arc::new(CodeTools::new(&config.python, config.ruff.clone(), sandbox.clone(), run_settings.limits));
        let uv = Uv {
            program: config.uv.clone(),
            python: config.python.clone(),
            cache_dir: config.data_dir.join("uv-cache"),
            sandbox: sandbox.clone(),
            timeout: std::time::Duration::from_secs(config.install_timeout_seconds),
        };
        // One database can have several instances only on PostgreSQL: there, events cross them.
        let outbox = (sea_orm::ConnectionTrait::get_database_backend(&db) == sea_orm::DatabaseBackend::Postgres)
            .then(|| Arc::new(Outbox::default()));
        let events = outbox.clone().map_or_else(EventBus::default, EventBus::relayed);
        let installer = Installer { db: db.clone(), uv, data_dir: config.data_dir.clone(), events, installs: Arc::default() };
        let instance: Arc<str> = format!("pytask-{}", uuid::Uuid::new_v4().simple()).into();
        let runner = Runner::new(db.clone(), installer.clone(), run_settings, instance, secret_key.clone());
        let grace = std::time::Duration::from_secs(config.schedule_grace_seconds);
        let scheduler = Scheduler::new(db.clone(), runner.clone(), grace);
        let retention = Retention::new(db.clone(), RetentionSettings::from_config(&config));
        let allowed_hosts = AllowedHosts::from_config(&config);
        let config_bind = config.bind;
        let config_published = config.public_url.is_some() || !config.trusted_proxies.is_empty();
        AppState {
            websockets: WebSocketSlots::new(config.max_websockets, config.max_websockets_per_user),
            hook_limits: Arc::default(),
            runner,
            scheduler,
            outbox,
            retention,
            config: Arc::new(config),
            code,
            installer,
            script_list: Arc::default(),
            db,
            leptos,
            throttle: Arc::default(),
            setup_lock: Arc::default(),
            has_users: Arc::default(),
            setup_code: Arc::new(SetupCode::new(&secret_key, config_bind, config_published)),
            allowed_hosts: Arc::new(allowed_hosts),
            secret_key,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
