//! Whether an identity found at the start of a long request still holds. A WebSocket is checked
//! once, at its upgrade, and may then stream for hours: the session may be signed out (or ended
//! by a password change), the token revoked, the account disabled, deleted or given another
//! role. Open sockets ask this every few seconds and close when it says why.
//!
//! The idle timeout is not applied here: a browser holding the socket open is in use.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{AuthError, AuthVia, Identity};
use crate::db::entities::{api_token, session, user};

/// How often an open socket asks. Each ask is two primary-key reads.
pub const EVERY: Duration = Duration::from_secs(2);

/// Why an identity no longer holds, as its socket's close reason says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    SignedOut,
    Expired,
    TokenRevoked,
    TokenExpired,
    AccountDeleted,
    AccountDisabled,
    RoleChanged,
}

impl Ended {
    pub fn reason(self) -> &'static str {
        match self {
            Ended::SignedOut => "signed out",
            Ended::Expired => "the sign-in expired",
            Ended::TokenRevoked => "the API token was revoked",
            Ended::TokenExpired => "the API token expired",
            Ended::AccountDeleted => "the account was deleted",
            Ended::AccountDisabled => "the account was disabled",
            Ended::RoleChanged => "your role changed; reload",
        }
    }
}

/// `None` while `identity` holds; else why it ended. The account is asked first, so that a
/// disabled user (whose sessions are deleted with it) hears why.
pub async fn ended(db: &DatabaseConnection, identity: &Identity) -> Result<Option<Ended>, AuthError> {
    match user::Entity::find_by_id(identity.user.id).one(db).await? {
        None => return Ok(Some(Ended::AccountDeleted)),
        Some(found) if !found.is_active => return Ok(Some(Ended::AccountDisabled)),
        Some(found) if found.role != identity.user.role => return Ok(Some(Ended::RoleChanged)),
        Some(_) => {}
    }
    let now = Utc::now();
    Ok(match &identity.via {
        AuthVia::Session(digest) => match session::Entity::find_by_id(digest.clone()).one(db).await? {
            None => Some(Ended::SignedOut),
            Some(found) if found.expires_at <= now => Some(Ended::Expired),
            Some(_) => None,
        },
        AuthVia::Token(id) => match api_token::Entity::find_by_id(*id).one(db).await? {
            None => Some(Ended::TokenRevoked),
            Some(found) if found.expires_at.is_some_and(|at| at <= now) => Some(Ended::TokenExpired),
            Some(_) => None,
        },
    })
}

/// Returns once `identity` no longer holds, asking every `EVERY`; a database that cannot be
/// read is asked again next time (the socket is not cut for a hiccup).
pub async fn until_ended(db: &DatabaseConnection, identity: &Identity) -> Ended {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match ended(db, identity).await {
            Ok(Some(why)) => return why,
            Ok(None) => {}
            Err(err) => tracing::debug!(%err, "could not recheck a socket's identity; asking again"),
        }
    }
}
