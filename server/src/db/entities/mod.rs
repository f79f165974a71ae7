//! SeaORM entities, one per table of `migration`. Only repositories use them; handlers and
//! services see the DTOs of `app::model`.

pub mod api_token;
pub mod dependency;
pub mod env_var;
pub mod execution;
pub mod execution_log_chunk;
pub mod instance;
pub mod schedule;
pub mod schedule_skip;
pub mod script;
pub mod script_tag;
pub mod session;
pub mod tag;
pub mod user;
pub mod webhook;
