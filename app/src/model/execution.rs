//! Runs of scripts as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ExecutionStatus, Trigger};

/// One run of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Execution {
    pub id: i64,
    pub script_id: i64,
    pub script_name: String,
    pub status: ExecutionStatus,
    pub trigger: Trigger,
    pub schedule_id: Option<i64>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    /// Why the run failed to start or was ended, in words.
    pub error: Option<String>,
    /// How many log lines it has written so far.
    pub log_lines: i64,
}

/// Order of `GET /api/executions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionSort {
    #[default]
    Newest,
    Oldest,
}

/// One page of `GET /api/executions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExecutionPage {
    pub items: Vec<Execution>,
    /// Runs matching the filter, on all pages.
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

pub const PER_PAGE_DEFAULT: u64 = 25;
pub const PER_PAGE_MAX: u64 = 200;
