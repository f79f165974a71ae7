//! `ScriptError`: what the script services refuse, mapped once onto `ApiError`.

use crate::http::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("there is no script {0}")]
    NotFound(i64),
    #[error("a script named `{0}` exists already; choose another name")]
    NameTaken(String),
    #[error(
        "this script was changed by someone else since you opened it (at {0}); reload to see their version, then apply your change again"
    )]
    Stale(String),
    #[error(transparent)]
    Invalid(#[from] app::validate::Invalid),
    #[error("cannot remove the script's files {path}: {source}")]
    Files { path: String, source: std::io::Error },
    #[error("the script list could not be written as JSON: {0}")]
    Encode(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<ScriptError> for ApiError {
    fn from(err: ScriptError) -> Self {
        match err {
            ScriptError::NotFound(_) => ApiError::NotFound(err.to_string()),
            ScriptError::NameTaken(_) => ApiError::ConflictOn { field: "name", message: err.to_string() },
            ScriptError::Stale(_) => ApiError::ConflictOn { field: "updated_at", message: err.to_string() },
            ScriptError::Invalid(invalid) => invalid.into(),
            ScriptError::Files { .. } | ScriptError::Encode(_) => ApiError::Internal(Box::new(err)),
            ScriptError::Db(db) => ApiError::internal(db),
        }
    }
}
