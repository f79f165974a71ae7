//! Webhook triggers: a script's named URLs that start a run, `POST /api/hooks/{token}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A trigger URL of a script, as listed (its token is never shown again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Hook {
    pub id: i64,
    pub script_id: i64,
    pub name: String,
    /// The token's first characters, to tell hooks apart.
    pub prefix: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `POST /api/scripts/{id}/hooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    pub name: String,
}

/// A hook just made: its URL holds the token, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedHook {
    pub hook: Hook,
    pub token: String,
    /// Where to send it: `POST` this with the run's inputs as a JSON object.
    pub url: String,
}

/// `POST /api/hooks/{token}` answered: the run it queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HookFired {
    pub execution_id: i64,
    /// The run's page.
    pub url: String,
}
