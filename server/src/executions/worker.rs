//! The worker: takes queued runs from the database, `PYTASK_WORKERS` at a time, and carries
//! each through its life: environment ready (installing the requirements first if needed),
//! process started with its limits, output read into lines, stored in batches and published,
//! stop / timeout / shutdown ended as a whole process tree, final status written.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::model::{Event, ExecutionStatus, LogStream};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::collector::{collect, read_stream, Log, Piece, SAYS};
use super::gate;
use super::launch::{self, Launched};
use super::warm::WarmPool;
use super::process::{self, Limits};
use super::queue::{self, Claimed, Outcome};
use super::retry::retry;
use crate::config::Config;
use crate::deps::service::{self as deps, venv_dir, Installer};
use crate::deps::uv::venv_python;
use crate::deps::DepsError;
use crate::events::relay::Bell;
use crate::events::EventBus;
use crate::telemetry::metrics;


/// The settings of runs, taken from the configuration.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub workers: usize,
    pub data_dir: PathBuf,
    pub default_timeout: Duration,
    pub grace: Duration,
    pub output_cap: u64,
    pub limits: Limits,
    pub lost_after: Duration,
    pub warm_interpreters: usize,
}

impl RunSettings {
    pub fn from_config(config: &Config) -> RunSettings {
        RunSettings {
            workers: usize::from(config.workers),
            data_dir: config.data_dir.clone(),
            default_timeout: Duration::from_secs(config.run_timeout_seconds),
            grace: Duration::from_secs(config.kill_grace_seconds),
            output_cap: config.run_output_mb.saturating_mul(1024 * 1024),
            limits: Limits {
                memory_bytes: config.run_memory_mb.saturating_mul(1024 * 1024),
                cpu_seconds: config.run_cpu_seconds,
                open_files: config.run_open_files,
                processes: config.run_processes,
            },
            lost_after: Duration::from_secs(config.lost_after_seconds),
            warm_interpreters: usize::from(config.warm_interpreters),
        }
    }
}

/// Why a run is asked to end before its script does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndRequest {
    Stop { by: String },
    Shutdown,
}

/// Runs executions. Cheap to clone; one per instance.
#[derive(Clone)]
pub struct Runner {
    pub db: DatabaseConnection,
    pub events: EventBus,
    pub installer: Installer,
    pub settings: Arc<RunSettings>,
    /// This process's name in the database (`executions.worker_id`, `instances.id`).
    pub instance: Arc<str>,
    /// Rung when a run is queued here, so an idle worker starts it at once.
    wake: Arc<Notify>,
    /// `PYTASK_WORKERS` slots, one per run in progress here (claimed or held).
    slots: Arc<Semaphore>,
    /// Set once the workers are started (roles `all` and `worker`).
    works: Arc<AtomicBool>,
    /// Runs in progress here, each with the channel that asks it to end.
    running: Arc<Mutex<HashMap<i64, watch::Sender<Option<EndRequest>>>>>,
    closing: watch::Sender<bool>,
    /// Pythons started for the scripts run last here, waiting for their next run.
    pub warm: Arc<WarmPool>,
}

impl Runner {
    pub fn new(db: DatabaseConnection, installer: Installer, settings: RunSettings, instance: Arc<str>) -> Runner {
        Runner {
            db,
            events: installer.events.clone(),
            installer,
            slots: Arc::new(Semaphore::new(settings.workers)),
            warm: Arc::new(WarmPool::new(settings.warm_interpreters)),
            settings: Arc::new(settings),
            instance,
            wake: Arc::default(),
            works: Arc::default(),
            running: Arc::default(),
            closing: watch::channel(false).0,
        }
    }

    /// A run was queued: an idle worker takes it now, not at its next poll (this instance's,
    /// or, through the relay, another's).
    pub fn wake(&self) {
        self.wake_here();
        self.events.ring(Bell::Queue);
    }

