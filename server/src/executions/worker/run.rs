//! One run from handover to outcome: the environment made ready (its requirements installed
//! first if needed), the process started with its limits (or found waiting behind the gate),
//! its output read into the log, stop / timeout / shutdown ended as a whole process tree, and
//! the final status written.

use std::ffi::OsStr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use app::model::{Event, ExecutionStatus, InputStyle, LogStream, ResourceUsage};
use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{EndRequest, Runner};
use crate::db::entities::{schedule, script};
use crate::deps::service::{self as deps, venv_dir};
use crate::deps::uv::venv_python;
use crate::deps::DepsError;
use crate::env::{self, Masker, RunEnv};
use crate::events::EventBus;
use crate::executions::collector::{collect, read_stream, Log, Piece, SAYS};
use crate::executions::gate;
use crate::executions::inputs;
use crate::executions::launch::{self, Launched};
use crate::executions::process;
use crate::executions::queue::{self, Claimed, Outcome};
use crate::executions::retry::retry;
use crate::executions::RunError;
use crate::sandbox::cgroup::RunCgroup;
use crate::telemetry::metrics;

impl Runner {
    #[tracing::instrument(name = "run", skip_all, fields(script_id = claimed.script_id, execution_id = claimed.id))]
    pub(super) async fn execute(
        &self,
        claimed: Claimed,
        mut start: Start,
        end: watch::Receiver<Option<EndRequest>>,
        prelaunched: Option<Result<Launched, RunError>>,
    ) {
        let id = claimed.id;
        if matches!(start, Start::Claimed(_)) {
            start.confirm(&self.events, &claimed).await;
        }
        let mut claimed = claimed;
        let outcome = match self.schedule_inputs(&mut claimed).await {
            Ok(()) => self.run(&claimed, &mut start, end, prelaunched).await,
            Err(error) => Outcome::new(ExecutionStatus::Failed, None, Some(error)),
        };
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
                self.events.publish(Event::ExecutionError { execution_id: id, script_id: claimed.script_id, error: error.clone(), at });
            }
            self.events.publish(Event::ExecutionFinished {
                execution_id: id,
                script_id: claimed.script_id,
                status: outcome.status,
                exit_code: outcome.exit_code,
                at,
            });
        }
        // After the run, not beside it: a Python starting up would slow the script it serves.
        if !*self.closing.borrow() {
            let (warm, settings, script_id, network) = (self.warm.clone(), self.settings.clone(), claimed.script_id, claimed.network);
            tokio::task::spawn_blocking(move || warm.fill(&settings, script_id, network));
        }
    }

    async fn run(
        &self,
        claimed: &Claimed,
        start: &mut Start,
        mut end: watch::Receiver<Option<EndRequest>>,
        prelaunched: Option<Result<Launched, RunError>>,
    ) -> Outcome {
        let id = claimed.id;
        let (sink, lines) = mpsc::channel::<Vec<Piece>>(64);
        let (masks, masks_seen) = watch::channel(Arc::new(Masker::default()));
        let collector =
            tokio::spawn(collect(self.db.clone(), self.events.clone(), id, claimed.script_id, lines, masks_seen, self.settings.output_cap));
        let log = Log { sink, masks };
        let mut trace = Trace::default();
        let outcome = self.run_logged(claimed, start, &log, &mut end, prelaunched, &mut trace).await;
        let masker = log.masks.borrow().clone();
        drop(log);
        let collected = collector.await.unwrap_or_default();
        let mut outcome = match outcome {
            Ok(mut outcome) => {
                let limit = self.settings.limits.memory_bytes / (1024 * 1024);
                if outcome.status == ExecutionStatus::Failed && collected.memory_error {
                    let error = outcome.error.take().unwrap_or_default();
                    outcome.error =
                        Some(format!("{error}: MemoryError, the run reached its memory limit of {limit} MiB (PYTASK_RUN_MEMORY_MB)"));
                } else if outcome.status == ExecutionStatus::Failed && trace.out_of_memory {
                    outcome.error = Some(format!(
                        "the run reached its memory limit of {limit} MiB (PYTASK_RUN_MEMORY_MB) and the kernel ended it (out of memory)"
                    ));
                }
                outcome
            }
            Err(error) => Outcome::new(ExecutionStatus::Failed, None, Some(error.to_string())),
        };
        (outcome.usage, outcome.sandboxed) = (trace.usage, trace.sandboxed);
        // An install's or the script's error may quote a secret too.
        let in_error = outcome.error.as_mut().map_or(0, |error| masker.mask(error));
        // So may what `main()` returned: it is shown on the run's page.
        let in_result = inputs::mask_result(&mut outcome.result, &masker);
        outcome.masked = i64::try_from(collected.masked + in_error + in_result).unwrap_or(i64::MAX);
        outcome
    }

    /// A run fired by a schedule takes the schedule's inputs, checked against the script's code
    /// as saved now: they are read here, not at the fire, so an edit of the script or the
    /// schedule in between counts. Inputs that no longer fit fail the run with the reason.
    async fn schedule_inputs(&self, claimed: &mut Claimed) -> Result<(), String> {
        let (Some(schedule_id), None) = (claimed.schedule_id, &claimed.inputs_sealed) else { return Ok(()) };
        let read = async {
            let schedule = schedule::Entity::find_by_id(schedule_id).one(&self.db).await?;
            let script = script::Entity::find_by_id(claimed.script_id).one(&self.db).await?;
            Ok::<_, sea_orm::DbErr>((schedule, script))
        };
        let (schedule, script) = read.await.map_err(|err| format!("the schedule's inputs could not be read: {err}"))?;
        // Deleted meanwhile: the run goes on as its script would without inputs.
        let (Some(schedule), Some(script)) = (schedule, script) else { return Ok(()) };
        let given = match &schedule.inputs_sealed {
            Some(sealed) => inputs::open_for_schedule(&self.secret_key, script.id, sealed).ok_or_else(|| {
                "the schedule's inputs could not be opened with this instance's secret key (PYTASK_SECRET_KEY_FILE); set them again"
                    .to_string()
            })?,
            None => serde_json::Map::new(),
        };
        let report = inputs::stored_report(script.inputs.as_deref());
        let prepared = inputs::prepare(&self.secret_key, script.id, &script.name, report.as_ref(), &given)
            .map_err(|err| format!("the schedule's inputs do not fit the script as saved now ({err}); edit the schedule"))?;
        if let Some(prepared) = prepared {
            queue::set_inputs(&self.db, claimed.id, &prepared)
                .await
                .map_err(|err| format!("the run's inputs could not be stored: {err}"))?;
            claimed.input_style = Some(prepared.style);
            claimed.inputs_sealed = Some(prepared.sealed);
        }
        Ok(())
    }

    /// The run's variables and secrets, read now (so a change made a moment ago is in them); its
    /// output is masked for the secrets from here on.
    /// With `inputs_sealed`, the run's inputs too (`executions::inputs`), their secret values
    /// masked like the secrets'.
    async fn run_env(&self, script_id: i64, inputs_sealed: Option<&[u8]>, log: &Log) -> Result<RunEnv, RunError> {
        let mut env = env::store::for_run(&self.db, &self.secret_key, script_id).await.map_err(RunError::Env)?;
        if let Some(sealed) = inputs_sealed {
            let opened = inputs::open(&self.secret_key, script_id, sealed).ok_or(RunError::InputsUnreadable)?;
            env.secrets.extend(opened.secrets);
            env.vars.push((opened.variable, opened.value));
        }
        if env.size() > ENV_MAX_BYTES {
            return Err(RunError::EnvTooLarge { kib: env.size().div_ceil(1024), max: ENV_MAX_BYTES / 1024 });
        }
        if !env.secrets.is_empty() {
            log.masks.send_modify(|masker| *masker = Arc::new(masker.with(env.secrets.iter().map(|s| s.as_str()))));
        }
        Ok(env)
    }

    /// Everything between claim and outcome, writing into `log`: the process made ready, its
    /// life watched, its end read. An `Err` is a run that could not start, in words.
    async fn run_logged(
        &self,
        claimed: &Claimed,
        start: &mut Start,
        log: &Log,
        end: &mut watch::Receiver<Option<EndRequest>>,
        prelaunched: Option<Result<Launched, RunError>>,
        trace: &mut Trace,
    ) -> Result<Outcome, RunError> {
        let launched = match self.ready(claimed, start, log, end, prelaunched).await? {
            Ready::Launched(launched) => launched,
            Ready::EndedBeforeStart(request) => return Ok(ended_before_start(request)),
        };
        let Launched { mut child, group, gate: gate_pipe, cgroup, sandboxed, workdir, .. } = *launched;
        trace.sandboxed = sandboxed;
        if start.confirm(&self.events, claimed).await.is_none() {
            // Its Python never passed the gate: nothing of the script ran.
            if let Some(pid) = group {
                process::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.wait().await;
            return Err(RunError::HandedOverStopped);
        }
        if let Some(pipe) = gate_pipe {
            // Read at the last moment: a warm Python was started before the run existed. On an
            // error the pipe closes unopened and the Python exits before the script.
            let user = self.run_env(claimed.script_id, claimed.inputs_sealed.as_deref(), log).await?;
            let own = launch::run_variables(claimed.id, claimed.name.as_deref().unwrap_or_default());
            let own = own.iter().map(|(name, value)| (*name, value.as_os_str()));
            gate::open(pipe, own.chain(user.vars.iter().map(|(name, value)| (name.as_str(), OsStr::new(value.as_str()))))).await;
        }
        let masker = log.masks.borrow().clone();
        let readers = [
            tokio::spawn(read_stream(child.stdout.take(), LogStream::Stdout, log.sink.clone(), masker.clone())),
            tokio::spawn(read_stream(child.stderr.take(), LogStream::Stderr, log.sink.clone(), masker)),
        ];
        let (status, ended) = self.watch(claimed, &mut child, cgroup.as_ref(), log, end).await;
        // Children the script left behind die with it, and their copies of the pipes close.
        if let Some(pid) = group {
            process::signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        }
        if let Some(cgroup) = &cgroup {
            cgroup.kill_all();
            trace.usage = cgroup.usage();
            trace.out_of_memory = cgroup.oom_killed();
        }
        for reader in readers {
            // A grandchild that left the group could hold a pipe open: do not wait on it for ever.
            let abort = reader.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), reader).await.is_err() {
                abort.abort();
                log.say("a process outside the run's group kept its output open; reading stopped".into()).await;
            }
        }
        let status = status.map_err(RunError::Wait)?;
        let status = if sandboxed { process::unwrap_sandbox_status(status) } else { status };
        let mut outcome = outcome_of(status, ended, &self.settings.limits);
        if claimed.input_style == Some(InputStyle::Main) {
            let dir = workdir.path().to_path_buf();
            match tokio::task::spawn_blocking(move || inputs::take_result(&dir)).await {
                Ok(Ok(result)) => outcome.result = result,
                Ok(Err(note)) => log.say(note).await,
                Err(_) => log.say("main()'s result could not be read".into()).await,
            }
        }
        Ok(outcome)
    }

    /// The run's process, started (or taken from `prelaunched`) once its environment is ready;
    /// a run that had to install first is shown `running` while it does.
    #[tracing::instrument(name = "launch", skip_all)]
    async fn ready(
        &self,
        claimed: &Claimed,
        start: &mut Start,
        log: &Log,
        end: &mut watch::Receiver<Option<EndRequest>>,
        prelaunched: Option<Result<Launched, RunError>>,
    ) -> Result<Ready, RunError> {
        if let Some(launched) = prelaunched {
            return Ok(Ready::Launched(Box::new(launched?)));
        }
        let script_id = claimed.script_id;
        let has_requirements = claimed.requirements > 0;
        if !self.environment_ready(script_id, has_requirements).await? {
            // Installing is logged, and the log of a run is shown once it is `running`.
            if start.confirm(&self.events, claimed).await.is_none() {
                return Err(RunError::HandedOverStopped);
            }
            self.prepare_environment(script_id, has_requirements, log, end).await?;
        }
        if let Some(request) = end.borrow().clone() {
            return Ok(Ready::EndedBeforeStart(request));
        }
        // A held run's Python starts behind the gate while the run is marked `running`; without
        // the gate it waits for the mark: no line of a script runs before that.
        let gated = matches!(start, Start::Marking(..)) && launch::gate_ready(&self.settings, script_id);
        if !gated && start.confirm(&self.events, claimed).await.is_none() {
            return Err(RunError::HandedOverStopped);
        }
        // An argparse run's arguments are set by the venv's `.pth` line (`gate`), which a venv
        // made by this very run, or an older one, may not hold yet.
        if claimed.input_style == Some(InputStyle::Argparse) && !gated {
            gate::ensure(&venv_dir(&self.settings.data_dir, script_id)).map_err(RunError::Arguments)?;
        }
        // Without the gate, the variables go in at the spawn, so they are read just before it.
        let user = if gated { RunEnv::default() } else { self.run_env(script_id, claimed.inputs_sealed.as_deref(), log).await? };
        Ok(Ready::Launched(Box::new(self.warm.launch(&self.settings, claimed, gated, &user.vars)?)))
    }

    /// Waits for the process to end, or ends it: at its timeout, when asked (here or, through
    /// the database, on another instance), or once the run has used its CPU seconds.
    async fn watch(
        &self,
        claimed: &Claimed,
        child: &mut tokio::process::Child,
        cgroup: Option<&RunCgroup>,
        log: &Log,
        end: &mut watch::Receiver<Option<EndRequest>>,
    ) -> (std::io::Result<std::process::ExitStatus>, Option<Ended>) {
        let limits = self.settings.limits;
        let timeout =
            claimed.timeout_seconds.and_then(|s| u64::try_from(s).ok()).map(Duration::from_secs).unwrap_or(self.settings.default_timeout);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        // Not at once: the first second of a run is left to the script.
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let grace = self.settings.grace;
        let ending = |why: String| format!("{why}; ending the process group (SIGTERM, then SIGKILL after {} s)", grace.as_secs());
        let why = loop {
            tokio::select! {
                status = child.wait() => return (status, None),
                () = &mut deadline => {
                    log.say(ending(format!("timed out after {} s", timeout.as_secs()))).await;
                    break Ended::TimedOut(timeout);
                }
                Ok(()) = end.changed() => {
                    let Some(request) = end.borrow().clone() else { continue };
                    log.say(ending(request.describe())).await;
                    break Ended::Asked(request);
                }
                _ = poll.tick() => {
                    // The CPU limit of the whole run: RLIMIT_CPU holds per process only.
                    let used = cgroup.and_then(|c| c.usage().cpu_seconds).unwrap_or(0.0);
                    if used >= limits.cpu_seconds as f64 {
                        log.say(ending(format!("the run used its {} s of CPU time (PYTASK_RUN_CPU_SECONDS)", limits.cpu_seconds))).await;
                        break Ended::OutOfCpu(limits.cpu_seconds);
                    }
                    // A stop asked on another instance arrives through the database.
                    if queue::cancel_requested(&self.db, claimed.id).await.unwrap_or(false) {
                        let request = EndRequest::Stop { by: "a user".into() };
                        log.say(ending(request.describe())).await;
                        break Ended::Asked(request);
                    }
                }
            }
        };
        (process::terminate(child, grace, cgroup).await, Some(why))
    }

    /// Makes sure the venv exists and holds the requirements; installs them first (the log
    /// says so) when it does not.
    #[tracing::instrument(name = "prepare_environment", skip_all, fields(script_id = script_id))]
    async fn prepare_environment(
        &self,
        script_id: i64,
        has_requirements: bool,
        log: &Log,
        end: &watch::Receiver<Option<EndRequest>>,
    ) -> Result<(), RunError> {
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
                    // The install's output is masked like the script's.
                    self.run_env(script_id, None, log).await?;
                    let wanted = deps::requirements(&self.db, script_id).await.map_err(RunError::Environment)?;
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
                        Err(err) => Err(RunError::Install(err)),
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
                Err(err) => return Err(RunError::Environment(err)),
            }
        }
    }

    /// This instance's venv exists and holds every requirement.
    async fn environment_ready(&self, script_id: i64, has_requirements: bool) -> Result<bool, RunError> {
        if !venv_python(&venv_dir(&self.settings.data_dir, script_id)).exists() {
            return Ok(false);
        }
        if !has_requirements {
            return Ok(true);
        }
        deps::venv_satisfies(&self.db, &self.settings.data_dir, script_id).await.map_err(RunError::Environment)
    }
}

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

