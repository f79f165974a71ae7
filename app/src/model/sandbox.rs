//! Whether runs are isolated: the `--sandbox` setting and what this instance found when it tried
//! to make a sandbox. Reported by `GET /api/health` and shown to admins as a banner.

use serde::{Deserialize, Serialize};

/// `--sandbox required|off`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// Every run and install in a sandbox; none at all when one cannot be made.
    #[default]
    Required,
    /// Runs as the server's own user, in its filesystem: for hosts that cannot make a sandbox.
    Off,
}

/// The sandbox as this instance found it at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SandboxStatus {
    pub mode: SandboxMode,
    /// Runs are isolated: the mode is `required` and the sandbox could be made.
    pub isolated: bool,
    /// Why runs are not isolated, in words that name the cause and the setting; absent when
    /// they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What one run used, read from its cgroup when it ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ResourceUsage {
    /// The most memory the run's processes held at once, in bytes.
    pub peak_memory_bytes: Option<i64>,
    /// CPU time of all the run's processes, in seconds.
    pub cpu_seconds: Option<f64>,
}

impl SandboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Required => "required",
            SandboxMode::Off => "off",
        }
    }
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SandboxMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "required" => Ok(SandboxMode::Required),
            "off" => Ok(SandboxMode::Off),
            other => Err(format!("`{other}` is not a sandbox mode: use `required` or `off`")),
        }
    }
}
