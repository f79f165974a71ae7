//! One module per page of the app.

pub mod auth;
pub mod env;
pub mod execution;
pub mod executions;
pub mod not_found;
pub mod schedules;
pub mod script_edit;
pub mod scripts;
pub mod tokens;
pub mod users;
