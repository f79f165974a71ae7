//! A script's schedules, and the cron preview and zones the schedule form uses.

use std::future::Future;

use super::{call, call_empty, encode, get, Failure, Method};
use crate::model::{CronDescription, NewSchedule, Schedule, ScheduleUpdate, SkippedTime, UnfitSchedule};

pub fn list(script_id: i64) -> impl Future<Output = Result<Vec<Schedule>, Failure>> + Send + 'static {
    get(&format!("/api/scripts/{script_id}/schedules"))
}

/// Every active schedule whose inputs no longer fit its script (the dashboard's warning).
pub fn unfit() -> impl Future<Output = Result<Vec<UnfitSchedule>, Failure>> + Send + 'static {
    get("/api/schedules/unfit")
}

/// The due times the schedule passed over, newest first, with why.
pub fn skipped(script_id: i64, schedule_id: i64) -> impl Future<Output = Result<Vec<SkippedTime>, Failure>> + Send + 'static {
    get(&format!("/api/scripts/{script_id}/schedules/{schedule_id}/skipped"))
}

pub fn create(script_id: i64, new: &NewSchedule) -> impl Future<Output = Result<Schedule, Failure>> + Send + 'static {
    call(Method::Post, &format!("/api/scripts/{script_id}/schedules"), Some(new))
}

/// Changes the fields present in `change`, and only those.
pub fn update(
    script_id: i64,
    schedule_id: i64,
    change: &ScheduleUpdate,
) -> impl Future<Output = Result<Schedule, Failure>> + Send + 'static {
    call(Method::Put, &format!("/api/scripts/{script_id}/schedules/{schedule_id}"), Some(change))
}

pub fn delete(script_id: i64, schedule_id: i64) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Delete, &format!("/api/scripts/{script_id}/schedules/{schedule_id}"), None)
}

/// What `expr` means in `zone` and its next `count` fire times from now.
pub fn describe(expr: &str, zone: &str, count: u32) -> impl Future<Output = Result<CronDescription, Failure>> + Send + 'static {
    get(&format!("/api/cron/describe?expr={}&tz={}&count={count}", encode(expr), encode(zone)))
}

/// Every IANA zone name the server evaluates schedules in, sorted.
pub fn timezones() -> impl Future<Output = Result<Vec<String>, Failure>> + Send + 'static {
    get("/api/cron/timezones")
}
