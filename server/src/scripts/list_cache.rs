//! The whole script list (`GET /api/scripts` without filters), kept as JSON between requests
//! while nothing it shows has changed. Whether something changed is asked of the database on
//! every request (a few index seeks), so several instances sharing one database never serve
//! each other's stale lists.
//!
//! The marker covers everything a row shows: scripts added or removed (their count), edited,
//! re-tagged or switched on/off (their newest `updated_at`), and runs queued (the newest id),
//! started (the newest `started_at`) or ended (the newest `finished_at`). A change of a run's
//! status must therefore set `started_at` or `finished_at`, as every transition does.

use std::sync::Mutex;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, Statement};

#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Marker {
    scripts: i64,
    scripts_changed: Option<DateTime<Utc>>,
    newest_run: Option<i64>,
    newest_start: Option<DateTime<Utc>>,
    newest_end: Option<DateTime<Utc>>,
}

pub async fn marker(db: &DatabaseConnection) -> Result<Marker, DbErr> {
    let sql = "SELECT (SELECT COUNT(*) FROM scripts) AS scripts, \
        (SELECT MAX(updated_at) FROM scripts) AS scripts_changed, \
        (SELECT MAX(id) FROM executions) AS newest_run, \
        (SELECT MAX(started_at) FROM executions) AS newest_start, \
        (SELECT MAX(finished_at) FROM executions) AS newest_end";
    let statement = Statement::from_string(db.get_database_backend(), sql);
    Marker::find_by_statement(statement).one(db).await?.ok_or_else(|| DbErr::RecordNotFound("the list marker".into()))
}

#[derive(Default)]
pub struct ListCache {
    entry: Mutex<Option<(Marker, Bytes)>>,
}

impl ListCache {
    pub fn get(&self, marker: &Marker) -> Option<Bytes> {
        let entry = self.entry.lock().ok()?;
        entry.as_ref().filter(|(stored, _)| stored == marker).map(|(_, json)| json.clone())
    }

    /// Keeps `json` as the list at `marker`, read before the list was: a change made in between
    /// is in the list already, and the next request sees a newer marker and reads again.
    pub fn put(&self, marker: Marker, json: Bytes) {
        if let Ok(mut entry) = self.entry.lock() {
            *entry = Some((marker, json));
        }
    }
}
