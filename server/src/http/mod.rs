//! The HTTP surface: one router for the pages (Leptos SSR + static assets), the REST API under
//! `/api` (described by the OpenAPI document it is built with), the WebSockets under `/ws`, and
//! `/metrics`, outside `/api` so that every role of instance can serve it.

pub mod client;
pub mod error;
pub mod extract;
pub mod guard;
pub mod headers;
pub mod health;
pub mod host;
pub mod metrics;
pub mod openapi;
pub mod serve;
pub mod site;
pub mod ws;
pub mod ws_limit;

use std::any::Any;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use self::error::ApiError;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    if state.config.role == crate::config::InstanceRole::Worker {
        return worker_router(state);
    }
    let api = openapi::api_router();
    let pages = generate_route_list(app::App);
    let shell_options = state.leptos.clone();
    let body_limit = usize::try_from(state.config.max_body_bytes).unwrap_or(usize::MAX);
    let loopback = loopback(api.clone(), state.clone());
    // Read at each render, as `/api/health` does; the page shows it to admins only.
    let sandbox = state.runner.settings.sandbox.clone();
    let site = std::sync::Arc::new(site::Site::new(state.config.site_root.as_deref()));
    site.announce();
    Router::new()
        .merge(api)
        .route("/ws/scripts/{id}", axum::routing::get(ws::script_events))
        .route("/ws/executions/{id}", axum::routing::get(ws::execution_events))
        .route("/metrics", axum::routing::get(metrics::scrape))
        .leptos_routes_with_context(
            &state,
            pages,
            move || {
                headers::provide_page_nonce();
                leptos::prelude::provide_context(loopback.clone());
                leptos::prelude::provide_context(sandbox.status());
            },
            move || app::shell(shell_options.clone()),
        )
        .fallback(move |State(state): State<AppState>, req: Request<Body>| fallback(site.clone(), state, req))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::middleware::gate))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::refuse_malformed))
        .layer(catch_panic())
        // Before anything else: a request for a host that is not ours (DNS rebinding) goes no
        // further, and everything after knows who the client is.
        .layer(axum::middleware::from_fn_with_state(state.clone(), host::refuse_foreign_host))
        .layer(axum::middleware::from_fn_with_state(state.clone(), client::resolve))
        // Router layers wrap each route, after routing: `MatchedPath` is known by then.
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(
                    |req: &Request<Body>| tracing::info_span!("request", method = %req.method(), path = %loggable_path(req.uri().path())),
                )
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        // Outermost, so that every answer carries them, the refusals of the layers above too.
        .layer(axum::middleware::from_fn_with_state(headers::SecurityHeaders::from_config(&state.config), headers::secure))
        .with_state(state)
}

/// A `worker` instance runs work and answers probes only: health and metrics (behind the same
/// gate); everything else is a web instance's, and the 404 says so.
fn worker_router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", axum::routing::get(health::health))
        .route("/metrics", axum::routing::get(metrics::scrape))
        .fallback(|uri: Uri| async move {
            ApiError::NotFound(format!(
                "{} is served by web instances: this one runs with PYTASK_ROLE=worker and serves only /api/health and /metrics",
                uri.path()
            ))
            .into_response()
        })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::middleware::gate))
        .layer(catch_panic())
        .layer(axum::middleware::from_fn_with_state(state.clone(), host::refuse_foreign_host))
        .layer(axum::middleware::from_fn_with_state(state.clone(), client::resolve))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn_with_state(headers::SecurityHeaders::from_config(&state.config), headers::secure))
        .with_state(state)
}

/// Lets pages call the API while the server renders them: the request goes through the same
/// gate and handlers as one from the browser, without a network hop.
fn loopback(api: Router<AppState>, state: AppState) -> app::api::Loopback {
    let service = api.layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::middleware::gate)).with_state(state);
    app::api::Loopback(std::sync::Arc::new(move |request: axum::http::Request<String>| {
        let service = service.clone();
        // The page's own request knows who the browser is; the API call made for it answers
        // that browser, not this process (the setup page asks whether the code is needed).
        let client = leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<client::Client>().cloned());
        Box::pin(async move {
            let mut request = request.map(Body::from);
            let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            request.extensions_mut().insert(axum::extract::ConnectInfo(local));
            if let Some(client) = client {
                request.extensions_mut().insert(client);
            }
            let response = match tower::ServiceExt::oneshot(service, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status().as_u16();
            match axum::body::to_bytes(response.into_body(), usize::MAX).await {
                Ok(bytes) => (status, String::from_utf8_lossy(&bytes).into_owned()),
                Err(err) => (500, format!("the API answer could not be read: {err}")),
            }
        })
    }))
}

/// The paths of the app's pages, as the router serves them (for tests and tools).
pub fn page_paths() -> Vec<String> {
    generate_route_list(app::App).iter().map(|route| route.path().to_string()).collect()
}

/// Anything no route matched: a JSON 404 under `/api`, else a static file or the app's 404 page.
async fn fallback(site: std::sync::Arc<site::Site>, state: AppState, req: Request<Body>) -> Response {
    if is_api(req.uri()) {
        return ApiError::NotFound(format!("there is no API route {}", req.uri().path())).into_response();
    }
    // The head alone crosses the await: a request's body is not `Sync`.
    let (head, body) = req.into_parts();
    if let Some(file) = site.serve(&head).await {
        return file;
    }
    let req = Request::from_parts(head, body);
    // The 404 page is a page like the others: its scripts need the nonce of its policy.
    let options = state.leptos.clone();
    let render = leptos_axum::render_app_to_stream_in_order_with_context(
        move || {
            leptos::prelude::provide_context(state.clone());
            headers::provide_page_nonce();
        },
        move || app::shell(options.clone()),
    );
    let mut response = render(req).await;
    // The page may have set a status of its own (a redirect); otherwise no page matched.
    if response.status() == axum::http::StatusCode::OK {
        *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    }
    response
}

async fn method_not_allowed(req: Request<Body>) -> Response {
    ApiError::MethodNotAllowed(format!("{} is not allowed on {}", req.method(), req.uri().path())).into_response()
}

fn is_api(uri: &Uri) -> bool {
    let path = uri.path();
    path == "/api" || path.starts_with("/api/")
}

/// Turns a panic in a handler into the usual JSON 500 (logged with its message) instead of a
/// dropped connection.
pub fn catch_panic() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(panic_response as fn(Box<dyn Any + Send + 'static>) -> Response)
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic payload");
    ApiError::Internal(format!("a request handler panicked: {message}").into()).into_response()
}

/// A request's path as logs may show it: a webhook's token is its credential, so it is cut.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/api/hooks/") {
        Some(rest) if !rest.is_empty() => "/api/hooks/***".into(),
        _ => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("kaboom")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_json_500() {
        let router: Router = Router::new().route("/boom", get(boom)).layer(catch_panic());
        let response = router.oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: app::error::ErrorBody = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body.error.code, "internal");
        assert!(!body.error.message.contains("kaboom"), "the panic message must not leak");
    }

    #[test]
    fn a_hook_token_never_reaches_a_log() {
        assert_eq!(super::loggable_path("/api/hooks/ph_0123abc"), "/api/hooks/***");
        assert_eq!(super::loggable_path("/api/scripts/1"), "/api/scripts/1");
    }
}
