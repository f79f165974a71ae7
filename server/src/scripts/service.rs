//! The rules and queries of scripts. Every write runs in one transaction, so a refused change
//! leaves nothing half-written.

use std::path::Path;

use app::model::{LastExecution, NewScript, Script, ScriptSummary, ScriptUpdate, TagCount};
use app::validate;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, LikeExpr, OnConflict, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait, Set, Statement,
};

use super::ScriptError;
use crate::auth::users::is_unique_violation;
use crate::db::entities::{script, script_tag, tag};

/// Filters of the list; all given ones must hold.
#[derive(Debug, Default, Clone)]
pub struct ScriptFilter {
    /// Part of the name, any case.
    pub q: Option<String>,
    /// Tags the script must all carry.
    pub tags: Vec<String>,
    pub active: Option<bool>,
    /// At most this many, after skipping `offset` (by name).
    pub limit: Option<u64>,
    pub offset: u64,
    /// Only these scripts (the list cache refreshing the rows that changed).
    pub ids: Option<Vec<i64>>,
}

impl ScriptFilter {
    /// Every script, unfiltered and unpaged.
    pub fn is_whole_list(&self) -> bool {
        self.limit.is_none() && self.offset == 0 && self.q.is_none() && self.tags.is_empty() && self.active.is_none() && self.ids.is_none()
    }
}

/// Stored times are cut to microseconds, the precision of PostgreSQL, so the `updated_at` a
/// client sends back compares equal to the stored one on both backends.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// One row of the list query: the script, its tags joined by commas, its newest run.
#[derive(Debug, FromQueryResult)]
struct SummaryRow {
    id: i64,
    name: String,
    description: String,
    is_active: bool,
    updated_at: DateTime<Utc>,
    takes_inputs: bool,
    tags: Option<String>,
    last_id: Option<i64>,
    last_status: Option<String>,
    last_queued_at: Option<DateTime<Utc>>,
    last_finished_at: Option<DateTime<Utc>>,
}

