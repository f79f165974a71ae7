//! At start, brings stored schedules in line with the cron rules of this build: a due time the
//! rules would no longer give (the day-field rule of Vixie cron, a zone's new DST dates) is moved
//! to the one they give, and a description is reworded. Each move is logged per schedule.
//!
//! Every instance runs it; the UPDATEs are conditional on the values read, so an instance that
//! finds a row already changed (by another instance, a fire or a user) leaves it alone.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::cron::Cron;
use crate::db::entities::schedule;

/// What `realign` changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Realigned {
    /// Schedules whose due time moved.
    pub moved: Vec<i64>,
    /// Schedules whose description was reworded.
    pub reworded: usize,
}

pub async fn realign(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Realigned, sea_orm::DbErr> {
    let mut done = Realigned::default();
    for row in schedule::Entity::find().all(db).await? {
        // A stored expression that no longer parses is paused by the scheduler when it comes due.
        let Ok(cron) = Cron::parse(&row.cron_expression, &row.timezone) else { continue };
        let due = if row.is_active { due_time(&cron, row.next_run_at, now) } else { row.next_run_at };
        let description = cron.describe();
        if due == row.next_run_at && description == row.description {
            continue;
        }
        let changed = schedule::Entity::update_many()
            .col_expr(schedule::Column::NextRunAt, Expr::value(due))
            .col_expr(schedule::Column::Description, Expr::value(description.clone()))
            .filter(schedule::Column::Id.eq(row.id))
            .filter(match row.next_run_at {
                Some(at) => schedule::Column::NextRunAt.eq(at),
                None => schedule::Column::NextRunAt.is_null(),
            })
            .filter(schedule::Column::CronExpression.eq(row.cron_expression.as_str()))
            .filter(schedule::Column::Timezone.eq(row.timezone.as_str()))
            .filter(schedule::Column::IsActive.eq(row.is_active))
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if !changed {
            continue;
        }
        if due != row.next_run_at {
            tracing::warn!(
                schedule_id = row.id,
                expression = %row.cron_expression,
                timezone = %row.timezone,
                from = ?row.next_run_at,
                to = ?due,
                "a schedule's next run moved: this version's cron rules give another time"
            );
            done.moved.push(row.id);
        }
        if description != row.description {
            done.reworded += 1;
        }
    }
    Ok(done)
}

/// The due time an active schedule should have now. A stored time still ahead must be the first
/// fire after now; one already reached stays (the scheduler fires it, or skips it as missed) if
/// it is a fire time at all.
fn due_time(cron: &Cron, stored: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match stored {
        Some(at) if at <= now && cron.next_after(at - chrono::Duration::seconds(1)) == Some(at) => Some(at),
        _ => cron.next_after(now),
    }
}
