//! Runs of scripts: listing and reading them. (Starting, stopping and streaming come with the
//! worker.)

pub mod routes;
pub mod service;

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error("there is no execution {0}")]
    NotFound(i64),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<ExecutionError> for crate::http::error::ApiError {
    fn from(err: ExecutionError) -> Self {
        use crate::http::error::ApiError;
        match err {
            ExecutionError::NotFound(_) => ApiError::NotFound(err.to_string()),
            ExecutionError::Db(db) => ApiError::internal(db),
        }
    }
}
