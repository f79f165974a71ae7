//! `/api/env/{name}` (globals) and `/api/scripts/{id}/env/{name}`: thin handlers over `store`.
//! Anyone signed in reads names and plain values; editors set a script's entries, admins the
//! globals; no answer ever holds a secret's value.

use app::error::ErrorBody;
use app::model::{EnvValue, EnvVar};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::store::{self, Scope};
use crate::auth::{Admin, Editor, Identity};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, IdPath};
use crate::state::AppState;

/// The `{name}` of a global's route.
#[derive(Debug, Clone, Deserialize)]
pub struct NamePath {
    pub name: String,
}

/// The `{id}` and `{name}` of a script's entry.
#[derive(Debug, Clone, Deserialize)]
pub struct ScriptNamePath {
    pub id: i64,
    pub name: String,
}

/// The global variables and secrets (every script's runs get them), by name.
#[utoipa::path(get, path = "/env", tag = "env", responses((status = 200, body = Vec<EnvVar>), (status = 503, body = ErrorBody)))]
pub async fn list_global(State(state): State<AppState>, _identity: Identity) -> Result<Json<Vec<EnvVar>>, ApiError> {
    Ok(Json(store::list(&state.db, &state.secret_key, Scope::Global).await?))
}

/// Set or replace a global variable or secret (admins).
#[utoipa::path(put, path = "/env/{name}", tag = "env", params(("name" = String, Path)), request_body = EnvValue, responses(
    (status = 200, body = EnvVar),
    (status = 403, description = "Only admins set globals", body = ErrorBody),
    (status = 422, description = "The name or value is not allowed; `field` says which and the message why", body = ErrorBody),
))]
pub async fn set_global(
    State(state): State<AppState>,
    Admin(identity): Admin,
    ApiPath(NamePath { name }): ApiPath<NamePath>,
    ApiJson(value): ApiJson<EnvValue>,
) -> Result<Json<EnvVar>, ApiError> {
    Ok(Json(store::set(&state.db, &state.secret_key, Scope::Global, &name, value, &identity.user.username).await?))
}

/// Delete a global variable or secret (admins).
#[utoipa::path(delete, path = "/env/{name}", tag = "env", params(("name" = String, Path)), responses(
    (status = 204),
    (status = 403, description = "Only admins delete globals", body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn delete_global(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(NamePath { name }): ApiPath<NamePath>,
) -> Result<StatusCode, ApiError> {
    store::delete(&state.db, Scope::Global, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The script's own variables and secrets, then the globals (`overridden` where the script has
/// its own of that name).
#[utoipa::path(get, path = "/scripts/{id}/env", tag = "env", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<EnvVar>),
    (status = 404, body = ErrorBody),
    (status = 503, body = ErrorBody),
))]
pub async fn list_script(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<Vec<EnvVar>>, ApiError> {
    Ok(Json(store::list(&state.db, &state.secret_key, Scope::Script(id)).await?))
}

/// Set or replace one of the script's variables or secrets (editors).
#[utoipa::path(put, path = "/scripts/{id}/env/{name}", tag = "env", params(("id" = i64, Path), ("name" = String, Path)), request_body = EnvValue, responses(
    (status = 200, body = EnvVar),
    (status = 403, description = "Viewers cannot set variables", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 422, description = "The name or value is not allowed; `field` says which and the message why", body = ErrorBody),
))]
pub async fn set_script(
    State(state): State<AppState>,
    Editor(identity): Editor,
    ApiPath(ScriptNamePath { id, name }): ApiPath<ScriptNamePath>,
    ApiJson(value): ApiJson<EnvValue>,
) -> Result<Json<EnvVar>, ApiError> {
    Ok(Json(store::set(&state.db, &state.secret_key, Scope::Script(id), &name, value, &identity.user.username).await?))
}

/// Delete one of the script's variables or secrets (editors).
#[utoipa::path(delete, path = "/scripts/{id}/env/{name}", tag = "env", params(("id" = i64, Path), ("name" = String, Path)), responses(
    (status = 204),
    (status = 403, description = "Viewers cannot delete variables", body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn delete_script(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(ScriptNamePath { id, name }): ApiPath<ScriptNamePath>,
) -> Result<StatusCode, ApiError> {
    store::delete(&state.db, Scope::Script(id), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
