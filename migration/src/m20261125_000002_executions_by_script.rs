//! The newest run of each script (the script list) and a script's runs newest first (its
//! history) are both "highest ids of one script": an index on (script_id, id) answers them
//! with one seek instead of a scan of the script's runs.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Executions {
    Table,
    ScriptId,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create().name("idx_executions_script_id").table(Executions::Table).col(Executions::ScriptId).col(Executions::Id).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_executions_script_id").table(Executions::Table).to_owned()).await
    }
}
