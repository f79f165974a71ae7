//! The REST API's router and its OpenAPI 3 document, built together: a handler is added with its
//! `#[utoipa::path]` through `routes!`, so the document cannot miss a route. `CommonErrors`
//! adds the answers of the layers in front of the handlers (gate, guard, body extractor), so
//! the document lists every status the server can really give (`scripts/sweep` checks it).

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Router;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::health;
use crate::auth::routes as auth;
use crate::code::routes as code;
use crate::deps::routes as deps;
use crate::env::routes as env;
use crate::executions::routes as executions;
use crate::hooks::routes as hooks;
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

/// The error answers an operation gets before (or around) its handler, added to each operation
/// where they can happen unless its annotation describes them already:
/// - every operation: 400 for a URL that is not text (`guard`) or a parameter of the wrong type;
/// - every operation but the public ones (`security(())`): 401 without a valid session or token;
/// - every POST/PUT/DELETE: 403 when it comes from another site (`auth::middleware::gate`);
/// - every operation with a JSON body: 400 malformed, 408 body too slow, 413 body too large,
///   415 not JSON, 422 a field of the wrong type or shape (`ApiJson`).
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let PathItem { get, put, post, delete, .. } = item;
            for (operation, changes_state) in [(get, false), (put, true), (post, true), (delete, true)] {
                if let Some(operation) = operation {
                    add_common_errors(operation, changes_state);
                }
            }
        }
    }
}

fn add_common_errors(operation: &mut Operation, changes_state: bool) {
    let public = operation.security.as_ref().is_some_and(|requirements| requirements.contains(&SecurityRequirement::default()));
    let has_body = operation.request_body.is_some();
    let mut add = |status: &str, description: &str| {
        let error = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        let response = ResponseBuilder::new().description(description).content("application/json", error).build();
        operation.responses.responses.entry(status.to_string()).or_insert(response.into());
    };
    if has_body {
        add("400", "Malformed: the body is not JSON, the URL is not text, or a parameter has the wrong type");
        add("408", "The body did not arrive within the client timeout");
        add("413", "The body is larger than the limit (`--max-body-bytes`)");
        add("415", "The body is not sent as `Content-Type: application/json`");
        add("422", "A field has the wrong type or an invalid value; `field` names it");
    } else {
        add("400", "Malformed: the URL is not text, or a parameter has the wrong type");
    }
    if !public {
        add("401", "Not signed in: no session cookie, or a bad `Authorization: Bearer` token");
    }
    if changes_state {
        add("403", "Refused: the request came from another site, or your role may not do this");
    }
}

/// This API's OpenAPI document, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    // An `OpenApi` is maps and strings with string keys: serialising it cannot fail.
    serde_json::to_string(&document()).expect("the OpenAPI document serialises to JSON")
});

/// This document: every route of the API, its parameters, bodies and answers.
#[utoipa::path(get, path = "/openapi.json", tag = "system", responses((status = 200, description = "The OpenAPI document", body = Object)))]
async fn openapi_json() -> axum::response::Response {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str()).into_response()
}

/// The API's routes and the document describing them, from one list.
fn build() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api",
            OpenApiRouter::new()
                .routes(routes!(health::health))
                .routes(routes!(openapi_json))
                .routes(routes!(auth::login))
                .routes(routes!(auth::logout))
                .routes(routes!(auth::me))
                .routes(routes!(auth::change_password))
                .routes(routes!(auth::setup_status, auth::setup))
                .routes(routes!(auth::list_users, auth::create_user))
                .routes(routes!(auth::update_user, auth::delete_user))
                .routes(routes!(auth::list_tokens, auth::create_token))
                .routes(routes!(auth::revoke_token))
                .routes(routes!(scripts::list, scripts::create))
                .routes(routes!(scripts::read, scripts::update, scripts::delete))
                .routes(routes!(scripts::tags))
                .routes(routes!(scripts::inputs_schema))
                .routes(routes!(hooks::list, hooks::create))
                .routes(routes!(hooks::revoke))
                .routes(routes!(hooks::fire))
                .routes(routes!(code::check))
                .routes(routes!(code::format))
                .routes(routes!(code::inputs))
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
                .routes(routes!(schedules::unfit))
                .routes(routes!(schedules::skipped))
                .routes(routes!(schedules::describe))
                .routes(routes!(schedules::timezones))
                .routes(routes!(env::list_global))
                .routes(routes!(env::set_global, env::delete_global))
                .routes(routes!(env::list_script))
                .routes(routes!(env::set_script, env::delete_script)),
        )
        .split_for_parts();
    // Not an `#[openapi(modifiers)]`: those run before `routes!` has added the paths.
    utoipa::Modify::modify(&CommonErrors, &mut document);
    (router, document)
}

/// Every `/api` route, `/api/openapi.json` included.
pub fn api_router() -> Router<AppState> {
    // Built at startup, not on the first request that asks for it.
    LazyLock::force(&DOCUMENT);
    build().0
}

/// The document alone, for tools and tests.
pub fn document() -> utoipa::openapi::OpenApi {
    build().1
}

#[cfg(test)]
mod tests {
    use app::model::{ExecutionStatus, LogStream, Role, Trigger};
    use serde_json::{json, Value};

    fn words<T: Copy>(all: &[T], text: fn(T) -> &'static str) -> Value {
        json!(all.iter().map(|v| text(*v)).collect::<Vec<_>>())
    }

    #[test]
    fn word_enums_are_documented_as_they_are_sent() {
        let document = serde_json::to_value(super::document()).unwrap();
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["ExecutionStatus"]["enum"], words(ExecutionStatus::ALL, ExecutionStatus::as_str));
        assert_eq!(schemas["Trigger"]["enum"], words(Trigger::ALL, Trigger::as_str));
        assert_eq!(schemas["Role"]["enum"], words(Role::ALL, Role::as_str));
        assert_eq!(schemas["LogStream"]["enum"], words(LogStream::ALL, LogStream::as_str));
    }

    #[test]
    fn every_operation_documents_the_errors_of_the_layers_in_front() {
        let document = serde_json::to_value(super::document()).unwrap();
        let public = [
            ("/api/health", "get"),
            ("/api/auth/login", "post"),
            ("/api/setup", "get"),
            ("/api/setup", "post"),
            ("/api/hooks/{token}", "post"),
        ];
        let mut operations = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let responses = operation["responses"].as_object().unwrap();
                let has = |status: &str| responses.contains_key(status);
                assert!(has("400"), "{method} {path}");
                if !public.contains(&(path.as_str(), method.as_str())) {
                    assert!(has("401"), "{method} {path}");
                }
                if method != "get" {
                    assert!(has("403"), "{method} {path}");
                }
                if operation.get("requestBody").is_some() {
                    assert!(["408", "413", "415", "422"].iter().all(|s| has(s)), "{method} {path}");
                }
            }
        }
        assert!(operations > 40, "{operations} operations");
        assert!(!document["paths"]["/api/health"]["get"]["responses"].as_object().unwrap().contains_key("401"));
    }

    #[test]
    fn every_reference_resolves() {
        let document = serde_json::to_value(super::document()).unwrap();
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(document["components"]["schemas"].get(name).is_some(), "`{name}` is referenced but not in components");
        }
    }
}
