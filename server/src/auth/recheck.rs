//! Whether sign-ins found at the start of long requests still hold. A WebSocket is authorized
//! once, at its upgrade, and may then stream for hours: meanwhile its session may be signed out
//! (or deleted by a password change), go idle past `--session-idle-minutes` or expire, its token
//! be revoked or expire, its account be disabled, deleted or given another role. `SignIns` keeps
//! every sign-in that open sockets were opened under and rechecks them all together every
//! `EVERY`; a socket hears why its sign-in ended and closes.
//!
//! Cost: one task per instance reads the users, sessions and tokens of every watched sign-in in
//! one query each (per `CHUNK` of them) per tick, however many sockets share them. A loop per
//! socket would ask two queries per socket per tick instead: at the default 1000 sockets, 1000
//! queries a second through a pool of 8 (SQLite) or 16 (PostgreSQL) connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use app::model::Role;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::watch;

use super::{sessions, AuthError, AuthVia, Identity};
use crate::config::Config;
use crate::db::entities::{api_token, session, user};

/// How often the watched sign-ins are read again: a socket closes at most this long (plus one
/// read) after its sign-in ended.
pub const EVERY: Duration = Duration::from_secs(2);

/// Keys per `IN (…)` list: far below SQLite's and PostgreSQL's bound on a query's parameters.
const CHUNK: usize = 500;

/// Why a sign-in no longer holds, as its socket's close reason says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The session is gone: signed out, or ended by a password change or a newer sign-in.
    SignedOut,
    /// The session went unused for longer than `--session-idle-minutes`.
    IdledOut,
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
            Ended::IdledOut => "signed out after a time without use",
            Ended::Expired => "the sign-in expired",
            Ended::TokenRevoked => "the API token was revoked",
            Ended::TokenExpired => "the API token expired",
            Ended::AccountDeleted => "the account was deleted",
            Ended::AccountDisabled => "the account was disabled",
            Ended::RoleChanged => "your role changed",
        }
    }
}

/// A sign-in as a socket was opened under it: whose, with which role, by what. Two sockets of
/// one session opened before and after a role change are two sign-ins (one has ended).
#[derive(Clone, PartialEq, Eq, Hash)]
struct SignIn {
    user_id: i64,
    role: Role,
    via: Via,
}

/// `AuthVia`, as a key.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Via {
    Session(String),
    Token(i64),
}

impl From<&Identity> for SignIn {
    fn from(identity: &Identity) -> SignIn {
        let via = match &identity.via {
            AuthVia::Session(digest) => Via::Session(digest.clone()),
            AuthVia::Token(id) => Via::Token(*id),
        };
        SignIn { user_id: identity.user.id, role: identity.user.role, via }
    }
}

/// The rows one sign-in rests on, as read now (`None`: deleted).
struct Rows<'a> {
    user: Option<&'a user::Model>,
    via: ViaRow<'a>,
}

