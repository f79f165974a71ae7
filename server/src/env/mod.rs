//! Variables and secrets: `NAME=value` pairs given to runs as environment variables, global or
//! per script, sealed at rest (`crypto`), stored (`store`), served (`routes`) and masked in
//! every run's output (`mask`).

pub mod crypto;
pub mod mask;
pub mod routes;
pub mod store;

use std::path::PathBuf;

pub use crypto::SecretKey;
pub use mask::Masker;
pub use store::{RunEnv, Scope};

use crate::http::error::ApiError;

/// What the variable and secret services refuse. No message holds a value.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("there is no script {0}")]
    ScriptNotFound(i64),
    #[error("there is no variable or secret `{name}` ({scope})")]
    NotFound { scope: Scope, name: String },
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error(
        "the value of `{name}` ({scope}) does not decrypt with the key {} ({}): every instance must use the key the values were written with",
        key.display(),
        crypto::SETTING
    )]
    Undecryptable { name: String, scope: String, key: PathBuf },
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<EnvError> for ApiError {
    fn from(err: EnvError) -> Self {
        match err {
            EnvError::ScriptNotFound(_) | EnvError::NotFound { .. } => ApiError::NotFound(err.to_string()),
            EnvError::Invalid { field, message } => ApiError::invalid(field, message),
            EnvError::Undecryptable { .. } => ApiError::Unavailable(err.to_string()),
            EnvError::Db(db) => ApiError::internal(db),
        }
    }
}
