//! Log chunks compressed with LZ4 on PostgreSQL. A chunk body is up to 256 KiB of JSON, stored
//! out of line and compressed; PostgreSQL's default compressor (pglz) spends ~4 ms of a core on
//! each, LZ4 under 1 ms for nearly the same size: a script printing a million lines shares its
//! core with about 200 of them. Existing chunks stay as they are (each value records its method).
//!
//! PostgreSQL before 14, or one built without LZ4, has no such setting: the default stays, and
//! the migration still counts as applied. SQLite stores text as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn set_compression(m: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    // PL/pgSQL parses the inner statement when it runs, so even a syntax error (PostgreSQL 13)
    // is caught here instead of failing the migration.
    let sql = format!(
        "DO $$ BEGIN \
           ALTER TABLE execution_log_chunks ALTER COLUMN body SET COMPRESSION {method}; \
         EXCEPTION WHEN syntax_error OR feature_not_supported OR invalid_parameter_value THEN \
           RAISE NOTICE 'log chunks keep the default compression: %', SQLERRM; \
         END $$"
    );
    m.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_compression(m, "lz4").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set_compression(m, "default").await
    }
}
