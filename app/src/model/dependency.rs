//! A script's dependencies as the API shows and takes them.

use serde::{Deserialize, Serialize};

pub use super::event::InstalledPackage;

/// Where a dependency stands against the script's venv, as of the last install or check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DependencyState {
    /// Installed, in a version the specifier accepts.
    Installed,
    /// Not in the venv yet: "Install" puts it there.
    NotInstalled,
    /// Installed, but in a version the specifier refuses (it was changed since).
    Unsatisfied,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Dependency {
    /// The package name, normalised per PEP 503.
    pub name: String,
    /// PEP 440 specifier set; empty: any version.
    pub version_spec: String,
    pub installed_version: Option<String>,
    pub state: DependencyState,
}

/// `POST /api/scripts/{id}/dependencies` (and `POST /api/requirements/check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDependency {
    pub name: String,
    #[serde(default)]
    pub version_spec: String,
}

/// `PUT /api/scripts/{id}/dependencies/{package}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DependencyUpdate {
    pub version_spec: String,
}

/// `GET /api/scripts/{id}/dependencies/check`: each requirement against the venv as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DependencyCheck {
    /// Whether the script has a venv at all.
    pub environment: bool,
    /// All requirements installed and satisfied.
    pub satisfied: bool,
    pub dependencies: Vec<Dependency>,
    /// Everything in the venv, with versions.
    pub installed: Vec<InstalledPackage>,
}

/// The answer of `POST …/dependencies/install` (202): follow `/ws/scripts/{id}` for progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstallStarted {
    pub script_id: i64,
    pub events: String,
}

/// PEP 723 inline metadata (`# /// script`) of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InlineMetadata {
    /// Whether the source has a `# /// script` block.
    pub found: bool,
    /// Its `dependencies`, each accepted as a requirement.
    pub dependencies: Vec<NewDependency>,
    /// Entries the product refuses, with the reason.
    pub refused: Vec<String>,
}

/// `POST /api/code/metadata/write`: the source with its header listing these requirements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MetadataWrite {
    pub content: String,
    pub dependencies: Vec<NewDependency>,
}
