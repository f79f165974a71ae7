//! What a schedule does when a run is still going at its next time, and with times missed while
//! no instance ran (issue #26):
//!
//! - `schedules.overlap`: `allow`, `skip`, `queue` or `cancel_previous`. Schedules made before
//!   this migration keep `allow` (what they did); the API's default for a new one is `skip`.
//! - `schedules.catch_up`: `none` (today's rule: missed times are passed over), `last` (one run
//!   for them all) or `all` (a run each, up to a cap).
//! - `executions.due_at`: the due time a scheduled run was fired for; `executions.caught_up`:
//!   fired late, for a time missed while no instance ran.
//! - `schedule_skips`: each due time a schedule passed over and why (the run still going, a
//!   full queue, missed while down), newest kept, shown on the schedule's page.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    Overlap,
    CatchUp,
}

#[derive(DeriveIden)]
enum Executions {
    Table,
    DueAt,
    CaughtUp,
}

#[derive(DeriveIden)]
enum ScheduleSkips {
    Table,
    Id,
    ScheduleId,
    DueAt,
    Reason,
    RecordedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for mut column in [
            ColumnDef::new(Schedules::Overlap).string_len(16).not_null().default("allow").to_owned(),
            ColumnDef::new(Schedules::CatchUp).string_len(16).not_null().default("none").to_owned(),
        ] {
            m.alter_table(Table::alter().table(Schedules::Table).add_column(&mut column).to_owned()).await?;
        }
        for mut column in [
            ColumnDef::new(Executions::DueAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Executions::CaughtUp).boolean().not_null().default(false).to_owned(),
        ] {
            m.alter_table(Table::alter().table(Executions::Table).add_column(&mut column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(ScheduleSkips::Table)
                .col(ColumnDef::new(ScheduleSkips::Id).big_integer().not_null().auto_increment().primary_key())
                .col(ColumnDef::new(ScheduleSkips::ScheduleId).big_integer().not_null())
                .col(ColumnDef::new(ScheduleSkips::DueAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(ScheduleSkips::Reason).text().not_null())
                .col(ColumnDef::new(ScheduleSkips::RecordedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(ScheduleSkips::Table, ScheduleSkips::ScheduleId)
                        .to(Schedules::Table, Schedules::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Apart from the table: SQLite's CREATE TABLE takes no plain index.
        m.create_index(
            Index::create()
                .name("schedule_skips_by_schedule")
                .table(ScheduleSkips::Table)
                .col(ScheduleSkips::ScheduleId)
                .col(ScheduleSkips::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ScheduleSkips::Table).to_owned()).await?;
        for column in [Executions::CaughtUp, Executions::DueAt] {
            m.alter_table(Table::alter().table(Executions::Table).drop_column(column).to_owned()).await?;
        }
        for column in [Schedules::CatchUp, Schedules::Overlap] {
            m.alter_table(Table::alter().table(Schedules::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
