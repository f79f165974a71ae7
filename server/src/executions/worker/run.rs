//! One run from handover to outcome: the environment made ready (its requirements installed
//! first if needed), the process started with its limits (or found waiting behind the gate),
//! its output read into the log, stop / timeout / shutdown ended as a whole process tree, and
//! the final status written.

use std::sync::PoisonError;
use std::time::Duration;

use app::model::{Event, ExecutionStatus, LogStream, ResourceUsage};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{EndRequest, Runner};
use crate::deps::service::{self as deps, venv_dir};
use crate::deps::uv::venv_python;
use crate::deps::DepsError;
use crate::events::EventBus;
use crate::executions::collector::{collect, read_stream, Log, Piece, SAYS};
use crate::executions::gate;
use crate::executions::launch::{self, Launched};
use crate::executions::process;
use crate::executions::queue::{self, Claimed, Outcome};
use crate::executions::retry::retry;
use crate::telemetry::metrics;

impl Runner {
    pub(super) async fn execute(
        &self,
        claimed: Claimed,
        mut start: Start,
        end: watch::Receiver<Option<EndRequest>>,
        prelaunched: Option<Result<Launched, String>>,
    ) {
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
            Some(_) => retry(
                id,
                "storing the run's outcome",
                21,
                |n| Duration::from_millis(250 * n),
                || queue::finish(&self.db, id, &self.instance, &outcome, at),
            )
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

    async fn run(
        &self,
        claimed: &Claimed,
        start: &mut Start,
        mut end: watch::Receiver<Option<EndRequest>>,
        prelaunched: Option<Result<Launched, String>>,
    ) -> Outcome {
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
                    outcome.error =
                        Some(format!("{error}: MemoryError, the run reached its memory limit of {limit} MiB (PYTASK_RUN_MEMORY_MB)"));
                }
                outcome
            }
            Err(error) => Outcome {
                status: ExecutionStatus::Failed,
                exit_code: None,
                error: Some(error),
                usage: ResourceUsage::default(),
                sandboxed: false,
            },
        }
    }

    /// Everything between claim and outcome, writing into `log`. An `Err` is a run that could
    /// not start, in words.
    async fn run_logged(
        &self,
        claimed: &Claimed,
        start: &mut Start,
        log: &Log,
        end: &mut watch::Receiver<Option<EndRequest>>,
        prelaunched: Option<Result<Launched, String>>,
    ) -> Result<Outcome, String> {
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
                let gated = matches!(start, Start::Marking(..)) && launch::gate_ready(&self.settings, script_id);
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
        let timeout =
            claimed.timeout_seconds.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs).unwrap_or(self.settings.default_timeout);
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
            Some(Ended::TimedOut(after)) => Outcome {
                status: ExecutionStatus::TimedOut,
                exit_code,
                error: Some(format!("timed out after {} s", after.as_secs())),
                usage: ResourceUsage::default(),
                sandboxed: false,
            },
            Some(Ended::Asked(request)) => Outcome {
                status: ExecutionStatus::Stopped,
                exit_code,
                error: Some(request.describe()),
                usage: ResourceUsage::default(),
                sandboxed: false,
            },
            None if exit_code == Some(0) => {
                Outcome { status: ExecutionStatus::Succeeded, exit_code, error: None, usage: ResourceUsage::default(), sandboxed: false }
            }
            None => {
                let error = match exit_code {
                    Some(code) => format!("the script exited with code {code}"),
                    None => process::describe_signal(status, &limits).unwrap_or_else(|| "the script ended abnormally".into()),
                };
                Outcome {
                    status: ExecutionStatus::Failed,
                    exit_code,
                    error: Some(error),
                    usage: ResourceUsage::default(),
                    sandboxed: false,
                }
            }
        })
    }

    /// Makes sure the venv exists and holds the requirements; installs them first (the log
    /// says so) when it does not.
    async fn prepare_environment(
        &self,
        script_id: i64,
        has_requirements: bool,
        log: &Log,
        end: &watch::Receiver<Option<EndRequest>>,
    ) -> Result<(), String> {
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

/// Not stored: the run was stopped while queued, and the stop wrote its status.
const HANDED_OVER_STOPPED: &str = "stopped before it started";

/// How a run became this worker's, and whether the database says `running` yet.
pub(super) enum Start {
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
    Outcome {
        status: ExecutionStatus::Stopped,
        exit_code: None,
        error: Some(format!("{} before the script started", request.describe())),
        usage: ResourceUsage::default(),
        sandboxed: false,
    }
}

enum Ended {
    TimedOut(Duration),
    Asked(EndRequest),
}
