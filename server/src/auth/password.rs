//! Argon2id password hashes (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP advises).
//! Hashing takes tens of milliseconds of CPU and 19 MiB of memory, so it runs on the blocking
//! pool, and only a few at once: a flood of sign-ins would otherwise take every core and, at
//! hundreds in flight, gigabytes. The rest wait their turn briefly, a bounded crowd of them,
//! and beyond that are told to come back (`AuthError::Busy`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::OsRng;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::AuthError;

/// Hashes computed at once: one per core, two to four (4 × 19 MiB bounds the memory).
static HASHERS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))));
/// Attempts that may queue for a hasher; a crowd beyond it is refused at once, so waiting
/// requests cannot pile up without bound either.
const MAX_WAITING: usize = 64;
/// How long a queued attempt waits for a hasher before it is refused.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// What a refused attempt is told: a hash takes well under a second, so the crowd thins fast.
pub const BUSY_RETRY_SECS: u64 = 2;
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// A hasher's slot, waited for within the bounds above.
async fn hasher() -> Result<SemaphorePermit<'static>, AuthError> {
    if let Ok(permit) = HASHERS.try_acquire() {
        return Ok(permit);
    }
    if WAITING.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
        WAITING.fetch_sub(1, Ordering::AcqRel);
        return Err(AuthError::Busy);
    }
    let permit = tokio::time::timeout(MAX_WAIT, HASHERS.acquire()).await;
    WAITING.fetch_sub(1, Ordering::AcqRel);
    match permit {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AuthError::Busy),
    }
}

pub async fn hash(password: String) -> Result<String, AuthError> {
    let _slot = hasher().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| AuthError::Hash(err.to_string()))
    })
    .await
    .map_err(|err| AuthError::Hash(err.to_string()))?
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub async fn verify(password: String, stored: String) -> Result<bool, AuthError> {
    let _slot = hasher().await?;
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()).unwrap_or(false)
    })
    .await
    .unwrap_or(false))
}

/// A valid hash of no known password: verifying against it when the user does not exist makes
/// "no such user" take as long as "wrong password".
pub async fn decoy() -> Result<String, AuthError> {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY.get_or_try_init(|| hash(super::secret::new_secret("decoy"))).await.cloned()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let stored = super::hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(super::verify("correct horse".into(), stored.clone()).await.unwrap());
        assert!(!super::verify("wrong horse".into(), stored).await.unwrap());
        assert!(!super::verify("x".into(), "not a hash".into()).await.unwrap());
    }
}
