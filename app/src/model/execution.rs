//! Runs of scripts as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ExecutionStatus, Trigger};

/// One run of a script. Not `Eq`: `cpu_seconds` is a float.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The script's network setting the run started with; absent until it starts.
    pub network: Option<bool>,
    /// Whether it ran in a sandbox (`false`: as the server's own user, `--sandbox off`);
    /// absent until it ends, and for a run that never started.
    pub sandboxed: Option<bool>,
    /// The most memory its processes held at once, in bytes; absent until it ends or when it
    /// could not be measured.
    pub peak_memory_bytes: Option<i64>,
    /// CPU time of all its processes, in seconds; absent as `peak_memory_bytes`.
    pub cpu_seconds: Option<f64>,
    /// How many times a secret's value (or an encoded form of it) was replaced by `***` in the
    /// run's output and error so far.
    #[serde(default)]
    pub masked: i64,
    /// The inputs it was given, as checked and completed with defaults; secret ones as `***`.
    /// Absent for a run of a script that takes none.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub inputs: Option<serde_json::Map<String, serde_json::Value>>,
    /// What `main()` returned, for a script run through its `main()` (JSON).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub result: Option<serde_json::Value>,
    /// The due time a schedule fired it for.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    /// Fired late, for a time missed while no instance ran (the schedule's catch-up policy).
    #[serde(default)]
    pub caught_up: bool,
}

/// `POST /api/scripts/{id}/execute`: the body may be left out for a script without inputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExecuteRequest {
    /// By input name; those left out take their defaults.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub inputs: serde_json::Map<String, serde_json::Value>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// One line of a run's log, as stored and as replayed by `GET /api/executions/{id}/logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LogLine {
    /// 1, 2, 3, … in the order the lines were read; stdout and stderr share the count.
    pub seq: i64,
    pub stream: super::LogStream,
    pub line: String,
    pub at: DateTime<Utc>,
}

/// A slice of a run's log: `GET /api/executions/{id}/logs?after=&limit=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// Pass as `after` to get the lines that follow (the last `seq` returned, or `after` itself).
    pub next_after: i64,
    /// True when no line follows and the run is over: the log is complete.
    pub complete: bool,
}

pub const LOG_PAGE_DEFAULT: u64 = 1000;
pub const LOG_PAGE_MAX: u64 = 10_000;
