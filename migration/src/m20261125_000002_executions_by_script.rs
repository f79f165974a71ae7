//! Indexes of the script list. The newest run of each script (the list) and a script's runs
//! newest first (its history) are both "highest ids of one script": (script_id, id) answers
//! them with one seek. The list's change marker reads the newest `updated_at` of scripts and the
//! newest `started_at` / `finished_at` of runs: one seek each with these indexes, not a scan.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Executions {
    Table,
    ScriptId,
    Id,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum Scripts {
    Table,
    UpdatedAt,
}

const INDEXES: &[&str] = &["idx_executions_script_id", "idx_executions_started", "idx_executions_finished", "idx_scripts_updated"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(Index::create().name(INDEXES[0]).table(Executions::Table).col(Executions::ScriptId).col(Executions::Id).to_owned())
            .await?;
        m.create_index(Index::create().name(INDEXES[1]).table(Executions::Table).col(Executions::StartedAt).to_owned()).await?;
        m.create_index(Index::create().name(INDEXES[2]).table(Executions::Table).col(Executions::FinishedAt).to_owned()).await?;
        m.create_index(Index::create().name(INDEXES[3]).table(Scripts::Table).col(Scripts::UpdatedAt).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in INDEXES.iter().zip(["executions", "executions", "executions", "scripts"]) {
            m.drop_index(Index::drop().name(*name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