    /// An idle worker slot of this instance, if it runs work: the caller queues its run held by
    /// this instance (`queue::enqueue` with a holder) and hands it over with `start_held`. The
    /// run then starts without a claim: one round trip and, on PostgreSQL, one commit (an
    /// fsync) fewer before the process starts.
    pub fn idle_slot(&self) -> Option<OwnedSemaphorePermit> {
        if !self.works.load(Ordering::Acquire) || *self.closing.borrow() {
            return None;
        }
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Runs a run queued held by this instance in `slot`. With `stored`, the run is still being
    /// inserted under its reserved id: it is marked `running` once that fires, and refused (its
    /// Python ended behind the gate, nothing written) if it is dropped instead.
    pub fn start_held(&self, claimed: Claimed, slot: OwnedSemaphorePermit, stored: Option<oneshot::Receiver<()>>) {
        let at = queue::now();
        let (db, instance, id) = (self.db.clone(), self.instance.clone(), claimed.id);
        // Written while the process starts; the run is shown `running` (and its lines) only
        // once it is, and the script's first line runs only then.
        let marking = tokio::spawn(async move {
            if let Some(stored) = stored {
                if stored.await.is_err() {
                    return false;
                }
            }
            retry(id, "marking the run running", 21, |n| Duration::from_millis(250 * n), || queue::start_held(&db, id, &instance, at)).await.unwrap_or(false)
        });
        let end = self.register(id);
        let prelaunched = launch::prelaunch(&self.settings, &self.warm, &claimed);
        let this = self.clone();
        tokio::spawn(async move {
            this.execute(claimed, Start::Marking(marking, at), end, prelaunched).await;
            drop(slot);
        });
    }

    /// Wakes an idle worker of this instance only.
    pub fn wake_here(&self) {
        self.wake.notify_one();
    }

    /// What this instance does when another instance rings.
    pub fn answer(&self, bell: Bell, works: bool) {
        match bell {
            Bell::Queue if works => self.wake_here(),
            Bell::Stop { execution_id, by } => {
                self.end_locally(execution_id, EndRequest::Stop { by });
            }
            Bell::Install { script_id } if works => {
                let installer = self.installer.clone();
                tokio::spawn(async move {
                    match installer.start(script_id).await {
                        Ok(()) | Err(DepsError::Busy(_)) => {}
                        Err(err) => tracing::warn!(script_id, %err, "an install asked by another instance could not start"),
                    }
                });
            }
            Bell::Queue | Bell::Install { .. } | Bell::Schedules => {}
        }
    }

    /// Asks a run of this instance to end; false if it is not running here.
    pub fn end_locally(&self, id: i64, request: EndRequest) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match running.get(&id) {
            Some(sender) => {
                sender.send_replace(Some(request));
                true
            }
            None => false,
        }
    }

    /// Registers the instance, marks the runs of dead instances `lost`, and starts the
    /// heartbeat; with `work`, also the workers.
    pub async fn start(&self, role: &str, work: bool) -> Result<(), sea_orm::DbErr> {
        queue::register_instance(&self.db, &self.instance, role).await?;
        // SQLite is one instance's database: whatever was running belonged to a dead process.
        let single = self.db.get_database_backend() == DatabaseBackend::Sqlite;
        self.sweep(single).await;
        let this = self.clone();
        tokio::spawn(async move { this.heartbeat_loop().await });
        if work {
            self.works.store(true, Ordering::Release);
            let this = self.clone();
            tokio::spawn(async move { this.dispatch().await });
            let this = self.clone();
            tokio::spawn(async move { this.warm_recent().await });
        }
        Ok(())
    }

