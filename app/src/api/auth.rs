//! Signing in and out, and the first admin of a new install.

use std::future::Future;

use super::{call, call_empty, Failure, Method};
use crate::model::{Credentials, FirstAdmin, PasswordChange, SetupStatus, UserInfo};

pub fn login(credentials: &Credentials) -> impl Future<Output = Result<UserInfo, Failure>> + Send + 'static {
    call(Method::Post, "/api/auth/login", Some(credentials))
}

pub fn logout() -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Post, "/api/auth/logout", None)
}

/// Whether the first admin is still to be made, and whether this browser needs the setup code.
pub fn setup_status() -> impl Future<Output = Result<SetupStatus, Failure>> + Send + 'static {
    call(Method::Get, "/api/setup", None::<&()>)
}

/// Creates the first admin and signs them in; refused once any user exists.
pub fn setup(first: &FirstAdmin) -> impl Future<Output = Result<UserInfo, Failure>> + Send + 'static {
    call(Method::Post, "/api/setup", Some(first))
}

/// Changes your own password; your other sessions end (and your tokens, when asked).
pub fn change_password(change: &PasswordChange) -> impl Future<Output = Result<UserInfo, Failure>> + Send + 'static {
    call(Method::Post, "/api/auth/password", Some(change))
}
