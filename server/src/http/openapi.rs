//! The REST API's router and its OpenAPI 3 document, built together: a handler is added with its
//! `#[utoipa::path]` through `routes!`, so the document cannot miss a route.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::health;
use crate::auth::routes as auth;
use crate::code::routes as code;
use crate::deps::routes as deps;
use crate::executions::routes as executions;
use crate::schedules::routes as schedules;
use crate::scripts::routes as scripts;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PyTask Manager API",
        description = "Keep, schedule and run Python scripts. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`."
    ),
    components(schemas(app::error::ErrorBody, app::error::ErrorDetail)),
    modifiers(&Security),
    security(("session" = []), ("token" = []))
)]
struct ApiDoc;

/// Declares the two ways to authenticate: the session cookie and a bearer API token.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("pytask_session"))));
        components.add_security_scheme("token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// The API's routes and the document describing them, from one list.
fn build() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api",
            OpenApiRouter::new()
                .routes(routes!(health::health))
                .routes(routes!(auth::login))
                .routes(routes!(auth::logout))
                .routes(routes!(auth::me))
                .routes(routes!(auth::setup_status, auth::setup))
                .routes(routes!(auth::list_users, auth::create_user))
                .routes(routes!(auth::update_user, auth::delete_user))
                .routes(routes!(auth::list_tokens, auth::create_token))
                .routes(routes!(auth::revoke_token))
                .routes(routes!(scripts::list, scripts::create))
                .routes(routes!(scripts::read, scripts::update, scripts::delete))
                .routes(routes!(scripts::tags))
                .routes(routes!(code::check))
                .routes(routes!(code::format))
                .routes(routes!(code::metadata))
                .routes(routes!(code::write_metadata))
                .routes(routes!(executions::list))
                .routes(routes!(executions::read))
                .routes(routes!(executions::execute))
                .routes(routes!(executions::stop))
                .routes(routes!(executions::logs))
                .routes(routes!(deps::list, deps::add))
                .routes(routes!(deps::update, deps::remove))
                .routes(routes!(deps::install))
                .routes(routes!(deps::check))
                .routes(routes!(deps::validate))
                .routes(routes!(schedules::list, schedules::create))
                .routes(routes!(schedules::update, schedules::delete))
                .routes(routes!(schedules::describe))
                .routes(routes!(schedules::timezones)),
        )
        .split_for_parts()
}

/// Every `/api` route, plus `/api/openapi.json` serving the document that describes them.
pub fn api_router() -> Router<AppState> {
    let (router, document) = build();
    let document = Arc::new(document);
    router.route("/api/openapi.json", get(move || async move { Json(document.as_ref().clone()) }))
}

/// The document alone, for tools and tests.
pub fn document() -> utoipa::openapi::OpenApi {
    build().1
}
