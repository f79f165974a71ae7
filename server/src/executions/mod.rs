//! Runs of scripts, one layer on the next, each importing only those below it:
//! - repository: `queue` (runs in the database), `logs` (their lines), `retention`;
//! - engine: `process` (one process and its limits), `gate`, `launch` (a leaf: starts a run's
//!   Python in its sandbox), `warm` (Pythons started ahead, above `launch`), `collector`;
//! - worker: `worker` takes runs from the queue or by handover (`Runner::submit`) and carries
//!   each to its outcome;
//! - edge: `service` (what the API asks), `routes` (HTTP) and `live` (what a WebSocket viewer of
//!   a script or a run is sent).

pub mod collector;
pub mod gate;
pub mod inputs;
pub mod launch;
pub mod live;
pub mod logs;
pub mod process;
pub mod queue;
pub mod retention;
mod retry;
pub mod routes;
pub mod service;
pub mod settings;
pub mod warm;
pub mod worker;

use app::model::ExecutionStatus;

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error("there is no execution {0}")]
    NotFound(i64),
    #[error("there is no script {0}")]
    ScriptNotFound(i64),
    #[error("script `{name}` has {limit} runs waiting already, the most one script may (PYTASK_MAX_QUEUED_PER_SCRIPT / --max-queued-per-script); wait for them to start, or stop some")]
    QueueFull { name: String, limit: u64 },
    #[error("script `{0}` is inactive: activate it to run it")]
    Inactive(String),
    #[error("run #{id} is already over ({status}); there is nothing to stop")]
    AlreadyOver { id: i64, status: ExecutionStatus },
    #[error(transparent)]
    Inputs(#[from] inputs::InputsError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// Why a run could not start or be carried to its end: stored as the run's error, in words.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--sandbox required` on a host that cannot make one: the cause and the setting.
    #[error("{0}")]
    SandboxRefused(String),
    #[error("the script was deleted before the run started")]
    ScriptDeleted,
    #[error("stopped before it started")]
    HandedOverStopped,
    #[error("the working directory {} could not be made: {source}", dir.display())]
    WorkingDirectory { dir: std::path::PathBuf, source: std::io::Error },
    #[error("the working directory {} could not be given to the run's user: {source}", dir.display())]
    WorkingDirectoryOwner { dir: std::path::PathBuf, source: std::io::Error },
    #[error("the script could not be written to {}: {source}", path.display())]
    WriteScript { path: std::path::PathBuf, source: std::io::Error },
    #[error("the run's cgroup could not be made: {0}")]
    Cgroup(std::io::Error),
    #[error("the script's Python ({}) could not be started: it is not an executable file", python.display())]
    NotExecutable { python: std::path::PathBuf },
    #[error("the script's Python ({}) could not be started: {source}", python.display())]
    Spawn { python: std::path::PathBuf, source: std::io::Error },
    #[error("waiting for the script failed: {0}")]
    Wait(std::io::Error),
    #[error("installing the requirements failed: {0}")]
    Install(crate::deps::DepsError),
    /// The script's environment could not be checked or prepared.
    #[error(transparent)]
    Environment(crate::deps::DepsError),
    #[error("the run's variables and secrets could not be read: {0}")]
    Env(crate::env::EnvError),
    #[error("the run's variables and secrets take {kib} KiB, more than the {max} KiB a process environment is given here; remove some")]
    EnvTooLarge { kib: usize, max: usize },
    #[error("the run's inputs could not be opened with this instance's secret key (PYTASK_SECRET_KEY_FILE): the key was replaced after the run was queued; run it again")]
    InputsUnreadable,
    #[error("the run's arguments could not be given to it: the line that sets them could not be written into the venv: {0}")]
    Arguments(std::io::Error),
}

impl From<ExecutionError> for crate::http::error::ApiError {
    fn from(err: ExecutionError) -> Self {
        use crate::http::error::ApiError;
        match err {
            ExecutionError::NotFound(_) | ExecutionError::ScriptNotFound(_) => ApiError::NotFound(err.to_string()),
            ExecutionError::Inactive(_) | ExecutionError::AlreadyOver { .. } => ApiError::Conflict(err.to_string()),
            ExecutionError::QueueFull { .. } => ApiError::TooManyQueued(err.to_string()),
            ExecutionError::Inputs(inputs) => inputs.into(),
            ExecutionError::Db(db) => ApiError::internal(db),
        }
    }
}
