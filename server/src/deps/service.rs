//! A script's dependencies: the list in the database, and the venv uv keeps in step with it.
//! One install per script at a time; an install builds a new venv beside the live one and swaps
//! it in only when it worked, so a failed install leaves the previous venv as it was.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use app::model::{Dependency, DependencyCheck, DependencyState, DependencyUpdate, Event, InstalledPackage, NewDependency};
use chrono::{SubsecRound, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

use super::requirement::{normalize, Requirement};
use super::uv::{Uv, UvError};
use super::DepsError;
use crate::db::entities::{dependency, script};
use crate::events::EventBus;
use crate::scripts::service::script_dir;
use crate::telemetry::metrics;

/// The venv of a script: `<data dir>/scripts/<id>/venv`.
pub fn venv_dir(data_dir: &Path, script_id: i64) -> PathBuf {
    script_dir(data_dir, script_id).join("venv")
}

/// Scripts with an install (or uninstall) under way in this process.
#[derive(Default)]
pub struct Installs {
    busy: Mutex<HashSet<i64>>,
    /// Held for writing across a venv swap (two renames), for reading while `check` asks uv
    /// what a live venv holds: between the renames there is no live venv, and uv would say so.
    swap: tokio::sync::RwLock<()>,
    /// Told each script whose install or uninstall ended: its venv may have changed.
    changed: OnceLock<Box<dyn Fn(i64) + Send + Sync>>,
}

/// Held while a script's venv is being changed; frees the script when dropped.
pub struct InstallSlot {
    installs: Arc<Installs>,
    script_id: i64,
}

impl Installs {
    /// What to tell when a script's install or uninstall ends (set once: the worker keeps
    /// Pythons started from these venvs).
    pub fn on_changed(&self, hook: impl Fn(i64) + Send + Sync + 'static) {
        let _ = self.changed.set(Box::new(hook));
    }

    pub fn claim(self: &Arc<Self>, script_id: i64) -> Result<InstallSlot, DepsError> {
        // The lock only guards a set insert/remove, which cannot leave it half-changed.
        let mut busy = self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !busy.insert(script_id) {
            return Err(DepsError::Busy(script_id));
        }
        Ok(InstallSlot { installs: self.clone(), script_id })
    }
}

impl Drop for InstallSlot {
    fn drop(&mut self) {
        self.installs.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.script_id);
        if let Some(changed) = self.installs.changed.get() {
            changed(self.script_id);
        }
    }
}

async fn ensure_script(db: &impl ConnectionTrait, script_id: i64) -> Result<(), DepsError> {
    match script::Entity::find_by_id(script_id).one(db).await? {
        Some(_) => Ok(()),
        None => Err(DepsError::ScriptNotFound(script_id)),
    }
}

fn to_api(row: dependency::Model) -> Dependency {
    let state = match &row.installed_version {
        None => DependencyState::NotInstalled,
        Some(version) => match Requirement::new(&row.package_name, &row.version_spec) {
            Ok(requirement) if requirement.is_satisfied_by(version) => DependencyState::Installed,
            _ => DependencyState::Unsatisfied,
        },
    };
    Dependency { name: row.package_name, version_spec: row.version_spec, installed_version: row.installed_version, state }
}

async fn rows(db: &impl ConnectionTrait, script_id: i64) -> Result<Vec<dependency::Model>, DepsError> {
    Ok(dependency::Entity::find()
        .filter(dependency::Column::ScriptId.eq(script_id))
        .order_by_asc(dependency::Column::PackageName)
        .all(db)
        .await?)
}

pub async fn list(db: &impl ConnectionTrait, script_id: i64) -> Result<Vec<Dependency>, DepsError> {
    ensure_script(db, script_id).await?;
    Ok(rows(db, script_id).await?.into_iter().map(to_api).collect())
}

/// The requirements of a script, as uv is given them.
pub async fn requirements(db: &impl ConnectionTrait, script_id: i64) -> Result<Vec<Requirement>, DepsError> {
    // Stored rows were validated on the way in; one that no longer parses is refused loudly.
    rows(db, script_id)
        .await?
        .iter()
        .map(|row| Requirement::new(&row.package_name, &row.version_spec).map_err(DepsError::Invalid))
        .collect()
}

async fn find(db: &impl ConnectionTrait, script_id: i64, name: &str) -> Result<dependency::Model, DepsError> {
    let name = normalize(name.trim());
    dependency::Entity::find()
        .filter(dependency::Column::ScriptId.eq(script_id))
        .filter(dependency::Column::PackageName.eq(name.clone()))
        .one(db)
        .await?
        .ok_or(DepsError::NotFound { script_id, name })
}

