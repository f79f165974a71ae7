//! The sandbox every run is made in (SPEC "Isolation"): bubblewrap for the namespaces and the
//! filesystem view, `setpriv` for the unprivileged user, a cgroup of its own (`cgroup`) for
//! memory, processes and CPU. Probed once at start; with `--sandbox required` a host that
//! cannot make one refuses every run with the cause rather than running it unisolated.
//!
//! What a run sees: the system's read-only directories (`/usr` and the merged-usr links, a few
//! named files of `/etc`), the interpreter its venv was made from and the venv itself, both
//! read-only, its own working directory read-write, a private size-capped `/tmp`, its own
//! `/proc` and a minimal `/dev`. Nothing else of the data directory (database, other venvs and
//! runs, the uv cache), of the server's files, site root or home; no server process.

pub mod cgroup;
pub mod launcher;
pub mod untrusted;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::model::{SandboxMode, SandboxStatus};

use self::cgroup::CgroupRoot;
use crate::config::Config;

/// The parts of `/etc` a Python program and its libraries need: names, DNS, TLS roots, time
/// zones, the dynamic linker's cache and Debian's Python configuration. Not the rest (it may
/// hold the server's own settings).
const ETC: &[&str] = &[
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/gai.conf",
    "/etc/group",
    "/etc/host.conf",
    "/etc/hosts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/protocols",
    "/etc/pki",
    "/etc/python3",
    "/etc/python3.11",
    "/etc/resolv.conf",
    "/etc/services",
    "/etc/ssl",
    "/etc/timezone",
];

/// What this instance can isolate runs with, found at start.
#[derive(Debug)]
pub struct Sandbox {
    pub mode: SandboxMode,
    /// Why a sandbox cannot be made here; `None` when it can (or the mode is `off`).
    pub problem: Option<String>,
    bwrap: PathBuf,
    cgroups: Option<CgroupRoot>,
    /// The user and group runs get, when the server may switch to them (it runs as root).
    run_as: Option<(u32, u32)>,
    tmp_bytes: u64,
    /// The real interpreter `--python` names (not a shim), which installs make venvs from.
    interpreter: Option<PathBuf>,
}

/// What a sandboxed process sees beside the system: paths bound where they are.
pub struct View<'a> {
    pub read_only: Vec<&'a Path>,
    pub writable: Vec<&'a Path>,
    pub chdir: &'a Path,
    pub network: bool,
    /// The size of its private `/tmp`.
    pub tmp_bytes: u64,
}

/// What one run is given.
pub struct Spec<'a> {
    pub venv: &'a Path,
    pub workdir: &'a Path,
    pub network: bool,
}

impl Sandbox {
    pub fn probe(config: &Config) -> Arc<Sandbox> {
        let run_as = rustix::process::geteuid().is_root().then_some((config.run_uid, config.run_gid));
        let mut sandbox = Sandbox {
            mode: config.sandbox,
            problem: None,
            bwrap: config.bwrap.clone(),
            cgroups: None,
            run_as,
            tmp_bytes: config.run_tmp_mb.saturating_mul(1024 * 1024),
            interpreter: None,
        };
        if sandbox.mode == SandboxMode::Required {
            if let Err(problem) = sandbox.make_ready(&config.python) {
                let problem = format!(
                    "runs are refused: {problem}. Fix it, or start with --sandbox off (PYTASK_SANDBOX=off) to run scripts unisolated"
                );
                tracing::error!(%problem, "no sandbox can be made on this host");
                sandbox.problem = Some(problem);
            }
        } else {
            tracing::warn!("--sandbox off: scripts run as the server's own user, with its files in reach");
        }
        Arc::new(sandbox)
    }

