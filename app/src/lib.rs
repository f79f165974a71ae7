//! Everything the server and the browser share: the data types of the API (`model`), the JSON
//! error shape (`error`), and the Leptos components and pages, rendered on the server (`ssr`)
//! and hydrated in the browser (`hydrate`).
// Leptos views are nested types; the script page goes beyond the default depth of 128.
#![recursion_limit = "256"]

pub mod api;
pub mod browser;
pub mod components;
#[cfg(feature = "ssr")]
pub mod cookies;
pub mod error;
pub mod hooks;
pub mod live;
pub mod model;
pub mod pages;
pub mod session;
pub mod theme;
pub mod validate;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::components::layout::Layout;
use crate::pages::{
    auth::{LoginPage, SetupPage},
    env::EnvPage,
    execution::{ExecutionDetailPage, ScriptExecutePage},
    executions::ExecutionsPage,
    not_found::NotFound,
    schedules::ScriptSchedulesPage,
    script_edit::ScriptEditPage,
    scripts::ScriptsPage,
    tokens::TokensPage,
    users::UsersPage,
};
use crate::theme::Theme;

/// The HTML document around the app. Rendered on the server only; the theme attribute comes from
/// the visitor's cookie so the first paint already has the right colours.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = Theme::from_request();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.map(Theme::as_str)>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    session::provide_current_user();
    // Effects run only in the browser, after hydration: the marker tells tests (and anyone
    // debugging) that the page is interactive.
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = leptos::prelude::document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/pytask.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { "PyTask Manager".to_string() } else { format!("{page} · PyTask Manager") }
        } />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=ScriptsPage />
                    <Route path=path!("/scripts/new") view=ScriptEditPage />
                    // Async: the status (404 for an unknown id) is known before the first byte.
                    <Route path=path!("/scripts/:id") view=ScriptEditPage ssr=SsrMode::Async />
                    <Route path=path!("/scripts/:id/execute") view=ScriptExecutePage ssr=SsrMode::Async />
                    <Route path=path!("/scripts/:id/schedules") view=ScriptSchedulesPage ssr=SsrMode::Async />
                    <Route path=path!("/executions") view=ExecutionsPage />
                    <Route path=path!("/executions/:id") view=ExecutionDetailPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/setup") view=SetupPage />
                    <Route path=path!("/users") view=UsersPage />
                    <Route path=path!("/settings/tokens") view=TokensPage />
                    <Route path=path!("/settings/env") view=EnvPage />
                </Routes>
            </Layout>
        </Router>
    }
}
