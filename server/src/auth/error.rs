//! `AuthError`: what the auth services can refuse, mapped once onto `ApiError`.

use crate::http::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("this account is disabled; ask an admin to enable it")]
    Disabled,
    #[error("the user name `{0}` is taken")]
    UsernameTaken(String),
    #[error("PyTask already has users: sign in instead")]
    AlreadySetUp,
    #[error("{0}")]
    LastAdmin(&'static str),
    #[error("there is no user {0}")]
    UserNotFound(i64),
    #[error("there is no API token {0} of yours")]
    TokenNotFound(i64),
    #[error("you already have a token named `{0}`")]
    TokenNameTaken(String),
    #[error(transparent)]
    Invalid(#[from] app::validate::Invalid),
    #[error("too many failed sign-ins for this user or address: try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("too many sign-ins at once: try again in a moment")]
    Busy,
    #[error("{0}")]
    SetupCode(&'static str),
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::BadCredentials => ApiError::BadCredentials,
            AuthError::Disabled => ApiError::Forbidden(err.to_string()),
            AuthError::UsernameTaken(_) | AuthError::AlreadySetUp | AuthError::LastAdmin(_) | AuthError::TokenNameTaken(_) => {
                ApiError::Conflict(err.to_string())
            }
            AuthError::UserNotFound(_) | AuthError::TokenNotFound(_) => ApiError::NotFound(err.to_string()),
            AuthError::Invalid(invalid) => invalid.into(),
            AuthError::Throttled { retry_after_secs } => ApiError::TooManyRequests { retry_after_secs },
            AuthError::Busy => ApiError::SignInBusy { retry_after_secs: super::password::BUSY_RETRY_SECS },
            AuthError::SetupCode(_) => ApiError::Forbidden(err.to_string()),
            AuthError::WrongCurrentPassword => ApiError::invalid("current_password", err.to_string()),
            AuthError::Hash(_) => ApiError::Internal(Box::new(err)),
            AuthError::Db(db) => ApiError::internal(db),
        }
    }
}
