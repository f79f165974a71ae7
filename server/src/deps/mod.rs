//! Dependencies: each script's requirements, and its own venv made and filled by uv.

pub mod requirement;
pub mod routes;
pub mod service;
pub mod uv;

use crate::http::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error("there is no script {0}")]
    ScriptNotFound(i64),
    #[error("script {script_id} has no dependency `{name}`")]
    NotFound { script_id: i64, name: String },
    #[error("`{0}` is a dependency of this script already; change its version instead")]
    Exists(String),
    #[error("the environment of script {0} is being changed right now (an install is running); wait for it to finish")]
    Busy(i64),
    #[error(transparent)]
    Invalid(#[from] app::validate::Invalid),
    #[error(transparent)]
    Uv(#[from] uv::UvError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<DepsError> for ApiError {
    fn from(err: DepsError) -> Self {
        match err {
            DepsError::ScriptNotFound(_) | DepsError::NotFound { .. } => ApiError::NotFound(err.to_string()),
            DepsError::Exists(_) => ApiError::ConflictOn { field: "name", message: err.to_string() },
            DepsError::Busy(_) => ApiError::Conflict(err.to_string()),
            DepsError::Invalid(invalid) => invalid.into(),
            DepsError::Uv(uv::UvError::Missing { .. }) => ApiError::Unavailable(err.to_string()),
            // uv's own message (an uninstall that failed) is what the user needs to see.
            DepsError::Uv(uv::UvError::Failed(message)) => ApiError::Unavailable(format!("uv failed: {message}")),
            DepsError::Uv(uv::UvError::Io { .. }) => ApiError::Internal(Box::new(err)),
            DepsError::Db(db) => ApiError::internal(db),
        }
    }
}
