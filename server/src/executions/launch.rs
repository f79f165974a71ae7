//! A run's process launched: its fresh working directory with the script in it, an environment
//! that holds nothing of the server's, and the venv's Python started there, behind the start
//! gate (`gate`) when asked.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::gate;
use super::process::{self, Launch};
use super::queue::Claimed;
use super::worker::RunSettings;
use crate::deps::service::venv_dir;
use crate::deps::uv::venv_python;

/// A run's process, started: its group (the child's pid, kept before the child is reaped), the
/// gate's pipe if it waits behind one, and its working directory, removed once this is dropped
/// (after the child, which is killed if still there).
pub struct Launched {
    pub child: tokio::process::Child,
    pub group: Option<u32>,
    pub gate: Option<tokio::process::ChildStdin>,
    pub workdir: RemoveOnDrop,
}

/// For a held run whose venv needs no requirement check (a database read): its Python started
/// behind the gate at once, by the caller that queued the run, before the run's insert is even
/// sent. `None`: the worker's task takes the usual way.
pub fn prelaunch(settings: &RunSettings, claimed: &Claimed) -> Option<Result<Launched, String>> {
    if claimed.requirements > 0 || !venv_python(&venv_dir(&settings.data_dir, claimed.script_id)).exists() {
        return None;
    }
    gate_ready(settings, claimed.id, claimed.script_id).then(|| launch(settings, claimed, true))
}

/// The start gate is in the script's venv (put there if it was not).
pub fn gate_ready(settings: &RunSettings, id: i64, script_id: i64) -> bool {
    gate::ensure(&venv_dir(&settings.data_dir, script_id))
        .inspect_err(|err| tracing::warn!(execution_id = id, %err, "the start gate could not be put in the venv; the run starts once marked running"))
        .is_ok()
}

/// Makes the run's fresh working directory and starts its Python there, behind the gate if
/// `gated`. An `Err` is why it could not start, in words.
pub fn launch(settings: &RunSettings, claimed: &Claimed, gated: bool) -> Result<Launched, String> {
    let (Some(name), Some(content)) = (&claimed.name, &claimed.content) else {
        return Err("the script was deleted before the run started".into());
    };
    let id = claimed.id;
    let workdir = settings.data_dir.join("runs").join(id.to_string());
    let cleanup = RemoveOnDrop(workdir.clone());
    // Plain file calls: two small local writes cost less than handing them to a thread.
    std::fs::create_dir_all(&workdir).map_err(|err| format!("the working directory {} could not be made: {err}", workdir.display()))?;
    let script_path = workdir.join("script.py");
    std::fs::write(&script_path, content).map_err(|err| format!("the script could not be written to {}: {err}", script_path.display()))?;
    let venv = venv_dir(&settings.data_dir, claimed.script_id);
    let python = venv_python(&venv);
    let launch = Launch { python: &python, script: &script_path, workdir: &workdir, env: run_environment(&venv, &workdir, id, name), limits: settings.limits, gated };
    let mut child = process::spawn(launch).map_err(|err| format!("the script's Python ({}) could not be started: {err}", python.display()))?;
    // Kept now: once the child is reaped, `child.id()` is gone, and the group still needs it.
    let group = child.id();
    let gate = child.stdin.take();
    Ok(Launched { child, group, gate, workdir: cleanup })
}

/// The script's whole environment: nothing of the server's leaks in.
fn run_environment(venv: &Path, workdir: &Path, id: i64, name: &str) -> Vec<(&'static str, OsString)> {
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
        ("PYTASK_EXECUTION_ID", id.to_string().into()),
        ("PYTASK_SCRIPT_NAME", name.into()),
    ]
}

pub struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.0) {
            if err.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.0.display(), %err, "a run's working directory could not be removed");
            }
        }
    }
}