/// The list in one query, one row per script, with its tags joined by commas and its newest
/// run. The filtered, ordered, paged scripts come first as a subquery; a page or a filtered
/// view then looks up tags and runs per row (index seeks, only for its rows), while the whole
/// list joins them in bulk, which is what scales to tens of thousands of scripts on both
/// backends.
pub async fn list(db: &DatabaseConnection, filter: &ScriptFilter) -> Result<Vec<ScriptSummary>, ScriptError> {
    let backend = db.get_database_backend();
    // Names sort by their bytes on both backends (SQLite's default), so every view and the list
    // cache agree on the order.
    let (join_names, by_name) = match backend {
        DbBackend::Postgres => ("string_agg(t.name, ',')", "name COLLATE \"C\""),
        _ => ("group_concat(t.name, ',')", "name"),
    };
    let mut scripts = Query::select();
    scripts
        .columns([
            script::Column::Id,
            script::Column::Name,
            script::Column::Description,
            script::Column::IsActive,
            script::Column::UpdatedAt,
        ])
        // From the stored report's JSON as serde writes it: no input is `"inputs":[]`.
        .expr_as(Expr::cust("(inputs IS NOT NULL AND inputs NOT LIKE '%\"inputs\":[]%')"), Alias::new("takes_inputs"))
        .from(script::Entity)
        .order_by_expr(Expr::cust(by_name), Order::Asc);
    if let Some(ids) = &filter.ids {
        scripts.and_where(Expr::col(script::Column::Id).is_in(ids.iter().copied()));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        scripts.and_where(Expr::expr(Func::lower(Expr::col(script::Column::Name))).like(LikeExpr::new(pattern).escape('\\')));
    }
    for name in &filter.tags {
        let carriers = Query::select()
            .column((script_tag::Entity, script_tag::Column::ScriptId))
            .from(script_tag::Entity)
            .inner_join(tag::Entity, Expr::col((tag::Entity, tag::Column::Id)).equals((script_tag::Entity, script_tag::Column::TagId)))
            .and_where(Expr::col((tag::Entity, tag::Column::Name)).eq(name.trim().to_lowercase()))
            .to_owned();
        scripts.and_where(Expr::col(script::Column::Id).in_subquery(carriers));
    }
    if let Some(active) = filter.active {
        scripts.and_where(Expr::col(script::Column::IsActive).eq(active));
    }
    if let Some(limit) = filter.limit {
        scripts.limit(limit).offset(filter.offset);
    } else if filter.offset > 0 {
        // Both backends need a LIMIT to take an OFFSET; this one means "no limit".
        scripts.limit(i64::MAX as u64).offset(filter.offset);
    }
    let inner = backend.build(&scripts);
    let tags_of_s = format!("(SELECT {join_names} FROM script_tags st JOIN tags t ON t.id = st.tag_id WHERE st.script_id = s.id)");
    // Per-row lookups for a page or a filtered view (few rows); bulk joins for the whole list.
    let sql = if !filter.is_whole_list() {
        format!(
            "SELECT s.id, s.name, s.description, s.is_active, s.updated_at, s.takes_inputs, {tags_of_s} AS tags, e.id AS last_id, \
               e.status AS last_status, e.queued_at AS last_queued_at, e.finished_at AS last_finished_at \
             FROM ({}) s \
             LEFT JOIN executions e ON e.id = (SELECT MAX(x.id) FROM executions x WHERE x.script_id = s.id) \
             ORDER BY s.{by_name}",
            inner.sql
        )
    } else {
        format!(
            "SELECT s.id, s.name, s.description, s.is_active, s.updated_at, s.takes_inputs, tg.tags, e.id AS last_id, \
               e.status AS last_status, e.queued_at AS last_queued_at, e.finished_at AS last_finished_at \
             FROM ({}) s \
             LEFT JOIN (SELECT script_id, MAX(id) AS id FROM executions GROUP BY script_id) lx ON lx.script_id = s.id \
             LEFT JOIN executions e ON e.id = lx.id \
             LEFT JOIN (SELECT st.script_id, {join_names} AS tags FROM script_tags st JOIN tags t ON t.id = st.tag_id \
                        GROUP BY st.script_id) tg ON tg.script_id = s.id \
             ORDER BY s.{by_name}",
            inner.sql
        )
    };
    let values = inner.values.map(|v| v.0).unwrap_or_default();
    let statement = Statement::from_sql_and_values(backend, sql, values);
    let rows = SummaryRow::find_by_statement(statement).all(db).await?;
    Ok(rows.into_iter().map(summary).collect())
}

