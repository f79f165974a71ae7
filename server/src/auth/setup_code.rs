//! The one-time code that proves whoever creates the first admin can read the server's log (as
//! Jenkins' initial password does): without it, the first stranger to find a fresh instance
//! on the network would own it. A browser on the server's own machine, with the server bound to
//! loopback, needs none: nobody else can reach it.
//!
//! The code is derived from the secret key, so every instance of one database prints the same
//! and accepts the same. It is good only while there is no user: once the first admin exists,
//! setup is closed for good, so the code is used once.

use std::net::SocketAddr;

use subtle::ConstantTimeEq;

use crate::env::SecretKey;
use crate::http::client::Client;

/// 60 bits in 12 characters of Crockford's base32 (no I, L, O, U to misread).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHARS: usize = 12;

pub struct SetupCode {
    code: String,
    bind: SocketAddr,
}

impl SetupCode {
    pub fn new(key: &SecretKey, bind: SocketAddr) -> SetupCode {
        let bits = key.derive("first-admin setup code");
        let mut value = u64::from_be_bytes(bits[..8].try_into().expect("8 bytes"));
        let code = (0..CHARS)
            .map(|_| {
                let char = ALPHABET[(value & 31) as usize] as char;
                value >>= 5;
                char
            })
            .collect();
        SetupCode { code, bind }
    }

    /// As printed: three groups of four.
    pub fn shown(&self) -> String {
        let chars: Vec<char> = self.code.chars().collect();
        chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
    }

    /// Whether `client` must give the code: everyone but a local client of a loopback-bound server.
    pub fn required_for(&self, client: &Client) -> bool {
        !(self.bind.ip().is_loopback() && client.is_loopback())
    }

    /// True when `given` is the code, however it is cased or grouped.
    pub fn matches(&self, given: &str) -> bool {
        let normal: String = given.chars().filter(|c| !matches!(c, '-' | ' ')).collect::<String>().to_ascii_uppercase();
        normal.len() == self.code.len() && bool::from(normal.as_bytes().ct_eq(self.code.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &std::path::Path) -> SecretKey {
        let path = dir.join("key");
        crate::env::crypto::generate(&path).unwrap();
        SecretKey::load(&path).unwrap()
    }

    #[test]
    fn the_code_comes_from_the_key_and_is_forgiving_in_form_only() {
        let dir = tempfile::tempdir().unwrap();
        let bind: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let code = SetupCode::new(&key(dir.path()), bind);
        let again = SetupCode::new(&SecretKey::load(&dir.path().join("key")).unwrap(), bind);
        assert_eq!(code.shown(), again.shown(), "every instance with the key prints the same code");
        let shown = code.shown();
        assert_eq!(shown.len(), 14, "{shown}");
        assert!(code.matches(&shown) && code.matches(&shown.to_lowercase()) && code.matches(&shown.replace('-', " ")));
        assert!(!code.matches("") && !code.matches(&shown[..13]) && !code.matches("0000-0000-0000"));
        let other = tempfile::tempdir().unwrap();
        assert_ne!(SetupCode::new(&key(other.path()), bind).shown(), shown, "another key, another code");
    }

    #[test]
    fn only_a_local_client_of_a_loopback_server_goes_without() {
        let dir = tempfile::tempdir().unwrap();
        let key = key(dir.path());
        let client = |ip: &str| Client { addr: ip.parse().unwrap(), https: false, host: None };
        let local = SetupCode::new(&key, "127.0.0.1:3000".parse().unwrap());
        assert!(!local.required_for(&client("127.0.0.1")));
        assert!(local.required_for(&client("192.168.1.20")));
        let open = SetupCode::new(&key, "0.0.0.0:3000".parse().unwrap());
        assert!(open.required_for(&client("127.0.0.1")), "a proxy on this machine may be forwarding anyone");
    }
}
