//! Runs of scripts: the queue in the database, the worker that runs them, their logs, the
//! retention that deletes old ones, and the API over them.

pub mod collector;
pub mod gate;
pub mod launch;
pub mod logs;
pub mod process;
pub mod queue;
pub mod retention;
mod retry;
pub mod routes;
pub mod service;
pub mod warm;
pub mod worker;

use app::model::ExecutionStatus;

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error("there is no execution {0}")]
    NotFound(i64),
    #[error("there is no script {0}")]
    ScriptNotFound(i64),
    #[error("script `{0}` is inactive: activate it to run it")]
    Inactive(String),
    #[error("run #{id} is already over ({status}); there is nothing to stop")]
    AlreadyOver { id: i64, status: ExecutionStatus },
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<ExecutionError> for crate::http::error::ApiError {
    fn from(err: ExecutionError) -> Self {
        use crate::http::error::ApiError;
        match err {
            ExecutionError::NotFound(_) | ExecutionError::ScriptNotFound(_) => ApiError::NotFound(err.to_string()),
            ExecutionError::Inactive(_) | ExecutionError::AlreadyOver { .. } => ApiError::Conflict(err.to_string()),
            ExecutionError::Db(db) => ApiError::internal(db),
        }
    }
}
