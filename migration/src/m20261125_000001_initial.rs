//! The whole data model of the SPEC: users and their sessions and API tokens; scripts with tags,
//! dependencies and schedules; executions and their log lines.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000001_initial"
    }
}

fn id(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().auto_increment().primary_key().take()
}

fn at(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().take()
}

fn at_null(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}

fn text(col: impl IntoIden + 'static, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().take()
}

fn owner(col: impl IntoIden + 'static) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().take()
}

fn cascade(
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Cascade).take()
}

fn index(name: &str, table: impl IntoIden + 'static, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create().name(name).table(table).take();
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id(Users::Id))
                .col(text(Users::Username, 64).unique_key())
                .col(text(Users::PasswordHash, 255))
                .col(text(Users::Role, 16))
                .col(ColumnDef::new(Users::IsActive).boolean().not_null().default(true))
                .col(at(Users::CreatedAt))
                .col(at(Users::UpdatedAt))
                .take(),
        )
        .await?;

        // The id is the SHA-256 of the cookie's secret: a leaked table opens no session.
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(text(Sessions::Id, 64).primary_key())
                .col(owner(Sessions::UserId))
                .col(at(Sessions::CreatedAt))
                .col(at(Sessions::ExpiresAt))
                .col(at(Sessions::LastSeenAt))
                .foreign_key(&mut cascade((Sessions::Table, Sessions::UserId), (Users::Table, Users::Id)))
                .take(),
        )
        .await?;
        m.create_index(index("idx_sessions_user", Sessions::Table, &["user_id"])).await?;
        m.create_index(index("idx_sessions_expires", Sessions::Table, &["expires_at"])).await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(id(ApiTokens::Id))
                .col(owner(ApiTokens::UserId))
                .col(text(ApiTokens::Name, 100))
                .col(text(ApiTokens::TokenHash, 64).unique_key())
                .col(text(ApiTokens::Prefix, 16))
                .col(at(ApiTokens::CreatedAt))
                .col(at_null(ApiTokens::LastUsedAt))
                .col(at_null(ApiTokens::ExpiresAt))
                .foreign_key(&mut cascade((ApiTokens::Table, ApiTokens::UserId), (Users::Table, Users::Id)))
                .take(),
        )
        .await?;
        m.create_index(index("idx_api_tokens_user_name", ApiTokens::Table, &["user_id", "name"]).unique().take()).await?;

        m.create_table(
            Table::create()
                .table(Scripts::Table)
                .col(id(Scripts::Id))
                .col(text(Scripts::Name, 100).unique_key())
                .col(ColumnDef::new(Scripts::Description).text().not_null().default(""))
                .col(ColumnDef::new(Scripts::Content).text().not_null().default(""))
                .col(ColumnDef::new(Scripts::IsActive).boolean().not_null().default(true))
                .col(ColumnDef::new(Scripts::TimeoutSeconds).integer().null())
                .col(at(Scripts::CreatedAt))
                .col(at(Scripts::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(Table::create().table(Tags::Table).col(id(Tags::Id)).col(text(Tags::Name, 32).unique_key()).take()).await?;

        m.create_table(
            Table::create()
                .table(ScriptTags::Table)
                .col(owner(ScriptTags::ScriptId))
                .col(owner(ScriptTags::TagId))
                .primary_key(Index::create().col(ScriptTags::ScriptId).col(ScriptTags::TagId))
                .foreign_key(&mut cascade((ScriptTags::Table, ScriptTags::ScriptId), (Scripts::Table, Scripts::Id)))
                .foreign_key(&mut cascade((ScriptTags::Table, ScriptTags::TagId), (Tags::Table, Tags::Id)))
                .take(),
        )
        .await?;
        m.create_index(index("idx_script_tags_tag", ScriptTags::Table, &["tag_id"])).await?;

        m.create_table(
            Table::create()
                .table(Dependencies::Table)
                .col(id(Dependencies::Id))
                .col(owner(Dependencies::ScriptId))
                .col(text(Dependencies::PackageName, 128))
                .col(ColumnDef::new(Dependencies::VersionSpec).string_len(256).not_null().default(""))
                .col(ColumnDef::new(Dependencies::InstalledVersion).string_len(64).null())
                .col(at(Dependencies::CreatedAt))
                .col(at(Dependencies::UpdatedAt))
                .foreign_key(&mut cascade((Dependencies::Table, Dependencies::ScriptId), (Scripts::Table, Scripts::Id)))
                .take(),
        )
        .await?;
        m.create_index(index("idx_dependencies_script_package", Dependencies::Table, &["script_id", "package_name"]).unique().take())
            .await?;

        m.create_table(
            Table::create()
                .table(Schedules::Table)
                .col(id(Schedules::Id))
                .col(owner(Schedules::ScriptId))
                .col(text(Schedules::CronExpression, 128))
                .col(ColumnDef::new(Schedules::Timezone).string_len(64).not_null().default("UTC"))
                .col(ColumnDef::new(Schedules::IsActive).boolean().not_null().default(true))
                .col(ColumnDef::new(Schedules::Description).string_len(512).not_null().default(""))
                .col(at_null(Schedules::NextRunAt))
                .col(at(Schedules::CreatedAt))
                .col(at(Schedules::UpdatedAt))
                .foreign_key(&mut cascade((Schedules::Table, Schedules::ScriptId), (Scripts::Table, Scripts::Id)))
                .take(),
        )
        .await?;
        m.create_index(index("idx_schedules_script", Schedules::Table, &["script_id"])).await?;
        m.create_index(index("idx_schedules_due", Schedules::Table, &["is_active", "next_run_at"])).await?;

        m.create_table(
            Table::create()
                .table(Executions::Table)
                .col(id(Executions::Id))
                .col(owner(Executions::ScriptId))
                .col(text(Executions::Status, 16))
                .col(text(Executions::Trigger, 16))
                .col(ColumnDef::new(Executions::ScheduleId).big_integer().null())
                .col(at(Executions::QueuedAt))
                .col(at_null(Executions::StartedAt))
                .col(at_null(Executions::FinishedAt))
                .col(ColumnDef::new(Executions::ExitCode).integer().null())
                .col(ColumnDef::new(Executions::Error).text().null())
                .col(ColumnDef::new(Executions::WorkerId).string_len(64).null())
                .col(ColumnDef::new(Executions::LogLines).big_integer().not_null().default(0))
                .foreign_key(&mut cascade((Executions::Table, Executions::ScriptId), (Scripts::Table, Scripts::Id)))
                .foreign_key(
                    ForeignKey::create()
                        .from(Executions::Table, Executions::ScheduleId)
                        .to(Schedules::Table, Schedules::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .take(),
        )
        .await?;
        // The pages list runs newest first, per script, per status, or all of them.
        m.create_index(index("idx_executions_script_time", Executions::Table, &["script_id", "queued_at"])).await?;
        m.create_index(index("idx_executions_status_time", Executions::Table, &["status", "queued_at"])).await?;
        m.create_index(index("idx_executions_time", Executions::Table, &["queued_at"])).await?;
        m.create_index(index("idx_executions_schedule", Executions::Table, &["schedule_id"])).await?;

        // (execution_id, seq) is the key: replay "after seq N" is one index range scan.
        m.create_table(
            Table::create()
                .table(ExecutionLogs::Table)
                .col(owner(ExecutionLogs::ExecutionId))
                .col(ColumnDef::new(ExecutionLogs::Seq).big_integer().not_null())
                .col(text(ExecutionLogs::Stream, 8))
                .col(ColumnDef::new(ExecutionLogs::Line).text().not_null())
                .col(at(ExecutionLogs::At))
                .primary_key(Index::create().col(ExecutionLogs::ExecutionId).col(ExecutionLogs::Seq))
                .foreign_key(&mut cascade((ExecutionLogs::Table, ExecutionLogs::ExecutionId), (Executions::Table, Executions::Id)))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ExecutionLogs::Table.into_iden(),
            Executions::Table.into_iden(),
            Schedules::Table.into_iden(),
            Dependencies::Table.into_iden(),
            ScriptTags::Table.into_iden(),
            Tags::Table.into_iden(),
            Scripts::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Role,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    UserId,
    Name,
    TokenHash,
    Prefix,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Scripts {
    Table,
    Id,
    Name,
    Description,
    Content,
    IsActive,
    TimeoutSeconds,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum ScriptTags {
    Table,
    ScriptId,
    TagId,
}

#[derive(DeriveIden)]
enum Dependencies {
    Table,
    Id,
    ScriptId,
    PackageName,
    VersionSpec,
    InstalledVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    ScriptId,
    CronExpression,
    Timezone,
    IsActive,
    Description,
    NextRunAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Executions {
    Table,
    Id,
    ScriptId,
    Status,
    Trigger,
    ScheduleId,
    QueuedAt,
    StartedAt,
    FinishedAt,
    ExitCode,
    Error,
    WorkerId,
    LogLines,
}

#[derive(DeriveIden)]
enum ExecutionLogs {
    Table,
    ExecutionId,
    Seq,
    Stream,
    Line,
    At,
}
