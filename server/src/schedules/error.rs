//! `ScheduleError`: what the schedule services refuse, mapped once onto `ApiError`.

use crate::http::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("there is no script {0}")]
    ScriptNotFound(i64),
    #[error("script {script_id} has no schedule {id}")]
    NotFound { script_id: i64, id: i64 },
    #[error(transparent)]
    Invalid(#[from] app::validate::Invalid),
    #[error(transparent)]
    Inputs(#[from] crate::executions::inputs::InputsError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<ScheduleError> for ApiError {
    fn from(err: ScheduleError) -> Self {
        match err {
            ScheduleError::ScriptNotFound(_) | ScheduleError::NotFound { .. } => ApiError::NotFound(err.to_string()),
            ScheduleError::Invalid(invalid) => invalid.into(),
            ScheduleError::Inputs(inputs) => inputs.into(),
            ScheduleError::Db(db) => ApiError::internal(db),
        }
    }
}
