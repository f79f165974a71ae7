//! The server renders the app shell; unknown pages are a real 404.

use crate::helpers::{spawn_app, Backend};
use crate::on_both_backends;

async fn shell_is_server_rendered(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let response = app.get_as(&admin, "/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<nav"), "{html}");
    assert!(html.contains(r#"href="/executions""#));
    assert!(html.contains("/pkg/pytask.js"), "hydration script is linked");
    assert!(html.contains(">admin<"), "the signed-in user is shown");
}

async fn theme_cookie_is_rendered(backend: Backend) {
    let app = spawn_app(backend).await;
    let crate::helpers::Actor::Cookie(session) = app.setup_admin().await else { unreachable!() };
    let html = app
        .client
        .get(app.url("/executions"))
        .header("cookie", format!("{session}; pytask_theme=dark"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-theme="dark""#), "{html}");
    let html = app.client.get(app.url("/login")).header("cookie", "pytask_theme=<script>").send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("data-theme"), "an unknown theme value is ignored");
}

async fn unknown_page_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let response = app.get_as(&admin, "/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

on_both_backends!(shell_is_server_rendered, theme_cookie_is_rendered, unknown_page_is_404);
