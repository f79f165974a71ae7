//! Variables and secrets in the database: always sealed (`crypto`), listed without a secret's
//! value, and opened only for a run (`for_run`), a variable's reader, the start's key check and
//! `rotate`.

use app::model::env::{name_problem, value_problem, PER_SCOPE_MAX};
use app::model::{EnvScope, EnvValue, EnvVar};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait};
use zeroize::Zeroizing;

use super::crypto::{aad, SecretKey};
use super::EnvError;
use crate::db::entities::{env_var, script};

/// The server's own entry: a value sealed with the key at first start, so an instance given
/// another key stops at start even when no variable is set yet.
const KEY_SCOPE: &str = "pytask:key";
const KEY_CHECK: &str = "KEY_CHECK";

/// Where an entry applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Script(i64),
}

impl Scope {
    /// Its `env_vars.scope`.
    pub fn key(self) -> String {
        match self {
            Scope::Global => "global".into(),
            Scope::Script(id) => format!("script:{id}"),
        }
    }

    fn script_id(self) -> Option<i64> {
        match self {
            Scope::Global => None,
            Scope::Script(id) => Some(id),
        }
    }

    fn api(self) -> EnvScope {
        match self {
            Scope::Global => EnvScope::Global,
            Scope::Script(_) => EnvScope::Script,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Global => f.write_str("global"),
            Scope::Script(id) => write!(f, "script {id}"),
        }
    }
}

/// What a run is given: its variables and secrets by name (a script's own over a global's), and
/// the secret values its output is masked for.
#[derive(Default)]
pub struct RunEnv {
    pub vars: Vec<(String, Zeroizing<String>)>,
    pub secrets: Vec<Zeroizing<String>>,
}

impl RunEnv {
    /// Bytes the entries take in a process environment (`NAME=value\0` each).
    pub fn size(&self) -> usize {
        self.vars.iter().map(|(name, value)| name.len() + value.len() + 2).sum()
    }
}

/// The value of a row, opened with `key`; an error naming the entry when it does not open.
fn open(key: &SecretKey, row: &env_var::Model) -> Result<Zeroizing<String>, EnvError> {
    let undecryptable = || EnvError::Undecryptable { name: row.name.clone(), scope: row.scope.clone(), key: key.path.clone() };
    let bytes = key.open(&aad(&row.scope, &row.name, row.secret), &row.sealed).ok_or_else(undecryptable)?;
    String::from_utf8(bytes.to_vec()).map(Zeroizing::new).map_err(|_| undecryptable())
}

fn to_api(key: &SecretKey, scope: Scope, row: &env_var::Model) -> Result<EnvVar, EnvError> {
    let value = if row.secret { None } else { Some(open(key, row)?.to_string()) };
    Ok(EnvVar {
        name: row.name.clone(),
        scope: scope.api(),
        secret: row.secret,
        value,
        set_by: row.set_by.clone(),
        set_at: row.set_at,
        overridden: false,
    })
}

async fn rows(db: &impl ConnectionTrait, scope: Scope) -> Result<Vec<env_var::Model>, EnvError> {
    Ok(env_var::Entity::find().filter(env_var::Column::Scope.eq(scope.key())).order_by_asc(env_var::Column::Name).all(db).await?)
}

async fn script_exists(db: &impl ConnectionTrait, id: i64) -> Result<(), EnvError> {
    match script::Entity::find_by_id(id).count(db).await? {
        0 => Err(EnvError::ScriptNotFound(id)),
        _ => Ok(()),
    }
}

/// The entries of a scope; for a script, its own then the globals (those it replaces marked
/// `overridden`).
pub async fn list(db: &impl ConnectionTrait, key: &SecretKey, scope: Scope) -> Result<Vec<EnvVar>, EnvError> {
    let mut list = Vec::new();
    if let Scope::Script(id) = scope {
        script_exists(db, id).await?;
        for row in rows(db, scope).await? {
            list.push(to_api(key, scope, &row)?);
        }
    }
    for row in rows(db, Scope::Global).await? {
        let mut global = to_api(key, Scope::Global, &row)?;
        global.overridden = list.iter().any(|own| own.scope == EnvScope::Script && own.name == global.name);
        list.push(global);
    }
    Ok(list)
}

