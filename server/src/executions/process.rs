//! The script's process: started from the venv's Python in its own process group, with the
//! run's limits, an environment that holds nothing of the server's, and ended as a whole tree.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use rustix::process::{prlimit, Pid, Resource, Rlimit};
use tokio::process::{Child, Command};

/// The per-run limits (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_bytes: u64,
    pub cpu_seconds: u64,
    pub open_files: u64,
    pub processes: u64,
}

/// What the run is started with.
pub struct Launch<'a> {
    pub python: &'a Path,
    pub script: &'a Path,
    pub workdir: &'a Path,
    /// The whole environment of the process.
    pub env: Vec<(&'static str, OsString)>,
    pub limits: Limits,
    /// Started behind the gate (`gate`): stdin is then the pipe that opens it.
    pub gated: bool,
}

pub fn spawn(launch: Launch<'_>) -> std::io::Result<Child> {
    let mut command = Command::new(launch.python);
    command
        .arg("-u")
        .arg(launch.script)
        .current_dir(launch.workdir)
        .env_clear()
        .envs(launch.env)
        .stdin(if launch.gated { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a stop signals the script and every child it started.
        .process_group(0)
        .kill_on_drop(true);
    if launch.gated {
        command.env(super::gate::ENV, "1");
    }
    // No pre-exec hook: without one the standard library starts the process with posix_spawn
    // (vfork-like), ~2 ms faster per run than a fork of the whole server. The limits are set on
    // the child right after; posix_spawn returns once the child has exec'd, so they are in place
    // while Python is still starting up, before the script's first line runs.
    let mut child = command.spawn()?;
    if let Err(err) = apply_limits(child.id(), launch.limits) {
        let _ = child.start_kill();
        return Err(std::io::Error::other(format!("setting the run's limits failed: {err}")));
    }
    Ok(child)
}

fn apply_limits(pid: Option<u32>, limits: Limits) -> std::io::Result<()> {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).and_then(Pid::from_raw) else { return Ok(()) };
    let set = |resource: Resource, soft: u64, hard: u64| {
        prlimit(Some(pid), resource, Rlimit { current: Some(soft), maximum: Some(hard) }).map(drop)
    };
    set(Resource::As, limits.memory_bytes, limits.memory_bytes)?;
    // The soft limit sends SIGXCPU (reported as the CPU limit); the hard one a second later kills
    // a script that ignores it.
    set(Resource::Cpu, limits.cpu_seconds, limits.cpu_seconds.saturating_add(1))?;
    set(Resource::Nofile, limits.open_files, limits.open_files)?;
    set(Resource::Nproc, limits.processes, limits.processes)?;
    // A crash must not write a core file of up to the memory limit into the work dir.
    set(Resource::Core, 0, 0)?;
    Ok(())
}

/// Sends `signal` to the run's whole process group. A group that is gone already is fine.
pub fn signal_group(child_pid: u32, signal: Signal) {
    let Ok(pid) = i32::try_from(child_pid) else { return };
    let _ = killpg(nix::unistd::Pid::from_raw(pid), signal);
}

/// Ends the tree: TERM to the group, then KILL to whatever is left after `grace`. Returns the
/// script's exit status.
pub async fn terminate(child: &mut Child, grace: Duration) -> std::io::Result<ExitStatus> {
    // Without an id the child has been reaped already; the caller kills what is left of its group.
    let Some(pid) = child.id() else { return child.wait().await };
    signal_group(pid, Signal::SIGTERM);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            signal_group(pid, Signal::SIGKILL);
            child.wait().await?
        }
    };
    signal_group(pid, Signal::SIGKILL);
    Ok(status)
}

/// How the process ended, in words, when that is not a plain exit code; names the limit that
/// a signal stands for.
pub fn describe_signal(status: ExitStatus, limits: &Limits) -> Option<String> {
    let signal = status.signal()?;
    let name = Signal::try_from(signal).map(|s| s.as_str()).unwrap_or("unknown signal");
    Some(match Signal::try_from(signal) {
        Ok(Signal::SIGXCPU) => {
            format!("the run used its {} s of CPU time (PYTASK_RUN_CPU_SECONDS) and was ended by {name}", limits.cpu_seconds)
        }
        _ => format!("the process was ended by signal {signal} ({name})"),
    })
}
