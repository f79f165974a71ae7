//! The browser's calls to the REST API. Pages call these from event handlers and effects, which
//! only ever run in the browser; the server build gets stand-ins that are never reached.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A failed call, in words for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Sends a request with an optional JSON body and reads a JSON answer.
pub async fn call<B: Serialize, R: DeserializeOwned>(method: Method, url: &str, body: Option<&B>) -> Result<R, Failure> {
    let text = send(method, url, body).await?;
    serde_json::from_str(&text).map_err(|err| Failure {
        status: 0,
        message: format!("the server's answer could not be read: {err}"),
        field: None,
    })
}

/// Sends a request whose answer has no body (204).
pub async fn call_empty<B: Serialize>(method: Method, url: &str, body: Option<&B>) -> Result<(), Failure> {
    send(method, url, body).await.map(|_| ())
}

pub async fn get<R: DeserializeOwned>(url: &str) -> Result<R, Failure> {
    call::<(), R>(Method::Get, url, None).await
}

#[cfg(feature = "hydrate")]
async fn send<B: Serialize>(method: Method, url: &str, body: Option<&B>) -> Result<String, Failure> {
    use gloo_net::http::RequestBuilder;

    use crate::error::ErrorBody;

    let offline = |err: gloo_net::Error| Failure {
        status: 0,
        message: format!("the server cannot be reached ({err}); check your connection and try again"),
        field: None,
    };
    let builder = match method {
        Method::Get => RequestBuilder::new(url).method(gloo_net::http::Method::GET),
        Method::Post => RequestBuilder::new(url).method(gloo_net::http::Method::POST),
        Method::Put => RequestBuilder::new(url).method(gloo_net::http::Method::PUT),
        Method::Delete => RequestBuilder::new(url).method(gloo_net::http::Method::DELETE),
    };
    let request = match body {
        Some(body) => builder.json(body).map_err(offline)?,
        None => builder.build().map_err(offline)?,
    };
    let response = request.send().await.map_err(offline)?;
    let status = response.status();
    let text = response.text().await.map_err(offline)?;
    if (200..300).contains(&status) {
        return Ok(text);
    }
    if status == 401 && !url.starts_with("/api/auth/login") && !url.starts_with("/api/setup") {
        // The session ended (expired or signed out elsewhere): back to the sign-in page.
        go_to(&format!("/login?next={}", current_path()));
    }
    Err(match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => Failure { status, message: body.error.message, field: body.error.field },
        Err(_) => Failure { status, message: format!("the server answered {status}"), field: None },
    })
}

#[cfg(not(feature = "hydrate"))]
async fn send<B: Serialize>(_method: Method, _url: &str, _body: Option<&B>) -> Result<String, Failure> {
    Err(Failure { status: 0, message: "only the browser calls the API".into(), field: None })
}

/// Loads another page fully, so the server renders it with the new session.
pub fn go_to(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(url);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}

/// Asks the user to confirm a destructive action.
pub fn confirm(question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    return web_sys::window().and_then(|w| w.confirm_with_message(question).ok()).unwrap_or(false);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = question;
        false
    }
}

pub fn copy_to_clipboard(text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

#[cfg(feature = "hydrate")]
fn current_path() -> String {
    let location = web_sys::window().map(|w| w.location());
    let path = location.as_ref().and_then(|l| l.pathname().ok()).unwrap_or_default();
    let search = location.as_ref().and_then(|l| l.search().ok()).unwrap_or_default();
    encode_uri_component(&format!("{path}{search}"))
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = encodeURIComponent)]
    fn encode_uri_component(text: &str) -> String;
}
