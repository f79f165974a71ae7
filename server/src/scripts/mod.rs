//! Scripts and their tags: create, read, update (with a version check so two editors cannot
//! silently overwrite each other), delete with everything the script owns, list with filters.

pub mod error;
pub mod list_cache;
pub mod routes;
pub mod service;

pub use error::ScriptError;
