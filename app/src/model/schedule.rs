//! Schedules of scripts and the cron preview, as the API shows and takes them.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use super::{CatchUp, ExecutionStatus, OverlapPolicy};

/// A cron schedule of one script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub id: i64,
    pub script_id: i64,
    /// As the user typed it (trimmed, single spaces).
    pub cron_expression: String,
    /// IANA zone name the expression is evaluated in.
    pub timezone: String,
    pub is_active: bool,
    /// The expression in words, e.g. "At 09:30, on Monday through Friday."
    pub description: String,
    /// The next due time; absent while the schedule is paused.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The newest run this schedule started.
    pub last_run: Option<ScheduledRun>,
    /// The inputs each fire gives the run (secret values as `***`).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// Why those inputs no longer fit the script's saved code (its fires fail with this), if
    /// they do not: "input `day`: is required".
    #[serde(default)]
    pub inputs_problem: Option<String>,
    /// What its time does while a run it started is still going.
    pub overlap: OverlapPolicy,
    /// What it does with times missed while no instance ran.
    pub catch_up: CatchUp,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An active schedule whose inputs no longer fit its script's saved code (`GET
/// /api/schedules/unfit`, for the dashboard): its fires fail until the schedule or the script is
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UnfitSchedule {
    pub script_id: i64,
    pub script_name: String,
    pub schedule_id: i64,
    /// The schedule in words, e.g. "At 09:30, on Monday through Friday."
    pub description: String,
    /// "input `day`: is required".
    pub problem: String,
}

/// The newest run a schedule started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScheduledRun {
    pub id: i64,
    pub status: ExecutionStatus,
    pub queued_at: DateTime<Utc>,
}

/// `POST /api/scripts/{id}/schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    pub cron_expression: String,
    /// IANA zone name; absent: UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    /// The inputs each fire gives the run, checked against the script's code now and at every
    /// fire.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// Absent: `skip`, so a slow run is never joined by another unasked.
    #[serde(default = "skip")]
    pub overlap: OverlapPolicy,
    /// Absent: `none`.
    #[serde(default = "no_catch_up")]
    pub catch_up: CatchUp,
}

fn skip() -> OverlapPolicy {
    OverlapPolicy::Skip
}

fn no_catch_up() -> CatchUp {
    CatchUp::None
}

fn yes() -> bool {
    true
}

/// `PUT /api/scripts/{id}/schedules/{sid}`: the fields present are changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Replaces the inputs as a whole; a secret input given as `***` (as shown) keeps its stored
    /// value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub inputs: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<OverlapPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up: Option<CatchUp>,
}

/// A due time a schedule passed over (`GET /api/scripts/{id}/schedules/{sid}/skipped`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SkippedTime {
    pub due_at: DateTime<Utc>,
    /// "the run started at 09:00 was still going (overlap: skip)".
    pub reason: String,
    pub recorded_at: DateTime<Utc>,
}

/// `GET /api/cron/describe`: what an expression means and when it fires next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CronDescription {
    /// The expression as it will be stored (trimmed, single spaces).
    pub expression: String,
    pub timezone: String,
    pub description: String,
    /// The next fire times after `from`, oldest first.
    pub next: Vec<FireTime>,
}

/// One fire time of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FireTime {
    pub at: DateTime<Utc>,
    /// The same instant in the schedule's zone, with that day's offset.
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub local: DateTime<FixedOffset>,
    /// Set when a daylight-saving change moves or repeats this fire time.
    pub dst: Option<DstShift>,
}

/// How a daylight-saving change touches a fire time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DstShift {
    /// The local time does not exist that day (clocks spring forward): it fires at the first
    /// valid instant after the gap.
    Skipped,
    /// The local time occurs twice that day (clocks fall back).
    Repeated,
}

impl DstShift {
    /// A short note for the preview.
    pub fn note(self) -> &'static str {
        match self {
            DstShift::Skipped => "clocks spring forward: moved to the first valid time",
            DstShift::Repeated => "clocks fall back: this local time occurs twice",
        }
    }
}

/// How many fire times `GET /api/cron/describe` gives when `count` is absent, and at most.
pub const PREVIEW_COUNT_DEFAULT: u32 = 5;
pub const PREVIEW_COUNT_MAX: u32 = 100;
