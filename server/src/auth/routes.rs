//! `/api/auth/*`, `/api/setup`, `/api/users`, `/api/tokens`: thin handlers that take the
//! identity, check the role, and call the auth services.

use std::net::SocketAddr;

use app::error::ErrorBody;
use app::model::{CreatedToken, Credentials, NewToken, NewUser, SetupStatus, TokenInfo, UserInfo, UserUpdate};
use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Duration;

use super::{sessions, tokens, users, Admin, AuthError, AuthVia, Identity};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, IdPath};
use crate::state::AppState;

/// Sign in with a user name and password; sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = Credentials, responses(
    (status = 200, description = "Signed in; the session cookie is set", body = UserInfo),
    (status = 401, description = "Wrong user name or password", body = ErrorBody),
    (status = 403, description = "The account is disabled, or the request came from another site", body = ErrorBody),
    (status = 429, description = "Too many failed sign-ins", body = ErrorBody),
))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let shown_name: String = credentials.username.chars().take(64).collect();
    if let Some(retry_after_secs) = state.throttle.check(&credentials.username, peer.ip()) {
        tracing::warn!(username = ?shown_name, addr = %peer.ip(), "sign-in refused: throttled");
        return Err(AuthError::Throttled { retry_after_secs }.into());
    }
    match users::authenticate(&state.db, &credentials.username, &credentials.password).await {
        Ok(user) => {
            state.throttle.succeeded(&credentials.username);
            tracing::info!(user_id = user.id, addr = %peer.ip(), "signed in");
            start_session(&state, &headers, user, StatusCode::OK).await
        }
        Err(err) => {
            if matches!(err, AuthError::BadCredentials) {
                state.throttle.failed(&credentials.username, peer.ip());
                tracing::warn!(username = ?shown_name, addr = %peer.ip(), "failed sign-in");
            }
            Err(err.into())
        }
    }
}

/// Sign out: the session ends on the server and the cookie is cleared.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses(
    (status = 204, description = "Signed out"),
    (status = 401, description = "Not signed in", body = ErrorBody),
))]
pub async fn logout(State(state): State<AppState>, identity: Identity) -> Result<Response, ApiError> {
    if let AuthVia::Session(digest) = &identity.via {
        sessions::end(&state.db, digest).await?;
    }
    let clear = format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", sessions::COOKIE);
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clear)]).into_response())
}

/// Who is signed in.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses(
    (status = 200, description = "The signed-in user", body = UserInfo),
    (status = 401, description = "Not signed in", body = ErrorBody),
))]
pub async fn me(identity: Identity) -> Json<UserInfo> {
    Json(identity.user)
}

/// Whether the first admin still has to be created.
#[utoipa::path(get, path = "/setup", tag = "auth", security(()), responses((status = 200, body = SetupStatus)))]
pub async fn setup_status(State(state): State<AppState>) -> Result<Json<SetupStatus>, ApiError> {
    Ok(Json(SetupStatus { needs_setup: users::count(&state.db).await? == 0 }))
}

/// Create the first admin and sign in as it. Works only while there is no user.
#[utoipa::path(post, path = "/setup", tag = "auth", security(()), request_body = Credentials, responses(
    (status = 201, description = "The admin exists and is signed in", body = UserInfo),
    (status = 409, description = "There are users already", body = ErrorBody),
    (status = 422, description = "Invalid user name or password", body = ErrorBody),
))]
pub async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    // One setup at a time in this process, so two racing forms cannot both create an admin.
    let _guard = state.setup_lock.lock().await;
    let admin = users::setup_first_admin(&state.db, credentials.username, credentials.password).await?;
    state.mark_has_users();
    start_session(&state, &headers, admin, StatusCode::CREATED).await
}

async fn start_session(state: &AppState, headers: &HeaderMap, user: UserInfo, status: StatusCode) -> Result<Response, ApiError> {
    let ttl = Duration::hours(i64::from(state.config.session_hours));
    let session = sessions::create(&state.db, user.id, ttl).await?;
    // Behind a TLS-terminating proxy the browser speaks https: the cookie must say Secure.
    let secure = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        sessions::COOKIE,
        session.secret,
        ttl.num_seconds(),
        if secure { "; Secure" } else { "" }
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(ApiError::internal)?;
    Ok((status, [(SET_COOKIE, cookie)], Json(user)).into_response())
}

/// All users (admins only).
#[utoipa::path(get, path = "/users", tag = "users", responses(
    (status = 200, body = Vec<UserInfo>),
    (status = 403, description = "Not an admin", body = ErrorBody),
))]
pub async fn list_users(State(state): State<AppState>, _admin: Admin) -> Result<Json<Vec<UserInfo>>, ApiError> {
    Ok(Json(users::list(&state.db).await?))
}

/// Add a user (admins only).
#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser, responses(
    (status = 201, body = UserInfo),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 409, description = "The name is taken", body = ErrorBody),
    (status = 422, description = "Invalid name, password or role", body = ErrorBody),
))]
pub async fn create_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    let user = users::create(&state.db, new).await?;
    tracing::info!(user_id = user.id, by = admin.user.id, "user created");
    Ok((StatusCode::CREATED, Json(user)))
}

/// Change a user's role, password or active flag (admins only).
#[utoipa::path(put, path = "/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserUpdate, responses(
    (status = 200, body = UserInfo),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "It would leave no active admin", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn update_user(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(change): ApiJson<UserUpdate>,
) -> Result<Json<UserInfo>, ApiError> {
    Ok(Json(users::update(&state.db, id, change).await?))
}

/// Delete a user with their sessions and tokens (admins only; never the last admin).
#[utoipa::path(delete, path = "/users/{id}", tag = "users", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The last admin", body = ErrorBody),
))]
pub async fn delete_user(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    users::delete(&state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Your API tokens.
#[utoipa::path(get, path = "/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn list_tokens(State(state): State<AppState>, identity: Identity) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(tokens::list(&state.db, identity.user.id).await?))
}

/// Create an API token; the answer holds the secret, shown this once.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewToken, responses(
    (status = 201, body = CreatedToken),
    (status = 409, description = "You have a token of that name", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn create_token(
    State(state): State<AppState>,
    identity: Identity,
    ApiJson(new): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let created = tokens::create(&state.db, identity.user.id, new).await?;
    tracing::info!(user_id = identity.user.id, token_id = created.token.id, "API token created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke one of your API tokens.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = i64, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody),
))]
pub async fn revoke_token(
    State(state): State<AppState>,
    identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    tokens::revoke(&state.db, identity.user.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
