//! The edge fleet: groups of cache nodes and the protocol each group speaks.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// How a group's nodes are asked to purge.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase", deny_unknown_fields)]
pub enum Protocol {
    /// Varnish: `PURGE` for URLs, `BAN` with `X-Ban-Regex` for prefixes and regexes.
    Varnish,
    /// nginx with ngx_cache_purge: `PURGE`, 404 (not cached) is success; no regex.
    Nginx {
        /// The module understands a trailing `*` (2.4 and later; Debian 12 ships 2.3).
        #[serde(default)]
        prefix_wildcard: bool,
    },
    /// Squid: `PURGE`, 404 is success; no prefix or regex.
    Squid,
    /// Apache Traffic Server: `PURGE`, 404 is success; no prefix or regex.
    Ats,
    /// A request template of the operator's own.
    Custom(CustomTemplate),
}

/// A custom purge request: `{path}`, `{pattern}`, `{host}`, `{tag}` and `{mode}` are substituted
/// (see `fanout::template` for what each kind of target fills in).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomTemplate {
    /// HTTP method, such as `PURGE` or `POST`.
    pub method: String,
    /// Request path template, such as `/purge{path}`.
    pub path: String,
    /// Extra headers (values are templates too).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Whether the template can express a pattern (prefix and regex targets use `{pattern}`).
    #[serde(default)]
    pub supports_patterns: bool,
    /// Status codes that mean success besides 2xx (for example 404).
    #[serde(default)]
    pub success_statuses: Vec<u16>,
}

impl Protocol {
    /// The preset's name: `varnish`, `nginx`, `squid`, `ats` or `custom`.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Varnish => "varnish",
            Protocol::Nginx { .. } => "nginx",
            Protocol::Squid => "squid",
            Protocol::Ats => "ats",
            Protocol::Custom(_) => "custom",
        }
    }

    /// The preset for a name, with default options (`custom` needs a template).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "varnish" => Some(Protocol::Varnish),
            "nginx" => Some(Protocol::Nginx {
                prefix_wildcard: false,
            }),
            "squid" => Some(Protocol::Squid),
            "ats" => Some(Protocol::Ats),
            _ => None,
        }
    }
}

/// A group's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupId(pub i64);

/// A group of edge nodes (a region, a tier).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeGroup {
    /// Database id.
    pub id: GroupId,
    /// Unique name.
    pub name: String,
    /// How its nodes are purged.
    pub protocol: Protocol,
}

/// A node's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub i64);

/// One edge cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeNode {
    /// Database id.
    pub id: NodeId,
    /// Its group.
    pub group_id: GroupId,
    /// Address purges are sent to.
    pub ip: IpAddr,
    /// Port purges are sent to.
    pub port: u16,
    /// Disabled nodes are left out of new tasks.
    pub enabled: bool,
}

/// One node of a task's frozen node set: where to send and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeTarget {
    /// The node's id when the set was frozen.
    pub node_id: NodeId,
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Protocol of its group.
    pub protocol: Protocol,
}

impl NodeTarget {
    /// The node as the seed APIs print it: `ip`, or `ip:port` when the port is not 80.
    pub fn display_ip(&self) -> String {
        match (self.port, self.ip) {
            (80, ip) => ip.to_string(),
            (port, IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
            (port, ip) => format!("{ip}:{port}"),
        }
    }
}

/// The nodes with each cache once: a node whose address, port and protocol an earlier node
/// already has (the same cache listed in two groups of a domain) is left out, so that one
/// purge asks it once.
pub fn distinct_caches(mut nodes: Vec<NodeTarget>) -> Vec<NodeTarget> {
    let mut seen = std::collections::HashSet::with_capacity(nodes.len());
    nodes.retain(|node| seen.insert((node.ip, node.port, node.protocol.clone())));
    nodes
}

/// A line of a node import: `ip,port[,enabled]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLine {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// Enabled unless the line says `false`/`0`/`no`/`disabled`.
    pub enabled: bool,
}

impl NodeLine {
    /// Parses one CSV line; blank lines and `#` comments yield `Ok(None)`.
    pub fn parse(line: &str) -> Result<Option<Self>, String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if !(2..=3).contains(&fields.len()) {
            return Err(format!("expected ip,port[,enabled]: {line:?}"));
        }
        let ip: IpAddr = fields[0]
            .parse()
            .map_err(|_| format!("not an IP address: {:?}", fields[0]))?;
        let port: u16 = fields[1]
            .parse()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("not a port: {:?}", fields[1]))?;
        let enabled = match fields.get(2).map(|f| f.to_ascii_lowercase()) {
            None => true,
            Some(flag) => match flag.as_str() {
                "" | "1" | "true" | "yes" | "enabled" => true,
                "0" | "false" | "no" | "disabled" => false,
                _ => return Err(format!("not a flag: {flag:?}")),
            },
        };
        Ok(Some(Self { ip, port, enabled }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_ip_hides_port_80() {
        let mut node = NodeTarget {
            node_id: NodeId(1),
            ip: "58.30.207.78".parse().unwrap(),
            port: 80,
            protocol: Protocol::Varnish,
        };
        assert_eq!(node.display_ip(), "58.30.207.78");
        node.port = 6081;
        assert_eq!(node.display_ip(), "58.30.207.78:6081");
        node.ip = "::1".parse().unwrap();
        assert_eq!(node.display_ip(), "[::1]:6081");
    }

    #[test]
    fn node_lines_parse_and_refuse() {
        assert_eq!(NodeLine::parse("  # comment").unwrap(), None);
        let line = NodeLine::parse("10.0.0.1, 80").unwrap().unwrap();
        assert_eq!((line.port, line.enabled), (80, true));
        assert!(
            !NodeLine::parse("10.0.0.1,80,disabled")
                .unwrap()
                .unwrap()
                .enabled
        );
        for bad in [
            "10.0.0.1",
            "x,80",
            "10.0.0.1,0",
            "10.0.0.1,70000",
            "10.0.0.1,80,maybe",
            "1,2,3,4",
        ] {
            assert!(NodeLine::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn protocols_serialize_with_their_options() {
        let json = serde_json::to_string(&Protocol::Nginx {
            prefix_wildcard: true,
        })
        .unwrap();
        assert_eq!(json, r#"{"protocol":"nginx","prefix_wildcard":true}"#);
        let back: Protocol = serde_json::from_str(r#"{"protocol":"varnish"}"#).unwrap();
        assert_eq!(back, Protocol::Varnish);
    }
}
