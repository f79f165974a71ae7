//! What running scripts needs beyond the initial schema:
//! - logs as chunks of lines (`execution_log_chunks`): a row per line cannot keep up with a script
//!   printing a million lines; a chunk holds consecutive lines `first_seq..=last_seq`, so replay
//!   "after seq N" is still one range scan plus a skip inside the first chunk. The per-line
//!   table never held data (no run could start before this migration), so it is dropped.
//! - `executions.cancel_requested`: a stop asked on one instance for a run on another.
//! - `instances`: every running server heartbeats here; the runs of an instance whose heartbeat
//!   stopped are `lost`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Executions {
    Table,
    Id,
    CancelRequested,
    WorkerId,
    Status,
}

#[derive(DeriveIden)]
enum ExecutionLogs {
    Table,
}

#[derive(DeriveIden)]
enum ExecutionLogChunks {
    Table,
    ExecutionId,
    FirstSeq,
    LastSeq,
    Body,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    Role,
    Host,
    Pid,
    StartedAt,
    HeartbeatAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ExecutionLogs::Table).to_owned()).await?;
        m.create_table(
            Table::create()
                .table(ExecutionLogChunks::Table)
                .col(ColumnDef::new(ExecutionLogChunks::ExecutionId).big_integer().not_null())
                .col(ColumnDef::new(ExecutionLogChunks::FirstSeq).big_integer().not_null())
                .col(ColumnDef::new(ExecutionLogChunks::LastSeq).big_integer().not_null())
                .col(ColumnDef::new(ExecutionLogChunks::Body).text().not_null())
                .primary_key(Index::create().col(ExecutionLogChunks::ExecutionId).col(ExecutionLogChunks::FirstSeq))
                .foreign_key(
                    ForeignKey::create()
                        .from(ExecutionLogChunks::Table, ExecutionLogChunks::ExecutionId)
                        .to(Executions::Table, Executions::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Executions::Table)
                .add_column(ColumnDef::new(Executions::CancelRequested).boolean().not_null().default(false))
                .to_owned(),
        )
        .await?;
        // The lost-run sweep looks up running runs by their instance.
        m.create_index(
            Index::create()
                .name("idx_executions_worker")
                .table(Executions::Table)
                .col(Executions::Status)
                .col(Executions::WorkerId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Instances::Table)
                .col(ColumnDef::new(Instances::Id).string_len(64).not_null().primary_key())
                .col(ColumnDef::new(Instances::Role).string_len(16).not_null())
                .col(ColumnDef::new(Instances::Host).string_len(255).not_null())
                .col(ColumnDef::new(Instances::Pid).big_integer().not_null())
                .col(ColumnDef::new(Instances::StartedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Instances::HeartbeatAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Instances::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("idx_executions_worker").table(Executions::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Executions::Table).drop_column(Executions::CancelRequested).to_owned()).await?;
        m.drop_table(Table::drop().table(ExecutionLogChunks::Table).to_owned()).await
        // The per-line table is not recreated: `down` of the initial migration would drop it anyway.
    }
}
