//! The script's process: started from the venv's Python in its own process group, with the
//! run's limits, an environment that holds nothing of the server's, and ended as a whole tree.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use nix::sys::signal::{killpg, Signal};
use rustix::process::{setrlimit, Resource, Rlimit};
use tokio::process::{Child, Command};
use zeroize::Zeroizing;

use crate::sandbox::cgroup::{self, RunCgroup};
use crate::sandbox::{launcher, Sandbox, Spec};

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
    /// The whole environment of the process but the user's variables.
    pub env: Vec<(&'static str, OsString)>,
    /// The run's variables and secrets (names checked when set: none is one of `env`'s).
    pub user_env: &'a [(String, Zeroizing<String>)],
    pub limits: Limits,
    /// Started behind the gate (`gate`): stdin is then the pipe that opens it.
    pub gated: bool,
    /// The sandbox it is made in; `None` with `--sandbox off`.
    pub isolation: Option<Isolation<'a>>,
}

/// A run's sandbox: bubblewrap's view of the system and the run's cgroup.
pub struct Isolation<'a> {
    pub sandbox: &'a Sandbox,
    pub venv: &'a Path,
    pub network: bool,
    pub cgroup: Option<&'a RunCgroup>,
}

pub fn spawn(launch: Launch<'_>) -> std::io::Result<Child> {
    let mut command = match &launch.isolation {
        Some(isolation) => {
            let spec = Spec { venv: isolation.venv, workdir: launch.workdir, network: isolation.network };
            let mut command = Command::new(isolation.sandbox.bwrap());
            command.args(isolation.sandbox.arguments(&spec, Some(launch.python))).arg(launch.python);
            command
        }
        None => Command::new(launch.python),
    };
    command
        .arg("-u")
        .arg(launch.script)
        .current_dir(launch.workdir)
        .env_clear()
        .envs(launch.env)
        .envs(launch.user_env.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .stdin(if launch.gated { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a stop signals the script and every child it started.
        .process_group(0)
        .kill_on_drop(true);
    if launch.gated {
        command.env(super::gate::ENV, "1");
    }
    let cgroup: Vec<RawFd> = launch
        .isolation
        .as_ref()
        .and_then(|i| i.cgroup)
        .map(|c| c.procs_fds().iter().map(|fd| fd.as_raw_fd()).collect())
        .unwrap_or_default();
    // Sandboxed, the process count is the cgroup's (`pids.max`): the run's user is shared by
    // every run, and RLIMIT_NPROC would count them all together.
    let limits = launch.limits;
    let count_processes = launch.isolation.is_none();
    // SAFETY: between fork and exec the hook only makes system calls (write, setrlimit) on
    // values prepared before the fork; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            for fd in &cgroup {
                cgroup::join_in_child(BorrowedFd::borrow_raw(*fd))?;
            }
            apply_limits(limits, count_processes).map_err(std::io::Error::from)
        });
    }
    launcher::spawn(command)
}

/// The run's limits, set in the child before it executes anything: so they hold from the
/// script's first instruction (and bubblewrap's). Also the limits of the code check and format
/// children (`code::child`).
pub(crate) fn apply_limits(limits: Limits, count_processes: bool) -> rustix::io::Result<()> {
    let set = |resource: Resource, soft: u64, hard: u64| setrlimit(resource, Rlimit { current: Some(soft), maximum: Some(hard) });
    set(Resource::As, limits.memory_bytes, limits.memory_bytes)?;
    // The soft limit sends SIGXCPU (reported as the CPU limit); the hard one a second later kills
    // a script that ignores it.
    set(Resource::Cpu, limits.cpu_seconds, limits.cpu_seconds.saturating_add(1))?;
    set(Resource::Nofile, limits.open_files, limits.open_files)?;
    if count_processes {
        set(Resource::Nproc, limits.processes, limits.processes)?;
    }
    // A crash must not write a core file of up to the memory limit into the work dir.
    set(Resource::Core, 0, 0)
}

/// Sends `signal` to the run's whole process group. A group that is gone already is fine.
pub fn signal_group(child_pid: u32, signal: Signal) {
    let Ok(pid) = i32::try_from(child_pid) else { return };
    let _ = killpg(nix::unistd::Pid::from_raw(pid), signal);
}

/// Ends the tree: TERM to the group (or, sandboxed, to every process of the run's cgroup but
/// bubblewrap's own), then KILL to whatever is left after `grace`. Returns the exit status.
pub async fn terminate(child: &mut Child, grace: Duration, cgroup: Option<&RunCgroup>) -> std::io::Result<ExitStatus> {
    // Without an id the child has been reaped already; the caller kills what is left of its group.
    let Some(pid) = child.id() else { return child.wait().await };
    match cgroup {
        // bubblewrap is spared the TERM: its outer process would die of it at once and, with it,
        // the whole sandbox, before the script had its grace. Its init ignores the signal anyway.
        Some(cgroup) => cgroup.signal(Signal::SIGTERM, |p| u32::try_from(p) == Ok(pid) || is_bwrap(p)),
        None => signal_group(pid, Signal::SIGTERM),
    }
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            kill_tree(pid, cgroup);
            child.wait().await?
        }
    };
    kill_tree(pid, cgroup);
    Ok(status)
}

fn kill_tree(pid: u32, cgroup: Option<&RunCgroup>) {
    signal_group(pid, Signal::SIGKILL);
    if let Some(cgroup) = cgroup {
        // The sandbox's PID namespace ends with its init, which dies with the outer bubblewrap;
        // this catches the rest at once.
        cgroup.kill_all();
    }
}

fn is_bwrap(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm == b"bwrap\n")
}

/// bubblewrap exits with the script's code, or 128 + the signal that ended it: read back as the
/// signal, so a sandboxed run is described as an unsandboxed one would be. (A script that
/// exits with such a code itself is taken for the signal.)
pub fn unwrap_sandbox_status(status: ExitStatus) -> ExitStatus {
    match status.code() {
        Some(code @ 129..=192) if Signal::try_from(code - 128).is_ok() => ExitStatus::from_raw(code - 128),
        _ => status,
    }
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
