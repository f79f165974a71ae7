//! The check's and the format's child processes, confined as a run is (SPEC "Isolation"):
//! Python compiles and ruff formats whatever anyone types, so a source that makes either eat
//! memory, or a bug of ruff's, must not reach the server's files or the machine as a whole.
//!
//! Sandboxed (`--sandbox required`): bubblewrap with no network, the program (or the Python
//! installation it belongs to) read-only, nothing writable but a 1 MiB private `/tmp`, nothing of
//! the data directory, the runs' unprivileged user, and a cgroup of its own capping memory and
//! processes. Always: rlimits on memory, CPU time and open files (and, unsandboxed, processes),
//! the caller's timeout, and output read only up to a cap.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::executions::process::{apply_limits, unwrap_sandbox_status, Limits};
use crate::sandbox::cgroup::{self, CgroupLimits, RunCgroup};
use crate::sandbox::{launcher, Sandbox, View};

/// Memory one check or format may use. The largest source (512 KiB) takes Python under 200 MiB
/// to compile and ruff under 100 MiB to format, but ruff can take a gigabyte on a few hostile
/// ones (half a million unary minuses) before it gives up.
pub const MEMORY_BYTES: u64 = 512 * 1024 * 1024;
/// Processes and threads in the sandbox's cgroup (bubblewrap's two among them): ruff formats
/// stdin on one thread, and Python only compiles.
const PROCESSES: u64 = 16;
const OPEN_FILES: u64 = 256;
/// Neither tool writes a file; the private `/tmp` only has to exist.
const TMP_BYTES: u64 = 1024 * 1024;
/// What is kept of a child's output. Formatted 512 KiB is far below the first; a child writing
/// more is misbehaving, and its output is read and dropped so it is not left blocked on a full
/// pipe until the timeout.
const STDOUT_BYTES: u64 = 8 * 1024 * 1024;
const STDERR_BYTES: u64 = 64 * 1024;

/// How the children are confined on this instance.
pub struct Confinement {
    sandbox: Arc<Sandbox>,
    limits: Limits,
}

/// A child started, with the cgroup it is in (which kills whatever is left of it when dropped).
pub struct Started {
    pub child: Child,
    cgroup: Option<RunCgroup>,
    /// In bubblewrap, which exits with 128 + the signal that ended the tool.
    sandboxed: bool,
}

/// A child's end: its status and what it wrote, within the caps.
pub struct Ended {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// It wrote more to stdout than is kept.
    pub stdout_cut: bool,
}

/// Why a child could not be started.
pub enum NotStarted {
    /// `--sandbox required` on a host that cannot make one: the cause.
    Refused(String),
    /// The program, or (sandboxed) what it needs, could not be found or set up.
    Io(std::io::Error),
}

impl Confinement {
    /// The tools get the runs' limits where those are lower than their own: an instance that
    /// gives its runs little memory gives the editor's tools no more.
    pub fn new(sandbox: Arc<Sandbox>, runs: Limits, cpu_seconds: u64) -> Confinement {
        let limits = Limits {
            memory_bytes: runs.memory_bytes.min(MEMORY_BYTES),
            cpu_seconds: runs.cpu_seconds.min(cpu_seconds),
            open_files: runs.open_files.min(OPEN_FILES),
            // Applied as RLIMIT_NPROC only unsandboxed, where Linux counts every process of the
            // server's user: the runs' own setting, which already allows for that.
            processes: runs.processes,
        };
        Confinement { sandbox, limits }
    }

    pub fn memory_bytes(&self) -> u64 {
        self.limits.memory_bytes
    }

    /// Python as a sandbox is given it: the real interpreter found at start (a pyenv shim is a
    /// shell script that looks for its files outside), or `python` itself when unsandboxed.
    pub fn python(&self, python: &Path) -> PathBuf {
        match self.sandbox.required() {
            Ok(true) => self.sandbox.interpreter().map_or_else(|| python.to_path_buf(), Path::to_path_buf),
            _ => python.to_path_buf(),
        }
    }

