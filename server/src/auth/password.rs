//! Argon2id password hashes (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP advises).
//! Hashing takes tens of milliseconds of CPU and 19 MiB of memory, so it runs on the blocking
//! pool, and only a few at once: a flood of sign-ins would otherwise take every core and, at
//! hundreds in flight, gigabytes. The rest wait their turn briefly, a bounded crowd of them,
//! and beyond that are told to come back (`AuthError::Busy`).

use std::sync::LazyLock;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::OsRng;
use tokio::sync::SemaphorePermit;

use super::AuthError;
use crate::bounded::Slots;

/// Hashes computed at once: one per core, two to four (4 × 19 MiB bounds the memory); at most
/// 64 attempts queue for them, 5 s each, and a crowd beyond is refused at once.
static HASHERS: LazyLock<Slots> = LazyLock::new(|| {
    let slots = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    Slots::new(slots, 64, Duration::from_secs(5))
});
/// What a refused attempt is told: a hash takes well under a second, so the crowd thins fast.
pub const BUSY_RETRY_SECS: u64 = 2;

async fn hasher() -> Result<SemaphorePermit<'static>, AuthError> {
    HASHERS.take().await.ok_or(AuthError::Busy)
}

// The slot moves into the blocking task: a client that hangs up drops its request's future, and
// the slot with it, but not the hash already running, which would let a flood of abandoned
// sign-ins run any number of hashes at once.

pub async fn hash(password: String) -> Result<String, AuthError> {
    let slot = hasher().await?;
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
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
    let slot = hasher().await?;
    Ok(tokio::task::spawn_blocking(move || {
        let _slot = slot;
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
