//! Signing in and out, and the first admin of a new install.

use std::future::Future;

use super::{call, call_empty, Failure, Method};
use crate::model::{Credentials, UserInfo};

pub fn login(credentials: &Credentials) -> impl Future<Output = Result<UserInfo, Failure>> + Send + 'static {
    call(Method::Post, "/api/auth/login", Some(credentials))
}

pub fn logout() -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Post, "/api/auth/logout", None)
}

/// Creates the first admin and signs them in; refused once any user exists.
pub fn setup(credentials: &Credentials) -> impl Future<Output = Result<UserInfo, Failure>> + Send + 'static {
    call(Method::Post, "/api/setup", Some(credentials))
}
