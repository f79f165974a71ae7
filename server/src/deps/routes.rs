//! `/api/scripts/{id}/dependencies…` and `/api/requirements/check`: thin handlers over the
//! dependency services.

use app::error::ErrorBody;
use app::model::{Dependency, DependencyCheck, DependencyUpdate, InstallStarted, NewDependency};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::requirement::Requirement;
use super::service;
use crate::auth::{Editor, Identity};
use crate::config::InstanceRole;
use crate::events::relay::Bell;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, IdPath};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct PackagePath {
    id: i64,
    package: String,
}

/// A script's dependencies with the installed version and state of each.
#[utoipa::path(get, path = "/scripts/{id}/dependencies", tag = "dependencies", params(("id" = i64, Path)), responses(
    (status = 200, body = Vec<Dependency>),
    (status = 404, body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<Vec<Dependency>>, ApiError> {
    Ok(Json(service::list(&state.db, id).await?))
}

/// Add a requirement: a PyPI package name and an optional PEP 440 specifier.
#[utoipa::path(post, path = "/scripts/{id}/dependencies", tag = "dependencies", params(("id" = i64, Path)), request_body = NewDependency, responses(
    (status = 201, body = Dependency),
    (status = 404, body = ErrorBody),
    (status = 409, description = "The package is a dependency already", body = ErrorBody),
    (status = 422, description = "Not a plain PyPI requirement; `field` says which part", body = ErrorBody),
))]
pub async fn add(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiJson(new): ApiJson<NewDependency>,
) -> Result<(StatusCode, Json<Dependency>), ApiError> {
    Ok((StatusCode::CREATED, Json(service::add(&state.db, id, new).await?)))
}

/// Change the version specifier of one dependency.
#[utoipa::path(put, path = "/scripts/{id}/dependencies/{package}", tag = "dependencies", params(("id" = i64, Path), ("package" = String, Path)), request_body = DependencyUpdate, responses(
    (status = 200, body = Dependency),
    (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn update(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(PackagePath { id, package }): ApiPath<PackagePath>,
    ApiJson(change): ApiJson<DependencyUpdate>,
) -> Result<Json<Dependency>, ApiError> {
    Ok(Json(service::update(&state.db, id, &package, change).await?))
}

/// Remove a dependency and uninstall it from the script's venv.
#[utoipa::path(delete, path = "/scripts/{id}/dependencies/{package}", tag = "dependencies", params(("id" = i64, Path), ("package" = String, Path)), responses(
    (status = 204),
    (status = 404, body = ErrorBody),
    (status = 409, description = "An install is running", body = ErrorBody),
))]
pub async fn remove(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(PackagePath { id, package }): ApiPath<PackagePath>,
) -> Result<StatusCode, ApiError> {
    service::remove(&state.db, &state.installer.uv, &state.installer.installs, &state.config.data_dir, id, &package).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Install every requirement into a fresh venv, in the background; progress and the outcome
/// arrive as `installation_*` events on `/ws/scripts/{id}`.
#[utoipa::path(post, path = "/scripts/{id}/dependencies/install", tag = "dependencies", params(("id" = i64, Path)), responses(
    (status = 202, body = InstallStarted),
    (status = 404, body = ErrorBody),
    (status = 409, description = "An install of this script is running already", body = ErrorBody),
    (status = 503, description = "A `web` instance with no live worker to install on", body = ErrorBody),
))]
pub async fn install(
    State(state): State<AppState>,
    _editor: Editor,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<(StatusCode, Json<InstallStarted>), ApiError> {
    if state.config.role == InstanceRole::Web {
        // Venvs live with the workers (one per worker's data dir): each installs into its own.
        service::list(&state.db, id).await?;
        let cutoff = crate::executions::queue::now() - chrono::Duration::from_std(state.runner.settings.lost_after).unwrap_or_default();
        if crate::executions::queue::live_workers(&state.db, cutoff).await.map_err(ApiError::internal)? == 0 {
            return Err(ApiError::Unavailable(
                "no worker instance is running to install on (PYTASK_ROLE=worker or all); start one, or install at the script's next run"
                    .into(),
            ));
        }
        state.runner.events.ring(Bell::Install { script_id: id });
    } else {
        state.installer.start(id).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(InstallStarted { script_id: id, events: format!("/ws/scripts/{id}") })))
}

/// Each requirement against the venv as it is now: installed version, satisfied or not.
#[utoipa::path(get, path = "/scripts/{id}/dependencies/check", tag = "dependencies", params(("id" = i64, Path)), responses(
    (status = 200, body = DependencyCheck),
    (status = 404, body = ErrorBody),
))]
pub async fn check(
    State(state): State<AppState>,
    _identity: Identity,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> Result<Json<DependencyCheck>, ApiError> {
    Ok(Json(service::check(&state.db, &state.installer.uv, &state.installer.installs, &state.config.data_dir, id).await?))
}

/// Validate a requirement without storing it: the normalised form, or the reason it is refused.
#[utoipa::path(post, path = "/requirements/check", tag = "dependencies", request_body = NewDependency, responses(
    (status = 200, body = NewDependency),
    (status = 422, body = ErrorBody),
))]
pub async fn validate(_identity: Identity, ApiJson(new): ApiJson<NewDependency>) -> Result<Json<NewDependency>, ApiError> {
    let requirement = Requirement::new(&new.name, &new.version_spec)?;
    Ok(Json(NewDependency { name: requirement.name, version_spec: requirement.spec }))
}
