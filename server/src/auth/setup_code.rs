//! The one-time code that proves whoever creates the first admin can read the server's log (as
//! Jenkins' initial password does): without it, the first stranger to find a fresh instance
//! on the network would own it. A browser on the server's own machine, with the server bound to
//! loopback, needs none: nobody else can reach it. Unless a proxy on that machine forwards
//! strangers to it: a request that bears any forwarding header, names a host other than
//! loopback, or reaches a server given a public URL (a proxied one) needs the code too. A
//! proxy that adds none of that (nginx's bare `proxy_pass`) cannot be told from a local
//! browser: the log's setup line says to set the public URL.
//!
//! The code is derived from the secret key, so every instance of one database prints the same
//! and accepts the same. It is good only while there is no user: once the first admin exists,
//! setup is closed for good, so the code is used once.

use std::net::{IpAddr, SocketAddr};

use subtle::ConstantTimeEq;

use crate::env::SecretKey;
use crate::http::client::Client;

/// 60 bits in 12 characters of Crockford's base32 (no I, L, O, U to misread).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHARS: usize = 12;

pub struct SetupCode {
    code: String,
    /// Bound to loopback and not published behind a proxy: a local browser may go without.
    local_only: bool,
}

impl SetupCode {
    /// `published`: a public URL or trusted proxies are configured, so a proxy stands in front.
    pub fn new(key: &SecretKey, bind: SocketAddr, published: bool) -> SetupCode {
        let bits = key.derive("first-admin setup code");
        let mut value = u64::from_be_bytes(bits[..8].try_into().expect("8 bytes"));
        let code = (0..CHARS)
            .map(|_| {
                let char = ALPHABET[(value & 31) as usize] as char;
                value >>= 5;
                char
            })
            .collect();
        SetupCode { code, local_only: bind.ip().is_loopback() && !published }
    }

    /// As printed: three groups of four.
    pub fn shown(&self) -> String {
        let chars: Vec<char> = self.code.chars().collect();
        chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join("-")
    }

    /// Whether `client` must give the code: everyone but a local browser, straight (no proxy's
    /// header, a loopback host name) to a loopback-bound server that has no public URL.
    pub fn required_for(&self, client: &Client) -> bool {
        let local_host = client.host.as_deref().is_some_and(is_loopback_host);
        !(self.local_only && client.is_loopback() && local_host && !client.forwarded)
    }

    /// True when `given` is the code, however it is cased or grouped.
    pub fn matches(&self, given: &str) -> bool {
        let normal: String = given.chars().filter(|c| !matches!(c, '-' | ' ')).collect::<String>().to_ascii_uppercase();
        normal.len() == self.code.len() && bool::from(normal.as_bytes().ct_eq(self.code.as_bytes()))
    }
}

/// `localhost` or a loopback address, with a port or without.
fn is_loopback_host(host: &str) -> bool {
    crate::http::host::split_host(host)
        .is_some_and(|(name, _)| name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
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
        let code = SetupCode::new(&key(dir.path()), bind, false);
        let again = SetupCode::new(&SecretKey::load(&dir.path().join("key")).unwrap(), bind, false);
        assert_eq!(code.shown(), again.shown(), "every instance with the key prints the same code");
        let shown = code.shown();
        assert_eq!(shown.len(), 14, "{shown}");
        assert!(code.matches(&shown) && code.matches(&shown.to_lowercase()) && code.matches(&shown.replace('-', " ")));
        assert!(!code.matches("") && !code.matches(&shown[..13]) && !code.matches("0000-0000-0000"));
        let other = tempfile::tempdir().unwrap();
        assert_ne!(SetupCode::new(&key(other.path()), bind, false).shown(), shown, "another key, another code");
    }

    #[test]
    fn only_a_local_client_of_a_loopback_server_goes_without() {
        let dir = tempfile::tempdir().unwrap();
        let key = key(dir.path());
        let client = |ip: &str, host: &str| Client { addr: ip.parse().unwrap(), https: false, host: Some(host.into()), forwarded: false };
        let local = SetupCode::new(&key, "127.0.0.1:3000".parse().unwrap(), false);
        for host in ["127.0.0.1:3000", "localhost:3000", "LOCALHOST", "[::1]:3000", "[::1]"] {
            assert!(!local.required_for(&client("127.0.0.1", host)), "{host}");
        }
        assert!(local.required_for(&client("192.168.1.20", "127.0.0.1:3000")));
        assert!(local.required_for(&client("127.0.0.1", "pytask.example.com")), "a proxy passing the public host on");
        assert!(local.required_for(&Client { host: None, ..client("127.0.0.1", "") }));
        assert!(local.required_for(&Client { forwarded: true, ..client("127.0.0.1", "127.0.0.1:3000") }), "a proxy's header");
        let published = SetupCode::new(&key, "127.0.0.1:3000".parse().unwrap(), true);
        assert!(published.required_for(&client("127.0.0.1", "127.0.0.1:3000")), "a public URL means a proxy");
        let open = SetupCode::new(&key, "0.0.0.0:3000".parse().unwrap(), false);
        assert!(open.required_for(&client("127.0.0.1", "127.0.0.1:3000")), "a proxy on this machine may be forwarding anyone");
    }
}
