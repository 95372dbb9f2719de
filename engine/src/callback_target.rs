//! Where callbacks may go: never to loopback, private, link-local or metadata addresses unless
//! the operator allow-lists them (checked on the resolved addresses, not the name).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The longest callback URL accepted, in characters (as long as a target may be).
pub const MAX_CALLBACK_URL_CHARS: usize = 2000;

/// Why a callback URL is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackUrlError {
    /// Longer than [`MAX_CALLBACK_URL_CHARS`].
    #[error("callback_url is longer than {MAX_CALLBACK_URL_CHARS} characters")]
    TooLong,
    /// Not an absolute http(s) URL with a host.
    #[error("callback_url must be an absolute http(s) URL")]
    NotHttp,
    /// The name does not resolve.
    #[error("callback_url host {0} does not resolve")]
    Unresolvable(String),
    /// It resolves to an address that is not public.
    #[error("callback_url resolves to {0}, which is not a public address")]
    NotPublic(IpAddr),
}

/// The networks callbacks may reach despite being non-public.
#[derive(Clone, Debug, Default)]
pub struct CallbackPolicy {
    allowed: Vec<IpNet>,
}

impl CallbackPolicy {
    /// Parses the allow-list; an entry that is not a CIDR network is an error.
    pub fn new(allow_networks: &[String]) -> Result<Self, String> {
        let allowed = allow_networks
            .iter()
            .map(|text| {
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("callbacks.allow_networks: {text:?} is not a CIDR network")
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allowed })
    }

    /// Whether a callback may be sent to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Parses `url` and resolves its host; the addresses to connect to, all permitted.
    pub async fn resolve(
        &self,
        url: &str,
    ) -> Result<(url::Url, Vec<SocketAddr>), CallbackUrlError> {
        if url.chars().count() > MAX_CALLBACK_URL_CHARS {
            return Err(CallbackUrlError::TooLong);
        }
        let parsed = url::Url::parse(url).map_err(|_| CallbackUrlError::NotHttp)?;
        if !matches!(parsed.scheme(), "http" | "https")
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(CallbackUrlError::NotHttp);
        }
        let host = parsed
            .host_str()
            .ok_or(CallbackUrlError::NotHttp)?
            .to_owned();
        let port = parsed
            .port_or_known_default()
            .ok_or(CallbackUrlError::NotHttp)?;
        let lookup_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port))
            .await
            .map_err(|_| CallbackUrlError::Unresolvable(host.clone()))?
            .collect();
        if addrs.is_empty() {
            return Err(CallbackUrlError::Unresolvable(host));
        }
        if let Some(bad) = addrs.iter().find(|addr| !self.permits(addr.ip())) {
            return Err(CallbackUrlError::NotPublic(bad.ip()));
        }
        Ok((parsed, addrs))
    }
}

/// Whether `ip` is a public unicast address (not loopback, private, link-local, CGNAT,
/// documentation, multicast, unspecified or a cloud metadata address).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            let first = segments[0];
            // IPv4-compatible `::a.b.c.d` (deprecated; some stacks still route it to a.b.c.d).
            let ipv4_compatible = segments[..6].iter().all(|&s| s == 0);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || ipv4_compatible
                || (first & 0xfe00) == 0xfc00
                // Link-local fe80::/10 and the deprecated site-local fec0::/10.
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && segments[1] == 0x0db8
                // NAT64: 64:ff9b::/96 and the local-use 64:ff9b:1::/48 (both in 64:ff9b::/32).
                || first == 0x0064 && segments[1] == 0xff9b
                // 6to4 2002::/16 embeds an IPv4 address of any kind.
                || first == 0x2002
                // Discard-only 100::/64.
                || segments[..4] == [0x0100, 0, 0, 0])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
            "192.0.0.170",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "fec0::1",
            "feff::1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must not be public");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[test]
    fn the_allow_list_opens_chosen_networks() {
        let policy = CallbackPolicy::new(&["127.0.0.0/8".into(), "::1".into()]).unwrap();
        assert!(policy.permits("127.0.0.5".parse().unwrap()));
        assert!(policy.permits("::1".parse().unwrap()));
        assert!(!policy.permits("10.0.0.1".parse().unwrap()));
        assert!(CallbackPolicy::new(&["not a net".into()]).is_err());
    }

    #[tokio::test]
    async fn resolution_refuses_names_that_point_inside() {
        let policy = CallbackPolicy::default();
        let error = policy.resolve("http://localhost:9/cb").await.unwrap_err();
        assert!(
            matches!(error, CallbackUrlError::NotPublic(ip) if ip.is_loopback()),
            "{error:?}"
        );
        assert!(matches!(
            policy.resolve("http://127.0.0.1/cb").await,
            Err(CallbackUrlError::NotPublic(_))
        ));
        assert!(matches!(
            policy.resolve("http://[::1]:8080/cb").await,
            Err(CallbackUrlError::NotPublic(_))
        ));
        assert_eq!(
            policy.resolve("ftp://example.com/").await.unwrap_err(),
            CallbackUrlError::NotHttp
        );
        assert_eq!(
            policy.resolve("http://u:p@example.com/").await.unwrap_err(),
            CallbackUrlError::NotHttp
        );
        let long = format!("http://example.com/{}", "a".repeat(MAX_CALLBACK_URL_CHARS));
        assert_eq!(
            policy.resolve(&long).await.unwrap_err(),
            CallbackUrlError::TooLong
        );
        let open = CallbackPolicy::new(&["127.0.0.0/8".into()]).unwrap();
        assert!(open.resolve("http://127.0.0.1:9/cb").await.is_ok());
    }
}
