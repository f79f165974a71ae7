//! Users, for admins: list, add, change (role, password, active), delete.

use std::future::Future;

use super::{call, call_empty, get, Failure, Method};
use crate::model::{NewUser, UserInfo, UserUpdate};

pub fn list() -> impl Future<Output = Result<Vec<UserInfo>, Failure>> + Send + 'static {
    get("/api/users")
}

pub fn create(new: &NewUser) -> impl Future<Output = Result<UserInfo, Failure>> + Send + 'static {
    call(Method::Post, "/api/users", Some(new))
}

pub fn update(id: i64, change: &UserUpdate) -> impl Future<Output = Result<UserInfo, Failure>> + Send + 'static {
    call(Method::Put, &format!("/api/users/{id}"), Some(change))
}

pub fn delete(id: i64) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Delete, &format!("/api/users/{id}"), None)
}