/// What ended a run's process, read as its outcome.
fn outcome_of(status: std::process::ExitStatus, ended: Option<Ended>, limits: &process::Limits) -> Outcome {
    let exit_code = status.code();
    match ended {
        Some(Ended::TimedOut(after)) => {
            Outcome::new(ExecutionStatus::TimedOut, exit_code, Some(format!("timed out after {} s", after.as_secs())))
        }
        Some(Ended::Asked(request)) => Outcome::new(ExecutionStatus::Stopped, exit_code, Some(request.describe())),
        Some(Ended::OutOfCpu(seconds)) => Outcome::new(
            ExecutionStatus::Failed,
            exit_code,
            Some(format!("the run used its {seconds} s of CPU time (PYTASK_RUN_CPU_SECONDS) and was ended")),
        ),
        None if exit_code == Some(0) => Outcome::new(ExecutionStatus::Succeeded, exit_code, None),
        None => {
            let error = match exit_code {
                Some(code) => format!("the script exited with code {code}"),
                None => process::describe_signal(status, limits).unwrap_or_else(|| "the script ended abnormally".into()),
            };
            Outcome::new(ExecutionStatus::Failed, exit_code, Some(error))
        }
    }
}

/// The most a run's variables and secrets may take in its environment: room is left within the
/// kernel's limit for the arguments of the programs a script starts.
const ENV_MAX_BYTES: usize = 1024 * 1024;

/// A run's process, or why it never started.
enum Ready {
    Launched(Box<Launched>),
    EndedBeforeStart(EndRequest),
}

fn ended_before_start(request: EndRequest) -> Outcome {
    Outcome::new(ExecutionStatus::Stopped, None, Some(format!("{} before the script started", request.describe())))
}

enum Ended {
    TimedOut(Duration),
    Asked(EndRequest),
    /// Its processes together used this many CPU seconds.
    OutOfCpu(u64),
}

/// What the run's sandbox says about it, beside its outcome.
#[derive(Debug, Default)]
pub(super) struct Trace {
    pub sandboxed: bool,
    pub usage: ResourceUsage,
    /// The kernel killed one of its processes at the memory cap.
    pub out_of_memory: bool,
}
