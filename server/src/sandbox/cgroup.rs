//! A cgroup per run: its memory and process caps hold for the run as a whole (a fork does not
//! get a fresh allowance, as it does with rlimits), its peak memory and CPU time are read from
//! it when it ends, and every process it holds can be found and killed, however it detached.
//!
//! cgroup v2 where the host has it (one unified hierarchy), v1 `memory` + `pids` + `cpuacct`
//! where that is what it has. The server makes its cgroups below its own.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::model::ResourceUsage;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const V1_CONTROLLERS: [&str; 3] = ["memory", "pids", "cpuacct"];

/// Where this server makes its runs' cgroups.
#[derive(Debug, Clone)]
pub enum CgroupRoot {
    /// One directory per controller, in that order: `memory`, `pids`, `cpuacct`.
    V1([PathBuf; 3]),
    V2(PathBuf),
}

impl CgroupRoot {
    /// Makes the server's parent cgroup for runs; an `Err` says, in words, why it could not.
    pub fn create() -> Result<CgroupRoot, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|err| format!("/proc/self/cgroup could not be read: {err}"))?;
        let mount = Path::new("/sys/fs/cgroup");
        if mount.join("cgroup.controllers").exists() {
            let path = own.lines().find_map(|l| l.strip_prefix("0::")).ok_or("/proc/self/cgroup names no cgroup v2 path")?;
            return create_v2(&mount.join(path.trim_start_matches('/'))).map(CgroupRoot::V2);
        }
        let mut dirs = Vec::new();
        for controller in V1_CONTROLLERS {
            let path = own
                .lines()
                .filter_map(|l| l.split_once(':').and_then(|(_, rest)| rest.split_once(':')))
                .find(|(names, _)| names.split(',').any(|n| n == controller))
                .map(|(_, path)| path)
                .ok_or_else(|| format!("the host has neither cgroup v2 nor the cgroup v1 `{controller}` controller"))?;
            let controller_dir = v1_mount(controller)?;
            let dir = controller_dir.join(path.trim_start_matches('/')).join("pytask");
            make_dir(&dir)?;
            dirs.push(dir);
        }
        let dirs: [PathBuf; 3] = dirs.try_into().map_err(|_| "three cgroup v1 controllers expected")?;
        Ok(CgroupRoot::V1(dirs))
    }

    fn dirs(&self) -> Vec<&Path> {
        match self {
            CgroupRoot::V1(dirs) => dirs.iter().map(PathBuf::as_path).collect(),
            CgroupRoot::V2(dir) => vec![dir.as_path()],
        }
    }
}

/// The mount point of a v1 controller: usually `/sys/fs/cgroup/<name>`, found in mountinfo
/// where it is mounted with others (`cpu,cpuacct`).
fn v1_mount(controller: &str) -> Result<PathBuf, String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|err| format!("/proc/self/mountinfo could not be read: {err}"))?;
    info.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut fields = right.split(' ');
            let (kind, options) = (fields.next()?, fields.nth(1)?);
            let mount = left.split(' ').nth(4)?;
            (kind == "cgroup" && options.split(',').any(|o| o == controller)).then(|| PathBuf::from(mount))
        })
        .ok_or_else(|| format!("the cgroup v1 `{controller}` controller is not mounted"))
}

/// v2 lets a cgroup hand controllers to its children only while it holds no process itself:
/// the server moves into a leaf of its own first, then enables memory, pids and cpu below.
fn create_v2(own: &Path) -> Result<PathBuf, String> {
    let server = own.join("pytask-server");
    make_dir(&server)?;
    write(&server.join("cgroup.procs"), &std::process::id().to_string())?;
    write(&own.join("cgroup.subtree_control"), "+memory +pids +cpu")?;
    let runs = own.join("pytask-runs");
    make_dir(&runs)?;
    write(&runs.join("cgroup.subtree_control"), "+memory +pids +cpu")?;
    Ok(runs)
}

fn make_dir(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(format!("the cgroup {} could not be made: {err}", dir.display())),
    }
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|err| format!("{} could not be set to `{value}`: {err}", path.display()))
}

/// The caps of one run's cgroup.
#[derive(Debug, Clone, Copy)]
pub struct CgroupLimits {
    pub memory_bytes: u64,
    pub processes: u64,
}

/// One run's cgroup; removed (its processes killed first) when dropped.
#[derive(Debug)]
pub struct RunCgroup {
    root_v2: bool,
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each directory, opened before the spawn: the child joins by writing
    /// `0` to them between fork and exec, where it may not allocate.
    procs: Vec<File>,
}

