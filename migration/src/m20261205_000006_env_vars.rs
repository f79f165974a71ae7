//! Variables and secrets (SPEC "Secrets"): `env_vars` holds every entry, global or per script,
//! its value always sealed (XChaCha20-Poly1305; nonce and ciphertext in `sealed`), never in
//! clear, whether it is a secret or not. `scope` is `global`, `script:<id>` or the server's own
//! `pytask:key` (the key check); `(scope, name)` is unique. `script_id` is set for a script's
//! entries so they go when the script does.
//!
//! `executions.masked`: how many secret values were replaced in the run's output.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EnvVars {
    Table,
    Id,
    Scope,
    ScriptId,
    Name,
    Secret,
    Sealed,
    SetBy,
    SetAt,
}

#[derive(DeriveIden)]
enum Scripts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Executions {
    Table,
    Masked,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EnvVars::Table)
                .col(ColumnDef::new(EnvVars::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(EnvVars::Scope).string_len(40).not_null())
                .col(ColumnDef::new(EnvVars::ScriptId).big_integer().null())
                .col(ColumnDef::new(EnvVars::Name).string_len(128).not_null())
                .col(ColumnDef::new(EnvVars::Secret).boolean().not_null())
                .col(ColumnDef::new(EnvVars::Sealed).blob().not_null())
                .col(ColumnDef::new(EnvVars::SetBy).string_len(100).not_null())
                .col(ColumnDef::new(EnvVars::SetAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(EnvVars::Table, EnvVars::ScriptId)
                        .to(Scripts::Table, Scripts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                // In the table's own statement: a SQLite connection that read the schema between
                // a CREATE TABLE and a later CREATE INDEX refused the upserts' ON CONFLICT.
                .index(Index::create().name("env_vars_scope_name").col(EnvVars::Scope).col(EnvVars::Name).unique())
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("env_vars_script").table(EnvVars::Table).col(EnvVars::ScriptId).to_owned()).await?;
        m.alter_table(
            Table::alter()
                .table(Executions::Table)
                .add_column(ColumnDef::new(Executions::Masked).big_integer().not_null().default(0))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Executions::Table).drop_column(Executions::Masked).to_owned()).await?;
        m.drop_table(Table::drop().table(EnvVars::Table).to_owned()).await
    }
}
