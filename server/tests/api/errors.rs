//! Malformed requests get the SPEC's JSON error with a fitting status, never a 500.

use reqwest::Method;

use crate::helpers::{error_of, spawn_app, Backend};
use crate::on_both_backends;

async fn unknown_api_route_is_json_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for path in ["/api/nope", "/api", "/api/scripts/1/no/such/thing", "/api/%ff%fe"] {
        let response = app.get_as(&admin, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_of(response).await.code, "not_found");
    }
}

async fn wrong_method_is_json_405(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.delete(app.url("/api/health")).send().await.unwrap();
    // Unsigned, the gate answers first; signed in, the router says the method is wrong.
    assert_eq!(response.status(), 401);
    let admin = app.setup_admin().await;
    let response = app.request(Method::DELETE, "/api/health", Some(&admin)).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let error = error_of(response).await;
    assert_eq!(error.code, "method_not_allowed");
    assert!(error.message.contains("DELETE"));
}

async fn malformed_bodies_get_clear_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.request(Method::POST, "/api/users", Some(&admin)).header("content-type", content_type).body(body).send()
    };
    let response = post(b"{\"username\": ".to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await.message.contains("not valid JSON"));

    let response = post(br#"{"username": "x", "password": "longenough", "role": "boss"}"#.to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 422);
    let error = error_of(response).await;
    assert_eq!(error.field.as_deref(), Some("role"), "{error:?}");

    let response = post(br#"{"username": 5}"#.to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(error_of(response).await.field.as_deref(), Some("username"));

    let response = post(b"username=x".to_vec(), "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(response.status(), 415);
    assert!(error_of(response).await.message.contains("application/json"));

    let response = post(b"{\"username\": \"\xff\xfe\"}".to_vec(), "application/json").await.unwrap();
    assert_eq!(response.status(), 400, "non-UTF-8 JSON is malformed");

    let huge = format!(r#"{{"username": "{}", "password": "x", "role": "viewer"}}"#, "a".repeat(100_000));
    let response = post(huge.into_bytes(), "application/json").await.unwrap();
    assert_eq!(response.status(), 413);
    assert!(error_of(response).await.message.contains("65536"));
}

async fn non_numeric_ids_are_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for path in ["/api/users/abc", "/api/users/1.5", "/api/users/99999999999999999999999"] {
        let response = app.request(Method::DELETE, path, Some(&admin)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let error = error_of(response).await;
        assert_eq!(error.field.as_deref(), Some("id"), "{path}: {error:?}");
    }
    let response = app.request(Method::DELETE, "/api/users/424242", Some(&admin)).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

async fn openapi_document_lists_the_routes(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/api/openapi.json").await.status(), 401);
    let admin = app.setup_admin().await;
    let response = app.get_as(&admin, "/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    assert!(document["paths"]["/api/health"]["get"].is_object(), "{document}");
    assert!(document["paths"]["/api/users/{id}"]["put"].is_object(), "{document}");
    assert!(document["components"]["schemas"]["ErrorBody"].is_object());
}

on_both_backends!(
    unknown_api_route_is_json_404,
    wrong_method_is_json_405,
    malformed_bodies_get_clear_errors,
    non_numeric_ids_are_400,
    openapi_document_lists_the_routes,
);
