use serde::{Deserialize, Serialize};

/// Answer of `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` when the process serves requests.
    pub status: String,
    /// Whether the database answered; absent for a liveness check (`?ready=false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<bool>,
    pub version: String,
    /// Whether runs are isolated here, and if not, why.
    pub sandbox: super::SandboxStatus,
}