pub async fn add(db: &DatabaseConnection, script_id: i64, new: NewDependency) -> Result<Dependency, DepsError> {
    let requirement = Requirement::new(&new.name, &new.version_spec)?;
    ensure_script(db, script_id).await?;
    if find(db, script_id, &requirement.name).await.is_ok() {
        return Err(DepsError::Exists(requirement.name));
    }
    let now = Utc::now().trunc_subsecs(6);
    let row = dependency::ActiveModel {
        script_id: Set(script_id),
        package_name: Set(requirement.name.clone()),
        version_spec: Set(requirement.spec),
        installed_version: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| if crate::auth::users::is_unique_violation(&err) { DepsError::Exists(requirement.name) } else { err.into() })?;
    Ok(to_api(row))
}

pub async fn update(db: &DatabaseConnection, script_id: i64, name: &str, change: DependencyUpdate) -> Result<Dependency, DepsError> {
    ensure_script(db, script_id).await?;
    let row = find(db, script_id, name).await?;
    let requirement = Requirement::new(&row.package_name, &change.version_spec)?;
    let mut active: dependency::ActiveModel = row.into();
    active.version_spec = Set(requirement.spec);
    active.updated_at = Set(Utc::now().trunc_subsecs(6));
    Ok(to_api(active.update(db).await?))
}

/// Forgets the dependency and uninstalls it from the venv.
pub async fn remove(
    db: &DatabaseConnection,
    uv: &Uv,
    installs: &Arc<Installs>,
    data_dir: &Path,
    script_id: i64,
    name: &str,
) -> Result<(), DepsError> {
    ensure_script(db, script_id).await?;
    let row = find(db, script_id, name).await?;
    let _slot = installs.claim(script_id)?;
    let venv = venv_dir(data_dir, script_id);
    if row.installed_version.is_some() && venv.exists() {
        uv.uninstall(&venv, &row.package_name, &mut |_| {}).await?;
    }
    dependency::Entity::delete_by_id(row.id).exec(db).await?;
    Ok(())
}

/// True when every requirement's recorded installed version satisfies it: what the last
/// install left, read from the database alone (a run's quick readiness check; no `uv`).
pub async fn recorded_as_installed(db: &impl ConnectionTrait, script_id: i64) -> Result<bool, DepsError> {
    Ok(rows(db, script_id).await?.into_iter().all(|row| to_api(row).state == DependencyState::Installed))
}

/// What a venv was filled with, kept inside it. Each worker instance has its own venv of a script
/// (in its own data dir), while the database records the last install made anywhere: a run asks
/// its own venv.
const STAMP: &str = "pytask-installed.json";
/// Far more than the stamp of any real venv (about 100 bytes a package).
const STAMP_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// True when this instance's venv of the script holds a version satisfying every requirement,
/// by the stamp its last install left (no `uv` call, so a ready run starts at once).
pub async fn venv_satisfies(db: &impl ConnectionTrait, data_dir: &Path, script_id: i64) -> Result<bool, DepsError> {
    use crate::sandbox::untrusted::{read_file, Found};
    let stamp = venv_dir(data_dir, script_id).join(STAMP);
    // In the venv, which the install's own code (a package's build) could write: read as untrusted.
    let found = tokio::task::spawn_blocking(move || read_file(&stamp, STAMP_MAX_BYTES)).await;
    let installed: Vec<InstalledPackage> = match found {
        Ok(Ok(Found::Read(bytes))) => match serde_json::from_slice(&bytes) {
            Ok(installed) => installed,
            Err(_) => return Ok(false),
        },
        // A venv made before stamps were written: the database's record is all there is.
        Ok(Ok(Found::Missing)) => return recorded_as_installed(db, script_id).await,
        _ => return Ok(false),
    };
    Ok(requirements(db, script_id).await?.iter().all(|r| installed.iter().any(|p| p.name == r.name && r.is_satisfied_by(&p.version))))
}

/// Each requirement against what the venv holds right now.
pub async fn check(
    db: &DatabaseConnection,
    uv: &Uv,
    installs: &Installs,
    data_dir: &Path,
    script_id: i64,
) -> Result<DependencyCheck, DepsError> {
    ensure_script(db, script_id).await?;
    let venv = venv_dir(data_dir, script_id);
    let (environment, installed) = {
        let _no_swap = installs.swap.read().await;
        let python = super::uv::venv_python(&venv);
        match python.exists() {
            false => (false, Vec::new()),
            true => match uv.list(&venv).await {
                Ok(installed) => (true, installed),
                // Gone while uv looked (the script was deleted meanwhile): there is no venv.
                Err(_) if !python.exists() => (false, Vec::new()),
                Err(err) => return Err(err.into()),
            },
        }
    };
    let dependencies: Vec<Dependency> = rows(db, script_id)
        .await?
        .into_iter()
        .map(|mut row| {
            row.installed_version = installed.iter().find(|p| p.name == row.package_name).map(|p| p.version.clone());
            to_api(row)
        })
        .collect();
    let satisfied = environment && dependencies.iter().all(|d| d.state == DependencyState::Installed);
    Ok(DependencyCheck { environment, satisfied, dependencies, installed })
}

