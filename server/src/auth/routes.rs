//! `/api/auth/*`, `/api/setup`, `/api/users`, `/api/tokens`: thin handlers that take the
//! identity, check the role, and call the auth services.

use app::error::ErrorBody;
use app::model::{CreatedToken, Credentials, FirstAdmin, NewToken, NewUser, PasswordChange, SetupStatus, TokenInfo, UserInfo, UserUpdate};
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Duration;

use super::{sessions, tokens, users, Admin, AuthError, AuthVia, Identity};
use crate::http::client::Client;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, IdPath};
use crate::state::AppState;
use crate::telemetry::metrics::{self, SignIn};

/// Sign in with a user name and password; sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = Credentials, responses(
    (status = 200, description = "Signed in; the session cookie is set", body = UserInfo),
    (status = 401, description = "Wrong user name or password", body = ErrorBody),
    (status = 403, description = "The account is disabled, or the request came from another site", body = ErrorBody),
    (status = 429, description = "Too many failed sign-ins for this user or address (`Retry-After`)", body = ErrorBody),
    (status = 503, description = "Too many sign-ins at once (`Retry-After`)", body = ErrorBody),
))]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let shown_name: String = credentials.username.chars().take(64).collect();
    // Counted before the password is checked: parallel guesses cannot outrun the count.
    if let Err(retry_after_secs) = state.throttle.begin(&credentials.username, client.addr) {
        metrics::sign_in(SignIn::Throttled);
        // Not a warning each: a flood would be a flood of log lines. The metric counts them.
        tracing::debug!(username = ?shown_name, addr = %client.addr, "sign-in refused: throttled");
        return Err(AuthError::Throttled { retry_after_secs }.into());
    }
    match users::authenticate(&state.db, &credentials.username, &credentials.password).await {
        Ok(user) => {
            metrics::sign_in(SignIn::Succeeded);
            state.throttle.succeeded(&credentials.username, client.addr);
            tracing::info!(user_id = user.id, addr = %client.addr, "signed in");
            // The session the browser had (someone else's, perhaps planted) ends: a new id.
            if let Some(old) = app::cookies::get(&headers, sessions::cookie_name(&state.config)) {
                sessions::end_by_secret(&state.db, &old).await?;
            }
            start_session(&state, &client, user, StatusCode::OK).await
        }
        Err(err) => {
            if matches!(err, AuthError::Busy) {
                state.throttle.unchecked(&credentials.username, client.addr);
            }
            let outcome = match err {
                AuthError::BadCredentials => SignIn::Failed,
                AuthError::Disabled => SignIn::Disabled,
                AuthError::Busy => SignIn::Busy,
                _ => SignIn::Failed,
            };
            metrics::sign_in(outcome);
            static WARNINGS: crate::telemetry::quiet::Budget = crate::telemetry::quiet::Budget::new();
            if let Some(left_out) = WARNINGS.take() {
                tracing::warn!(username = ?shown_name, addr = %client.addr, outcome = ?outcome, left_out, "failed sign-in");
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
pub async fn logout(State(state): State<AppState>, client: Client, identity: Identity) -> Result<Response, ApiError> {
    if let AuthVia::Session(digest) = &identity.via {
        sessions::end(&state.db, digest).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, cookie(&state, &client, "", 0)?)]).into_response())
}

/// Who is signed in.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses(
    (status = 200, description = "The signed-in user", body = UserInfo),
    (status = 401, description = "Not signed in", body = ErrorBody),
))]
pub async fn me(identity: Identity) -> Json<UserInfo> {
    Json(identity.user)
}

/// Change your own password. Every session of yours ends but this one, which gets a new id;
/// with `revoke_tokens`, your API tokens stop working too.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = PasswordChange, responses(
    (status = 200, description = "Changed; this browser's new session cookie is set", body = UserInfo),
    (status = 401, description = "Not signed in", body = ErrorBody),
    (status = 422, description = "The current password is wrong, or the new one is not valid", body = ErrorBody),
    (status = 429, description = "Too many wrong passwords (`Retry-After`)", body = ErrorBody),
    (status = 503, description = "Too many sign-ins at once (`Retry-After`)", body = ErrorBody),
))]
pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    identity: Identity,
    ApiJson(change): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    // Checking the current password is a sign-in in all but name: a stolen session must not
    // become a free password oracle.
    if let Err(retry_after_secs) = state.throttle.begin(&identity.user.username, client.addr) {
        return Err(AuthError::Throttled { retry_after_secs }.into());
    }
    let user = users::change_own_password(&state.db, identity.user.id, change).await?;
    state.throttle.succeeded(&user.username, client.addr);
    match identity.via {
        AuthVia::Session(_) => start_session(&state, &client, user, StatusCode::OK).await,
        AuthVia::Token(_) => Ok(Json(user).into_response()),
    }
}

