//! API integration tests: one binary, every test on SQLite and on PostgreSQL against the real
//! server on a random port.

mod helpers;

mod auth;
mod code;
mod connections;
mod deps;
mod env;
mod errors;
mod executions;
mod hardening;
mod hardening_runs;
mod headers;
mod health;
mod inputs;
mod instances;
mod isolation;
mod metrics;
mod pages;
mod retention;
mod runs;
mod schedules;
mod scripts;
mod secrets;
mod ws_hardening;