    /// Finds bubblewrap and the cgroups, and makes one sandbox to be sure the host allows it.
    fn make_ready(&mut self, python: &Path) -> Result<(), String> {
        self.bwrap = find_program(&self.bwrap)
            .ok_or_else(|| format!("bubblewrap (`{}`, --bwrap) was not found; install Debian's `bubblewrap`", self.bwrap.display()))?;
        if self.run_as.is_some() && find_program(Path::new("setpriv")).is_none() {
            return Err("`setpriv` (util-linux) is not on PATH".into());
        }
        self.cgroups = Some(CgroupRoot::create().map_err(|err| format!("no cgroup can be made for runs ({err})"))?);
        self.interpreter = Some(real_interpreter(python)?);
        let scratch = std::env::temp_dir().join(format!("pytask-probe-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&scratch).map_err(|err| format!("{} could not be made: {err}", scratch.display()))?;
        let spec = Spec { venv: &scratch, workdir: &scratch, network: false };
        let output = std::process::Command::new(&self.bwrap)
            .args(self.arguments(&spec, None))
            .arg("/bin/true")
            .env_clear()
            .output()
            .map_err(|err| format!("bubblewrap could not be started: {err}"));
        let _ = std::fs::remove_dir_all(&scratch);
        let output = output?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
            return Err(format!("bubblewrap could not make a sandbox ({}): {said}", output.status));
        }
        Ok(())
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

    /// Whether runs go into a sandbox (`Ok(true)`), run as the server (`Ok(false)`, mode
    /// `off`), or are refused (`Err`, the cause).
    pub fn required(&self) -> Result<bool, String> {
        match (self.mode, &self.problem) {
            (SandboxMode::Off, _) => Ok(false),
            (SandboxMode::Required, None) => Ok(true),
            (SandboxMode::Required, Some(problem)) => Err(problem.clone()),
        }
    }

    pub fn cgroups(&self) -> Option<&CgroupRoot> {
        self.cgroups.as_ref()
    }

    pub fn bwrap(&self) -> &Path {
        &self.bwrap
    }

    /// The real interpreter installs make venvs from, found at start.
    pub fn interpreter(&self) -> Option<&Path> {
        self.interpreter.as_deref()
    }

    /// The installation `interpreter` belongs to (one level up from its `bin`).
    pub fn interpreter_home(&self) -> Option<PathBuf> {
        Some(self.interpreter.as_deref()?.parent()?.parent()?.to_path_buf())
    }

    /// A program as a sandbox is given it: its real path, found on PATH if it has no directory.
    pub fn resolve(&self, program: &Path) -> Option<PathBuf> {
        find_program(program).and_then(|p| p.canonicalize().ok())
    }

    /// Makes `dirs` (bubblewrap binds only what exists) and gives them (and all in them) to the
    /// sandbox's user, so it can write them; a directory it owns already is taken to be its own
    /// throughout (it made what is in it). A server not run as root is that user itself.
    pub fn prepare_writable(&self, dirs: &[&Path]) -> std::io::Result<()> {
        for dir in dirs {
            std::fs::create_dir_all(dir)?;
            let Some((uid, gid)) = self.run_as else { continue };
            if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(dir)?) != uid {
                chown_tree(dir, uid, gid)?;
            }
        }
        Ok(())
    }

    /// The user and group a run's files must belong to, so it can write its working directory.
    pub fn run_as(&self) -> Option<(u32, u32)> {
        self.run_as
    }

    /// bubblewrap's arguments for a run, up to the program (which follows them): the venv
    /// and the interpreter `python` belongs to read-only, the working directory read-write.
    pub fn arguments(&self, spec: &Spec<'_>, python: Option<&Path>) -> Vec<OsString> {
        // `pyvenv.cfg` is in the venv, which an install's code could write: its `home` is bound
        // only if it is the interpreter venvs are made from (or under /usr, which is bound anyway).
        let configured = self.interpreter_home();
        let home = python.and_then(interpreter_home).filter(|home| home.starts_with("/usr") || configured.as_ref() == Some(home));
        let mut read_only: Vec<&Path> = home.iter().map(PathBuf::as_path).collect();
        if spec.venv != spec.workdir {
            read_only.push(spec.venv);
        }
        let view = View { read_only, writable: vec![spec.workdir], chdir: spec.workdir, network: spec.network, tmp_bytes: self.tmp_bytes };
        self.view_arguments(&view)
    }

    /// bubblewrap's arguments for `view`, up to the program.
    pub fn view_arguments(&self, view: &View<'_>) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::with_capacity(96);
        let mut push = |parts: &[&std::ffi::OsStr]| args.extend(parts.iter().map(|p| p.to_os_string()));
        push(&["--unshare-pid".as_ref(), "--unshare-ipc".as_ref(), "--unshare-uts".as_ref(), "--unshare-cgroup-try".as_ref()]);
        if !view.network {
            push(&["--unshare-net".as_ref()]);
        }
        if self.run_as.is_none() {
            // Not root: an unprivileged user namespace, and none further inside it.
            push(&["--unshare-user".as_ref(), "--disable-userns".as_ref()]);
        }
        push(&["--die-with-parent".as_ref(), "--new-session".as_ref(), "--hostname".as_ref(), "pytask".as_ref()]);
        push(&["--ro-bind".as_ref(), "/usr".as_ref(), "/usr".as_ref()]);
        for dir in ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] {
            match std::fs::read_link(dir) {
                // Merged /usr: the same link inside.
                Ok(target) => push(&["--symlink".as_ref(), target.as_os_str(), dir.as_ref()]),
                Err(_) => push(&["--ro-bind-try".as_ref(), dir.as_ref(), dir.as_ref()]),
            }
        }
        // Made first: a directory bubblewrap makes for a bind is `0700`, closed to the run's user.
        push(&["--perms".as_ref(), "0755".as_ref(), "--dir".as_ref(), "/etc".as_ref()]);
        for file in ETC {
            push(&["--ro-bind-try".as_ref(), file.as_ref(), file.as_ref()]);
        }
        push(&["--proc".as_ref(), "/proc".as_ref(), "--dev".as_ref(), "/dev".as_ref()]);
        let tmp_size = view.tmp_bytes.to_string();
        push(&["--perms".as_ref(), "1777".as_ref(), "--size".as_ref(), tmp_size.as_ref(), "--tmpfs".as_ref(), "/tmp".as_ref()]);
        // The directories above what is bound are made empty and unlistable (`0711`): the
        // process reaches its own by their paths, and can list nothing beside them.
        let mut made: Vec<&Path> = Vec::new();
        for place in view.read_only.iter().chain(&view.writable).filter(|p| !p.starts_with("/usr")) {
            let mut above: Vec<&Path> = place.ancestors().skip(1).filter(|dir| dir.components().count() > 1).collect();
            above.reverse();
            for dir in above {
                if dir != Path::new("/tmp") && !made.contains(&dir) {
                    push(&["--perms".as_ref(), "0711".as_ref(), "--dir".as_ref(), dir.as_os_str()]);
                    made.push(dir);
                }
            }
        }
        for place in view.read_only.iter().filter(|p| !p.starts_with("/usr")) {
            push(&["--ro-bind".as_ref(), place.as_os_str(), place.as_os_str()]);
        }
        for place in &view.writable {
            push(&["--bind".as_ref(), place.as_os_str(), place.as_os_str()]);
        }
        push(&["--chdir".as_ref(), view.chdir.as_os_str(), "--".as_ref()]);
        if let Some((uid, gid)) = self.run_as {
            // Root inside the namespaces still: drop to the run's user with no capability left.
            let (uid, gid) = (format!("--reuid={uid}"), format!("--regid={gid}"));
            push(&[
                "setpriv".as_ref(),
                uid.as_ref(),
                gid.as_ref(),
                "--clear-groups".as_ref(),
                "--inh-caps=-all".as_ref(),
                "--bounding-set=-all".as_ref(),
                "--".as_ref(),
            ]);
        }
        args
    }
}

