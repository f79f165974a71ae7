//! Run inputs (SPEC "Variables, secrets and inputs"): a script's inputs as read from its code,
//! and the inputs each run was given.
//!
//! - `scripts.inputs`: the `InputsReport` of the saved code, as JSON; empty when it could not be
//!   read (the tool missing or gave up), so runs are then refused inputs rather than guessed.
//! - `executions.input_style`: how the run takes them (`argparse`, `main`), empty for none.
//! - `executions.inputs`: the inputs as shown, JSON, with secret inputs' values as `***`.
//! - `executions.inputs_sealed`: what the run's process is given (argv or keyword arguments,
//!   and the secret values to mask), sealed with the instance's key; cleared when the run ends.
//! - `executions.result`: `main()`'s return value, JSON.
//! - `schedules.inputs` / `schedules.inputs_sealed`: the inputs each fire gives, as shown (secret
//!   values `***`) and whole, sealed; checked again at every fire against the code then saved.
//! - `webhooks`: a script's named trigger URLs, `POST /api/hooks/{token}`; only the token's
//!   SHA-256 is stored (`token_hash`, unique), with its first characters to tell them apart.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Scripts {
    Table,
    Id,
    Inputs,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    ScriptId,
    Name,
    TokenHash,
    Prefix,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Inputs,
    InputsSealed,
}

#[derive(DeriveIden)]
enum Executions {
    Table,
    InputStyle,
    Inputs,
    InputsSealed,
    Result,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Scripts::Table).add_column(ColumnDef::new(Scripts::Inputs).text().null()).to_owned()).await?;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            ColumnDef::new(Executions::InputStyle).string_len(16).null().to_owned(),
            ColumnDef::new(Executions::Inputs).text().null().to_owned(),
            ColumnDef::new(Executions::InputsSealed).blob().null().to_owned(),
            ColumnDef::new(Executions::Result).text().null().to_owned(),
        ];
        for mut column in columns {
            m.alter_table(Table::alter().table(Executions::Table).add_column(&mut column).to_owned()).await?;
        }
        for mut column in
            [ColumnDef::new(Schedules::Inputs).text().null().to_owned(), ColumnDef::new(Schedules::InputsSealed).blob().null().to_owned()]
        {
            m.alter_table(Table::alter().table(Schedules::Table).add_column(&mut column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(Webhooks::Table)
                .col(ColumnDef::new(Webhooks::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(Webhooks::ScriptId).big_integer().not_null())
                .col(ColumnDef::new(Webhooks::Name).string_len(100).not_null())
                .col(ColumnDef::new(Webhooks::TokenHash).string_len(64).not_null().unique_key())
                .col(ColumnDef::new(Webhooks::Prefix).string_len(16).not_null())
                .col(ColumnDef::new(Webhooks::CreatedBy).string_len(100).not_null())
                .col(ColumnDef::new(Webhooks::CreatedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(Webhooks::LastUsedAt).timestamp_with_time_zone().null())
                .foreign_key(
                    ForeignKey::create()
                        .from(Webhooks::Table, Webhooks::ScriptId)
                        .to(Scripts::Table, Scripts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .index(Index::create().name("webhooks_script_name").col(Webhooks::ScriptId).col(Webhooks::Name).unique())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Webhooks::Table).to_owned()).await?;
        for column in [Schedules::InputsSealed, Schedules::Inputs] {
            m.alter_table(Table::alter().table(Schedules::Table).drop_column(column).to_owned()).await?;
        }
        for column in [Executions::Result, Executions::InputsSealed, Executions::Inputs, Executions::InputStyle] {
            m.alter_table(Table::alter().table(Executions::Table).drop_column(column).to_owned()).await?;
        }
        m.alter_table(Table::alter().table(Scripts::Table).drop_column(Scripts::Inputs).to_owned()).await
    }
}
