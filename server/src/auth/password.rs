//! Argon2id password hashes (the crate's defaults: 19 MiB, 2 passes, 1 lane, as OWASP advises).
//! Hashing takes tens of milliseconds of CPU, so it runs on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::OsRng;

use super::AuthError;

pub async fn hash(password: String) -> Result<String, AuthError> {
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
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()).unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of no known password: verifying against it when the user does not exist makes
/// "no such user" take as long as "wrong password".
pub async fn decoy() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY.get_or_init(|| async { hash(super::secret::new_secret("decoy")).await.unwrap_or_default() }).await.clone()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let stored = super::hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(super::verify("correct horse".into(), stored.clone()).await);
        assert!(!super::verify("wrong horse".into(), stored).await);
        assert!(!super::verify("x".into(), "not a hash".into()).await);
    }
}
