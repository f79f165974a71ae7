//! The database: connect (SQLite file or PostgreSQL), apply the migrations, and the entities.

pub mod entities;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait};

use crate::config::DatabaseUrl;
use crate::private;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the directory of the SQLite database {path}: {source}")]
    SqliteDir { path: String, source: std::io::Error },
    #[error("cannot create the SQLite database {path}: {source}")]
    SqliteFile { path: String, source: std::io::Error },
    #[error("cannot connect to the database (DATABASE_URL / --database-url): {0}")]
    Connect(DbErr),
    #[error("cannot apply the database migrations: {0}")]
    Migrate(DbErr),
}

pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, DbError> {
    let mut options = ConnectOptions::new(url.connection_string());
    options
        .sqlx_logging(false)
        // No ping before each query: it doubles the round trips of every request and of a run's
        // path to its first line. A connection that died (the database restarted) fails its
        // next query and is dropped; writes that must land retry, and idle connections are
        // recycled after sqlx's idle timeout anyway.
        .test_before_acquire(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    match url {
        DatabaseUrl::Sqlite(path) => {
            // `:memory:` is no file (sqlx's name for an in-memory database).
            if path.as_os_str() != ":memory:" {
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    private::create_dir(dir).map_err(|source| DbError::SqliteDir { path: path.display().to_string(), source })?;
                }
                private::create_sqlite_file(path).map_err(|source| DbError::SqliteFile { path: path.display().to_string(), source })?;
            }
            // WAL lets readers go on while the worker writes log lines; the busy timeout turns
            // writer contention into a short wait instead of an error.
            options.max_connections(8).min_connections(1).map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        }
        DatabaseUrl::Postgres(_) => {
            options.max_connections(16).min_connections(1);
        }
    }
    let db = Database::connect(options).await.map_err(DbError::Connect)?;
    Migrator::up(&db, None).await.map_err(DbError::Migrate)?;
    Ok(db)
}

/// A transaction that will write. On SQLite it takes the write lock at its start, waiting out the
/// busy timeout like a single statement does: a transaction that reads first and writes later
/// would instead fail at once with "database is locked" whenever another connection wrote in
/// between (SQLite cannot upgrade that reader's snapshot).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // A write statement that changes nothing still takes the lock.
        txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0 = 1").await?;
    }
    Ok(txn)
}