enum ViaRow<'a> {
    Session(Option<&'a session::Model>),
    Token(Option<&'a api_token::Model>),
}

/// `None` while the sign-in holds; else why it ended. The account is judged first: disabling a
/// user deletes their sessions too, and they should hear the cause, not "signed out".
fn verdict(role: Role, rows: Rows<'_>, now: DateTime<Utc>, idle: Option<chrono::Duration>) -> Option<Ended> {
    match rows.user {
        None => return Some(Ended::AccountDeleted),
        Some(found) if !found.is_active => return Some(Ended::AccountDisabled),
        Some(found) if found.role != role => return Some(Ended::RoleChanged),
        Some(_) => {}
    }
    match rows.via {
        ViaRow::Session(None) => Some(Ended::SignedOut),
        ViaRow::Session(Some(found)) if found.expires_at <= now => Some(Ended::Expired),
        // As `sessions::user_of` judges it: the next request of this browser would be refused.
        ViaRow::Session(Some(found)) if idle.is_some_and(|idle| now - found.last_seen_at > idle) => Some(Ended::IdledOut),
        ViaRow::Token(None) => Some(Ended::TokenRevoked),
        ViaRow::Token(Some(found)) if found.expires_at.is_some_and(|at| at <= now) => Some(Ended::TokenExpired),
        ViaRow::Session(Some(_)) | ViaRow::Token(Some(_)) => None,
    }
}

/// Reads the rows of all `sign_ins` (a query per table per `CHUNK`) and judges each, in order.
async fn check(db: &DatabaseConnection, sign_ins: &[SignIn], idle: Option<chrono::Duration>) -> Result<Vec<Option<Ended>>, AuthError> {
    let mut user_ids: Vec<i64> = sign_ins.iter().map(|s| s.user_id).collect();
    user_ids.sort_unstable();
    user_ids.dedup();
    let digests: Vec<String> = sign_ins.iter().filter_map(|s| if let Via::Session(d) = &s.via { Some(d.clone()) } else { None }).collect();
    let token_ids: Vec<i64> = sign_ins.iter().filter_map(|s| if let Via::Token(id) = s.via { Some(id) } else { None }).collect();

    let mut users = HashMap::new();
    for chunk in user_ids.chunks(CHUNK) {
        users.extend(user::Entity::find().filter(user::Column::Id.is_in(chunk.to_vec())).all(db).await?.into_iter().map(|u| (u.id, u)));
    }
    let mut sessions = HashMap::new();
    for chunk in digests.chunks(CHUNK) {
        let found = session::Entity::find().filter(session::Column::Id.is_in(chunk.to_vec())).all(db).await?;
        sessions.extend(found.into_iter().map(|s| (s.id.clone(), s)));
    }
    let mut tokens = HashMap::new();
    for chunk in token_ids.chunks(CHUNK) {
        let found = api_token::Entity::find().filter(api_token::Column::Id.is_in(chunk.to_vec())).all(db).await?;
        tokens.extend(found.into_iter().map(|t| (t.id, t)));
    }

    let now = Utc::now();
    let judged = sign_ins.iter().map(|sign_in| {
        let via = match &sign_in.via {
            Via::Session(digest) => ViaRow::Session(sessions.get(digest)),
            Via::Token(id) => ViaRow::Token(tokens.get(id)),
        };
        verdict(sign_in.role, Rows { user: users.get(&sign_in.user_id), via }, now, idle)
    });
    Ok(judged.collect())
}

/// The sign-ins open sockets of this instance were opened under, rechecked together by one task
/// that runs while any is watched.
#[derive(Clone, Default)]
pub struct SignIns {
    shared: Arc<Mutex<Watched>>,
}

#[derive(Default)]
struct Watched {
    /// Each watched sign-in, with how many sockets watch it and where its verdict goes. One
    /// with no sockets has no entry, so the map is as big as the open sockets at most.
    sign_ins: HashMap<SignIn, Watchers>,
    /// Whether the task that rechecks them runs (it stops when none is left).
    ticking: bool,
}

struct Watchers {
    sockets: usize,
    verdict: watch::Sender<Option<Ended>>,
}

fn lock(shared: &Mutex<Watched>) -> MutexGuard<'_, Watched> {
    // Every change under the lock is one insert, removal or counter step: a panic cannot leave
    // it half-made.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SignIns {
    /// Watches `identity`'s sign-in until the returned `Watch` is dropped (with its socket).
    pub fn watch(&self, db: &DatabaseConnection, config: &Config, identity: &Identity) -> Watch {
        let sign_in = SignIn::from(identity);
        let mut watched = lock(&self.shared);
        let watchers =
            watched.sign_ins.entry(sign_in.clone()).or_insert_with(|| Watchers { sockets: 0, verdict: watch::Sender::new(None) });
        watchers.sockets += 1;
        let verdict = watchers.verdict.subscribe();
        if !watched.ticking {
            watched.ticking = true;
            tokio::spawn(recheck(Arc::clone(&self.shared), db.clone(), sessions::idle_timeout(config)));
        }
        Watch { verdict, sign_in, shared: Arc::clone(&self.shared) }
    }
}

/// Every `EVERY`, judges every watched sign-in and tells the sockets of those that ended. A
/// database that cannot be read is asked again next tick: a socket is not cut for a hiccup.
async fn recheck(shared: Arc<Mutex<Watched>>, db: DatabaseConnection, idle: Option<chrono::Duration>) {
    let _restartable = Restartable(Arc::clone(&shared));
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let sign_ins: Vec<SignIn> = {
            let mut watched = lock(&shared);
            if watched.sign_ins.is_empty() {
                // Under the lock: a sign-in watched after this starts a new task.
                watched.ticking = false;
                return;
            }
            watched.sign_ins.keys().cloned().collect()
        };
        let verdicts = match check(&db, &sign_ins, idle).await {
            Ok(verdicts) => verdicts,
            Err(err) => {
                tracing::warn!(%err, "could not recheck the sign-ins of open WebSockets; asking again");
                continue;
            }
        };
        let watched = lock(&shared);
        for (sign_in, ended) in sign_ins.iter().zip(verdicts) {
            if let (Some(ended), Some(watchers)) = (ended, watched.sign_ins.get(sign_in)) {
                watchers.verdict.send_replace(Some(ended));
            }
        }
    }
}