    /// Warms the interpreters of the scripts run last, so their first runs after a restart
    /// start warm too; the most recent is kept longest.
    async fn warm_recent(&self) {
        let Ok(limit) = u64::try_from(self.settings.warm_interpreters) else { return };
        if limit == 0 {
            return;
        }
        let recent = match queue::recent_scripts(&self.db, limit).await {
            Ok(recent) => recent,
            Err(err) => return tracing::warn!(%err, "the scripts run last could not be read; no interpreter is warmed at start"),
        };
        let (warm, settings) = (self.warm.clone(), self.settings.clone());
        let _ = tokio::task::spawn_blocking(move || recent.into_iter().rev().for_each(|script_id| warm.fill(&settings, script_id))).await;
    }

    async fn sweep(&self, everyone_else: bool) {
        let cutoff = queue::now() - chrono::Duration::from_std(self.settings.lost_after).unwrap_or_default();
        match queue::sweep_lost(&self.db, &self.instance, cutoff, everyone_else).await {
            Ok(lost) => {
                for execution_id in lost {
                    tracing::warn!(execution_id, "run marked lost: its instance stopped without finishing it");
                    metrics::run_finished(ExecutionStatus::Lost, None);
                    self.events.publish(Event::ExecutionFinished { execution_id, status: ExecutionStatus::Lost, exit_code: None, at: Utc::now() });
                }
            }
            Err(err) => tracing::error!(%err, "the sweep for lost runs failed"),
        }
    }

