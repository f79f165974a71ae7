//! What isolation records (SPEC "Isolation"):
//! - `scripts.network`: whether a script's runs may reach the network (default on, as before).
//! - on each run, what it ran with and what it used: `network` (the script's setting when the
//!   run was claimed), `sandboxed` (whether it ran isolated), `peak_memory_bytes` and
//!   `cpu_seconds` (read from its cgroup at the end). All four are empty for runs made before
//!   this migration and for runs that never started.
//!
//! One column per ALTER: SQLite takes a single change per statement.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Scripts {
    Table,
    Network,
}

#[derive(DeriveIden)]
enum Executions {
    Table,
    Network,
    Sandboxed,
    PeakMemoryBytes,
    CpuSeconds,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Scripts::Table).add_column(ColumnDef::new(Scripts::Network).boolean().not_null().default(true)).to_owned(),
        )
        .await?;
        let columns = [
            ColumnDef::new(Executions::Network).boolean().null().to_owned(),
            ColumnDef::new(Executions::Sandboxed).boolean().null().to_owned(),
            ColumnDef::new(Executions::PeakMemoryBytes).big_integer().null().to_owned(),
            ColumnDef::new(Executions::CpuSeconds).double().null().to_owned(),
        ];
        for column in columns {
            m.alter_table(Table::alter().table(Executions::Table).add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [Executions::CpuSeconds, Executions::PeakMemoryBytes, Executions::Sandboxed, Executions::Network] {
            m.alter_table(Table::alter().table(Executions::Table).drop_column(column).to_owned()).await?;
        }
        m.alter_table(Table::alter().table(Scripts::Table).drop_column(Scripts::Network).to_owned()).await
    }
}
