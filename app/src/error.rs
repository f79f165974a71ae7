//! The one JSON error shape of the API: `{"error": {"code", "message", "field"?}}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `unauthorized`, `bad_credentials`,
    /// `invalid_token`, `forbidden`, `not_found`, `method_not_allowed`, `request_timeout`,
    /// `conflict`, `invalid`, `payload_too_large`, `unsupported_media_type`,
    /// `too_many_requests`, `busy`, `misdirected_host`, `unavailable`, `too_many_websockets`,
    /// `internal`.
    pub code: String,
    /// A sentence for the person who caused the error.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
