//! Who the client is and how it reached us: its address, whether it spoke https, and the host
//! it asked for. Behind a reverse proxy the TCP peer is the proxy; its `X-Forwarded-For`,
//! `-Proto` and `-Host` say the rest, but anyone can send those headers, so they are read only
//! when the peer is one of `--trusted-proxies`. Everyone else is taken at their TCP word.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::header::HOST;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::state::AppState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address: the TCP peer, or the first untrusted hop a trusted proxy reported.
    pub addr: IpAddr,
    /// The client spoke https to the trusted proxy in front of us (we never terminate TLS).
    pub https: bool,
    /// The host the client asked for (`Host`, or a trusted proxy's `X-Forwarded-Host`), as sent.
    pub host: Option<String>,
    /// The request bears a header a proxy adds, trusted or not: it may come from anywhere,
    /// whatever its TCP peer (`auth::setup_code`).
    pub forwarded: bool,
}

/// Headers proxies add.
const FORWARDING: &[&str] = &[
    "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-forwarded-server", "x-real-ip",
    "x-client-ip", "true-client-ip", "cf-connecting-ip", "via",
];

impl Client {
    pub fn of(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Client {
        let host_header = first_value(headers, HOST.as_str());
        let forwarded = FORWARDING.iter().any(|name| headers.contains_key(*name));
        if !is_trusted(peer, trusted) {
            return Client { addr: peer, https: false, host: host_header, forwarded };
        }
        // Each proxy appends the address it heard from: read from the right, skipping our own
        // proxies, and the first hop we do not trust is the client. What lies to its left was
        // written by the client itself and means nothing.
        let mut addr = peer;
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    addr = ip;
                    if !is_trusted(ip, trusted) {
                        break;
                    }
                }
                // Garbage from the hop before: the proxy that reported it is the last we know.
                None => break,
            }
        }
        // The last value is the one our own proxy wrote; one before it may be the client's.
        let https = last_value(headers, "x-forwarded-proto").is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
        let host = last_value(headers, "x-forwarded-host").or(host_header);
        Client { addr, https, host, forwarded }
    }

    /// True for a client on this machine.
    pub fn is_loopback(&self) -> bool {
        match self.addr {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        }
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    trusted.iter().any(|net| net.contains(&ip))
}

/// An `X-Forwarded-For` hop: a bare address, or one with a port as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|sa| sa.ip()))
}

/// The first comma-separated value of a header (`Host` has one).
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// The last comma-separated value of a header, over all its lines (the one the proxy next to us
/// wrote, when it appends).
fn last_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get_all(name).iter().filter_map(|value| value.to_str().ok()).next_back()?;
    let last = value.rsplit(',').next()?.trim();
    (!last.is_empty()).then(|| last.to_string())
}

/// Works out the `Client` once per request, for the host check, the gate and the handlers.
pub async fn resolve(axum::extract::State(state): axum::extract::State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let mut client = Client::of(peer.unwrap_or(IpAddr::from([127, 0, 0, 1])), req.headers(), &state.config.trusted_proxies);
    // HTTP/2 names the host in the request's authority, not in `Host`.
    if client.host.is_none() {
        client.host = req.uri().authority().map(|authority| authority.to_string());
    }
    req.extensions_mut().insert(client);
    next.run(req).await
}

/// The request's `Client`; a request that skipped `resolve` (the pages' in-process API calls)
/// is its TCP peer with its own headers.
impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(client) = parts.extensions.get::<Client>() {
            return Ok(client.clone());
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
        Ok(Client::of(peer, &parts.headers, &[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn forwarded_headers_from_strangers_are_ignored() {
        let forged = headers(&[
            ("host", "pytask:3000"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil"),
        ]);
        let client = Client::of("203.0.113.9".parse().unwrap(), &forged, &nets(&["10.0.0.0/8"]));
        assert_eq!(
            client,
            Client { addr: "203.0.113.9".parse().unwrap(), https: false, host: Some("pytask:3000".into()), forwarded: true }
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        let sent = headers(&[
            ("host", "internal:3000"),
            // The client forged the first hop; the edge proxy appended the real one; the inner
            // proxy appended the edge's address.
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "tasks.example.com"),
        ]);
        let client = Client::of("127.0.0.1".parse().unwrap(), &sent, &trusted);
        assert_eq!(
            client,
            Client { addr: "198.51.100.7".parse().unwrap(), https: true, host: Some("tasks.example.com".into()), forwarded: true }
        );
        // A client's own X-Forwarded-Host/-Proto, which the proxy appended to, count for nothing.
        let appended = headers(&[("x-forwarded-host", "evil.example, tasks.example.com"), ("x-forwarded-proto", "https, http")]);
        let client = Client::of("10.0.0.1".parse().unwrap(), &appended, &trusted);
        assert_eq!((client.host.as_deref(), client.https), (Some("tasks.example.com"), false));
        // Only proxies in the chain: the leftmost is the best we know.
        let inner = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.2")]);
        assert_eq!(Client::of("10.0.0.1".parse().unwrap(), &inner, &trusted).addr, "10.0.0.5".parse::<IpAddr>().unwrap());
        // A hop that is not an address stops the walk at the proxy that reported it.
        let garbage = headers(&[("x-forwarded-for", "1.1.1.1, nonsense, 10.0.0.2")]);
        assert_eq!(Client::of("10.0.0.1".parse().unwrap(), &garbage, &trusted).addr, "10.0.0.2".parse::<IpAddr>().unwrap());
        let with_port = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(Client::of("10.0.0.1".parse().unwrap(), &with_port, &trusted).addr, "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn loopback_includes_mapped_v4() {
        let of = |ip: &str| Client { addr: ip.parse().unwrap(), https: false, host: None, forwarded: false }.is_loopback();
        assert!(of("127.0.0.1") && of("::1") && of("::ffff:127.0.0.1"));
        assert!(!of("192.168.1.2") && !of("::ffff:10.0.0.1"));
    }
}
