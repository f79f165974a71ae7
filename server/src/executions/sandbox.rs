//! The sandbox every run and install is made in (SPEC "Isolation"): bubblewrap for the
//! namespaces and the filesystem view, a cgroup of its own for memory, processes and CPU.
//! Probed once at start; with `--sandbox required` a host that cannot make one refuses every
//! run with the cause rather than running it unisolated.

use std::sync::Arc;

use app::model::{SandboxMode, SandboxStatus};

use crate::config::Config;

/// What this instance can isolate runs with, found at start.
#[derive(Debug)]
pub struct Sandbox {
    pub mode: SandboxMode,
    /// Why a sandbox cannot be made here; `None` when it can (or the mode is `off`).
    pub problem: Option<String>,
}

impl Sandbox {
    pub fn probe(config: &Config) -> Arc<Sandbox> {
        let problem = match config.sandbox {
            SandboxMode::Off => None,
            SandboxMode::Required => None,
        };
        Arc::new(Sandbox { mode: config.sandbox, problem })
    }

    pub fn status(&self) -> SandboxStatus {
        let problem = match self.mode {
            SandboxMode::Off => Some(
                "runs are not isolated: --sandbox off (PYTASK_SANDBOX) runs scripts as the server's own user, with its files in reach"
                    .to_string(),
            ),
            SandboxMode::Required => self.problem.clone(),
        };
        SandboxStatus { mode: self.mode, isolated: problem.is_none(), problem }
    }
}
