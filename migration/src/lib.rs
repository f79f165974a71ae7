//! The database schema, as an ordered list of migrations run at start. A migration that has
//! shipped is never edited: a change is a new file.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_initial;
mod m20261125_000002_executions_by_script;
mod m20261125_000003_run_logs_and_instances;
mod m20261125_000004_log_chunks_lz4;
mod m20261204_000005_run_isolation;
mod m20261205_000006_env_vars;
mod m20261205_000007_run_inputs;
mod m20261206_000008_schedule_policies;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261125_000002_executions_by_script::Migration),
            Box::new(m20261125_000003_run_logs_and_instances::Migration),
            Box::new(m20261125_000004_log_chunks_lz4::Migration),
            Box::new(m20261204_000005_run_isolation::Migration),
            Box::new(m20261205_000006_env_vars::Migration),
            Box::new(m20261205_000007_run_inputs::Migration),
            Box::new(m20261206_000008_schedule_policies::Migration),
        ]
    }
}
