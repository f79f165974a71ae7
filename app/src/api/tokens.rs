//! The signed-in user's API tokens.

use std::future::Future;

use super::{call, call_empty, get, Failure, Method};
use crate::model::{CreatedToken, NewToken, TokenInfo};

pub fn list() -> impl Future<Output = Result<Vec<TokenInfo>, Failure>> + Send + 'static {
    get("/api/tokens")
}

/// A new token; its secret is in the answer and nowhere else, ever.
pub fn create(new: &NewToken) -> impl Future<Output = Result<CreatedToken, Failure>> + Send + 'static {
    call(Method::Post, "/api/tokens", Some(new))
}

pub fn revoke(id: i64) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Delete, &format!("/api/tokens/{id}"), None)
}