impl RunCgroup {
    pub fn create(root: &CgroupRoot, limits: CgroupLimits) -> std::io::Result<RunCgroup> {
        let name = format!("run-{}", uuid::Uuid::new_v4());
        let dirs: Vec<PathBuf> = root.dirs().into_iter().map(|d| d.join(&name)).collect();
        let mut made = RunCgroup { root_v2: matches!(root, CgroupRoot::V2(_)), dirs: Vec::new(), procs: Vec::new() };
        for dir in &dirs {
            std::fs::create_dir(dir)?;
            made.dirs.push(dir.clone());
        }
        let memory = limits.memory_bytes.to_string();
        let processes = limits.processes.to_string();
        if made.root_v2 {
            let dir = &made.dirs[0];
            std::fs::write(dir.join("memory.max"), &memory)?;
            // No swap: the memory cap is the run's whole memory.
            let _ = std::fs::write(dir.join("memory.swap.max"), "0");
            std::fs::write(dir.join("pids.max"), &processes)?;
        } else {
            std::fs::write(made.dirs[0].join("memory.limit_in_bytes"), &memory)?;
            let _ = std::fs::write(made.dirs[0].join("memory.memsw.limit_in_bytes"), &memory);
            std::fs::write(made.dirs[1].join("pids.max"), &processes)?;
        }
        for dir in &made.dirs {
            made.procs.push(OpenOptions::new().write(true).open(dir.join("cgroup.procs"))?);
        }
        Ok(made)
    }

    /// The `cgroup.procs` files the child writes itself into (`join_in_child`).
    pub fn procs_fds(&self) -> Vec<BorrowedFd<'_>> {
        self.procs.iter().map(AsFd::as_fd).collect()
    }

    /// The processes in the run now.
    pub fn pids(&self) -> Vec<i32> {
        let file = self.dirs[0].join("cgroup.procs");
        std::fs::read_to_string(file).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    }

    /// Sends `signal` to every process in the run but those `spare` says to leave.
    pub fn signal(&self, signal: Signal, spare: impl Fn(i32) -> bool) {
        for pid in self.pids() {
            if !spare(pid) {
                let _ = kill(Pid::from_raw(pid), signal);
            }
        }
    }

    /// Kills every process in the run, until none is left (a fork racing the kill is caught on
    /// the next pass).
    pub fn kill_all(&self) {
        if self.root_v2 && std::fs::write(self.dirs[0].join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for _ in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Peak memory and CPU time so far.
    pub fn usage(&self) -> ResourceUsage {
        let read = |dir: &Path, file: &str| std::fs::read_to_string(dir.join(file)).ok();
        if self.root_v2 {
            let dir = &self.dirs[0];
            let peak = read(dir, "memory.peak").and_then(|v| v.trim().parse().ok());
            let cpu = read(dir, "cpu.stat").and_then(|v| stat_field(&v, "usage_usec")).map(|us| us as f64 / 1e6);
            ResourceUsage { peak_memory_bytes: peak, cpu_seconds: cpu }
        } else {
            let peak = read(&self.dirs[0], "memory.max_usage_in_bytes").and_then(|v| v.trim().parse().ok());
            let cpu = read(&self.dirs[2], "cpuacct.usage").and_then(|v| v.trim().parse::<u64>().ok()).map(|ns| ns as f64 / 1e9);
            ResourceUsage { peak_memory_bytes: peak, cpu_seconds: cpu }
        }
    }

    /// Whether the kernel killed a process of the run for going past its memory cap.
    pub fn oom_killed(&self) -> bool {
        let (dir, file) = if self.root_v2 { (&self.dirs[0], "memory.events") } else { (&self.dirs[0], "memory.oom_control") };
        std::fs::read_to_string(dir.join(file)).ok().and_then(|v| stat_field(&v, "oom_kill")).is_some_and(|n| n > 0)
    }
}

fn stat_field(stat: &str, name: &str) -> Option<i64> {
    stat.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Between fork and exec: moves the calling process into the run's cgroups. Only a raw write,
/// as nothing else is safe there.
pub fn join_in_child(procs: BorrowedFd<'_>) -> std::io::Result<()> {
    rustix::io::write(procs, b"0")?;
    Ok(())
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        self.kill_all();
        self.procs.clear();
        for dir in self.dirs.iter().rev() {
            // A killed process leaves its cgroup a moment after it is reaped.
            for attempt in 0..100 {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(err) if err.kind() == ErrorKind::NotFound => break,
                    Err(err) if attempt == 99 => tracing::warn!(dir = %dir.display(), %err, "a run's cgroup could not be removed"),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
    }
}
