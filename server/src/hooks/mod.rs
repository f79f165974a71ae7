//! Webhook triggers (issue #25): per script, any number of named URLs `POST /api/hooks/{token}`
//! that start a run with the request's JSON body as its inputs. The token is the only
//! credential: shown once when the hook is made, stored as its SHA-256, revocable; it reaches
//! nothing but that one script's runs (no session, no CSRF check, no other route takes it).
//! Each hook is rate-limited on its own, so a leaked URL cannot flood the queue.

pub mod routes;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::model::{CreatedHook, Hook};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};

use crate::auth::secret;
use crate::config::PublicUrl;
use crate::db::entities::{script, webhook};
use crate::http::error::ApiError;

/// Runs one hook may start per `WINDOW` on one instance.
pub const RATE: u32 = 30;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Hooks one script may have.
const MAX_PER_SCRIPT: u64 = 50;
const NAME_MAX: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("there is no script {0}")]
    ScriptNotFound(i64),
    #[error("script {script_id} has no hook {id}")]
    NotFound { script_id: i64, id: i64 },
    /// Any token that is not a hook's, with nothing said of why.
    #[error("no hook has this URL (it may have been revoked)")]
    UnknownToken,
    #[error("the script already has a hook named `{0}`")]
    NameTaken(String),
    #[error("a script may have {MAX_PER_SCRIPT} hooks; revoke some first")]
    TooMany,
    #[error(transparent)]
    Invalid(#[from] app::validate::Invalid),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<HookError> for ApiError {
    fn from(err: HookError) -> Self {
        match err {
            HookError::ScriptNotFound(_) | HookError::NotFound { .. } | HookError::UnknownToken => ApiError::NotFound(err.to_string()),
            HookError::NameTaken(_) | HookError::TooMany => ApiError::Conflict(err.to_string()),
            HookError::Invalid(invalid) => invalid.into(),
            HookError::Db(db) => ApiError::internal(db),
        }
    }
}

fn to_api(model: webhook::Model) -> Hook {
    Hook {
        id: model.id,
        script_id: model.script_id,
        name: model.name,
        prefix: model.prefix,
        created_by: model.created_by,
        created_at: model.created_at,
        last_used_at: model.last_used_at,
    }
}

/// Where a hook's token is sent: under `--public-url` when it is set, else as a path.
pub fn hook_url(public: Option<&PublicUrl>, token: &str) -> String {
    format!("{}/api/hooks/{token}", origin(public))
}

/// A run's page, as a hook's caller is told it.
pub fn run_url(public: Option<&PublicUrl>, id: i64) -> String {
    format!("{}/executions/{id}", origin(public))
}

fn origin(public: Option<&PublicUrl>) -> String {
    public.map(|p| format!("{}://{}", if p.https { "https" } else { "http" }, p.authority)).unwrap_or_default()
}

fn checked_name(raw: &str) -> Result<String, app::validate::Invalid> {
    let invalid = |message: &str| app::validate::Invalid { field: "name", message: message.to_string() };
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("give the hook a name, e.g. the service that calls it"));
    }
    if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(invalid("a hook name has 1 to 100 characters, none of them control characters"));
    }
    Ok(name.to_string())
}

async fn script_exists(db: &DatabaseConnection, script_id: i64) -> Result<(), HookError> {
    match script::Entity::find_by_id(script_id).count(db).await? {
        0 => Err(HookError::ScriptNotFound(script_id)),
        _ => Ok(()),
    }
}

pub async fn list(db: &DatabaseConnection, script_id: i64) -> Result<Vec<Hook>, HookError> {
    script_exists(db, script_id).await?;
    let rows = webhook::Entity::find().filter(webhook::Column::ScriptId.eq(script_id)).order_by_asc(webhook::Column::Id).all(db).await?;
    Ok(rows.into_iter().map(to_api).collect())
}

pub async fn create(
    db: &DatabaseConnection,
    public: Option<&PublicUrl>,
    script_id: i64,
    name: &str,
    by: &str,
) -> Result<CreatedHook, HookError> {
    let name = checked_name(name)?;
    script_exists(db, script_id).await?;
    if webhook::Entity::find().filter(webhook::Column::ScriptId.eq(script_id)).count(db).await? >= MAX_PER_SCRIPT {
        return Err(HookError::TooMany);
    }
    let token = secret::new_secret("ph");
    let model = webhook::ActiveModel {
        script_id: Set(script_id),
        name: Set(name.clone()),
        token_hash: Set(secret::digest(&token)),
        prefix: Set(token.chars().take(10).collect()),
        created_by: Set(by.to_string()),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| if crate::auth::users::is_unique_violation(&err) { HookError::NameTaken(name) } else { err.into() })?;
    let url = hook_url(public, &token);
    Ok(CreatedHook { hook: to_api(model), token, url })
}

pub async fn revoke(db: &DatabaseConnection, script_id: i64, id: i64) -> Result<(), HookError> {
    let deleted =
        webhook::Entity::delete_many().filter(webhook::Column::Id.eq(id)).filter(webhook::Column::ScriptId.eq(script_id)).exec(db).await?;
    match deleted.rows_affected {
        0 => Err(HookError::NotFound { script_id, id }),
        _ => Ok(()),
    }
}

/// The hook a token belongs to, its last use recorded.
pub async fn by_token(db: &DatabaseConnection, token: &str) -> Result<webhook::Model, HookError> {
    // Looked up by digest: the token is compared by the database's index, not by us.
    let hook = webhook::Entity::find()
        .filter(webhook::Column::TokenHash.eq(secret::digest(token)))
        .one(db)
        .await?
        .ok_or(HookError::UnknownToken)?;
    webhook::Entity::update_many()
        .col_expr(webhook::Column::LastUsedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(webhook::Column::Id.eq(hook.id))
        .exec(db)
        .await?;
    Ok(hook)
}

/// Each hook's count of runs in its current window, on this instance.
#[derive(Default)]
pub struct HookLimits {
    windows: Mutex<HashMap<i64, (Instant, u32)>>,
}

impl HookLimits {
    /// `Ok` if hook `id` may start a run now; else how long until it may.
    pub fn take(&self, id: i64) -> Result<(), Duration> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded by the hooks that exist (the token was checked first); old windows go.
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, count) = windows.entry(id).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *count) = (now, 0);
        }
        if *count >= RATE {
            return Err(WINDOW.saturating_sub(now.duration_since(*start)));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_gets_its_rate_and_no_more_and_others_are_not_affected() {
        let limits = HookLimits::default();
        for _ in 0..RATE {
            assert!(limits.take(1).is_ok());
        }
        let wait = limits.take(1).unwrap_err();
        assert!(wait <= WINDOW && wait > Duration::ZERO);
        assert!(limits.take(2).is_ok());
    }

    #[test]
    fn urls_follow_the_public_url() {
        assert_eq!(hook_url(None, "ph_x"), "/api/hooks/ph_x");
        let public = PublicUrl { https: true, authority: "tasks.example.com".into() };
        assert_eq!(run_url(Some(&public), 7), "https://tasks.example.com/executions/7");
    }
}
