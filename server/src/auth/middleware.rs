//! The gate in front of every route: finds who is asking (session cookie or bearer token),
//! refuses cross-site state changes, and lets nothing through without an identity except the
//! few public routes (health, sign-in, first-admin setup, static assets) and `/metrics` when a
//! metrics token is set (the route checks that token itself).

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, LOCATION, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{sessions, tokens, users, AuthVia, Identity};
use crate::http::client::Client;
use crate::http::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Open to everyone.
    Public,
    /// A webhook (`POST /api/hooks/{token}`): open, from any site; the token in its path is
    /// its credential, checked by the route, and a cookie sent along is never looked at.
    Hook,
    /// The sign-in and setup pages: open, but they redirect when they make no sense.
    AuthPage,
    /// JSON API and WebSockets: 401 without identity.
    Api,
    /// Pages: a redirect to sign-in (or setup) without identity.
    Page,
}

/// `metrics_token`: the scraper's token, when one is configured; a scraper is no user, so its
/// bearer token must not be looked up as an API token.
fn access_of(method: &Method, path: &str, metrics_token: Option<&str>) -> Access {
    let read = method == Method::GET || method == Method::HEAD;
    match path {
        "/metrics" if read && metrics_token.is_some() => Access::Public,
        "/metrics" => Access::Api,
        "/api/health" if read => Access::Public,
        "/api/auth/login" | "/api/setup" => Access::Public,
        _ if method == Method::POST && path.starts_with("/api/hooks/") => Access::Hook,
        "/login" | "/setup" if read => Access::AuthPage,
        "/favicon.svg" => Access::Public,
        _ if path.starts_with("/pkg/") || path.starts_with("/monaco/") => Access::Public,
        _ if path == "/api" || path.starts_with("/api/") || path.starts_with("/ws/") => Access::Api,
        _ if read => Access::Page,
        // A page route only answers GET; anything else is an API-like call (e.g. server functions).
        _ => Access::Api,
    }
}

pub async fn gate(State(state): State<AppState>, client: Client, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let access = access_of(&method, &path, state.config.metrics_token.as_deref());
    // Public routes (assets, health, sign-in, setup) never use the identity: asking the
    // database who sent each asset request would be wasted work.
    let identity = match access {
        Access::Public | Access::Hook => None,
        _ => match identify(&state, req.headers()).await {
            Ok(identity) => identity,
            Err(err) => return err.into_response(),
        },
    };
    let by_cookie = identity.as_ref().is_none_or(|i| matches!(i.via, AuthVia::Session(_)));
    let websocket = path.starts_with("/ws/");
    // Cookies ride along on requests from any site; only same-origin ones may change things.
    if access != Access::Hook && (changes_state(&method) && by_cookie || websocket) && !same_origin(req.headers(), &client) {
        return ApiError::Forbidden("this request came from another site and was refused".into()).into_response();
    }
    let signed_in = identity.is_some();
    if let Some(identity) = identity {
        req.extensions_mut().insert(identity.user.clone());
        req.extensions_mut().insert(identity);
    }
    match (access, signed_in) {
        (Access::Public | Access::Hook, _) | (Access::Api | Access::Page, true) => next.run(req).await,
        (Access::AuthPage, true) => {
            let next = req.uri().query().and_then(next_param).unwrap_or_else(|| "/".into());
            redirect(&app::validate::next_path(&next))
        }
        (Access::AuthPage, false) => match (path.as_str(), state.needs_setup().await) {
            (_, Err(err)) => err.into_response(),
            ("/login", Ok(true)) => redirect("/setup"),
            ("/setup", Ok(false)) => redirect("/login"),
            _ => next.run(req).await,
        },
        (Access::Api, false) => ApiError::Unauthorized.into_response(),
        (Access::Page, false) => match state.needs_setup().await {
            Err(err) => err.into_response(),
            Ok(true) => redirect("/setup"),
            Ok(false) => {
                let target = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
                let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("next", target).finish();
                redirect(&format!("/login?{query}"))
            }
        },
    }
}

