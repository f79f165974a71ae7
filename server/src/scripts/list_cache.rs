//! The whole script list (`GET /api/scripts` without filters), kept between requests while
//! nothing it shows has changed, and after a change brought up to date by reading only the
//! scripts that changed. Whether something changed is asked of the database on every request
//! (a few index seeks), so several instances sharing one database never serve stale lists.
//!
//! The marker covers everything a row shows: scripts added or removed (their count), edited,
//! re-tagged or switched on/off (their newest `updated_at`), and runs queued (the newest id),
//! started (the newest `started_at`) or ended (the newest `finished_at`). A change of a run's
//! status must therefore set `started_at` or `finished_at`, as every transition does; and a
//! script's newest run is only ever deleted with its script (a deletion is seen through the
//! count): retention deletes older runs only, which no row shows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::model::ScriptSummary;
use axum::body::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, Statement};

use super::service::{self, ScriptFilter};
use super::ScriptError;
use crate::db::entities::{execution, script};

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

/// How many changed scripts a refresh reads row by row before reading the whole list is cheaper.
const REFRESH_MAX: usize = 500;

struct Cached {
    marker: Marker,
    list: Vec<ScriptSummary>,
    json: Bytes,
}

#[derive(Default)]
pub struct ListCache {
    entry: Mutex<Option<Arc<Cached>>>,
}

impl ListCache {
    /// The whole list as JSON: as kept while the marker is unchanged; after a change, the kept
    /// list with the changed scripts read again (or all of it, after a deletion or a large change).
    pub async fn whole_list(&self, db: &DatabaseConnection) -> Result<Bytes, ScriptError> {
        // Read before the list: a change made in between is in the list already, and the next
        // request sees a newer marker and reads again.
        let marker = marker(db).await?;
        let kept = self.entry.lock().ok().and_then(|entry| entry.clone());
        if let Some(kept) = kept.as_ref().filter(|kept| kept.marker == marker) {
            return Ok(kept.json.clone());
        }
        let refreshed = match &kept {
            Some(kept) => refresh(db, kept, &marker).await?,
            None => None,
        };
        let list = match refreshed {
            Some(list) => list,
            None => service::list(db, &ScriptFilter::default()).await?,
        };
        let json = Bytes::from(serde_json::to_vec(&list).map_err(|err| ScriptError::Encode(err.to_string()))?);
        if let Ok(mut entry) = self.entry.lock() {
            *entry = Some(Arc::new(Cached { marker, list, json: json.clone() }));
        }
        Ok(json)
    }
}

/// The kept list with the scripts that changed since its marker read again; `None` when only a
/// full read will do (a script was deleted, or too many changed).
async fn refresh(db: &DatabaseConnection, kept: &Cached, now: &Marker) -> Result<Option<Vec<ScriptSummary>>, ScriptError> {
    let Some(since) = kept.marker.scripts_changed else { return Ok(None) };
    let mut changed = Query::select();
    changed.column(script::Column::Id).from(script::Entity).and_where(Expr::col(script::Column::UpdatedAt).gte(since));
    let mut ran = Query::select();
    let mut any = Condition::any();
    any = match kept.marker.newest_run {
        Some(id) => any.add(Expr::col(execution::Column::Id).gt(id)),
        None => any.add(Expr::col(execution::Column::Id).is_not_null()),
    };
    any = match kept.marker.newest_start {
        Some(at) => any.add(Expr::col(execution::Column::StartedAt).gte(at)),
        None => any.add(Expr::col(execution::Column::StartedAt).is_not_null()),
    };
    any = match kept.marker.newest_end {
        Some(at) => any.add(Expr::col(execution::Column::FinishedAt).gte(at)),
        None => any.add(Expr::col(execution::Column::FinishedAt).is_not_null()),
    };
    ran.distinct().column(execution::Column::ScriptId).from(execution::Entity).cond_where(any);
    let backend = db.get_database_backend();
    let mut ids: Vec<i64> = Vec::new();
    for query in [changed, ran] {
        let rows = db.query_all(backend.build(&query)).await?;
        for row in rows {
            ids.push(row.try_get_by_index(0)?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > REFRESH_MAX {
        return Ok(None);
    }
    let fresh = if ids.is_empty() { Vec::new() } else { service::list(db, &ScriptFilter { ids: Some(ids), ..Default::default() }).await? };
    let mut list = kept.list.clone();
    let at: HashMap<i64, usize> = list.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    for script in fresh {
        match at.get(&script.id) {
            Some(&i) => list[i] = script,
            None => list.push(script),
        }
    }
    // Without a deletion, the count adds up; a deleted script is only seen this way.
    if i64::try_from(list.len()).ok() != Some(now.scripts) {
        return Ok(None);
    }
    // The byte order of names, as the database sorts them (see `service::list`).
    list.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(Some(list))
}
