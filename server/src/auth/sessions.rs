//! Browser sessions, stored in the database so every instance knows them. The cookie holds a
//! random secret; the table holds its digest.

use app::model::UserInfo;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::{secret, AuthError};
use crate::config::Config;
use crate::db::entities::{session, user};

/// The cookie's name over http. Over https it is `__Host-pytask_session`: browsers then keep it
/// only if it is `Secure`, `Path=/` and has no `Domain`, so no subdomain can plant or widen it.
pub const COOKIE: &str = "pytask_session";
pub const HOST_COOKIE: &str = "__Host-pytask_session";

/// Writing `last_seen_at` on every request would make each read a write; once a minute is enough.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// The cookie's name under this configuration.
pub fn cookie_name(config: &Config) -> &'static str {
    if config.public_url.as_ref().is_some_and(|url| url.https) {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

/// `--session-idle-minutes`, 0 meaning none.
pub fn idle_timeout(config: &Config) -> Option<Duration> {
    (config.session_idle_minutes > 0).then(|| Duration::minutes(i64::from(config.session_idle_minutes)))
}

pub struct NewSession {
    pub secret: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn create(db: &DatabaseConnection, user_id: i64, ttl: Duration) -> Result<NewSession, AuthError> {
    let secret = secret::new_secret("ps");
    let now = Utc::now();
    let expires_at = now + ttl;
    session::ActiveModel {
        id: Set(secret::digest(&secret)),
        user_id: Set(user_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_seen_at: Set(now),
    }
    .insert(db)
    .await?;
    // Expired sessions of anyone are pruned here, so the table cannot grow without bound.
    session::Entity::delete_many().filter(session::Column::ExpiresAt.lt(now)).exec(db).await?;
    Ok(NewSession { secret, expires_at })
}

/// The active user of a live session, by the cookie's secret. A session unused for longer
/// than `idle` (when given) has ended, and is deleted.
pub async fn user_of(db: &DatabaseConnection, secret: &str, idle: Option<Duration>) -> Result<Option<(UserInfo, String)>, AuthError> {
    let digest = secret::digest(secret);
    let Some((found, Some(owner))) = session::Entity::find_by_id(digest.clone()).find_also_related(user::Entity).one(db).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if found.expires_at <= now || !owner.is_active {
        return Ok(None);
    }
    if idle.is_some_and(|idle| now - found.last_seen_at > idle) {
        end(db, &digest).await?;
        return Ok(None);
    }
    // A short idle timeout needs fresher marks than once a minute, or a busy session would
    // look idle between two of them.
    let touch_every = idle.map_or(TOUCH_EVERY, |idle| TOUCH_EVERY.min(idle / 4));
    if now - found.last_seen_at > touch_every {
        let mut touched: session::ActiveModel = found.into();
        touched.last_seen_at = Set(now);
        touched.update(db).await?;
    }
    Ok(Some((owner.into(), digest)))
}

/// The session a cookie secret names, ended (sign-in replaces the session the browser had).
pub async fn end_by_secret(db: &DatabaseConnection, secret: &str) -> Result<(), AuthError> {
    end(db, &secret::digest(secret)).await
}

pub async fn end(db: &DatabaseConnection, digest: &str) -> Result<(), AuthError> {
    session::Entity::delete_by_id(digest.to_string()).exec(db).await?;
    Ok(())
}
