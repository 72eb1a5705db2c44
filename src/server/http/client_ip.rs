//! The client address a request is limited by: the peer address, or, when the peer is a
//! configured proxy, the address that proxy names in the configured header. A header from anyone
//! else is ignored, so a client cannot pick its own address.

use crate::server::{accounts::ClientInfo, auth::Auth, config::ClientIpConfig};
use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{request::Parts, HeaderMap},
};
use std::{
    convert::Infallible,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};

/// Resolves the client address from the peer and the headers.
pub fn client_ip(cfg: &ClientIpConfig, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
    let Some(peer) = peer.map(canonical) else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    let trusted = |ip: &IpAddr| cfg.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let header = &cfg.header;
    // Every hop appends; read from the right, skipping our own proxies.
    let hops: Vec<IpAddr> = headers
        .get_all(header)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_hop)
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_matches('"');
    let ip = raw
        .parse::<IpAddr>()
        .ok()
        .or_else(|| raw.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            raw.strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(ip, _)| ip.parse().ok())
        })?;
    Some(canonical(ip))
}

/// `::ffff:127.0.0.2` and `127.0.0.2` are one client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The peer address axum recorded (`into_make_service_with_connect_info::<SocketAddr>()`).
pub fn peer(parts: &axum::http::Extensions) -> Option<IpAddr> {
    parts
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

impl Auth {
    /// The request's client address, per the engine's [`ClientIpConfig`]. Served without the
    /// peer address (not through [`serve`](crate::server::serve) or
    /// `into_make_service_with_connect_info`), every client would share one rate-limit bucket:
    /// the engine says so, once, as an error, rather than limit everyone together in silence.
    pub(crate) fn client_ip(
        &self,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> IpAddr {
        let peer = peer(extensions);
        if peer.is_none() && self.first_request_without_peer() {
            tracing::error!(
                "served without the client address: every client shares one sign-in rate-limit \
                 bucket. Serve the router with sessionflow::server::serve, or axum::serve(listener, \
                 app.into_make_service_with_connect_info::<std::net::SocketAddr>())"
            );
        }
        client_ip(&self.config().client_ip, peer, headers)
    }
}

/// Extractor: the request's client address, per the engine's [`ClientIpConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    Auth: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_ref(state);
        Ok(Self(auth.client_ip(&parts.extensions, &parts.headers)))
    }
}

/// Who a request comes from: its address (as [`ClientIp`] decides) and its user agent. What the
/// use cases count rate limits by and show on the devices page.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Client {
    /// The client of a request with these parts.
    pub(crate) fn of(
        auth: &Auth,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> Self {
        Self {
            ip: auth.client_ip(extensions, headers),
            user_agent: headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// As the accounts see it.
    pub(crate) fn info(&self) -> ClientInfo<'_> {
        ClientInfo {
            ip: self.ip,
            user_agent: self.user_agent.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cfg(proxies: &[&str]) -> ClientIpConfig {
        ClientIpConfig {
            trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            header: axum::http::HeaderName::from_static("x-forwarded-for"),
        }
    }

    fn xff(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(v));
        h
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let c = cfg(&["10.0.0.0/8"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_ip(&c, Some(ip("10.0.0.5")), &xff("203.0.113.7")),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(&c, Some(ip("198.51.100.1")), &xff("203.0.113.7")),
            ip("198.51.100.1"),
            "a spoofed header from a client is ignored"
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let c = cfg(&["10.0.0.0/8"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_ip(
                &c,
                Some(ip("10.0.0.5")),
                &xff("1.1.1.1, 203.0.113.7:5000, 10.0.0.9")
            ),
            ip("203.0.113.7"),
            "what the client itself wrote (1.1.1.1) is not believed"
        );
        assert_eq!(
            client_ip(&c, Some(ip("10.0.0.5")), &xff("garbage")),
            ip("10.0.0.5")
        );
        assert_eq!(
            client_ip(&c, Some(ip("::ffff:10.0.0.5")), &xff("[2001:db8::1]:80")),
            ip("2001:db8::1")
        );
    }
}