    /// Starts `program` with `args`, confined, its three pipes piped.
    pub fn start(&self, program: &Path, args: &[&str]) -> Result<Started, NotStarted> {
        let sandboxed = self.sandbox.required().map_err(NotStarted::Refused)?;
        let (mut command, cgroup) = if sandboxed { self.sandboxed(program)? } else { (self.unsandboxed(program), None) };
        command.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let fds: Vec<RawFd> = cgroup.as_ref().map(|c| c.procs_fds().iter().map(|fd| fd.as_raw_fd()).collect()).unwrap_or_default();
        let limits = self.limits;
        // SAFETY: as for a run (`executions::process::spawn`): between fork and exec the hook
        // only makes system calls on values prepared before the fork; it allocates nothing and
        // takes no lock.
        unsafe {
            command.pre_exec(move || {
                for fd in &fds {
                    cgroup::join_in_child(BorrowedFd::borrow_raw(*fd))?;
                }
                apply_limits(limits, !sandboxed).map_err(std::io::Error::from)
            });
        }
        let child = launcher::spawn(command).map_err(NotStarted::Io)?;
        Ok(Started { child, cgroup, sandboxed })
    }

    fn sandboxed(&self, program: &Path) -> Result<(Command, Option<RunCgroup>), NotStarted> {
        let program = self.sandbox.resolve(program).ok_or_else(|| NotStarted::Io(std::io::ErrorKind::NotFound.into()))?;
        // The interpreter needs its whole installation (the standard library); ruff, itself.
        let home = self.sandbox.interpreter_home().filter(|home| program.starts_with(home));
        let read_only = vec![home.as_deref().unwrap_or(program.as_path())];
        let view = View { read_only, writable: Vec::new(), chdir: Path::new("/tmp"), network: false, tmp_bytes: TMP_BYTES };
        let cgroup = match self.sandbox.cgroups() {
            Some(root) => {
                let limits = CgroupLimits { memory_bytes: self.limits.memory_bytes, processes: PROCESSES };
                Some(RunCgroup::create(root, limits).map_err(NotStarted::Io)?)
            }
            None => None,
        };
        let mut command = Command::new(self.sandbox.bwrap());
        command.args(self.sandbox.view_arguments(&view)).arg(&program);
        command.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin").env("HOME", "/tmp").env("LANG", "C.UTF-8");
        Ok((command, cgroup))
    }

    /// As before there was a sandbox: the server's PATH, to find `python3` and `ruff` by name.
    fn unsandboxed(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command
    }
}

impl Started {
    /// Reads the child's output (within the caps) until it exits.
    pub async fn wait(&mut self) -> std::io::Result<Ended> {
        let stdout = self.child.stdout.take().ok_or_else(|| std::io::Error::other("stdout is not piped"))?;
        let stderr = self.child.stderr.take().ok_or_else(|| std::io::Error::other("stderr is not piped"))?;
        let ((stdout, stdout_cut), (stderr, _)) = tokio::join!(read_capped(stdout, STDOUT_BYTES), read_capped(stderr, STDERR_BYTES));
        let mut status = self.child.wait().await?;
        if self.sandboxed {
            status = unwrap_sandbox_status(status);
        }
        Ok(Ended { status, stdout, stderr, stdout_cut })
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        // The cgroup's removal kills what is left and waits for it to be gone: a few ms at most,
        // but blocking, so off the runtime's threads. The child goes first (`kill_on_drop`).
        if let Some(cgroup) = self.cgroup.take() {
            let _ = self.child.start_kill();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(move || drop(cgroup));
            }
        }
    }
}

/// Up to `cap` bytes of `pipe`; the rest is read and dropped. Says whether there was a rest.
async fn read_capped(mut pipe: impl AsyncRead + Unpin, cap: u64) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let _ = (&mut pipe).take(cap).read_to_end(&mut kept).await;
    let rest = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await.unwrap_or(0);
    (kept, rest > 0)
}
