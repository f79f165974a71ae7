//! The security headers of every response: a Content-Security-Policy, and the headers that stop
//! MIME sniffing, framing, referrer leaks and (behind https) downgrades to plain http.
//!
//! A page's policy carries a nonce drawn for that response. The only inline scripts a page has
//! are the ones Leptos writes (the hydration starter, the chunks of streamed resources), and
//! Leptos puts the nonce it finds in the render's context on each of them; any other inline
//! script, say one smuggled into a script's description, has no nonce and does not run. Other
//! responses (the API, static files, redirects) get the same policy without a nonce: they hold
//! no inline script, and drawing a nonce for each asset would be work for nothing. So the nonce
//! is drawn lazily, by the render, in a slot this middleware puts in the request and reads back.

use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, use_context};

use crate::config::Config;

/// The policy's directives up to `script-src`'s sources, without a nonce. Same-origin files
/// only, so the wasm glue (`/pkg`) and Monaco's AMD loader, which adds `<script src>` elements of
/// its own under `/monaco`, load. `'wasm-unsafe-eval'` lets the wasm be compiled, and nothing else:
/// neither `eval` nor `new Function` is allowed.
const SCRIPT_SRC: &str = "default-src 'self'; script-src 'self'";

/// The rest of the policy.
/// - `style-src 'unsafe-inline'`: Monaco writes its styles into `<style>` elements it creates at
///   run time (it takes no nonce for them), and the log view sets `style` attributes that the
///   server renders too. Injected styles cannot run code, and what they could fetch to leak a
///   page's text is kept to this origin by `img-src` and `font-src`: an accepted risk.
/// - `img-src`/`font-src data:`: Monaco's stylesheet embeds its icons and its icon font as `data:`.
/// - `worker-src blob:`: Monaco starts each web worker from a `blob:` URL whose script only
///   imports the worker file from `/monaco` (allowed by `script-src 'self'`, the policy the blob
///   worker inherits).
/// - `connect-src 'self'`: the API, the wasm and the WebSockets: CSP Level 3 has `'self'` match
///   `ws:`/`wss:` of the same host and port, as Chromium does (end2end/tests/csp.spec.ts streams
///   a live log under this policy).
/// - `base-uri`, `object-src`, `form-action`, `frame-ancestors`: none of them is used otherwise,
///   and each is a way around the rest (a `<base>` that re-points relative scripts, plugins,
///   forms posting elsewhere, clickjacking).
const AFTER_SCRIPT_SRC: &str = "'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The header values made once at start: all but a page's policy.
#[derive(Debug, Clone)]
pub struct SecurityHeaders(Arc<Fixed>);

#[derive(Debug)]
struct Fixed {
    /// The policy of every response that renders no page.
    policy: HeaderValue,
    others: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeaders {
    pub fn from_config(config: &Config) -> SecurityHeaders {
        let mut others = vec![
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            // The app's own links keep their full address (the back link of a page); no other
            // site learns which script or run a user came from, not even this host's name,
            // which `strict-origin-when-cross-origin` would still send.
            (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
            // `frame-ancestors 'none'` for the browsers that predate it.
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            // A window this app opens, or that opens it, gets no handle on the other.
            (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        ];
        // Only when users reach us through https (a proxy terminates TLS, we never do): sent
        // over plain http it would be ignored, and a wrong public URL would lock browsers out
        // of a plain-http instance for a year. No `includeSubDomains`: other sites of the
        // domain are not ours to force.
        if config.public_url.as_ref().is_some_and(|url| url.https) {
            others.push((header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000")));
        }
        let policy = HeaderValue::try_from(content_security_policy(None)).expect("the policy is made of constant ASCII text");
        SecurityHeaders(Arc::new(Fixed { policy, others }))
    }
}

/// The Content-Security-Policy: `nonce` is the page's, if the response renders one.
fn content_security_policy(nonce: Option<&str>) -> String {
    match nonce {
        Some(nonce) => format!("{SCRIPT_SRC} 'nonce-{nonce}' {AFTER_SCRIPT_SRC}"),
        None => format!("{SCRIPT_SRC} {AFTER_SCRIPT_SRC}"),
    }
}

/// The slot of one response's nonce: empty until the response renders a page.
#[derive(Debug, Clone, Default)]
struct PageNonce(Arc<OnceLock<Nonce>>);

/// Part of the pages' render context: draws this response's nonce and hands it to Leptos, which
/// puts it on the scripts it writes. Leptos' integration draws a nonce of its own for each render
/// too, before this runs; this one replaces it, so that the header can carry it. Outside a
/// request of ours (a static file served by the fallback) there is nothing to do.
pub fn provide_page_nonce() {
    let Some(slot) = use_context::<Parts>().and_then(|parts| parts.extensions.get::<PageNonce>().cloned()) else { return };
    provide_context(slot.0.get_or_init(Nonce::new).clone());
}

/// Puts the slot of a page's nonce in the request, then the headers on its response.
pub async fn secure(State(headers): State<SecurityHeaders>, mut req: Request, next: Next) -> Response {
    let slot = PageNonce::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    // A page has drawn its nonce by now: Leptos renders up to the first chunk before it answers
    // with the status and headers.
    let policy = match slot.0.get() {
        // The nonce is URL-safe base64, so this is always a valid header value; were it not, the
        // page's inline scripts would be refused, which is the safe way to fail.
        Some(nonce) => HeaderValue::try_from(content_security_policy(Some(&**nonce))).unwrap_or_else(|_| headers.0.policy.clone()),
        None => headers.0.policy.clone(),
    };
    let map = response.headers_mut();
    map.insert(header::CONTENT_SECURITY_POLICY, policy);
    for (name, value) in &headers.0.others {
        map.insert(name.clone(), value.clone());
    }
    response
}
