//! A run's process launched: its fresh working directory with the script in it, an environment
//! that holds nothing of the server's, and the venv's Python started there, behind the start
//! gate (`gate`) when asked.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::gate;
use super::inputs;
use super::process::{self, Isolation, Launch};
use super::settings::RunSettings;
use super::RunError;
use crate::deps::service::venv_dir;
use crate::deps::uv::venv_python;
use crate::sandbox::cgroup::{CgroupLimits, RunCgroup};
use app::model::InputStyle;
use zeroize::Zeroizing;

/// A run's process, started: its group (the child's pid, kept before the child is reaped), the
/// gate's pipe if it waits behind one, and its working directory, removed once this is dropped
/// (after the child, which is killed if still there).
pub struct Launched {
    pub child: tokio::process::Child,
    pub group: Option<u32>,
    pub gate: Option<tokio::process::ChildStdin>,
    /// The run's cgroup, when it is sandboxed (dropped after the child: it kills what is left).
    pub cgroup: Option<RunCgroup>,
    /// Made in a sandbox, and with network or not.
    pub sandboxed: bool,
    pub network: bool,
    pub workdir: RemoveOnDrop,
}

/// The start gate is in the script's venv (put there if it was not).
pub fn gate_ready(settings: &RunSettings, script_id: i64) -> bool {
    gate::ensure(&venv_dir(&settings.data_dir, script_id))
        .inspect_err(
            |err| tracing::warn!(script_id, %err, "the start gate could not be put in the venv; the run starts once marked running"),
        )
        .is_ok()
}

/// Whose Python is started: the script's venv, and whether its sandbox has a network.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub script_id: i64,
    pub network: bool,
}

/// A Python for the script's next run, waiting behind the gate in a working directory of its
/// own; its script is written when a run takes it (`WarmPool::take`).
pub fn launch_warm(settings: &RunSettings, script_id: i64, network: bool) -> Result<Launched, RunError> {
    let workdir = settings.data_dir.join("runs").join(format!("warm-{}", uuid::Uuid::new_v4()));
    start(settings, Target { script_id, network }, workdir, None, Vec::new(), &[], true)
}

const SCRIPT: &str = "script.py";

/// What a run's working directory gets as its program: the script as `script.py`, or for a
/// script run through its `main()`, the runner as `script.py` and the script beside it.
#[derive(Debug, Clone, Copy)]
pub struct Program<'a> {
    pub content: &'a str,
    pub through_main: bool,
}

impl<'a> Program<'a> {
    pub fn of(content: &'a str, style: Option<InputStyle>) -> Program<'a> {
        Program { content, through_main: style == Some(InputStyle::Main) }
    }

    /// Writes it into `workdir`: the path written last is the entry, `script.py`.
    pub fn write(&self, workdir: &Path) -> Result<(), RunError> {
        let write = |name: &str, text: &str| {
            let path = workdir.join(name);
            // A warm interpreter's working directory has been the run's before this: a package's
            // `.pth` code may have left a link at the name to have the server write through it.
            crate::sandbox::untrusted::write_new(&path, text.as_bytes()).map_err(|source| RunError::WriteScript { path, source })
        };
        if self.through_main {
            write(inputs::MODULE_FILE, self.content)?;
            return write(SCRIPT, inputs::MAIN_RUNNER);
        }
        write(SCRIPT, self.content)
    }
}

/// The script's Python started in `workdir` (with `content` as its script, if given), in its
/// sandbox unless `--sandbox off`, behind the gate if `gated` (then `variables` and `user_env`
/// come through the gate instead). An `Err` is why it could not start, in words.
pub fn start(
    settings: &RunSettings,
    target: Target,
    workdir: PathBuf,
    program: Option<Program<'_>>,
    variables: Vec<(&'static str, OsString)>,
    user_env: &[(String, Zeroizing<String>)],
    gated: bool,
) -> Result<Launched, RunError> {
    // Refused before anything is made: with `--sandbox required` and no sandbox, nothing runs.
    let sandboxed = settings.sandbox.required().map_err(RunError::SandboxRefused)?;
    let cleanup = RemoveOnDrop(workdir.clone());
    // Plain file calls: two small local writes cost less than handing them to a thread.
    std::fs::create_dir_all(&workdir).map_err(|source| RunError::WorkingDirectory { dir: workdir.clone(), source })?;
    let script_path = workdir.join(SCRIPT);
    if let Some(program) = program {
        program.write(&workdir)?;
    }
    let venv = venv_dir(&settings.data_dir, target.script_id);
    let python = venv_python(&venv);
    // Checked here: in a sandbox, a Python that cannot start fails inside it, as an exit code.
    if sandboxed && !is_executable(&python) {
        return Err(RunError::NotExecutable { python });
    }
    let cgroup = match (sandboxed, settings.sandbox.cgroups()) {
        (true, Some(root)) => {
            let limits = CgroupLimits {
                memory_bytes: settings.limits.memory_bytes,
                // bubblewrap's two processes come on top of the script's own.
                processes: settings.limits.processes.saturating_add(2),
            };
            Some(RunCgroup::create(root, limits).map_err(RunError::Cgroup)?)
        }
        _ => None,
    };
    if let (true, Some((uid, gid))) = (sandboxed, settings.sandbox.run_as()) {
        // The run's own user owns its working directory (and nothing else of the data dir).
        std::os::unix::fs::chown(&workdir, Some(uid), Some(gid))
            .map_err(|source| RunError::WorkingDirectoryOwner { dir: workdir.clone(), source })?;
    }
    let mut env = run_environment(&venv, &workdir);
    env.extend(variables);
    let isolation =
        sandboxed.then(|| Isolation { sandbox: &settings.sandbox, venv: &venv, network: target.network, cgroup: cgroup.as_ref() });
    let launch =
        Launch { python: &python, script: &script_path, workdir: &workdir, env, user_env, limits: settings.limits, gated, isolation };
    let mut child = process::spawn(launch).map_err(|source| RunError::Spawn { python: python.clone(), source })?;
    // Kept now: once the child is reaped, `child.id()` is gone, and the group still needs it.
    let group = child.id();
    let gate = child.stdin.take();
    Ok(Launched { child, group, gate, cgroup, sandboxed, network: target.network, workdir: cleanup })
}

/// The variables of one run: given at the spawn, or through the gate when its Python started
/// before the run was known.
pub fn run_variables(id: i64, name: &str) -> Vec<(&'static str, OsString)> {
    vec![("PYTASK_EXECUTION_ID", id.to_string().into()), ("PYTASK_SCRIPT_NAME", name.into())]
}

/// The script's whole environment but its run's own variables: nothing of the server's leaks in.
fn run_environment(venv: &Path, workdir: &Path) -> Vec<(&'static str, OsString)> {
    let mut path = OsString::from(venv.join("bin"));
    path.push(":/usr/local/bin:/usr/bin:/bin");
    vec![
        ("PATH", path),
        ("HOME", workdir.into()),
        ("TMPDIR", workdir.into()),
        ("VIRTUAL_ENV", venv.into()),
        ("LANG", "C.UTF-8".into()),
        ("PYTHONUNBUFFERED", "1".into()),
        ("PYTHONIOENCODING", "utf-8".into()),
    ]
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A run's working directory, removed when this is dropped.
pub struct RemoveOnDrop(PathBuf);

impl RemoveOnDrop {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.0) {
            if err.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.0.display(), %err, "a run's working directory could not be removed");
            }
        }
    }
}