/// The identity of a request: a bearer token if one is sent (a bad one is an error, never a
/// fallback to the cookie), else the session cookie (a stale one just means "not signed in").
async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Option<Identity>, ApiError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let secret = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::InvalidToken("the Authorization header must be `Bearer <token>`"))?;
        return match tokens::user_of(&state.db, secret).await? {
            Some((user, id)) => Ok(Some(Identity { user, via: AuthVia::Token(id) })),
            None => Err(ApiError::InvalidToken("the API token is unknown, expired or revoked")),
        };
    }
    let Some(secret) = app::cookies::get(headers, sessions::cookie_name(&state.config)) else {
        return Ok(None);
    };
    let idle = sessions::idle_timeout(&state.config);
    Ok(sessions::user_of(&state.db, &secret, idle).await?.map(|(user, digest)| Identity { user, via: AuthVia::Session(digest) }))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// True unless the browser says the request came from another origin. Clients that send no
/// `Origin` (curl, scripts) are not browsers carrying someone else's cookie. The host compared
/// is the one the client asked for (a trusted proxy's `X-Forwarded-Host`, else `Host`), which
/// the host check has already found to be ours.
fn same_origin(headers: &HeaderMap, client: &Client) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return headers.get("sec-fetch-site").is_none_or(|site| site != "cross-site");
    };
    let Some(origin_host) = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, host)| host) else {
        return false;
    };
    client.host.as_deref().is_some_and(|host| host.eq_ignore_ascii_case(origin_host))
}

fn next_param(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "next").map(|(_, value)| value.into_owned())
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

impl AppState {
    /// True while no user exists. Once one does it stays so (the last admin cannot be deleted),
    /// so the answer is cached and the database asked only until then.
    pub async fn needs_setup(&self) -> Result<bool, ApiError> {
        if self.has_users.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(false);
        }
        let none = users::count(&self.db).await? == 0;
        if !none {
            self.mark_has_users();
        }
        Ok(none)
    }

    pub fn mark_has_users(&self) {
        self.has_users.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    #[test]
    fn origin_must_match_host() {
        let check = |pairs: &[(&str, &str)]| {
            let headers = headers(pairs);
            same_origin(&headers, &Client::of("10.0.0.9".parse().unwrap(), &headers, &[]))
        };
        assert!(check(&[("host", "pytask:3000"), ("origin", "http://pytask:3000")]));
        assert!(!check(&[("host", "pytask:3000"), ("origin", "http://evil.example")]));
        assert!(!check(&[("host", "pytask:3000"), ("origin", "null")]));
        assert!(check(&[("host", "pytask:3000")]));
        assert!(!check(&[("host", "pytask:3000"), ("sec-fetch-site", "cross-site")]));
        assert!(
            !check(&[("host", "pytask:3000"), ("x-forwarded-host", "evil.example"), ("origin", "http://evil.example")]),
            "a forwarded host counts only from a trusted proxy"
        );
    }

    #[test]
    fn routes_are_closed_unless_listed() {
        assert_eq!(access_of(&Method::GET, "/api/health", None), Access::Public);
        assert_eq!(access_of(&Method::POST, "/api/health", None), Access::Api);
        assert_eq!(access_of(&Method::GET, "/api/openapi.json", None), Access::Api);
        assert_eq!(access_of(&Method::GET, "/", None), Access::Page);
        assert_eq!(access_of(&Method::GET, "/ws/executions/1", None), Access::Api);
        assert_eq!(access_of(&Method::POST, "/executions", None), Access::Api);
        assert_eq!(access_of(&Method::GET, "/login", None), Access::AuthPage);
        assert_eq!(access_of(&Method::GET, "/metrics", None), Access::Api);
        assert_eq!(access_of(&Method::GET, "/metrics", Some("scraper")), Access::Public);
        assert_eq!(access_of(&Method::POST, "/api/hooks/ph_abc", None), Access::Hook);
        assert_eq!(access_of(&Method::GET, "/api/hooks/ph_abc", None), Access::Api, "only POST is a hook");
        assert_eq!(access_of(&Method::POST, "/metrics", Some("scraper")), Access::Api);
    }
}
