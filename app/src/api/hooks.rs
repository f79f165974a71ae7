//! A script's webhooks: list, make (the URL with its token comes back this once), revoke.

use std::future::Future;

use super::{call, call_empty, get, Failure, Method};
use crate::model::{CreatedHook, Hook, NewHook};

pub fn list(script_id: i64) -> impl Future<Output = Result<Vec<Hook>, Failure>> + Send + 'static {
    get(&format!("/api/scripts/{script_id}/hooks"))
}

/// A new hook; its URL holds the token, in this answer and nowhere else, ever.
pub fn create(script_id: i64, new: &NewHook) -> impl Future<Output = Result<CreatedHook, Failure>> + Send + 'static {
    call(Method::Post, &format!("/api/scripts/{script_id}/hooks"), Some(new))
}

pub fn revoke(script_id: i64, hook_id: i64) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Delete, &format!("/api/scripts/{script_id}/hooks/{hook_id}"), None)
}