/// Whether the first admin still has to be created, and whether this client needs the setup code.
#[utoipa::path(get, path = "/setup", tag = "auth", security(()), responses((status = 200, body = SetupStatus)))]
pub async fn setup_status(State(state): State<AppState>, client: Client) -> Result<Json<SetupStatus>, ApiError> {
    let needs_setup = users::count(&state.db).await? == 0;
    Ok(Json(SetupStatus { needs_setup, needs_code: needs_setup && state.setup_code.required_for(&client) }))
}

/// Create the first admin and sign in as it. Works only while there is no user, and from
/// anywhere but the server's own loopback only with the setup code from the server's log.
#[utoipa::path(post, path = "/setup", tag = "auth", security(()), request_body = FirstAdmin, responses(
    (status = 201, description = "The admin exists and is signed in", body = UserInfo),
    (status = 403, description = "The setup code is missing or wrong", body = ErrorBody),
    (status = 409, description = "There are users already", body = ErrorBody),
    (status = 422, description = "Invalid user name or password", body = ErrorBody),
    (status = 429, description = "Too many wrong setup codes (`Retry-After`)", body = ErrorBody),
))]
pub async fn setup(State(state): State<AppState>, client: Client, ApiJson(first): ApiJson<FirstAdmin>) -> Result<Response, ApiError> {
    if !state.needs_setup().await? {
        return Err(AuthError::AlreadySetUp.into());
    }
    if state.setup_code.required_for(&client) {
        // Wrong codes count like wrong passwords, per address only: a stranger's wrong codes
        // must not lock the owner out (60 bits are not guessed at five tries an address).
        if let Err(retry_after_secs) = state.throttle.begin_addr(client.addr) {
            return Err(AuthError::Throttled { retry_after_secs }.into());
        }
        match first.setup_code.as_deref() {
            None | Some("") => return Err(AuthError::SetupCode(SETUP_CODE_MISSING).into()),
            Some(code) if !state.setup_code.matches(code) => {
                static WARNINGS: crate::telemetry::quiet::Budget = crate::telemetry::quiet::Budget::new();
                if let Some(left_out) = WARNINGS.take() {
                    tracing::warn!(addr = %client.addr, left_out, "first-admin setup refused: wrong setup code");
                }
                return Err(AuthError::SetupCode(
                    "the setup code is wrong: copy it from the server's log (the line that says \"setup code\")",
                )
                .into());
            }
            Some(_) => state.throttle.succeeded_addr(client.addr),
        }
    }
    // One setup at a time in this process (`setup_first_admin` also locks across instances).
    let _guard = state.setup_lock.lock().await;
    let admin = users::setup_first_admin(&state.db, first.username, first.password).await?;
    state.mark_has_users();
    start_session(&state, &client, admin, StatusCode::CREATED).await
}

const SETUP_CODE_MISSING: &str =
    "enter the setup code: the server printed it in its log when it started (the line that says \"setup code\")";

async fn start_session(state: &AppState, client: &Client, user: UserInfo, status: StatusCode) -> Result<Response, ApiError> {
    let ttl = Duration::hours(i64::from(state.config.session_hours));
    let session = sessions::create(&state.db, user.id, ttl).await?;
    Ok((status, [(SET_COOKIE, cookie(state, client, &session.secret, ttl.num_seconds())?)], Json(user)).into_response())
}

/// The session cookie (an empty value with `max_age` 0 clears it). `Secure` whenever the browser
/// speaks https: the public URL says so, or a trusted proxy does.
fn cookie(state: &AppState, client: &Client, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let name = sessions::cookie_name(&state.config);
    let secure = name == sessions::HOST_COOKIE || client.https;
    let cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}", if secure { "; Secure" } else { "" });
    HeaderValue::from_str(&cookie).map_err(ApiError::internal)
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
