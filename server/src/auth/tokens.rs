//! API tokens: named, owned by a user, acting with the owner's role. The secret is returned once
//! at creation; only its digest is stored.

use app::model::{CreatedToken, NewToken, TokenInfo, UserInfo};
use app::validate;
use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set};

use super::users::is_unique_violation;
use super::{secret, AuthError};
use crate::db::entities::{api_token, user};

const TOUCH_EVERY: Duration = Duration::minutes(1);

impl From<api_token::Model> for TokenInfo {
    fn from(model: api_token::Model) -> Self {
        TokenInfo {
            id: model.id,
            name: model.name,
            prefix: model.prefix,
            created_at: model.created_at,
            last_used_at: model.last_used_at,
            expires_at: model.expires_at,
        }
    }
}

pub async fn create(db: &DatabaseConnection, user_id: i64, new: NewToken) -> Result<CreatedToken, AuthError> {
    let name = validate::token_name(&new.name)?;
    let days = validate::token_days(new.expires_in_days)?;
    let secret = secret::new_secret("pt");
    let now = Utc::now();
    let model = api_token::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.clone()),
        token_hash: Set(secret::digest(&secret)),
        prefix: Set(secret.chars().take(10).collect()),
        created_at: Set(now),
        last_used_at: Set(None),
        expires_at: Set(days.map(|days| now + Duration::days(i64::from(days)))),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| if is_unique_violation(&err) { AuthError::TokenNameTaken(name) } else { err.into() })?;
    Ok(CreatedToken { token: model.into(), secret })
}

pub async fn list(db: &DatabaseConnection, user_id: i64) -> Result<Vec<TokenInfo>, AuthError> {
    let models =
        api_token::Entity::find().filter(api_token::Column::UserId.eq(user_id)).order_by_desc(api_token::Column::CreatedAt).all(db).await?;
    Ok(models.into_iter().map(TokenInfo::from).collect())
}

pub async fn revoke(db: &DatabaseConnection, user_id: i64, id: i64) -> Result<(), AuthError> {
    let result = api_token::Entity::delete_many()
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AuthError::TokenNotFound(id));
    }
    Ok(())
}

/// The active owner of a live token, by its secret.
pub async fn user_of(db: &DatabaseConnection, secret: &str) -> Result<Option<(UserInfo, i64)>, AuthError> {
    let Some((found, Some(owner))) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(secret::digest(secret)))
        .find_also_related(user::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if found.expires_at.is_some_and(|at| at <= now) || !owner.is_active {
        return Ok(None);
    }
    let id = found.id;
    if found.last_used_at.is_none_or(|at| now - at > TOUCH_EVERY) {
        let mut touched: api_token::ActiveModel = found.into();
        touched.last_used_at = Set(Some(now));
        touched.update(db).await?;
    }
    Ok(Some((owner.into(), id)))
}
