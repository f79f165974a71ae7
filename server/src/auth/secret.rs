//! Random secrets for session cookies and API tokens, and the hash under which they are stored:
//! SHA-256 is enough for 256-bit random secrets (no guessing to slow down), and it lets a lookup
//! be one indexed equality.

use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// `<prefix>_` followed by 64 hex characters of fresh randomness.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex(&bytes))
}

pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_unique_and_digests_stable() {
        let a = super::new_secret("pt");
        assert!(a.starts_with("pt_") && a.len() == 67);
        assert_ne!(a, super::new_secret("pt"));
        assert_eq!(super::digest("x"), super::digest("x"));
        assert_eq!(super::digest("x").len(), 64);
    }
}
