//! Which host names this server answers to. DNS rebinding lets a web page at `evil.example`
//! point its own name at 127.0.0.1 (or a LAN address) and then talk to us *same-origin*: the
//! browser sends `Host: evil.example`. So a request for a host that is not ours is refused
//! before anything else sees it, with 421 Misdirected Request.
//!
//! Ours are: any IP literal (no DNS, nothing to rebind: that covers the bind address and
//! `127.0.0.1`/`[::1]`), `localhost` and its subdomains (browsers resolve them to loopback
//! themselves, RFC 6761), the `--public-url`'s host, and the `--allowed-hosts`.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::client::Client;
use super::error::ApiError;
use crate::config::Config;
use crate::state::AppState;
use crate::telemetry::quiet::Budget;

#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    /// `(host, port)`, lower-case; no port: any port.
    names: Vec<(String, Option<u16>)>,
}

impl AllowedHosts {
    pub fn from_config(config: &Config) -> AllowedHosts {
        let configured = config.allowed_hosts.iter().map(String::as_str);
        let public = config.public_url.as_ref().map(|url| url.authority.as_str());
        AllowedHosts { names: configured.chain(public).filter_map(split_host).collect() }
    }

    pub fn allows(&self, host: &str) -> bool {
        let Some((name, port)) = split_host(host) else { return false };
        if name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        self.names.iter().any(|(allowed, allowed_port)| *allowed == name && allowed_port.is_none_or(|p| Some(p) == port))
    }
}

/// `Host` as `(name, port)`: lower-case, a trailing dot dropped, IPv6 brackets removed.
pub fn split_host(host: &str) -> Option<(String, Option<u16>)> {
    let host = host.trim().to_ascii_lowercase();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (inside.to_string(), port)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name.to_string(), Some(port.parse().ok()?)),
            None => (host.clone(), None),
        }
    };
    let name = name.strip_suffix('.').unwrap_or(&name).to_string();
    (!name.is_empty() && !name.contains(['/', '@', ' '])).then_some((name, port))
}

pub async fn refuse_foreign_host(State(state): State<AppState>, client: Client, req: Request, next: Next) -> Response {
    match client.host.as_deref() {
        // HTTP/1.0 without `Host`: no browser sends it, so it cannot be a rebinding page.
        None => next.run(req).await,
        Some(host) if state.allowed_hosts.allows(host) => next.run(req).await,
        Some(host) => {
            static WARNINGS: Budget = Budget::new();
            let shown: String = host.chars().take(100).collect();
            if let Some(left_out) = WARNINGS.take() {
                tracing::warn!(host = ?shown, addr = %client.addr, path = %super::loggable_path(req.uri().path()), left_out, "refused a request for a host that is not ours");
            }
            ApiError::MisdirectedHost(shown).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> AllowedHosts {
        AllowedHosts { names: list.iter().filter_map(|h| split_host(h)).collect() }
    }

    #[test]
    fn ip_literals_and_localhost_are_always_ours() {
        let none = hosts(&[]);
        for host in ["127.0.0.1:3000", "10.1.2.3", "[::1]:3000", "[2001:db8::1]", "localhost:3000", "LOCALHOST", "app.localhost:8080"] {
            assert!(none.allows(host), "{host}");
        }
        for host in ["evil.example", "evil.example:3000", "localhost.evil.example", "127.0.0.1.nip.io:3000", "", "[::1", "a:b:c"] {
            assert!(!none.allows(host), "{host}");
        }
    }

    #[test]
    fn configured_names_match_with_or_without_a_port() {
        let allowed = hosts(&["tasks.example.com", "intranet:8080"]);
        assert!(allowed.allows("tasks.example.com") && allowed.allows("Tasks.Example.com.:443") && allowed.allows("intranet:8080"));
        assert!(!allowed.allows("intranet:9090") && !allowed.allows("intranet") && !allowed.allows("example.com"));
    }
}
