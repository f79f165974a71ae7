//! Warm interpreters: after a run, its script's Python is started again behind the start gate
//! (`gate`) in a fresh working directory and kept waiting, so the script's next run here skips
//! the interpreter's start-up, most of the time from "run" to its first line. At most
//! `PYTASK_WARM_INTERPRETERS` are kept, one per script, the least recently kept making room;
//! one idle for `IDLE` is ended.
//!
//! A kept interpreter is used only if nothing it read while starting has changed: the venv is the
//! same directory (an install swaps in a new one), its `bin/python` the same file (a venv remade or
//! repaired in place) and its site-packages unchanged (an uninstall edits it in place). When an
//! install or uninstall of the script ends, a kept Python it made stale is replaced at once
//! (`renew`), so the run after an install is warm too. The script itself is written only when the
//! run takes it, and the run's own variables arrive through the gate, so it runs as a cold start
//! would.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use super::launch::{self, Launched, Program, Target};
use super::queue::Claimed;
use super::settings::RunSettings;
use super::RunError;
use crate::deps::service::venv_dir;
use crate::deps::uv::venv_python;
use zeroize::Zeroizing;

/// A kept interpreter unused this long is ended: it holds ~10 MB for a script not run lately.
pub const IDLE: Duration = Duration::from_secs(10 * 60);

/// What of a venv a starting Python has read: the directory itself, the interpreter it was
/// started as, and its site-packages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    venv: (u64, u64),
    python: (u64, Option<SystemTime>),
    site_packages: (u64, Option<SystemTime>),
}

fn fingerprint(venv: &Path) -> Option<Fingerprint> {
    let dir = std::fs::metadata(venv).ok()?;
    // The link itself, not its target: uv's `bin/python` is a symlink to the base interpreter.
    let python = std::fs::symlink_metadata(venv_python(venv)).ok()?;
    let site = std::fs::metadata(super::gate::site_packages(venv).ok()?).ok()?;
    Some(Fingerprint {
        venv: (dir.dev(), dir.ino()),
        python: (python.ino(), python.modified().ok()),
        site_packages: (site.ino(), site.modified().ok()),
    })
}

struct Warm {
    script_id: i64,
    /// Whether its sandbox has a network: a run takes it only if its script says the same.
    network: bool,
    fingerprint: Fingerprint,
    launched: Launched,
    kept_at: Instant,
}

pub struct WarmPool {
    capacity: usize,
    kept: Mutex<Vec<Warm>>,
}

impl WarmPool {
    pub fn new(capacity: usize) -> WarmPool {
        WarmPool { capacity, kept: Mutex::default() }
    }

    /// For a held run whose venv needs no requirement check (a database read): its Python, kept
    /// warm or started behind the gate at once, by the request that queues the run, before the
    /// run's insert is even sent; so in a working directory named for no run yet. `None`: the
    /// worker's task takes the usual way.
    pub fn prelaunch(
        &self,
        settings: &RunSettings,
        script_id: i64,
        network: bool,
        requirements: i64,
        program: Program<'_>,
    ) -> Option<Result<Launched, RunError>> {
        if requirements > 0 || !venv_python(&venv_dir(&settings.data_dir, script_id)).exists() || !launch::gate_ready(settings, script_id) {
            return None;
        }
        let workdir = settings.data_dir.join("runs").join(format!("starting-{}", uuid::Uuid::new_v4()));
        Some(self.behind_gate(settings, Target { script_id, network }, program, workdir))
    }

    /// The run's Python in its fresh working directory: a warm one if `gated` and one is kept
    /// for the script, else started now, behind the gate if `gated`. An `Err` is why it could
    /// not start, in words.
    /// `user_env` (the run's variables and secrets) is given at the spawn when not `gated`.
    pub fn launch(
        &self,
        settings: &RunSettings,
        claimed: &Claimed,
        gated: bool,
        user_env: &[(String, Zeroizing<String>)],
    ) -> Result<Launched, RunError> {
        let (Some(name), Some(content)) = (&claimed.name, &claimed.content) else {
            return Err(RunError::ScriptDeleted);
        };
        let workdir = settings.data_dir.join("runs").join(claimed.id.to_string());
        let target = Target { script_id: claimed.script_id, network: claimed.network };
        let program = Program::of(content, claimed.input_style);
        if gated {
            return self.behind_gate(settings, target, program, workdir);
        }
        launch::start(settings, target, workdir, Some(program), launch::run_variables(claimed.id, name), user_env, false)
    }

