//! The client's address, for what is counted per client (sign-in guesses): the TCP peer, or,
//! when the peer is a trusted proxy, the nearest `X-Forwarded-For` hop that is not one.

use std::net::IpAddr;
use std::sync::Arc;

use app::api::context::ClientIp;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (or single addresses); an entry that is neither is an error.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|text| {
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("api.trusted_proxies: {text:?} is not a CIDR network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip.to_canonical()))
    }

    /// The client behind `peer`, given the request's `X-Forwarded-For` values in order.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        // Each proxy appends the address it was reached from: the nearest hop not trusted is
        // the client (what is before it, the client could have written itself).
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => continue,
                Ok(ip) => return ip,
                Err(_) => break,
            }
        }
        peer
    }
}

/// Puts [`ClientIp`] into the request's extensions.
pub async fn client_ip(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(peer) = crate::serve::peer(&request) {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok());
        let client = trusted.client(peer.ip(), forwarded);
        request.extensions_mut().insert(ClientIp(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("203.0.113.9"), ["1.2.3.4"].into_iter()),
            ip("203.0.113.9")
        );
        let proxies = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["6.6.6.6, 1.2.3.4, 10.0.0.2"].into_iter()),
            ip("1.2.3.4"),
            "the nearest untrusted hop; what the client wrote before it is ignored"
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), std::iter::empty()),
            ip("127.0.0.1")
        );
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
    }
}