/// Sets or replaces an entry; `by` is who did it.
pub async fn set(
    db: &impl ConnectionTrait,
    key: &SecretKey,
    scope: Scope,
    name: &str,
    value: EnvValue,
    by: &str,
) -> Result<EnvVar, EnvError> {
    if let Some(problem) = name_problem(name) {
        return Err(EnvError::Invalid { field: "name", message: problem });
    }
    if let Some(problem) = value_problem(&value.value, value.secret) {
        return Err(EnvError::Invalid { field: "value", message: problem });
    }
    if let Some(id) = scope.script_id() {
        script_exists(db, id).await?;
    }
    let held =
        env_var::Entity::find().filter(env_var::Column::Scope.eq(scope.key())).filter(env_var::Column::Name.ne(name)).count(db).await?;
    if held >= PER_SCOPE_MAX as u64 {
        return Err(EnvError::Invalid {
            field: "name",
            message: format!("{scope} holds {PER_SCOPE_MAX} variables and secrets already, the most it may; delete one first"),
        });
    }
    let secret = value.secret;
    let value = Zeroizing::new(value.value);
    let scope_key = scope.key();
    let row = env_var::ActiveModel {
        scope: Set(scope_key.clone()),
        script_id: Set(scope.script_id()),
        name: Set(name.to_string()),
        secret: Set(secret),
        sealed: Set(key.seal(&aad(&scope_key, name, secret), value.as_bytes())),
        set_by: Set(by.to_string()),
        set_at: Set(Utc::now()),
        ..Default::default()
    };
    // One statement: two instances setting the same name at once leave one entry, the later.
    env_var::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([env_var::Column::Scope, env_var::Column::Name])
                .update_columns([env_var::Column::Secret, env_var::Column::Sealed, env_var::Column::SetBy, env_var::Column::SetAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(EnvVar {
        name: name.to_string(),
        scope: scope.api(),
        secret,
        value: (!secret).then(|| value.to_string()),
        set_by: by.to_string(),
        set_at: Utc::now(),
        overridden: false,
    })
}

/// Deletes an entry.
pub async fn delete(db: &impl ConnectionTrait, scope: Scope, name: &str) -> Result<(), EnvError> {
    if let Some(id) = scope.script_id() {
        script_exists(db, id).await?;
    }
    let deleted = env_var::Entity::delete_many()
        .filter(env_var::Column::Scope.eq(scope.key()))
        .filter(env_var::Column::Name.eq(name))
        .exec(db)
        .await?;
    match deleted.rows_affected {
        0 => Err(EnvError::NotFound { scope, name: name.to_string() }),
        _ => Ok(()),
    }
}

/// Everything a run of the script gets, opened now (at its start, so a change made a moment
/// before is in it). An entry that does not open fails the run: never a run with a value missing.
pub async fn for_run(db: &impl ConnectionTrait, key: &SecretKey, script_id: i64) -> Result<RunEnv, EnvError> {
    let own = Scope::Script(script_id).key();
    let rows = env_var::Entity::find()
        .filter(env_var::Column::Scope.is_in([Scope::Global.key(), own.clone()]))
        .order_by_asc(env_var::Column::Name)
        .all(db)
        .await?;
    let mut env = RunEnv::default();
    for row in &rows {
        // A name refused today (the rules may have grown) is not given, whatever the database says.
        if name_problem(&row.name).is_some() || (row.scope != own && rows.iter().any(|r| r.scope == own && r.name == row.name)) {
            continue;
        }
        let value = open(key, row)?;
        if row.secret {
            env.secrets.push(value.clone());
        }
        env.vars.push((row.name.clone(), value));
    }
    Ok(env)
}

/// At start: the key opens every entry (and the key check, written now if this is the first
/// start with a key). How many entries there are.
pub async fn verify(db: &impl ConnectionTrait, key: &SecretKey) -> Result<usize, EnvError> {
    let check = env_var::ActiveModel {
        scope: Set(KEY_SCOPE.into()),
        script_id: Set(None),
        name: Set(KEY_CHECK.into()),
        secret: Set(true),
        sealed: Set(key.seal(&aad(KEY_SCOPE, KEY_CHECK, true), b"pytask")),
        set_by: Set("system".into()),
        set_at: Set(Utc::now()),
        ..Default::default()
    };
    // Two instances starting at once: the first one's check stays, and the other's key must open it.
    env_var::Entity::insert(check)
        .on_conflict(OnConflict::columns([env_var::Column::Scope, env_var::Column::Name]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    let rows = env_var::Entity::find().all(db).await?;
    for row in &rows {
        open(key, row)?;
    }
    Ok(rows.len().saturating_sub(1))
}

/// Re-seals every entry with `new`, in one transaction: all of them or none. How many.
pub async fn rotate(db: &impl TransactionTrait, old: &SecretKey, new: &SecretKey) -> Result<usize, EnvError> {
    let txn = db.begin().await?;
    let rows = env_var::Entity::find().all(&txn).await?;
    for row in &rows {
        let value = open(old, row)?;
        let sealed = new.seal(&aad(&row.scope, &row.name, row.secret), value.as_bytes());
        env_var::Entity::update_many()
            .col_expr(env_var::Column::Sealed, sea_orm::sea_query::Expr::value(sealed))
            .filter(env_var::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(rows.len())
}
