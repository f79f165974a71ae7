//! The worker: takes queued runs from the database, `PYTASK_WORKERS` at a time, and hands each
//! to `run`, which carries it through its life. Here: the settings of runs, the `Runner` every
//! part of the server holds, and how a run becomes this instance's: claimed from the queue by
//! `dispatch`, or handed over, held, by the request that queued it. `instance` is this
//! instance's own life (heartbeat, the sweep for lost runs, shutdown).

mod instance;
mod run;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use app::model::Trigger;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};
use tokio::sync::{oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};

use self::run::Start;
use super::inputs::RunInputs;
use super::launch::{Launched, Program};
use super::queue::{self, Claimed, Held, Starting};
use super::retry::retry;
use super::settings::RunSettings;
use super::warm::WarmPool;
use super::RunError;
use crate::db::entities::execution;
use crate::deps::service::Installer;
use crate::deps::DepsError;
use crate::env::SecretKey;
use crate::events::relay::Bell;
use crate::events::EventBus;

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
    /// Opens the variables and secrets each run is given.
    pub secret_key: Arc<SecretKey>,
}

impl Runner {
    pub fn new(
        db: DatabaseConnection,
        installer: Installer,
        settings: RunSettings,
        instance: Arc<str>,
        secret_key: Arc<SecretKey>,
    ) -> Runner {
        let settings = Arc::new(settings);
        let warm = Arc::new(WarmPool::new(settings.warm_interpreters));
        // A Python kept for a script whose venv an install just changed is replaced, so the
        // script's next run is still warm. Off the installer's task: it starts a process.
        let (pool, kept_for) = (warm.clone(), settings.clone());
        installer.installs.on_changed(move |script_id| {
            let (pool, settings) = (pool.clone(), kept_for.clone());
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(move || pool.renew(&settings, script_id));
            }
        });
        Runner {
            db,
            events: installer.events.clone(),
            installer,
            slots: Arc::new(Semaphore::new(settings.workers)),
            warm,
            settings,
            instance,
            wake: Arc::default(),
            works: Arc::default(),
            running: Arc::default(),
            closing: watch::channel(false).0,
            secret_key,
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

    /// Queues a run of `script` (read by `queue::starting`, with an id reserved when `slot` is
    /// some) and hands it over: with `slot`, an idle worker of this instance, to this instance
    /// held; else to the queue, for the next free worker anywhere.
    ///
    /// A held run's Python starts behind the gate (`gate`) before the run is inserted (on
    /// PostgreSQL under the reserved id); the gate opens only once the run is stored and marked
    /// `running`.
    pub async fn submit(
        &self,
        script_id: i64,
        script: Starting,
        trigger: Trigger,
        inputs: Option<RunInputs>,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Result<execution::Model, sea_orm::DbErr> {
        let Some(slot) = slot else {
            let run = queue::enqueue(&self.db, script_id, trigger, None, inputs.as_ref()).await?;
            self.wake();
            return Ok(run);
        };
        // Its Python starts first: its start-up, the longest part by far, overlaps the insert.
        let input_style = inputs.as_ref().map(|i| i.style);
        let program = Program::of(&script.content, input_style);
        let prelaunched = self.warm.prelaunch(&self.settings, script_id, script.network, script.requirements, program);
        // What a claim would have read with the run.
        let Starting { name, content, timeout_seconds, network, requirements, reserved, .. } = script;
        let inputs_sealed = inputs.as_ref().map(|i| i.sealed.clone());
        let claimed = move |id| Claimed {
            id,
            script_id,
            name: Some(name),
            content: Some(content),
            timeout_seconds,
            network,
            requirements,
            input_style,
            inputs_sealed,
            schedule_id: None,
        };
        // In a task of its own, not cancelled with the request: a client gone mid-insert must not
        // leave a stored run held by this instance that nothing starts.
        let this = self.clone();
        let handover = tokio::spawn(async move {
            let held = |id| Some(Held { instance: &this.instance, id, network });
            match reserved {
                Some(id) => {
                    let (stored, on_stored) = oneshot::channel();
                    this.start_held(claimed(id), slot, Some(on_stored), prelaunched);
                    // A failed insert drops `stored`: the held run ends without a trace.
                    let run = queue::enqueue(&this.db, script_id, trigger, held(Some(id)), inputs.as_ref()).await?;
                    let _ = stored.send(());
                    Ok(run)
                }
                None => {
                    // A failed insert drops `prelaunched`: its Python is killed behind the gate.
                    let run = queue::enqueue(&this.db, script_id, trigger, held(None), inputs.as_ref()).await?;
                    this.start_held(claimed(run.id), slot, None, prelaunched);
                    Ok(run)
                }
            }
        });
        handover.await.map_err(|err| sea_orm::DbErr::Custom(format!("handing the run over failed: {err}")))?
    }

    /// Runs a run queued held by this instance in `slot`, with its Python if `prelaunch` started
    /// one. With `stored`, the run is still being inserted under its reserved id: it is marked
    /// `running` once that fires, and refused (its Python ended behind the gate, nothing
    /// written) if it is dropped instead.
    fn start_held(
        &self,
        claimed: Claimed,
        slot: OwnedSemaphorePermit,
        stored: Option<oneshot::Receiver<()>>,
        prelaunched: Option<Result<Launched, RunError>>,
    ) {
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
            retry(id, "marking the run running", 21, |n| Duration::from_millis(250 * n), || queue::start_held(&db, id, &instance, at))
                .await
                .unwrap_or(false)
        });
        let end = self.register(id);
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

    /// Enters a run in `running` (stop and shutdown find it there); gives back its end channel.
    fn register(&self, id: i64) -> watch::Receiver<Option<EndRequest>> {
        let (end_tx, end_rx) = watch::channel(None);
        self.running.lock().unwrap_or_else(PoisonError::into_inner).insert(id, end_tx);
        end_rx
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
