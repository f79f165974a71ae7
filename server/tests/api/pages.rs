//! The server renders the app shell; unknown pages are a real 404.

use app::model::{Health, Role};

use crate::helpers::{spawn_app, spawn_app_with, Api, Backend};
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
    let admin = app.setup_admin().await;
    let html = app
        .client
        .get(app.url("/executions"))
        .header("cookie", format!("{}; pytask_theme=dark", admin.cookie()))
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
    let script = app.new_script(&admin, serde_json::json!({"name": "Rendered <on> server", "tags": ["ssr"], "content": "print(1)"})).await;
    let html = app.get_as(&admin, "/?tag=ssr").await.text().await.unwrap();
    assert!(html.contains("Rendered &lt;on&gt; server"), "the list is in the first HTML, escaped: {html}");
    let html = app.get_as(&admin, &format!("/scripts/{}", script.id)).await.text().await.unwrap();
    assert!(html.contains("print(1)"), "{html}");
    let response = app.get_as(&admin, "/scripts/999999").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("there is no script 999999"), "{html}");
    let response = app.get_as(&admin, "/scripts/abc").await;
    assert_eq!(response.status(), 404, "an address that names no number names no script");
    assert!(response.text().await.unwrap().contains("there is no script at this address"));

    // The admin pages too: a shared link shows the users and the tokens in the first HTML.
    app.add_user(&admin, "rendered_user", Role::Viewer).await;
    let html = app.get_as(&admin, "/users").await.text().await.unwrap();
    assert!(html.contains("rendered_user"), "{html}");
    app.token(&admin, "rendered-token").await;
    let html = app.get_as(&admin, "/settings/tokens").await.text().await.unwrap();
    assert!(html.contains("rendered-token"), "{html}");
    let run = app.execute(&admin, script.id).await;
    let html = app.get_as(&admin, &format!("/executions/{}", run.id)).await.text().await.unwrap();
    assert!(html.contains(&format!("Run #{}", run.id)), "{html}");
}

/// Runs that are not isolated are never silent (SPEC "Isolation"): every page an admin opens says
/// so and why; an editor's or a viewer's page carries none of it, not even in its data.
async fn admins_are_warned_when_runs_are_not_isolated(backend: Backend) {
    let app = spawn_app_with(backend, &["--sandbox", "off"]).await;
    let admin = app.setup_admin().await;
    let editor = app.add_user(&admin, "eddie", Role::Editor).await;
    let viewer = app.add_user(&admin, "vic", Role::Viewer).await;
    for path in ["/", "/executions", "/scripts/new", "/settings/tokens", "/users"] {
        let html = app.get_as(&admin, path).await.text().await.unwrap();
        assert!(html.contains(r#"class="banner warning""#), "{path}: {html}");
        assert!(html.contains("Runs are not isolated: --sandbox off (PYTASK_SANDBOX)"), "{path}: {html}");
        for other in [&editor, &viewer] {
            let html = app.get_as(other, path).await.text().await.unwrap();
            assert!(!html.contains("PYTASK_SANDBOX") && !html.contains("banner"), "{path}: {html}");
        }
    }

    // As configured by default, the banner shows exactly when health says runs are not isolated.
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let health: Health = app.get("/api/health").await.json().await.unwrap();
    let html = app.get_as(&admin, "/").await.text().await.unwrap();
    assert_eq!(html.contains(r#"class="banner warning""#), !health.sandbox.isolated, "{health:?}");
}

on_both_backends!(
    pages_render_their_data_on_the_server,
    shell_is_server_rendered,
    theme_cookie_is_rendered,
    unknown_page_is_404,
    admins_are_warned_when_runs_are_not_isolated
);
