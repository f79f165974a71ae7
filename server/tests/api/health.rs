use app::model::Health;

use crate::helpers::{error_of, spawn_app, Api, Backend};
use crate::on_both_backends;

async fn ready_when_the_database_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/health").await;
    assert_eq!(response.status(), 200);
    let health: Health = response.json().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(health.database, Some(true));
}

async fn liveness_skips_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let health: Health = app.get("/api/health?ready=false").await.json().await.unwrap();
    assert_eq!(health.database, None);
    let response = app.get("/api/health?ready=maybe").await;
    assert_eq!(response.status(), 400);
    assert!(error_of(response).await.message.contains("ready"));
}

on_both_backends!(ready_when_the_database_answers, liveness_skips_the_database);
