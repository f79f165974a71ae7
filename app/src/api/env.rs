//! Variables and secrets: the globals, and a script's own with the globals it inherits; each
//! set (or replaced) and deleted by name. A secret's value goes to the server and never comes
//! back.

use std::future::Future;

use super::{call, call_empty, encode, get, Failure, Method};
use crate::model::{EnvScope, EnvValue, EnvVar};

/// Whose entries a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Every script's: `/api/env`.
    Global,
    /// One script's own: `/api/scripts/{id}/env`.
    Script(i64),
}

impl Owner {
    /// The scope of the entries this owner sets and deletes.
    pub fn scope(self) -> EnvScope {
        match self {
            Owner::Global => EnvScope::Global,
            Owner::Script(_) => EnvScope::Script,
        }
    }

    fn url(self) -> String {
        match self {
            Owner::Global => "/api/env".into(),
            Owner::Script(id) => format!("/api/scripts/{id}/env"),
        }
    }
}

/// The globals; for a script, its own entries followed by the globals (those its own replace
/// marked `overridden`).
pub fn list(owner: Owner) -> impl Future<Output = Result<Vec<EnvVar>, Failure>> + Send + 'static {
    get(&owner.url())
}

/// Sets `name`, replacing the owner's entry of that name if it has one.
pub fn set(owner: Owner, name: &str, value: &EnvValue) -> impl Future<Output = Result<EnvVar, Failure>> + Send + 'static {
    call(Method::Put, &format!("{}/{}", owner.url(), encode(name)), Some(value))
}

pub fn delete(owner: Owner, name: &str) -> impl Future<Output = Result<(), Failure>> + Send + 'static {
    call_empty::<()>(Method::Delete, &format!("{}/{}", owner.url(), encode(name)), None)
}