fn summary(row: SummaryRow) -> ScriptSummary {
    let mut tags: Vec<String> = row.tags.as_deref().unwrap_or_default().split(',').filter(|t| !t.is_empty()).map(str::to_string).collect();
    tags.sort_unstable();
    let last_execution = match (row.last_id, row.last_status.as_deref().map(str::parse), row.last_queued_at) {
        (Some(id), Some(Ok(status)), Some(queued_at)) => Some(LastExecution { id, status, queued_at, finished_at: row.last_finished_at }),
        _ => None,
    };
    ScriptSummary {
        id: row.id,
        name: row.name,
        description: row.description,
        is_active: row.is_active,
        tags,
        last_execution,
        takes_inputs: row.takes_inputs,
        updated_at: row.updated_at,
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Script, ScriptError> {
    let model = script::Entity::find_by_id(id).one(db).await?.ok_or(ScriptError::NotFound(id))?;
    let tags: Vec<String> = script_tag::Entity::find()
        .select_only()
        .column(tag::Column::Name)
        .join(JoinType::InnerJoin, script_tag::Relation::Tag.def())
        .filter(script_tag::Column::ScriptId.eq(id))
        .order_by_asc(tag::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Script {
        id: model.id,
        name: model.name,
        description: model.description,
        content: model.content,
        is_active: model.is_active,
        tags,
        timeout_seconds: model.timeout_seconds.and_then(|s| u32::try_from(s).ok()),
        network: model.network,
        inputs: crate::executions::inputs::stored_report(model.inputs.as_deref()),
        created_at: model.created_at,
        updated_at: model.updated_at,
    })
}

/// `inputs`: what its code takes (`InputsReport` as JSON), read by the caller; `None`: unread.
pub async fn create(db: &DatabaseConnection, new: NewScript, inputs: Option<String>) -> Result<Script, ScriptError> {
    let name = validate::script_name(&new.name)?;
    let description = validate::description(&new.description)?;
    validate::content(&new.content)?;
    let tags = validate::tags(&new.tags)?;
    let timeout = validate::timeout(new.timeout_seconds)?;
    let txn = crate::db::begin_write(db).await?;
    ensure_name_free(&txn, &name, None).await?;
    let at = now();
    let model = script::ActiveModel {
        name: Set(name.clone()),
        description: Set(description),
        content: Set(new.content),
        is_active: Set(new.is_active),
        timeout_seconds: Set(timeout.and_then(|s| i32::try_from(s).ok())),
        network: Set(new.network),
        inputs: Set(inputs),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(|err| name_conflict(err, &name))?;
    set_tags(&txn, model.id, &tags).await?;
    let script = get(&txn, model.id).await?;
    txn.commit().await?;
    Ok(script)
}

/// `inputs`: with a new `content`, what it takes (as for `create`).
pub async fn update(db: &DatabaseConnection, id: i64, change: ScriptUpdate, inputs: Option<String>) -> Result<Script, ScriptError> {
    let name = change.name.as_deref().map(validate::script_name).transpose()?;
    let description = change.description.as_deref().map(validate::description).transpose()?;
    if let Some(content) = &change.content {
        validate::content(content)?;
    }
    let tags = change.tags.as_deref().map(validate::tags).transpose()?;
    let timeout = change.timeout_seconds.map(validate::timeout).transpose()?;

    let txn = crate::db::begin_write(db).await?;
    let current = script::Entity::find_by_id(id).one(&txn).await?.ok_or(ScriptError::NotFound(id))?;
    if current.updated_at != change.updated_at {
        return Err(ScriptError::Stale(current.updated_at.to_rfc3339()));
    }
    if let Some(name) = &name {
        ensure_name_free(&txn, name, Some(id)).await?;
    }
    let mut model: script::ActiveModel = current.into();
    if let Some(name) = name.clone() {
        model.name = Set(name);
    }
    if let Some(description) = description {
        model.description = Set(description);
    }
    if let Some(content) = change.content {
        model.content = Set(content);
        model.inputs = Set(inputs);
    }
    if let Some(active) = change.is_active {
        model.is_active = Set(active);
    }
    if let Some(timeout) = timeout {
        model.timeout_seconds = Set(timeout.and_then(|s| i32::try_from(s).ok()));
    }
    if let Some(network) = change.network {
        model.network = Set(network);
    }
    model.updated_at = Set(now());
    // The version check again, inside the write: a concurrent save between our read and this
    // update matches no row and is reported as stale instead of being overwritten.
    let written = script::Entity::update_many()
        .set(model)
        .filter(script::Column::Id.eq(id))
        .filter(script::Column::UpdatedAt.eq(change.updated_at))
        .exec(&txn)
        .await
        .map_err(|err| name_conflict(err, name.as_deref().unwrap_or_default()))?;
    if written.rows_affected == 0 {
        return Err(ScriptError::Stale(change.updated_at.to_rfc3339()));
    }
    if let Some(tags) = tags {
        set_tags(&txn, id, &tags).await?;
    }
    let script = get(&txn, id).await?;
    txn.commit().await?;
    Ok(script)
}

/// Deletes the script; the database cascades to its tags, dependencies, schedules, runs and
/// logs; its directory (venv, working directories) under the data dir goes too.
pub async fn delete(db: &DatabaseConnection, data_dir: &Path, id: i64) -> Result<(), ScriptError> {
    let txn = crate::db::begin_write(db).await?;
    let carried: Vec<i64> = script_tag::Entity::find()
        .select_only()
        .column(script_tag::Column::TagId)
        .filter(script_tag::Column::ScriptId.eq(id))
        .into_tuple()
        .all(&txn)
        .await?;
    let deleted = script::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(ScriptError::NotFound(id));
    }
    drop_orphan_tags(&txn, carried).await?;
    txn.commit().await?;
    let dir = script_dir(data_dir, id);
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ScriptError::Files { path: dir.display().to_string(), source }),
    }
}

