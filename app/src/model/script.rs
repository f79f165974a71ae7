//! Scripts as the API shows and takes them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::ExecutionStatus;

/// One script with everything the editor page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Script {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// The Python source.
    pub content: String,
    pub is_active: bool,
    pub tags: Vec<String>,
    /// Wall-clock limit of a run; absent: the server's default.
    pub timeout_seconds: Option<u32>,
    /// Whether its runs may reach the network; off, a run has no network at all.
    pub network: bool,
    /// The inputs its saved code takes (its run form); absent when they could not be read.
    #[serde(default)]
    pub inputs: Option<super::InputsReport>,
    pub created_at: DateTime<Utc>,
    /// Also the version: send it back with a change so a stale edit is refused (409).
    pub updated_at: DateTime<Utc>,
}

/// A row of the script list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScriptSummary {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub is_active: bool,
    pub tags: Vec<String>,
    pub last_execution: Option<LastExecution>,
    /// Whether its saved code takes inputs: its quick run opens the run form instead.
    #[serde(default)]
    pub takes_inputs: bool,
    pub updated_at: DateTime<Utc>,
}

/// The newest run of a script, for the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LastExecution {
    pub id: i64,
    pub status: ExecutionStatus,
    pub queued_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `POST /api/scripts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewScript {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub content: String,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
    /// Whether its runs may reach the network; absent: yes.
    #[serde(default = "yes")]
    pub network: bool,
}

fn yes() -> bool {
    true
}

/// `PUT /api/scripts/{id}`: the fields present are changed; `updated_at` is the version the
/// change is based on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScriptUpdate {
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// `null` clears the limit; absent leaves it.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<u32>))]
    pub timeout_seconds: Option<Option<u32>>,
    /// Whether its runs may reach the network; absent leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
}

/// Tells "absent" (the outer `None`, from `default`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A tag with how many scripts carry it (`GET /api/tags`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TagCount {
    pub name: String,
    pub count: u64,
}
