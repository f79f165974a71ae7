//! Retrying a write that must land (a run's outcome, its line count, its log lines) through a
//! passing database error, instead of losing it at the first hiccup.

use std::future::Future;
use std::time::Duration;

/// Runs `write` until it succeeds or has failed `attempts` times, sleeping `pause(n)` after the
/// n-th failure (n from 1). Each failure is logged as "`what` failed"; the last error is given
/// back. A constraint violation is given back at once: it does not pass with time (the run was
/// deleted with its script meanwhile, and every retry of every batch would hold the run's task,
/// and a shutdown, for a minute).
pub async fn retry<T, F, Fut>(
    execution_id: i64,
    what: &str,
    attempts: u64,
    pause: impl Fn(u64) -> Duration,
    mut write: F,
) -> Result<T, sea_orm::DbErr>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sea_orm::DbErr>>,
{
    let mut failed = 0;
    loop {
        match write().await {
            Ok(value) => return Ok(value),
            Err(err) => {
                failed += 1;
                let permanent = matches!(
                    err.sql_err(),
                    Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_) | sea_orm::SqlErr::UniqueConstraintViolation(_))
                );
                if permanent || failed >= attempts {
                    tracing::error!(execution_id, %err, "{what} failed {failed} times; giving up");
                    return Err(err);
                }
                tracing::warn!(execution_id, %err, "{what} failed; retrying");
                tokio::time::sleep(pause(failed)).await;
            }
        }
    }
}