/// Where a script's files live: `<data dir>/scripts/<id>`.
pub fn script_dir(data_dir: &Path, id: i64) -> std::path::PathBuf {
    data_dir.join("scripts").join(id.to_string())
}

pub async fn tag_counts(db: &DatabaseConnection) -> Result<Vec<TagCount>, ScriptError> {
    let rows: Vec<(String, i64)> = tag::Entity::find()
        .select_only()
        .column(tag::Column::Name)
        .column_as(Expr::col((script_tag::Entity, script_tag::Column::ScriptId)).count(), "count")
        .join_rev(JoinType::InnerJoin, script_tag::Relation::Tag.def())
        .group_by(tag::Column::Name)
        .order_by_asc(tag::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(name, count)| TagCount { name, count: u64::try_from(count).unwrap_or(0) }).collect())
}

async fn ensure_name_free(db: &impl ConnectionTrait, name: &str, except: Option<i64>) -> Result<(), ScriptError> {
    let mut query = script::Entity::find().filter(script::Column::Name.eq(name));
    if let Some(id) = except {
        query = query.filter(script::Column::Id.ne(id));
    }
    match query.one(db).await? {
        Some(_) => Err(ScriptError::NameTaken(name.to_string())),
        None => Ok(()),
    }
}

/// Two creations of one name at once: the unique index decides, the loser hears why.
fn name_conflict(err: sea_orm::DbErr, name: &str) -> ScriptError {
    if is_unique_violation(&err) {
        ScriptError::NameTaken(name.to_string())
    } else {
        err.into()
    }
}

async fn set_tags(db: &impl ConnectionTrait, script_id: i64, tags: &[String]) -> Result<(), ScriptError> {
    let before: Vec<i64> = script_tag::Entity::find()
        .select_only()
        .column(script_tag::Column::TagId)
        .filter(script_tag::Column::ScriptId.eq(script_id))
        .into_tuple()
        .all(db)
        .await?;
    script_tag::Entity::delete_many().filter(script_tag::Column::ScriptId.eq(script_id)).exec(db).await?;
    // In name order: concurrent writers then lock tag rows in one order and cannot deadlock.
    let mut names: Vec<&String> = tags.iter().collect();
    names.sort_unstable();
    for name in names {
        tag::Entity::insert(tag::ActiveModel { name: Set(name.clone()), ..Default::default() })
            .on_conflict(OnConflict::column(tag::Column::Name).do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
        let Some(found) = tag::Entity::find().filter(tag::Column::Name.eq(name)).one(db).await? else {
            continue;
        };
        script_tag::ActiveModel { script_id: Set(script_id), tag_id: Set(found.id) }.insert(db).await?;
    }
    drop_orphan_tags(db, before).await
}

/// Tags no script carries any more are forgotten, so suggestions stay relevant. Only `among`
/// (the tags a script just dropped) are looked at, which keeps writers on other tags out of
/// each other's way.
async fn drop_orphan_tags(db: &impl ConnectionTrait, among: Vec<i64>) -> Result<(), ScriptError> {
    if among.is_empty() {
        return Ok(());
    }
    let used = Query::select().column(script_tag::Column::TagId).from(script_tag::Entity).to_owned();
    tag::Entity::delete_many().filter(tag::Column::Id.is_in(among)).filter(tag::Column::Id.not_in_subquery(used)).exec(db).await?;
    Ok(())
}
