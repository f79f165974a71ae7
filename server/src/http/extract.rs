//! Extractors that turn every malformed request into an `ApiError` (400/413/415/422 with a
//! message naming what is wrong) instead of axum's plain-text rejections.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, PathRejection, QueryRejection};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::state::AppState;

/// A JSON body. Syntax errors are 400; a body that parses but does not fit the type is 422 with
/// the JSON path of the offending field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with the header `Content-Type: application/json`".into(),
            ));
        }
        // A client that declares a body and then sends it slowly, or never, must not hold the
        // request (and its connection) open.
        let seconds = state.config.client_timeout_seconds;
        let read = tokio::time::timeout(Duration::from_secs(seconds), Bytes::from_request(req, state));
        let bytes = read.await.map_err(|_| ApiError::BodyTimeout { seconds })?.map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::PayloadTooLarge { limit: state.config.max_body_bytes }
            }
            other => ApiError::bad_request(format!("the request body could not be read: {}", other.body_text())),
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;

    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("the body is not valid JSON: {inner}"))
            }
            Category::Data => {
                let field = (path != ".").then_some(path);
                let message = match &field {
                    Some(field) => format!("`{field}`: {inner}"),
                    None => format!("the body does not have the expected shape: {inner}"),
                };
                ApiError::Invalid { message, field }
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))?;
    Ok(value)
}

/// The `{id}` of a route.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct IdPath {
    pub id: i64,
}

/// Path parameters; a value of the wrong type (`/api/scripts/abc`) is a 400 naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => {
                use axum::extract::path::ErrorKind;
                match err.kind() {
                    ErrorKind::ParseErrorAtKey { key, value, .. } => Err(ApiError::BadRequest {
                        message: format!("`{value}` is not a valid {key}: expected a whole number"),
                        field: Some(key.clone()),
                    }),
                    _ => Err(ApiError::bad_request(err.body_text())),
                }
            }
            Err(other) => Err(ApiError::bad_request(other.body_text())),
        }
    }
}

/// Query parameters; an unknown value or wrong type is a 400 that says which.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// A WebSocket upgrade; a request to a WebSocket route that is not one is a JSON 400 saying so.
pub struct ApiUpgrade(pub WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for ApiUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(ApiUpgrade)
            .map_err(|rejection| ApiError::bad_request(format!("this route speaks WebSocket only: {}", rejection.body_text())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        name: String,
        tags: Vec<String>,
    }

    #[test]
    fn syntax_error_is_400_and_type_error_names_the_field() {
        let ok: Body = parse_json(br#"{"name": "a", "tags": ["x"]}"#).unwrap();
        assert_eq!((ok.name.as_str(), ok.tags.as_slice()), ("a", ["x".to_string()].as_slice()));
        let err = parse_json::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        let err = parse_json::<Body>(br#"{"name": "a", "tags": [1]}"#).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.body().error.field.as_deref(), Some("tags[0]"));
        let err = parse_json::<Body>(br#"{"name": "a"}"#).unwrap_err();
        assert!(err.to_string().contains("tags"), "{err}");
        let err = parse_json::<Body>(br#"{"name": "a", "tags": []} trailing"#).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
    }
}