    async fn heartbeat_loop(&self) {
        let mut closing = self.closing.subscribe();
        let every = (self.settings.lost_after / 3).max(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = closing.wait_for(|c| *c) => return,
            }
            if let Err(err) = queue::heartbeat(&self.db, &self.instance).await {
                tracing::error!(%err, "heartbeat failed");
            }
            self.sweep(false).await;
            self.warm.expire();
        }
    }

    /// Claims runs while a worker slot is free; sleeps when the queue is empty until woken,
    /// polled (another instance may have queued), or closed.
    async fn dispatch(&self) {
        let slots = self.slots.clone();
        let mut closing = self.closing.subscribe();
        // A run queued on another instance rings this one (events::relay); the poll is the
        // safety net for a lost notification.
        let poll = match self.db.get_database_backend() {
            DatabaseBackend::Sqlite => Duration::from_secs(5),
            _ => Duration::from_secs(1),
        };
        loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                _ = closing.wait_for(|c| *c) => return,
            };
            if *closing.borrow() {
                return;
            }
            match queue::claim(&self.db, &self.instance).await {
                Ok(Some((claimed, started))) => {
                    let this = self.clone();
                    let end = self.register(claimed.id);
                    tokio::spawn(async move {
                        this.execute(claimed, Start::Claimed(started), end, None).await;
                        drop(permit);
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(poll) => {}
                        _ = closing.wait_for(|c| *c) => return,
                    }
                }
                Err(err) => {
                    drop(permit);
                    tracing::error!(%err, "claiming a queued run failed; retrying in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Stops taking runs, lets the running ones finish for up to `grace`, then stops them
    /// (status `stopped`, the log says why) and leaves the instance table.
    pub async fn shutdown(&self, grace: Duration) {
        self.closing.send_replace(true);
        self.warm.clear();
        let idle = async {
            while !self.running.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(grace, idle).await.is_err() {
            let ids: Vec<i64> = self.running.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect();
            for id in ids {
                self.end_locally(id, EndRequest::Shutdown);
            }
            while !self.running.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if let Err(err) = queue::unregister_instance(&self.db, &self.instance).await {
            tracing::warn!(%err, "could not remove this instance's heartbeat row");
        }
    }

    /// Enters a run in `running` (stop and shutdown find it there); gives back its end channel.
    fn register(&self, id: i64) -> watch::Receiver<Option<EndRequest>> {
        let (end_tx, end_rx) = watch::channel(None);
        self.running.lock().unwrap_or_else(PoisonError::into_inner).insert(id, end_tx);
        end_rx
    }

    async fn execute(&self, claimed: Claimed, mut start: Start, end: watch::Receiver<Option<EndRequest>>, prelaunched: Option<Result<Launched, String>>) {
        let id = claimed.id;
        if matches!(start, Start::Claimed(_)) {
            start.confirm(&self.events, &claimed).await;
        }
        let outcome = self.run(&claimed, &mut start, end, prelaunched).await;
        // A run that ended before it was marked `running` (it could not start) is marked now,
        // so its outcome can be stored.
        let started = start.confirm(&self.events, &claimed).await;
        let at = queue::now();
        // The final status must land: retry through a database hiccup rather than leave the
        // run `running` (it would be declared lost).
        let stored = match started {
            Some(_) => retry(id, "storing the run's outcome", 21, |n| Duration::from_millis(250 * n), || queue::finish(&self.db, id, &self.instance, &outcome, at))
                .await
                .unwrap_or(false),
            // Stopped while it was being handed over: the stop wrote its status.
            None => false,
        };
        self.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
        if let (true, Some(started)) = (stored, started) {
            metrics::run_finished(outcome.status, (at - started).to_std().ok());
            if let Some(error) = &outcome.error {
                self.events.publish(Event::ExecutionError { execution_id: id, error: error.clone(), at });
            }
            self.events.publish(Event::ExecutionFinished { execution_id: id, status: outcome.status, exit_code: outcome.exit_code, at });
        }
        // After the run, not beside it: a Python starting up would slow the script it serves.
        if !*self.closing.borrow() {
            let (warm, settings, script_id) = (self.warm.clone(), self.settings.clone(), claimed.script_id);
            tokio::task::spawn_blocking(move || warm.fill(&settings, script_id));
        }
    }

    async fn run(&self, claimed: &Claimed, start: &mut Start, mut end: watch::Receiver<Option<EndRequest>>, prelaunched: Option<Result<Launched, String>>) -> Outcome {
        let id = claimed.id;
        let (sink, lines) = mpsc::channel::<Vec<Piece>>(64);
        let collector = tokio::spawn(collect(self.db.clone(), self.events.clone(), id, lines, self.settings.output_cap));
        let log = Log { sink };
        let outcome = self.run_logged(claimed, start, &log, &mut end, prelaunched).await;
        drop(log);
        let collected = collector.await.unwrap_or_default();
        match outcome {
            Ok(mut outcome) => {
                if outcome.status == ExecutionStatus::Failed && collected.memory_error {
                    let limit = self.settings.limits.memory_bytes / (1024 * 1024);
                    let error = outcome.error.take().unwrap_or_default();
                    outcome.error = Some(format!("{error}: MemoryError, the run reached its memory limit of {limit} MiB (PYTASK_RUN_MEMORY_MB)"));
                }
                outcome
            }
            Err(error) => Outcome { status: ExecutionStatus::Failed, exit_code: None, error: Some(error) },
        }
    }

    /// Everything between claim and outcome, writing into `log`. An `Err` is a run that could
    /// not start, in words.
    async fn run_logged(&self, claimed: &Claimed, start: &mut Start, log: &Log, end: &mut watch::Receiver<Option<EndRequest>>, prelaunched: Option<Result<Launched, String>>) -> Result<Outcome, String> {
        let (id, script_id) = (claimed.id, claimed.script_id);
        let launched = match prelaunched {
            Some(launched) => launched?,
            None => {
                let has_requirements = claimed.requirements > 0;
                if !self.environment_ready(script_id, has_requirements).await? {
                    // Installing is logged, and the log of a run is shown once it is `running`.
                    if start.confirm(&self.events, claimed).await.is_none() {
                        return Err(HANDED_OVER_STOPPED.into());
                    }
                    self.prepare_environment(script_id, has_requirements, log, end).await?;
                }
                if let Some(request) = end.borrow().clone() {
                    return Ok(ended_before_start(request));
                }
                // A held run's Python starts behind the gate while the run is marked `running`;
                // without the gate it waits for the mark: no line of a script runs before that.
                let gated = matches!(start, Start::Marking(..)) && launch::gate_ready(&self.settings, id, script_id);
                if !gated && start.confirm(&self.events, claimed).await.is_none() {
                    return Err(HANDED_OVER_STOPPED.into());
                }
                launch::launch(&self.settings, &self.warm, claimed, gated)?
            }
        };
        let Launched { mut child, group, gate: gate_pipe, workdir: _cleanup } = launched;
        if start.confirm(&self.events, claimed).await.is_none() {
            // Its Python never passed the gate: nothing of the script ran.
            if let Some(pid) = group {
                process::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.wait().await;
            return Err(HANDED_OVER_STOPPED.into());
        }
        if let Some(pipe) = gate_pipe {
            gate::open(pipe, &launch::run_variables(id, claimed.name.as_deref().unwrap_or_default())).await;
        }
        let limits = self.settings.limits;

        let readers = [
            tokio::spawn(read_stream(child.stdout.take(), LogStream::Stdout, log.sink.clone())),
            tokio::spawn(read_stream(child.stderr.take(), LogStream::Stderr, log.sink.clone())),
        ];
        let timeout = claimed.timeout_seconds.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs).unwrap_or(self.settings.default_timeout);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        // Not at once: the first second of a run is left to the script.
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let grace = self.settings.grace;
        let ending = |why: String| format!("{why}; ending the process group (SIGTERM, then SIGKILL after {} s)", grace.as_secs());

        let (status, ended) = loop {
            tokio::select! {
                status = child.wait() => break (status, None),
                () = &mut deadline => {
                    log.say(ending(format!("timed out after {} s", timeout.as_secs()))).await;
                    break (process::terminate(&mut child, grace).await, Some(Ended::TimedOut(timeout)));
                }
                Ok(()) = end.changed() => {
                    let Some(request) = end.borrow().clone() else { continue };
                    log.say(ending(request.describe())).await;
                    break (process::terminate(&mut child, grace).await, Some(Ended::Asked(request)));
                }
                _ = poll.tick() => {
                    // A stop asked on another instance arrives through the database.
                    if queue::cancel_requested(&self.db, id).await.unwrap_or(false) {
                        let request = EndRequest::Stop { by: "a user".into() };
                        log.say(ending(request.describe())).await;
                        break (process::terminate(&mut child, grace).await, Some(Ended::Asked(request)));
                    }
                }
            }
        };
        // Children the script left behind die with it, and their copies of the pipes close.
        if let Some(pid) = group {
            process::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        }
        for reader in readers {
            // A grandchild that left the group could hold a pipe open: do not wait on it for ever.
            let abort = reader.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), reader).await.is_err() {
                abort.abort();
                log.say("a process outside the run's group kept its output open; reading stopped".into()).await;
            }
        }
        let status = status.map_err(|err| format!("waiting for the script failed: {err}"))?;
        let exit_code = status.code();
        Ok(match ended {
            Some(Ended::TimedOut(after)) => Outcome { status: ExecutionStatus::TimedOut, exit_code, error: Some(format!("timed out after {} s", after.as_secs())) },
            Some(Ended::Asked(request)) => Outcome { status: ExecutionStatus::Stopped, exit_code, error: Some(request.describe()) },
            None if exit_code == Some(0) => Outcome { status: ExecutionStatus::Succeeded, exit_code, error: None },
            None => {
                let error = match exit_code {
                    Some(code) => format!("the script exited with code {code}"),
                    None => process::describe_signal(status, &limits).unwrap_or_else(|| "the script ended abnormally".into()),
                };
                Outcome { status: ExecutionStatus::Failed, exit_code, error: Some(error) }
            }
        })
    }

    /// Makes sure the venv exists and holds the requirements; installs them first (the log
    /// says so) when it does not.
    async fn prepare_environment(&self, script_id: i64, has_requirements: bool, log: &Log, end: &watch::Receiver<Option<EndRequest>>) -> Result<(), String> {
        let mut said_waiting = false;
        loop {
            if self.environment_ready(script_id, has_requirements).await? {
                return Ok(());
            }
            match self.installer.installs.claim(script_id) {
                Ok(_slot) => {
                    // Checked again under the slot: an install may have just finished.
                    if self.environment_ready(script_id, true).await? {
                        return Ok(());
                    }
                    let wanted = deps::requirements(&self.db, script_id).await.map_err(|err| err.to_string())?;
                    if wanted.is_empty() {
                        log.say("first run: making the script's environment".into()).await;
                    } else {
                        let list = wanted.iter().map(|r| r.to_arg()).collect::<Vec<_>>().join(", ");
                        log.say(format!("the script's environment is not ready: installing its requirements first ({list})")).await;
                    }
                    let sink = log.sink.clone();
                    let progress = move |message: &str| {
                        let _ = sink.try_send(vec![Piece::system(format!("{SAYS} uv: {message}"))]);
                    };
                    return match self.installer.run_reporting(script_id, &progress).await {
                        Ok(_) => {
                            log.say("requirements installed; starting the script".into()).await;
                            Ok(())
                        }
                        Err(err) => Err(format!("installing the requirements failed: {err}")),
                    };
                }
                Err(DepsError::Busy(_)) => {
                    if !said_waiting {
                        log.say("waiting for the install under way for this script".into()).await;
                        said_waiting = true;
                    }
                    if end.borrow().is_some() {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => return Err(err.to_string()),
            }
        }
    }

    /// This instance's venv exists and holds every requirement.
    async fn environment_ready(&self, script_id: i64, has_requirements: bool) -> Result<bool, String> {
        if !venv_python(&venv_dir(&self.settings.data_dir, script_id)).exists() {
            return Ok(false);
        }
        if !has_requirements {
            return Ok(true);
        }
        deps::venv_satisfies(&self.db, &self.settings.data_dir, script_id).await.map_err(|err| err.to_string())
    }
}

impl EndRequest {
    fn describe(&self) -> String {
        match self {
            EndRequest::Stop { by } => format!("stopped by {by}"),
            EndRequest::Shutdown => "stopped because the server is shutting down and the run did not finish within the grace period".into(),
        }
    }
}

/// Not stored: the run was stopped while queued, and the stop wrote its status.
const HANDED_OVER_STOPPED: &str = "stopped before it started";

/// How a run became this worker's, and whether the database says `running` yet.
enum Start {
    /// Claimed: `running` already (the event is not yet published).
    Claimed(DateTime<Utc>),
    /// Queued held by this instance; the `running` mark is being written.
    Marking(JoinHandle<bool>, DateTime<Utc>),
    Running(DateTime<Utc>),
    /// Stopped while queued, or the mark could not be written: not this worker's to run.
    Refused,
}

impl Start {
    /// Waits for the `running` mark; the first time, announces the start. `None`: refused.
    async fn confirm(&mut self, events: &EventBus, claimed: &Claimed) -> Option<DateTime<Utc>> {
        let at = match std::mem::replace(self, Start::Refused) {
            Start::Running(at) => {
                *self = Start::Running(at);
                return Some(at);
            }
            Start::Refused => return None,
            Start::Claimed(at) => at,
            Start::Marking(marking, at) => {
                if !marking.await.unwrap_or(false) {
                    return None;
                }
                at
            }
        };
        *self = Start::Running(at);
        events.publish(Event::ExecutionStarted { execution_id: claimed.id, script_id: claimed.script_id, at });
        Some(at)
    }
}

fn ended_before_start(request: EndRequest) -> Outcome {
    Outcome { status: ExecutionStatus::Stopped, exit_code: None, error: Some(format!("{} before the script started", request.describe())) }
}

enum Ended {
    TimedOut(Duration),
    Asked(EndRequest),
}