/// Everything an install needs, cloned into its task.
#[derive(Clone)]
pub struct Installer {
    pub db: DatabaseConnection,
    pub uv: Uv,
    pub data_dir: PathBuf,
    pub events: EventBus,
    pub installs: Arc<Installs>,
}

impl Installer {
    /// Claims the script and installs in the background; progress and the outcome go out as
    /// events. Refused at once if the script is missing or already installing.
    pub async fn start(&self, script_id: i64) -> Result<(), DepsError> {
        ensure_script(&self.db, script_id).await?;
        let slot = self.installs.claim(script_id)?;
        let this = self.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = this.run(script_id).await;
        });
        Ok(())
    }

    /// Installs now, with the same events.
    pub async fn run(&self, script_id: i64) -> Result<Vec<InstalledPackage>, DepsError> {
        self.run_reporting(script_id, &|_| {}).await
    }

    /// Installs now and also hands each progress line to `also` (a run that needs its
    /// requirements writes them into its log). The caller holds the script's install slot.
    pub async fn run_reporting(&self, script_id: i64, also: &(dyn Fn(&str) + Send + Sync)) -> Result<Vec<InstalledPackage>, DepsError> {
        let publish = |event: Event| self.events.publish(event);
        publish(Event::InstallationStarted { script_id, at: Utc::now() });
        let result = self.build(script_id, also).await;
        metrics::install_finished(&result);
        match &result {
            Ok(installed) => publish(Event::InstallationFinished { script_id, installed: installed.clone(), at: Utc::now() }),
            Err(err) => publish(Event::InstallationError { script_id, error: err.to_string(), at: Utc::now() }),
        }
        result
    }

    async fn build(&self, script_id: i64, also: &(dyn Fn(&str) + Send + Sync)) -> Result<Vec<InstalledPackage>, DepsError> {
        let requirements = requirements(&self.db, script_id).await?;
        let live = venv_dir(&self.data_dir, script_id);
        let next = live.with_file_name("venv.next");
        let old = live.with_file_name("venv.old");
        tokio::fs::create_dir_all(script_dir(&self.data_dir, script_id))
            .await
            .map_err(|source| io("creating the script's directory", source))?;
        remove_dir(&next).await?;
        let events = self.events.clone();
        let mut progress = move |message: String| {
            also(&message);
            events.publish(Event::InstallationProgress { script_id, message, at: Utc::now() });
        };
        let built = async {
            self.uv.create_venv(&next, &mut progress).await?;
            let installed = self.uv.install(&next, &requirements, &mut progress).await?;
            // Should uv's wording ever change, ask it for the list instead.
            if installed.is_empty() && !requirements.is_empty() {
                return self.uv.list(&next).await;
            }
            Ok(installed)
        }
        .await;
        let installed = match built {
            Ok(installed) => installed,
            Err(err) => {
                remove_dir(&next).await?;
                return Err(err.into());
            }
        };
        let stamp = serde_json::to_vec(&installed).unwrap_or_default();
        let path = next.join(STAMP);
        tokio::task::spawn_blocking(move || crate::sandbox::untrusted::write_new(&path, &stamp))
            .await
            .map_err(|err| io("writing what the venv holds", std::io::Error::other(err)))?
            .map_err(|source| io("writing what the venv holds", source))?;
        // The swap: two renames, so a run starting meanwhile finds one whole venv or the other.
        remove_dir(&old).await?;
        {
            let _swapping = self.installs.swap.write().await;
            if live.exists() {
                tokio::fs::rename(&live, &old).await.map_err(|source| io("moving the old venv aside", source))?;
            }
            tokio::fs::rename(&next, &live).await.map_err(|source| io("putting the new venv in place", source))?;
        }
        remove_dir(&old).await?;

        let now = Utc::now().trunc_subsecs(6);
        for row in rows(&self.db, script_id).await? {
            let version = installed.iter().find(|p| p.name == row.package_name).map(|p| p.version.clone());
            let mut active: dependency::ActiveModel = row.into();
            active.installed_version = Set(version);
            active.updated_at = Set(now);
            active.update(&self.db).await?;
        }
        Ok(installed)
    }
}

fn io(context: &str, source: std::io::Error) -> DepsError {
    DepsError::Uv(UvError::Io { context: context.into(), source })
}

async fn remove_dir(dir: &Path) -> Result<(), DepsError> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(io(&format!("removing {}", dir.display()), source)),
    }
}
