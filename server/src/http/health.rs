//! `GET /api/health`: liveness and readiness. Open to everyone, so load balancers and probes can
//! ask without credentials; it tells nothing but up/down and the version.

use app::model::Health;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::ApiQuery;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct HealthQuery {
    /// `false` answers liveness only (the process serves requests) without asking the database.
    #[serde(default = "default_ready")]
    pub ready: bool,
}

fn default_ready() -> bool {
    true
}

/// Liveness and readiness: 200 when the process serves requests and the database answers,
/// 503 when the database does not.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    security(()),
    params(HealthQuery),
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
        (status = 400, description = "Malformed query", body = app::error::ErrorBody),
    )
)]
pub async fn health(State(state): State<AppState>, ApiQuery(query): ApiQuery<HealthQuery>) -> (StatusCode, Json<Health>) {
    let version = env!("CARGO_PKG_VERSION").to_string();
    let sandbox = state.runner.settings.sandbox.status();
    if !query.ready {
        return (StatusCode::OK, Json(Health { status: "ok".into(), database: None, version, sandbox }));
    }
    let database = state.db.execute_unprepared("SELECT 1").await.is_ok();
    let (status, word) = if database { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") };
    (status, Json(Health { status: word.into(), database: Some(database), version, sandbox }))
}