/// Lets the next `watch` start a new task if this one panicked, instead of leaving every later
/// socket unwatched.
struct Restartable(Arc<Mutex<Watched>>);

impl Drop for Restartable {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0).ticking = false;
        }
    }
}

/// One socket's watch on its sign-in; dropping it stops watching.
pub struct Watch {
    verdict: watch::Receiver<Option<Ended>>,
    sign_in: SignIn,
    shared: Arc<Mutex<Watched>>,
}

impl Watch {
    /// Returns once the sign-in has ended, saying why.
    pub async fn ended(&mut self) -> Ended {
        loop {
            if let Some(ended) = *self.verdict.borrow_and_update() {
                return ended;
            }
            // The sender lives in the map while this watch does, so this only waits.
            if self.verdict.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut watched = lock(&self.shared);
        if let Some(watchers) = watched.sign_ins.get_mut(&self.sign_in) {
            watchers.sockets -= 1;
            if watchers.sockets == 0 {
                watched.sign_ins.remove(&self.sign_in);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(role: Role, is_active: bool) -> user::Model {
        let at = Utc::now();
        user::Model { id: 1, username: "pat".into(), password_hash: String::new(), role, is_active, created_at: at, updated_at: at }
    }

    fn a_session(expires_in: chrono::Duration, seen_ago: chrono::Duration) -> session::Model {
        let now = Utc::now();
        session::Model {
            id: "digest".into(),
            user_id: 1,
            created_at: now - seen_ago,
            expires_at: now + expires_in,
            last_seen_at: now - seen_ago,
        }
    }

    fn a_token(expires_in: Option<chrono::Duration>) -> api_token::Model {
        let now = Utc::now();
        api_token::Model {
            id: 7,
            user_id: 1,
            name: "ci".into(),
            token_hash: String::new(),
            prefix: String::new(),
            created_at: now,
            last_used_at: None,
            expires_at: expires_in.map(|d| now + d),
        }
    }

    #[test]
    fn each_way_a_sign_in_ends_is_told_apart() {
        let (now, hour, minute) = (Utc::now(), chrono::Duration::hours(1), chrono::Duration::minutes(1));
        let idle = Some(chrono::Duration::minutes(30));
        let editor = account(Role::Editor, true);
        let fresh = a_session(hour, minute);
        let judge = |user: Option<&user::Model>, via: ViaRow<'_>| verdict(Role::Editor, Rows { user, via }, now, idle);

        assert_eq!(judge(Some(&editor), ViaRow::Session(Some(&fresh))), None);
        assert_eq!(judge(Some(&editor), ViaRow::Session(None)), Some(Ended::SignedOut));
        assert_eq!(judge(Some(&editor), ViaRow::Session(Some(&a_session(-minute, minute)))), Some(Ended::Expired));
        assert_eq!(judge(Some(&editor), ViaRow::Session(Some(&a_session(hour, minute * 31)))), Some(Ended::IdledOut));
        let no_idle_timeout =
            verdict(Role::Editor, Rows { user: Some(&editor), via: ViaRow::Session(Some(&a_session(hour, hour * 10))) }, now, None);
        assert_eq!(no_idle_timeout, None, "0 minutes is no idle timeout");

        assert_eq!(judge(Some(&editor), ViaRow::Token(Some(&a_token(None)))), None, "a token is not idle");
        assert_eq!(judge(Some(&editor), ViaRow::Token(None)), Some(Ended::TokenRevoked));
        assert_eq!(judge(Some(&editor), ViaRow::Token(Some(&a_token(Some(-minute))))), Some(Ended::TokenExpired));

        // The account's state is the reason even when its sessions went with it.
        assert_eq!(judge(None, ViaRow::Session(None)), Some(Ended::AccountDeleted));
        assert_eq!(judge(Some(&account(Role::Editor, false)), ViaRow::Session(None)), Some(Ended::AccountDisabled));
        assert_eq!(judge(Some(&account(Role::Viewer, true)), ViaRow::Session(Some(&fresh))), Some(Ended::RoleChanged));
        assert_eq!(
            judge(Some(&account(Role::Admin, true)), ViaRow::Token(Some(&a_token(None)))),
            Some(Ended::RoleChanged),
            "a promotion too"
        );
    }
}
