//! Users: create (also the first admin), sign-in check, list, change, delete. The rules that
//! keep the instance manageable live here: there is always an active admin.

use app::model::{NewUser, PasswordChange, Role, UserInfo, UserUpdate};
use app::validate;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use super::{password, AuthError};
use crate::db::entities::{api_token, session, user};

impl From<user::Model> for UserInfo {
    fn from(model: user::Model) -> Self {
        UserInfo { id: model.id, username: model.username, role: model.role, is_active: model.is_active, created_at: model.created_at }
    }
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, AuthError> {
    Ok(user::Entity::find().count(db).await?)
}

pub async fn create(db: &impl ConnectionTrait, new: NewUser) -> Result<UserInfo, AuthError> {
    let username = validate::username(&new.username)?;
    validate::password(&new.password)?;
    if find_by_name(db, &username).await?.is_some() {
        return Err(AuthError::UsernameTaken(username));
    }
    let hash = password::hash(new.password).await?;
    let now = Utc::now();
    let model = user::ActiveModel {
        username: Set(username.clone()),
        password_hash: Set(hash),
        role: Set(new.role),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    // Two creations of one name at once: the unique index decides, the loser hears why.
    .map_err(|err| if is_unique_violation(&err) { AuthError::UsernameTaken(username) } else { err.into() })?;
    Ok(model.into())
}

/// Creates the first admin, only while there is no user at all. Instances sharing a database
/// take turns: on SQLite `begin_write` holds the write lock; on PostgreSQL an advisory lock,
/// held to the commit, makes the second instance see the first one's admin.
pub async fn setup_first_admin(db: &DatabaseConnection, username: String, password: String) -> Result<UserInfo, AuthError> {
    let txn = crate::db::begin_write(db).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({FIRST_ADMIN_LOCK})")).await?;
    }
    if count(&txn).await? > 0 {
        return Err(AuthError::AlreadySetUp);
    }
    let admin = create(&txn, NewUser { username, password, role: Role::Admin }).await?;
    txn.commit().await?;
    tracing::info!(user_id = admin.id, "first admin created");
    Ok(admin)
}

/// The PostgreSQL advisory lock key of first-admin creation (any constant no other lock uses).
const FIRST_ADMIN_LOCK: i64 = 0x7079_7461_736b_0001;

/// The user behind a name and password. Unknown names cost as much time as wrong passwords.
pub async fn authenticate(db: &DatabaseConnection, username: &str, password: &str) -> Result<UserInfo, AuthError> {
    // A name that could never have been stored is not looked up (PostgreSQL refuses NUL bytes).
    let found = match validate::username(username) {
        Ok(name) => find_by_name(db, &name).await?,
        Err(_) => None,
    };
    let stored = match &found {
        Some(model) => model.password_hash.clone(),
        None => password::decoy().await?,
    };
    let matches = password::verify(password.to_string(), stored).await?;
    match found {
        Some(model) if matches && model.is_active => Ok(model.into()),
        Some(_) if matches => Err(AuthError::Disabled),
        _ => Err(AuthError::BadCredentials),
    }
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<user::Model, AuthError> {
    user::Entity::find_by_id(id).one(db).await?.ok_or(AuthError::UserNotFound(id))
}

pub async fn find_by_name(db: &impl ConnectionTrait, username: &str) -> Result<Option<user::Model>, AuthError> {
    Ok(user::Entity::find().filter(user::Column::Username.eq(username)).one(db).await?)
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<UserInfo>, AuthError> {
    let models = user::Entity::find().order_by_asc(user::Column::Username).all(db).await?;
    Ok(models.into_iter().map(UserInfo::from).collect())
}

/// Applies a change; a new password or disabling ends the user's sessions (and, when asked
/// with a new password, revokes their API tokens).
pub async fn update(db: &DatabaseConnection, id: i64, change: UserUpdate) -> Result<UserInfo, AuthError> {
    if let Some(password) = &change.password {
        validate::password(password)?;
    }
    let hash = match change.password {
        Some(password) => Some(password::hash(password).await?),
        None => None,
    };
    let txn = crate::db::begin_write(db).await?;
    let current = get(&txn, id).await?;
    let stays_admin = change.role.unwrap_or(current.role) == Role::Admin && change.is_active.unwrap_or(current.is_active);
    if current.role == Role::Admin && current.is_active && !stays_admin && other_active_admins(&txn, id).await? == 0 {
        return Err(AuthError::LastAdmin("this is the last active admin: make another user admin first"));
    }
    let ends_sessions = hash.is_some() || change.is_active == Some(false);
    let revokes_tokens = hash.is_some() && change.revoke_tokens == Some(true);
    let mut model: user::ActiveModel = current.into();
    if let Some(role) = change.role {
        model.role = Set(role);
    }
    if let Some(active) = change.is_active {
        model.is_active = Set(active);
    }
    if let Some(hash) = hash {
        model.password_hash = Set(hash);
    }
    model.updated_at = Set(Utc::now());
    let updated = model.update(&txn).await?;
    if ends_sessions {
        session::Entity::delete_many().filter(session::Column::UserId.eq(id)).exec(&txn).await?;
    }
    if revokes_tokens {
        api_token::Entity::delete_many().filter(api_token::Column::UserId.eq(id)).exec(&txn).await?;
    }
    txn.commit().await?;
    Ok(updated.into())
}

/// A user changes their own password, proving they know the current one: every session of
/// theirs ends (the caller starts a new one for the browser that asked), and with
/// `revoke_tokens` every API token too.
pub async fn change_own_password(db: &DatabaseConnection, id: i64, change: PasswordChange) -> Result<UserInfo, AuthError> {
    validate::password(&change.new_password).map_err(|invalid| app::validate::Invalid { field: "new_password", ..invalid })?;
    let current = get(db, id).await?;
    if !password::verify(change.current_password, current.password_hash).await? {
        return Err(AuthError::WrongCurrentPassword);
    }
    let hash = password::hash(change.new_password).await?;
    let txn = crate::db::begin_write(db).await?;
    let mut model: user::ActiveModel = get(&txn, id).await?.into();
    model.password_hash = Set(hash);
    model.updated_at = Set(Utc::now());
    let updated = model.update(&txn).await?;
    session::Entity::delete_many().filter(session::Column::UserId.eq(id)).exec(&txn).await?;
    if change.revoke_tokens {
        api_token::Entity::delete_many().filter(api_token::Column::UserId.eq(id)).exec(&txn).await?;
    }
    txn.commit().await?;
    tracing::info!(user_id = id, tokens_revoked = change.revoke_tokens, "password changed; sessions ended");
    Ok(updated.into())
}

pub async fn delete(db: &DatabaseConnection, id: i64) -> Result<(), AuthError> {
    let txn = crate::db::begin_write(db).await?;
    let current = get(&txn, id).await?;
    if current.role == Role::Admin && current.is_active && other_active_admins(&txn, id).await? == 0 {
        return Err(AuthError::LastAdmin("this is the last active admin and cannot be deleted"));
    }
    user::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}

async fn other_active_admins(db: &impl ConnectionTrait, except: i64) -> Result<u64, AuthError> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin))
        .filter(user::Column::IsActive.eq(true))
        .filter(user::Column::Id.ne(except))
        .count(db)
        .await?)
}

pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}
