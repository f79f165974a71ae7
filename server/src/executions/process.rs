//! The script's process: started from the venv's Python in its own process group, with the
//! run's limits set between fork and exec, an environment that holds nothing of the server's,
//! and ended as a whole tree.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
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
}

pub fn spawn(launch: Launch<'_>) -> std::io::Result<Child> {
    let mut command = Command::new(launch.python);
    command
        .arg("-u")
        .arg(launch.script)
        .current_dir(launch.workdir)
        .env_clear()
        .envs(launch.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group: a stop signals the script and every child it started.
        .process_group(0)
        .kill_on_drop(true);
    let limits = launch.limits;
    // SAFETY: runs in the forked child before exec; only async-signal-safe system calls (prctl,
    // setrlimit), no allocation, no lock.
    unsafe {
        command.pre_exec(move || {
            // If the server dies (kill -9), the script goes with it instead of running unseen.
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            setrlimit(Resource::RLIMIT_AS, limits.memory_bytes, limits.memory_bytes)?;
            // The soft limit sends SIGXCPU (reported as the CPU limit); the hard one a second
            // later kills a script that ignores it.
            setrlimit(Resource::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds.saturating_add(1))?;
            setrlimit(Resource::RLIMIT_NOFILE, limits.open_files, limits.open_files)?;
            setrlimit(Resource::RLIMIT_NPROC, limits.processes, limits.processes)?;
            // A crash must not write a core file of up to the memory limit into the work dir.
            setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
            Ok(())
        });
    }
    command.spawn()
}

/// Sends `signal` to the run's whole process group. A group that is gone already is fine.
pub fn signal_group(child_pid: u32, signal: Signal) {
    let Ok(pid) = i32::try_from(child_pid) else { return };
    let _ = killpg(Pid::from_raw(pid), signal);
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
        Ok(Signal::SIGXCPU) => format!("the run used its {} s of CPU time (PYTASK_RUN_CPU_SECONDS) and was ended by {name}", limits.cpu_seconds),
        _ => format!("the process was ended by signal {signal} ({name})"),
    })
}