/// The installation a venv's interpreter belongs to (the `home` of its `pyvenv.cfg`, one level
/// up from its `bin`), so the venv's `python` link resolves inside the sandbox.
fn interpreter_home(venv_python: &Path) -> Option<PathBuf> {
    let venv = venv_python.parent()?.parent()?;
    let found = untrusted::read_file(&venv.join("pyvenv.cfg"), 64 * 1024).ok()?;
    let untrusted::Found::Read(bytes) = found else { return None };
    let cfg = String::from_utf8(bytes).ok()?;
    let home = cfg.lines().find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == "home").map(|(_, v)| v.trim().to_string()))?;
    let home = PathBuf::from(home);
    Some(if home.ends_with("bin") { home.parent()?.to_path_buf() } else { home })
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

/// Where `python` really is: a pyenv shim, a venv's link or a bare name is asked for its
/// `sys.executable`, links followed.
fn real_interpreter(python: &Path) -> Result<PathBuf, String> {
    let output = std::process::Command::new(python)
        .args(["-c", "import os, sys; print(os.path.realpath(sys.executable))"])
        .output()
        .map_err(|err| format!("the Python `{}` (--python) could not be started: {err}", python.display()))?;
    let found = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !output.status.success() || !found.is_absolute() {
        return Err(format!("the Python `{}` (--python) did not say where it is", python.display()));
    }
    Ok(found)
}

/// The program itself when given with a directory, else the first of its name on PATH.
fn find_program(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}
