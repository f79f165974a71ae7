//! The REST API as typed calls: one module per domain, each call a function with typed
//! arguments and result and its route written once. Pages call these from actions, resources
//! and effects; below them, the HTTP plumbing is written once for both builds: in the browser
//! a `fetch`, while the server renders a page a call straight into its own router.

pub mod auth;
pub mod code;
pub mod deps;
pub mod env;
pub mod executions;
pub mod hooks;
pub mod schedules;
pub mod scripts;
pub mod tokens;
pub mod users;

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A failed call, in words for the person who made it. Serializable so a failure met while
/// the server renders a page reaches the browser with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    pub status: u16,
    pub message: String,
    pub field: Option<String>,
}

impl Failure {
    /// The message if it concerns `field`, for showing next to that input.
    pub fn for_field(&self, field: &str) -> Option<String> {
        (self.field.as_deref() == Some(field)).then(|| self.message.clone())
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

#[cfg(any(feature = "hydrate", feature = "ssr"))]
impl From<Method> for http::Method {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Delete => http::Method::DELETE,
        }
    }
}

/// Sends a request with an optional JSON body and reads a JSON answer.
pub fn call<B: Serialize, R: DeserializeOwned + 'static>(
    method: Method,
    url: &str,
    body: Option<&B>,
) -> impl Future<Output = Result<R, Failure>> + Send + 'static {
    let request = prepare(url, body);
    sendable(async move {
        let (url, body) = request?;
        let text = send(method, &url, body).await?;
        serde_json::from_str(&text).map_err(|err| Failure {
            status: 0,
            message: format!("the server's answer could not be read: {err}"),
            field: None,
        })
    })
}

/// Sends a request whose answer has no body (204).
pub fn call_empty<B: Serialize>(method: Method, url: &str, body: Option<&B>) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    let request = prepare(url, body);
    sendable(async move {
        let (url, body) = request?;
        send(method, &url, body).await.map(|_| ())
    })
}

pub fn get<R: DeserializeOwned + 'static>(url: &str) -> impl Future<Output = Result<R, Failure>> + Send + 'static {
    call::<(), R>(Method::Get, url, None)
}

fn prepare<B: Serialize>(url: &str, body: Option<&B>) -> Result<(String, Option<String>), Failure> {
    let body = body.map(serde_json::to_string).transpose().map_err(|err| Failure {
        status: 0,
        message: format!("the request could not be written: {err}"),
        field: None,
    })?;
    Ok((url.to_string(), body))
}

/// The browser has one thread, so its futures may be marked Send, which resources require.
#[cfg(feature = "hydrate")]
fn sendable<F: Future>(future: F) -> impl Future<Output = F::Output> + Send {
    send_wrapper::SendWrapper::new(future)
}

#[cfg(not(feature = "hydrate"))]
fn sendable<F: Future + Send>(future: F) -> impl Future<Output = F::Output> + Send {
    future
}

#[cfg(feature = "hydrate")]
async fn send(method: Method, url: &str, body: Option<String>) -> Result<String, Failure> {
    use gloo_net::http::RequestBuilder;

    let offline = |err: gloo_net::Error| Failure {
        status: 0,
        message: format!("the server cannot be reached ({err}); check your connection and try again"),
        field: None,
    };
    let builder = RequestBuilder::new(url).method(method.into());
    let request = match body {
        Some(body) => builder.header("content-type", "application/json").body(body).map_err(offline)?,
        None => builder.build().map_err(offline)?,
    };
    let response = request.send().await.map_err(offline)?;
    let status = response.status();
    let text = response.text().await.map_err(offline)?;
    if status == 401 && !url.starts_with("/api/auth/login") && !url.starts_with("/api/setup") {
        // The session ended (expired or signed out elsewhere): back to the sign-in page.
        crate::browser::go_to(&format!("/login?next={}", crate::browser::current_path()));
    }
    answer(status, text)
}

/// While the server renders a page, API calls go straight into its own router (no network),
/// carrying the visitor's credentials, so a page sees exactly what the visitor may see.
#[cfg(feature = "ssr")]
async fn send(method: Method, url: &str, body: Option<String>) -> Result<String, Failure> {
    use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST};

    let unavailable = |message: String| Failure { status: 0, message, field: None };
    let loopback = leptos::prelude::use_context::<Loopback>().ok_or_else(|| unavailable("no API on this server".into()))?;
    let mut request = http::Request::builder().method(http::Method::from(method)).uri(url).header(CONTENT_TYPE, "application/json");
    if let Some(parts) = leptos::prelude::use_context::<http::request::Parts>() {
        for name in [COOKIE, AUTHORIZATION, HOST] {
            if let Some(value) = parts.headers.get(&name) {
                request = request.header(name, value);
            }
        }
    }
    let request = request.body(body.unwrap_or_default()).map_err(|err| unavailable(err.to_string()))?;
    let (status, text) = (loopback.0)(request).await;
    answer(status, text)
}

#[cfg(not(any(feature = "hydrate", feature = "ssr")))]
async fn send(_method: Method, _url: &str, _body: Option<String>) -> Result<String, Failure> {
    Err(Failure { status: 0, message: "the API is reached from the browser or the server only".into(), field: None })
}

/// The server's half of in-process API calls: it answers a request with (status, body).
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct Loopback(pub std::sync::Arc<dyn Fn(http::Request<String>) -> LoopbackAnswer + Send + Sync>);

/// What the loopback gives back: the API's (status, body), later.
#[cfg(feature = "ssr")]
pub type LoopbackAnswer = std::pin::Pin<Box<dyn std::future::Future<Output = (u16, String)> + Send>>;

#[cfg(any(feature = "hydrate", feature = "ssr"))]
fn answer(status: u16, text: String) -> Result<String, Failure> {
    if (200..300).contains(&status) {
        return Ok(text);
    }
    Err(match serde_json::from_str::<crate::error::ErrorBody>(&text) {
        Ok(body) => Failure { status, message: body.error.message, field: body.error.field },
        Err(_) => Failure { status, message: format!("the server answered {status}"), field: None },
    })
}

/// `text` as one component of a URL's query (RFC 3986 unreserved characters kept).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
