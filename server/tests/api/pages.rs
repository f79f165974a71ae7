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

async fn pages_render_their_data_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let response = app
        .request(reqwest::Method::POST, "/api/scripts", Some(&admin))
        .json(&serde_json::json!({"name": "Rendered <on> server", "tags": ["ssr"], "content": "print(1)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let script: app::model::Script = response.json().await.unwrap();
    let html = app.get_as(&admin, "/?tag=ssr").await.text().await.unwrap();
    assert!(html.contains("Rendered &lt;on&gt; server"), "the list is in the first HTML, escaped: {html}");
    let html = app.get_as(&admin, &format!("/scripts/{}", script.id)).await.text().await.unwrap();
    assert!(html.contains("print(1)"), "{html}");
    let html = app.get_as(&admin, "/scripts/999999").await.text().await.unwrap();
    assert!(html.contains("there is no script 999999"), "{html}");
}

on_both_backends!(pages_render_their_data_on_the_server, shell_is_server_rendered, theme_cookie_is_rendered, unknown_page_is_404);
