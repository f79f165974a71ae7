//! `/api/code/*`: what the editor asks while someone types.

use app::error::ErrorBody;
use app::model::{CheckReport, InlineMetadata, InputsReport, MetadataWrite, Source};
use axum::extract::State;
use axum::Json;

use crate::auth::{Editor, Identity};
use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::state::AppState;

/// Syntax errors and warnings of Python source, found by compiling it with the server's Python
/// without running it.
#[utoipa::path(post, path = "/code/check", tag = "code", request_body = Source, responses(
    (status = 200, body = CheckReport),
    (status = 422, description = "The source is too large", body = ErrorBody),
))]
pub async fn check(
    State(state): State<AppState>,
    _identity: Identity,
    ApiJson(source): ApiJson<Source>,
) -> Result<Json<CheckReport>, ApiError> {
    Ok(Json(state.code.check(&source.content).await?))
}

/// The inputs a source takes (its `argparse` arguments or its `main()` parameters), read from
/// its syntax tree without running it, with notices for what the form cannot take: the form
/// that the editor shows as it will appear.
#[utoipa::path(post, path = "/code/inputs", tag = "code", request_body = Source, responses(
    (status = 200, body = InputsReport),
    (status = 422, description = "The source is too large, or makes the reader go past its limits", body = ErrorBody),
))]
pub async fn inputs(
    State(state): State<AppState>,
    _identity: Identity,
    ApiJson(source): ApiJson<Source>,
) -> Result<Json<InputsReport>, ApiError> {
    Ok(Json(state.code.inputs(&source.content).await?))
}

/// Python source formatted by `ruff format`.
#[utoipa::path(post, path = "/code/format", tag = "code", request_body = Source, responses(
    (status = 200, body = Source),
    (status = 403, description = "Viewers cannot edit", body = ErrorBody),
    (status = 422, description = "The source does not parse (the message says where) or is too large", body = ErrorBody),
    (status = 503, description = "ruff is not installed", body = ErrorBody),
))]
pub async fn format(State(state): State<AppState>, _editor: Editor, ApiJson(source): ApiJson<Source>) -> Result<Json<Source>, ApiError> {
    Ok(Json(Source { content: state.code.format(&source.content).await? }))
}

/// The PEP 723 `# /// script` block of a source: its dependencies, those refused and why.
#[utoipa::path(post, path = "/code/metadata", tag = "code", request_body = Source, responses(
    (status = 200, body = InlineMetadata),
    (status = 422, description = "The block is not valid TOML", body = ErrorBody),
))]
pub async fn metadata(_identity: Identity, ApiJson(source): ApiJson<Source>) -> Result<Json<InlineMetadata>, ApiError> {
    app::validate::content(&source.content)?;
    super::pep723::read(&source.content).map(Json).map_err(|message| ApiError::invalid("content", message))
}

/// The source with a PEP 723 block listing these dependencies.
#[utoipa::path(post, path = "/code/metadata/write", tag = "code", request_body = MetadataWrite, responses(
    (status = 200, body = Source),
    (status = 422, body = ErrorBody),
))]
pub async fn write_metadata(_identity: Identity, ApiJson(change): ApiJson<MetadataWrite>) -> Result<Json<Source>, ApiError> {
    app::validate::content(&change.content)?;
    let content =
        super::pep723::write(&change.content, &change.dependencies).map_err(|message| ApiError::invalid("dependencies", message))?;
    Ok(Json(Source { content }))
}
