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
        if !is_json(&req) {
            return Err(json_please());
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out: no body at all is `T::default()`; a body is read as
/// `ApiJson` reads it.
pub struct ApiJsonOrEmpty<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for ApiJsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        if !json {
            return Err(json_please());
        }
        parse_json(&bytes).map(ApiJsonOrEmpty)
    }
}

/// A body of any kind, read as `ApiJson` reads one: bounded in size and time, with errors as
/// `ApiError`s.
pub struct ApiBytes(pub Bytes);

impl FromRequest<AppState> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read_body(req, state).await.map(ApiBytes)
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

fn json_please() -> ApiError {
    ApiError::UnsupportedMediaType("send the body as JSON with the header `Content-Type: application/json`".into())
}

async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    // A client that declares a body and then sends it slowly, or never, must not hold the
    // request (and its connection) open.
    let seconds = state.config.client_timeout_seconds;
    let read = tokio::time::timeout(Duration::from_secs(seconds), Bytes::from_request(req, state));
    read.await.map_err(|_| ApiError::BodyTimeout { seconds })?.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ApiError::PayloadTooLarge { limit: state.config.max_body_bytes }
        }
        other => ApiError::bad_request(format!("the request body could not be read: {}", other.body_text())),
    })
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;

    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(format!("the body is not valid JSON: {inner}")),
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
    deserializer.end().map_err(|err| ApiError::bad_request(format!("the body is not valid JSON: {err}")))?;
    if has_nul_escape(bytes) {
        return Err(nul_refused(bytes));
    }
    Ok(value)
}

/// True if a JSON string holds `\u0000` (an escaped backslash before `u0000` does not count).
/// Raw NUL bytes are not valid JSON, so this is the only way one arrives.
fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &byte) in bytes.iter().enumerate() {
        if byte == b'\\' {
            backslashes += 1;
            continue;
        }
        if byte == b'u' && backslashes % 2 == 1 && bytes[i + 1..].starts_with(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// No text of ours may hold NUL (PostgreSQL cannot store it, Python source cannot contain it):
/// a 422 naming a field that does (the first in key order). Only called on a body that parsed.
fn nul_refused(bytes: &[u8]) -> ApiError {
    fn find(value: &serde_json::Value, path: &mut String) -> bool {
        use serde_json::Value;
        match value {
            Value::String(text) => text.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = find(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let found = key.contains('\0') || find(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        find(&value, &mut path);
    }
    let field = (!path.is_empty()).then_some(path);
    let message = match &field {
        Some(field) => format!("`{field}`: text may not contain the NUL character (\\u0000)"),
        None => "text may not contain the NUL character (\\u0000)".to_string(),
    };
    ApiError::Invalid { message, field }
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
/// Clients only ever send close frames and pings to our sockets, so a message or frame larger
/// than `MAX_CLIENT_MESSAGE` closes the connection (1009) instead of being buffered: the
/// library's default would take 64 MiB from each of a thousand sockets.
pub struct ApiUpgrade(pub WebSocketUpgrade);

/// The most a client may send in one WebSocket message.
pub const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

impl<S: Send + Sync> FromRequestParts<S> for ApiUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(|upgrade| ApiUpgrade(upgrade.max_message_size(MAX_CLIENT_MESSAGE).max_frame_size(MAX_CLIENT_MESSAGE)))
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

    #[test]
    fn nul_in_any_string_is_422_naming_the_field() {
        let err = parse_json::<Body>(br#"{"name": "a", "tags": ["x", "y\u0000"]}"#).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.body().error.field.as_deref(), Some("tags[1]"));
        let err = parse_json::<Body>(br#"{"name": "\u0000", "tags": []}"#).unwrap_err();
        assert_eq!(err.body().error.field.as_deref(), Some("name"));
        // An escaped backslash followed by `u0000` is text, not NUL.
        let ok: Body = parse_json(br#"{"name": "a\\u0000", "tags": []}"#).unwrap();
        assert_eq!(ok.name, "a\\u0000");
        let ok: Body = parse_json(br#"{"name": "a\\\u0041", "tags": []}"#).unwrap();
        assert_eq!(ok.name, "a\\A");
    }

    #[test]
    fn deep_nesting_is_refused_or_skipped_never_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse_json::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("recursion limit"), "{err}");
        let err = parse_json::<Body>(deep.as_bytes()).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        // An unknown field is skipped without recursion, however deep.
        let ignored = format!(r#"{{"name": "a", "tags": [], "extra": {deep}}}"#);
        assert_eq!(parse_json::<Body>(ignored.as_bytes()).unwrap().name, "a");
    }
}
