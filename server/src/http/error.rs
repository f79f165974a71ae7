//! `ApiError`: the API layer's one error type, and the only place an error becomes an HTTP
//! response (the SPEC's `{"error": {"code", "message", "field"?}}`).

use app::error::{ErrorBody, ErrorDetail};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// When a viewer refused for the WebSocket limit should try again: slots free up as soon as
/// other viewers leave, and a few seconds keep a crowd of reconnecting pages from hammering.
const WEBSOCKET_RETRY_AFTER_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { message: String, field: Option<String> },
    #[error("sign in to continue")]
    Unauthorized,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("too many failed sign-ins for this user or address: try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// A webhook started as many runs as it may in its window (`hooks::RATE`).
    #[error("this hook started {rate} runs in the last minute, the most one hook may: try again in {retry_after_secs} s", rate = crate::hooks::RATE)]
    HookBusy { retry_after_secs: u64 },
    /// The password hashers are all busy: sign-ins beyond a few at once wait briefly, then this.
    #[error("too many sign-ins at once: try again in {retry_after_secs} s")]
    SignInBusy { retry_after_secs: u64 },
    /// A `Host` this server does not answer to (DNS rebinding, or a name not configured).
    #[error(
        "this server does not answer to the host `{0}`; if that name is yours, add it to PYTASK_ALLOWED_HOSTS / --allowed-hosts (or set PYTASK_PUBLIC_URL)"
    )]
    MisdirectedHost(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// A conflict about one field (a taken name, a stale version).
    #[error("{message}")]
    ConflictOn { field: &'static str, message: String },
    #[error("{message}")]
    Invalid { message: String, field: Option<String> },
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(
        "this instance serves at most {limit} WebSocket connections at once (PYTASK_MAX_WEBSOCKETS / --max-websockets); try again in a few seconds"
    )]
    TooManyWebSockets { limit: u32 },
    #[error("you have {limit} WebSocket connections open on this instance, the most one user may (PYTASK_MAX_WEBSOCKETS_PER_USER / --max-websockets-per-user); close a tab and try again")]
    TooManyUserWebSockets { limit: u32 },
    /// A script has as many runs waiting as it may.
    #[error("{0}")]
    TooManyQueued(String),
    #[error("the request body did not arrive within {seconds} s (PYTASK_CLIENT_TIMEOUT_SECONDS / --client-timeout-seconds)")]
    BodyTimeout { seconds: u64 },
    /// Our fault. The cause is logged when the response is made, never sent.
    #[error("something went wrong on the server; the error has been logged")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<app::validate::Invalid> for ApiError {
    fn from(invalid: app::validate::Invalid) -> Self {
        ApiError::invalid(invalid.field, invalid.message)
    }
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest { message: message.into(), field: None }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid { message: message.into(), field: Some(field.into()) }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(err))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadCredentials | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::TooManyRequests { .. }
            | ApiError::HookBusy { .. }
            | ApiError::TooManyUserWebSockets { .. }
            | ApiError::TooManyQueued(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::SignInBusy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MisdirectedHost(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::ConflictOn { .. } => StatusCode::CONFLICT,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::TooManyWebSockets { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::TooManyRequests { .. } | ApiError::HookBusy { .. } | ApiError::TooManyQueued(_) => "too_many_requests",
            ApiError::SignInBusy { .. } => "busy",
            ApiError::MisdirectedHost(_) => "misdirected_host",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) | ApiError::ConflictOn { .. } => "conflict",
            ApiError::Invalid { .. } => "invalid",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TooManyWebSockets { .. } | ApiError::TooManyUserWebSockets { .. } => "too_many_websockets",
            ApiError::BodyTimeout { .. } => "request_timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let field = match self {
            ApiError::BadRequest { field, .. } | ApiError::Invalid { field, .. } => field.clone(),
            ApiError::ConflictOn { field, .. } => Some(field.to_string()),
            _ => None,
        };
        ErrorBody { error: ErrorDetail { code: self.code().to_string(), message: self.to_string(), field } }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::internal(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            let mut chain = cause.to_string();
            let mut source = cause.source();
            while let Some(inner) = source {
                chain.push_str(": ");
                chain.push_str(&inner.to_string());
                source = inner.source();
            }
            tracing::error!(error = %chain, "request failed");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        let retry_after_secs = match self {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::SignInBusy { retry_after_secs }
            | ApiError::HookBusy { retry_after_secs } => Some(retry_after_secs),
            ApiError::TooManyWebSockets { .. } | ApiError::TooManyUserWebSockets { .. } => Some(WEBSOCKET_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after_secs {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
