//! The security headers (issue #23): every answer carries them, pages, API, static files and
//! redirects alike; a page's Content-Security-Policy has a nonce of its own, the one its scripts
//! carry, and nothing else does; HSTS only behind an https public URL.

use reqwest::Response;

use crate::helpers::{spawn_app, spawn_app_with, Actor, Api, Backend, TestApp};
use crate::on_both_backends;

/// The headers whose value is the same on every answer.
const FIXED: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// Directives the policy must have whatever the answer.
const DIRECTIVES: [&str; 8] = [
    "default-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
];

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().expect("an ASCII header value"))
}

/// Checks the headers of one answer; gives back the nonce of its policy, if it has one.
fn checked_headers(response: &Response, what: &str, hsts: Option<&str>) -> Option<String> {
    for (name, value) in FIXED {
        assert_eq!(header(response, name), Some(value), "{name} of {what}");
    }
    assert_eq!(header(response, "strict-transport-security"), hsts, "HSTS of {what}");
    let policy = header(response, "content-security-policy").unwrap_or_else(|| panic!("{what} has no Content-Security-Policy"));
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    for directive in DIRECTIVES {
        assert!(directives.contains(&directive), "{what}: {directive} is missing from {policy}");
    }
    let script_src =
        directives.iter().find(|d| d.starts_with("script-src ")).unwrap_or_else(|| panic!("{what}: no script-src in {policy}"));
    let sources: Vec<&str> = script_src.split_whitespace().skip(1).collect();
    let (nonces, others): (Vec<&str>, Vec<&str>) = sources.iter().partition(|source| source.starts_with("'nonce-"));
    assert_eq!(others, ["'self'", "'wasm-unsafe-eval'"], "{what}: no inline script or eval beyond the nonce: {policy}");
    assert!(nonces.len() <= 1, "{what}: {policy}");
    nonces.first().map(|source| source.trim_start_matches("'nonce-").trim_end_matches('\'').to_string())
}

/// The values of the `nonce` attributes in a page.
fn nonces_in(html: &str) -> Vec<&str> {
    html.split(" nonce=\"").skip(1).map(|rest| rest.split('"').next().unwrap_or_default()).collect()
}

/// GETs a page and checks it is one: HTML, with a nonce in its policy that is the nonce of
/// each of its scripts (and there are some: the hydration starter at least). Gives the nonce.
async fn page_nonce(app: &TestApp, actor: Option<&Actor>, path: &str, status: u16) -> String {
    let response = app.request(reqwest::Method::GET, path, actor).send().await.unwrap();
    assert_eq!(response.status(), status, "GET {path}");
    assert!(header(&response, "content-type").is_some_and(|t| t.starts_with("text/html")), "GET {path}");
    let nonce = checked_headers(&response, path, None).unwrap_or_else(|| panic!("the policy of page {path} has no nonce"));
    assert!(nonce.len() >= 22, "at least 128 bits: {nonce}");
    let html = response.text().await.unwrap();
    let in_html = nonces_in(&html);
    assert!(html.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)), "{path}: the hydration script carries the nonce: {html}");
    assert!(in_html.iter().all(|n| *n == nonce), "{path}: every nonce in the page is the header's ({nonce}): {in_html:?}");
    nonce
}

/// GETs something that is not a page and checks its policy has no nonce.
async fn not_a_page(app: &TestApp, actor: Option<&Actor>, path: &str, status: u16) -> Response {
    let response = app.request(reqwest::Method::GET, path, actor).send().await.unwrap();
    assert_eq!(response.status(), status, "GET {path}");
    assert_eq!(checked_headers(&response, path, None), None, "GET {path}: a nonce on something that is not a page");
    response
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    // Before the first admin: the setup page, and every other page sends there.
    page_nonce(&app, None, "/setup", 200).await;
    not_a_page(&app, None, "/", 303).await;
    let admin = app.setup_admin().await;
    let script = app.new_script(&admin, serde_json::json!({"name": "Headed", "content": "print(1)"})).await;
    let run = app.execute(&admin, script.id).await;

    let mut pages = 0;
    for route in server::http::page_paths() {
        let id = if route.starts_with("/executions/") { run.id } else { script.id }.to_string();
        let path = route.replace("{id}", &id).replace(":id", &id);
        // Signed in, the sign-in and setup pages send elsewhere: a redirect, not a page.
        if path == "/login" || path == "/setup" {
            not_a_page(&app, Some(&admin), &path, 303).await;
            continue;
        }
        page_nonce(&app, Some(&admin), &path, 200).await;
        pages += 1;
    }
    assert!(pages >= 10, "every page was checked: {pages}");
    page_nonce(&app, None, "/login", 200).await;
    page_nonce(&app, Some(&admin), "/no/such/page", 404).await;
    page_nonce(&app, Some(&admin), "/scripts/999999", 404).await;

    // The API: answers, errors and refusals.
    not_a_page(&app, None, "/api/health", 200).await;
    not_a_page(&app, Some(&admin), "/api/scripts", 200).await;
    not_a_page(&app, Some(&admin), "/api/no-such-route", 404).await;
    not_a_page(&app, None, "/api/scripts", 401).await;

    // Static files, which `nosniff` makes the browser take for exactly what they say they are.
    let css = not_a_page(&app, None, "/pkg/pytask.css", 200).await;
    assert!(header(&css, "content-type").is_some_and(|t| t.starts_with("text/css")));
    let loader = not_a_page(&app, None, "/monaco/vs/loader.js", 200).await;
    assert!(header(&loader, "content-type").is_some_and(|t| t.contains("javascript")));
    not_a_page(&app, None, "/favicon.svg", 200).await;
}

async fn each_page_has_a_nonce_of_its_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let first = page_nonce(&app, Some(&admin), "/executions", 200).await;
    let second = page_nonce(&app, Some(&admin), "/executions", 200).await;
    assert_ne!(first, second, "a nonce used twice is a nonce an attacker can learn");
}

async fn hsts_only_behind_an_https_public_url(backend: Backend) {
    // A proxy in front forwards the public host name.
    for (public_url, hsts) in [("https://tasks.example.com", Some("max-age=31536000")), ("http://tasks.example.com", None)] {
        let app = spawn_app_with(backend, &["--public-url", public_url]).await;
        for (path, status) in [("/api/health", 200), ("/setup", 200), ("/", 303), ("/favicon.svg", 200)] {
            let response = app.client.get(app.url(path)).header("host", "tasks.example.com").send().await.unwrap();
            assert_eq!(response.status(), status, "{public_url}: GET {path}");
            checked_headers(&response, path, hsts);
        }
    }
}

on_both_backends!(every_answer_carries_the_security_headers, each_page_has_a_nonce_of_its_own, hsts_only_behind_an_https_public_url);
