//! The key that seals every variable and secret at rest, and the sealing itself:
//! XChaCha20-Poly1305 with a random 24-byte nonce per value, and the entry's scope, name and
//! kind bound as associated data, so a sealed value copied onto another entry (or a secret
//! turned into a readable variable in the database) no longer opens.
//!
//! The key file holds the 32-byte key in base64 on one line (`openssl rand -base64 32` makes
//! one). Without `PYTASK_SECRET_KEY_FILE` the server generates `secret.key` in the data
//! directory at first start, readable by its owner only.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Bytes of nonce before the ciphertext in a sealed value.
const NONCE: usize = 24;
/// The file generated in the data directory when no key file is configured.
pub const GENERATED: &str = "secret.key";

/// Why the key could not be read or made. Names the file and the setting, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the secret key {} ({SETTING}): {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the secret key {} ({SETTING}) is not a 32-byte key in base64 on one line (make one with `openssl rand -base64 32`)", path.display())]
    Malformed { path: PathBuf },
    #[error("cannot write the new secret key {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// The setting a key error names.
pub const SETTING: &str = "PYTASK_SECRET_KEY_FILE / --secret-key-file";

/// The loaded key: only ever used through `seal` and `open`; never printed.
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
    /// SHA-256 of the key under a label: the root of `derive`, so the key itself is not kept.
    derivation_root: Zeroizing<[u8; 32]>,
    /// The file it was read from, for messages.
    pub path: PathBuf,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SecretKey {
    /// Reads the key from `path`.
    pub fn load(path: &Path) -> Result<SecretKey, KeyError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.into(), source })?);
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| KeyError::Malformed { path: path.into() })?,
        );
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| KeyError::Malformed { path: path.into() })?;
        let derivation_root =
            Zeroizing::new(Sha256::new().chain_update(b"pytask key derivation\0").chain_update(&*bytes).finalize().into());
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(path = %path.display(), "the secret key file is readable by its group or others: chmod 600 it");
        }
        Ok(SecretKey { cipher, derivation_root, path: path.into() })
    }

    /// The configured key file's key; without one, the data directory's, made at first start
    /// (the log says where, and that backups need it).
    pub fn load_or_generate(configured: Option<&Path>, data_dir: &Path) -> Result<SecretKey, KeyError> {
        if let Some(path) = configured {
            return SecretKey::load(path);
        }
        let path = data_dir.join(GENERATED);
        if generate(&path)? {
            tracing::warn!(
                path = %path.display(),
                "generated the key that encrypts variables and secrets; back it up with the database (without it they cannot be read), \
                 and give every instance the same key ({SETTING})"
            );
        }
        SecretKey::load(&path)
    }

    /// A secret of its own for `purpose`, the same on every instance that has this key (the
    /// first-admin setup code): the key's hash under a label, which reveals nothing of the key.
    pub fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(Sha256::new().chain_update(*self.derivation_root).chain_update(purpose.as_bytes()).finalize().into())
    }

    /// `value` sealed for the entry `aad` names: nonce, then ciphertext and tag.
    pub fn seal(&self, aad: &[u8], value: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption fails only for a message beyond the cipher's limit (256 GiB).
        let sealed = self.cipher.encrypt(&nonce, Payload { msg: value, aad }).expect("a value within the AEAD's size limit");
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The value sealed for `aad`; `None` when it was sealed with another key, for another
    /// entry, or altered.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE);
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad }).ok().map(Zeroizing::new)
    }
}

/// Writes a new random key to `path` unless a file is there; true if it wrote one.
pub fn generate(path: &Path) -> Result<bool, KeyError> {
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(key.as_mut_slice());
    let text = Zeroizing::new(format!("{}\n", base64::engine::general_purpose::STANDARD.encode(key.as_slice())));
    let write = |path: &Path| -> std::io::Result<bool> {
        let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
            Err(err) => return Err(err),
        };
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        Ok(true)
    };
    write(path).map_err(|source| KeyError::Write { path: path.into(), source })
}

/// What a sealed value is bound to: its scope, its name and whether it is a secret.
pub fn aad(scope: &str, name: &str, secret: bool) -> Vec<u8> {
    format!("pytask env v1\0{scope}\0{name}\0{}", if secret { "secret" } else { "variable" }).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &Path, name: &str) -> SecretKey {
        let path = dir.join(name);
        assert!(generate(&path).unwrap());
        SecretKey::load(&path).unwrap()
    }

    #[test]
    fn a_value_opens_only_with_its_key_and_for_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (key(dir.path(), "one"), key(dir.path(), "two"));
        let aad_a = aad("global", "API_KEY", true);
        let sealed = one.seal(&aad_a, b"hunter2-value");
        assert!(!sealed.windows(6).any(|w| w == b"hunter"), "the value is in clear");
        assert_eq!(one.open(&aad_a, &sealed).unwrap().as_slice(), b"hunter2-value");
        assert!(two.open(&aad_a, &sealed).is_none(), "another key opened it");
        assert!(one.open(&aad("script:1", "API_KEY", true), &sealed).is_none(), "another scope opened it");
        assert!(one.open(&aad("global", "OTHER", true), &sealed).is_none(), "another name opened it");
        assert!(one.open(&aad("global", "API_KEY", false), &sealed).is_none(), "the secret opened as a variable");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(one.open(&aad_a, &altered).is_none());
        assert!(one.open(&aad_a, &sealed[..10]).is_none());
        // A fresh nonce each time: the same value seals differently.
        assert_ne!(one.seal(&aad_a, b"hunter2-value"), sealed);
    }

    #[test]
    fn the_generated_key_is_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load_or_generate(None, dir.path()).unwrap();
        let path = dir.path().join(GENERATED);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = SecretKey::load_or_generate(None, dir.path()).unwrap();
        let sealed = first.seal(b"x", b"value");
        assert_eq!(again.open(b"x", &sealed).unwrap().as_slice(), b"value");
    }

    #[test]
    fn a_bad_key_file_is_named_and_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "c2hvcnQ=\n").unwrap();
        let err = SecretKey::load(&path).unwrap_err().to_string();
        assert!(err.contains(path.to_str().unwrap()) && err.contains("PYTASK_SECRET_KEY_FILE") && !err.contains("c2hvcnQ"), "{err}");
        let missing = SecretKey::load(&dir.path().join("none")).unwrap_err().to_string();
        assert!(missing.contains("cannot read"), "{missing}");
    }
}