    /// The script's warm Python if one is kept, else one started now behind the gate in
    /// `workdir`; its variables come through the gate.
    fn behind_gate(&self, settings: &RunSettings, target: Target, program: Program<'_>, workdir: PathBuf) -> Result<Launched, RunError> {
        match self.take(settings, target.script_id, target.network, program) {
            Some(launched) => Ok(launched),
            None => launch::start(settings, target, workdir, Some(program), Vec::new(), &[], true),
        }
    }

    /// The interpreter kept for the script, with `content` written as its script, if it is
    /// still waiting and its venv is as it found it; else `None` (and a stale one is ended).
    pub fn take(&self, settings: &RunSettings, script_id: i64, network: bool, program: Program<'_>) -> Option<Launched> {
        let mut warm = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            let at = kept.iter().position(|w| w.script_id == script_id)?;
            kept.swap_remove(at)
        };
        let waiting = matches!(warm.launched.child.try_wait(), Ok(None));
        let unchanged = fingerprint(&venv_dir(&settings.data_dir, script_id)).as_ref() == Some(&warm.fingerprint);
        if !waiting || !unchanged || warm.network != network || warm.kept_at.elapsed() > IDLE {
            return None;
        }
        if let Err(err) = program.write(warm.launched.workdir.path()) {
            tracing::warn!(script_id, %err, "a warm interpreter's script could not be written; starting cold");
            return None;
        }
        Some(warm.launched)
    }

    /// Keeps an interpreter waiting for the script's next run, unless one is kept already or
    /// its venv is not ready; the oldest kept makes room.
    pub fn fill(&self, settings: &RunSettings, script_id: i64, network: bool) {
        if self.capacity == 0 || self.holds(script_id) {
            return;
        }
        let venv = venv_dir(&settings.data_dir, script_id);
        // Ready: made, with the gate in it (a run with requirements has checked them already).
        if super::gate::ensure(&venv).is_err() {
            return;
        }
        let Some(found) = fingerprint(&venv) else { return };
        let launched = match launch::launch_warm(settings, script_id, network) {
            Ok(launched) => launched,
            Err(err) => return tracing::warn!(script_id, %err, "a warm interpreter could not be started"),
        };
        let warm = Warm { script_id, network, fingerprint: found, launched, kept_at: Instant::now() };
        // Ended outside the lock: dropping one kills its process.
        let _made_room = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.iter().any(|w| w.script_id == script_id) {
                return;
            }
            let oldest =
                (kept.len() >= self.capacity).then(|| kept.iter().enumerate().min_by_key(|(_, w)| w.kept_at).map(|(i, _)| i)).flatten();
            let made_room = oldest.map(|i| kept.swap_remove(i));
            kept.push(warm);
            made_room
        };
    }

    /// The script's venv may have changed (its install or uninstall ended): a Python kept for
    /// it that read the old one is ended, and one is started from the venv as it is now.
    pub fn renew(&self, settings: &RunSettings, script_id: i64) {
        let now = fingerprint(&venv_dir(&settings.data_dir, script_id));
        let stale = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(at) = kept.iter().position(|w| w.script_id == script_id) else { return };
            if now.as_ref() == Some(&kept[at].fingerprint) {
                return;
            }
            kept.swap_remove(at)
        };
        let network = stale.network;
        // Ended before its replacement starts: the two never wait side by side.
        drop(stale);
        self.fill(settings, script_id, network);
    }

    fn holds(&self, script_id: i64) -> bool {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).iter().any(|w| w.script_id == script_id)
    }

    /// Ends those kept unused for `IDLE`.
    pub fn expire(&self) {
        let expired: Vec<Warm> = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            let (expired, fresh) = std::mem::take(&mut *kept).into_iter().partition(|w| w.kept_at.elapsed() > IDLE);
            *kept = fresh;
            expired
        };
        drop(expired);
    }

    /// Ends every kept interpreter (shutdown).
    pub fn clear(&self) {
        let all = std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        drop(all);
    }
}
