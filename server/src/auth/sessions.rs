//! Browser sessions, stored in the database so every instance knows them. The cookie holds a
//! random secret; the table holds its digest.

use app::model::UserInfo;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::{secret, AuthError};
use crate::db::entities::{session, user};

pub const COOKIE: &str = "pytask_session";

/// Writing `last_seen_at` on every request would make each read a write; once a minute is enough.
const TOUCH_EVERY: Duration = Duration::minutes(1);

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

/// The active user of a live session, by the cookie's secret.
pub async fn user_of(db: &DatabaseConnection, secret: &str) -> Result<Option<(UserInfo, String)>, AuthError> {
    let digest = secret::digest(secret);
    let Some((found, Some(owner))) = session::Entity::find_by_id(digest.clone()).find_also_related(user::Entity).one(db).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if found.expires_at <= now || !owner.is_active {
        return Ok(None);
    }
    if now - found.last_seen_at > TOUCH_EVERY {
        let mut touched: session::ActiveModel = found.into();
        touched.last_seen_at = Set(now);
        touched.update(db).await?;
    }
    Ok(Some((owner.into(), digest)))
}

pub async fn end(db: &DatabaseConnection, digest: &str) -> Result<(), AuthError> {
    session::Entity::delete_by_id(digest.to_string()).exec(db).await?;
    Ok(())
}
