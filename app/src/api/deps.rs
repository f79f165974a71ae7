//! A script's requirements: list, add, change, remove, install; and the check of one as it is
//! typed.

use std::future::Future;

use super::{call, call_empty, encode, get, Failure, Method};
use crate::model::{Dependency, DependencyUpdate, InstallStarted, NewDependency};

pub fn list(script_id: i64) -> impl Future<Output = Result<Vec<Dependency>, Failure>> + Send + 'static {
    get(&format!("/api/scripts/{script_id}/dependencies"))
}

pub fn add(script_id: i64, new: &NewDependency) -> impl Future<Output = Result<Dependency, Failure>> + Send + 'static {
    call(Method::Post, &format!("/api/scripts/{script_id}/dependencies"), Some(new))
}

pub fn update(script_id: i64, name: &str, change: &DependencyUpdate) -> impl Future<Output = Result<Dependency, Failure>> + Send + 'static {
    call(Method::Put, &format!("/api/scripts/{script_id}/dependencies/{}", encode(name)), Some(change))
}

pub fn remove(script_id: i64, name: &str) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Delete, &format!("/api/scripts/{script_id}/dependencies/{}", encode(name)), None)
}

/// Starts installing the requirements into the script's environment; progress comes as events.
pub fn install(script_id: i64) -> impl Future<Output = Result<InstallStarted, Failure>> + Send + 'static {
    call::<(), _>(Method::Post, &format!("/api/scripts/{script_id}/dependencies/install"), None)
}

/// The requirement as the server reads it (name normalized), or why it is not one.
pub fn check(wanted: &NewDependency) -> impl Future<Output = Result<NewDependency, Failure>> + Send + 'static {
    call(Method::Post, "/api/requirements/check", Some(wanted))
}
