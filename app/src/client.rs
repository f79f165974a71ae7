//! The browser's calls to the REST API. Pages call these from event handlers and effects, which
//! only ever run in the browser; the server build gets stand-ins that are never reached.

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
    let builder = match method {
        Method::Get => RequestBuilder::new(url).method(gloo_net::http::Method::GET),
        Method::Post => RequestBuilder::new(url).method(gloo_net::http::Method::POST),
        Method::Put => RequestBuilder::new(url).method(gloo_net::http::Method::PUT),
        Method::Delete => RequestBuilder::new(url).method(gloo_net::http::Method::DELETE),
    };
    let request = match body {
        Some(body) => builder.header("content-type", "application/json").body(body).map_err(offline)?,
        None => builder.build().map_err(offline)?,
    };
    let response = request.send().await.map_err(offline)?;
    let status = response.status();
    let text = response.text().await.map_err(offline)?;
    if status == 401 && !url.starts_with("/api/auth/login") && !url.starts_with("/api/setup") {
        // The session ended (expired or signed out elsewhere): back to the sign-in page.
        go_to(&format!("/login?next={}", current_path()));
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
    let mut request = http::Request::builder()
        .method(match method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Delete => http::Method::DELETE,
        })
        .uri(url)
        .header(CONTENT_TYPE, "application/json");
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

fn answer(status: u16, text: String) -> Result<String, Failure> {
    if (200..300).contains(&status) {
        return Ok(text);
    }
    Err(match serde_json::from_str::<crate::error::ErrorBody>(&text) {
        Ok(body) => Failure { status, message: body.error.message, field: body.error.field },
        Err(_) => Failure { status, message: format!("the server answered {status}"), field: None },
    })
}

/// Data loaded from the API once the page is live in the browser, and a function that loads
/// it again (after a change). `None` while loading; an error in words.
pub fn use_loaded<T>(url: &'static str) -> (leptos::prelude::RwSignal<Option<Result<T, String>>>, impl Fn() + Copy)
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    use leptos::prelude::{Effect, RwSignal, Set};

    let data = RwSignal::new(None);
    let reload = move || leptos::task::spawn_local(async move { data.set(Some(get::<T>(url).await.map_err(|f| f.message))) });
    Effect::new(move |_| reload());
    (data, reload)
}

/// Asks the server about what the user is typing: `ask` runs `delay` after `input` last changed,
/// and only the answer to the newest input reaches `answer` (an older one arriving late is
/// dropped). `input` giving `None` cancels the question pending.
pub fn use_debounced<I, O, Fut>(
    input: impl Fn() -> Option<I> + 'static,
    delay: std::time::Duration,
    ask: impl Fn(I) -> Fut + Copy + 'static,
    answer: impl Fn(O) + Copy + 'static,
) where
    I: 'static,
    O: 'static,
    Fut: Future<Output = O> + 'static,
{
    use leptos::prelude::{set_timeout, Effect, GetValue, SetValue, StoredValue};

    let round = StoredValue::new(0u64);
    Effect::new(move |_| {
        let wanted = input();
        let mine = round.get_value() + 1;
        round.set_value(mine);
        let Some(wanted) = wanted else { return };
        set_timeout(
            move || {
                if round.try_get_value() != Some(mine) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    let result = ask(wanted).await;
                    if round.try_get_value() == Some(mine) {
                        answer(result);
                    }
                });
            },
            delay,
        );
    });
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

/// `text` as one component of a URL's query (RFC 3986 unreserved characters kept).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The schedules API: a script's schedules and the cron preview.
pub mod schedules {
    use std::future::Future;

    use super::{call, call_empty, encode, get, Failure, Method};
    use crate::model::{CronDescription, NewSchedule, Schedule, ScheduleUpdate};

    pub fn list(script_id: i64) -> impl Future<Output = Result<Vec<Schedule>, Failure>> + Send + 'static {
        get(&format!("/api/scripts/{script_id}/schedules"))
    }

    pub fn create(script_id: i64, new: &NewSchedule) -> impl Future<Output = Result<Schedule, Failure>> + Send + 'static {
        call(Method::Post, &format!("/api/scripts/{script_id}/schedules"), Some(new))
    }

    /// Changes the fields present in `change`, and only those.
    pub fn update(
        script_id: i64,
        schedule_id: i64,
        change: &ScheduleUpdate,
    ) -> impl Future<Output = Result<Schedule, Failure>> + Send + 'static {
        call(Method::Put, &format!("/api/scripts/{script_id}/schedules/{schedule_id}"), Some(change))
    }

    pub fn delete(script_id: i64, schedule_id: i64) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
        call_empty::<()>(Method::Delete, &format!("/api/scripts/{script_id}/schedules/{schedule_id}"), None)
    }

    /// What `expr` means in `zone` and its next `count` fire times from now.
    pub fn describe(expr: &str, zone: &str, count: u32) -> impl Future<Output = Result<CronDescription, Failure>> + Send + 'static {
        get(&format!("/api/cron/describe?expr={}&tz={}&count={count}", encode(expr), encode(zone)))
    }

    /// Every IANA zone name the server evaluates schedules in, sorted.
    pub const TIMEZONES: &str = "/api/cron/timezones";
}
