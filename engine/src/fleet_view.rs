//! The fleet as an operator reads it: each node's health state from its recent results, the
//! count of nodes in each state, and one page of the nodes a search and a state filter match.
//! Pure functions over the stored fleet and the health book, so that thousands of nodes cost
//! one pass (see docs/benchmarks.md, "Edges page").

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fanout::health::NodeHealth;
use crate::fleet::{EdgeNode, NodeId};
use crate::store::GroupWithNodes;

/// Where a node stands, from its recent requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthState {
    /// Enabled, and none of its recent requests failed.
    Healthy,
    /// Enabled; some recent requests failed, at most half.
    Degraded,
    /// Enabled; more than half of its recent requests failed.
    Failing,
    /// Left out of new tasks.
    Disabled,
    /// Enabled, and this instance has not sent it a purge yet.
    NeverPurged,
}

impl HealthState {
    /// Every state, in the order pages list them.
    pub const ALL: [HealthState; 5] = [
        HealthState::Healthy,
        HealthState::Degraded,
        HealthState::Failing,
        HealthState::Disabled,
        HealthState::NeverPurged,
    ];

    /// The stable name (query strings, test ids).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Failing => "failing",
            HealthState::Disabled => "disabled",
            HealthState::NeverPurged => "never_purged",
        }
    }

    /// Its place in [`HealthState::ALL`] (and in counts kept in that order).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The state of a stable name.
    pub fn parse(name: &str) -> Option<HealthState> {
        HealthState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The state of a node that is `enabled` with `health` as recorded.
    pub fn of(enabled: bool, health: Option<&NodeHealth>) -> HealthState {
        match health {
            _ if !enabled => HealthState::Disabled,
            None => HealthState::NeverPurged,
            Some(h) if h.recent == 0 => HealthState::NeverPurged,
            Some(h) if h.failure_rate() > 0.5 => HealthState::Failing,
            Some(h) if h.recent_failures > 0 => HealthState::Degraded,
            Some(_) => HealthState::Healthy,
        }
    }
}

/// What the edges page asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetQuery {
    /// Part of the address (`ip:port`) or of the group name, any case; empty: every node.
    pub search: String,
    /// Only nodes in this state.
    pub state: Option<HealthState>,
    /// The page, from 0 (past the last: the last).
    pub page: usize,
    /// Nodes per page (at least 1).
    pub per_page: usize,
}

/// One node of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetRow {
    /// Its group's name.
    pub group: String,
    /// Its group's protocol preset.
    pub protocol: &'static str,
    /// The node.
    pub node: EdgeNode,
    /// Its state.
    pub state: HealthState,
    /// Its recent results, when it had any.
    pub health: Option<NodeHealth>,
}

/// A page of the fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetPage {
    /// Nodes the search matches, per state (in [`HealthState::ALL`]'s order).
    pub counts: [(HealthState, usize); 5],
    /// Nodes the search and the state filter match.
    pub matching: usize,
    /// Every node of the fleet.
    pub total: usize,
    /// This page (from 0).
    pub page: usize,
    /// How many pages there are (at least 1).
    pub pages: usize,
    /// This page's nodes, by group name, then address.
    pub rows: Vec<FleetRow>,
}

/// How many nodes were in each state at one time (the edges page's chart of health over time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSample {
    /// When it was taken (the start of its slot).
    pub at: DateTime<Utc>,
    /// Nodes per state, in [`HealthState::ALL`]'s order.
    pub counts: [u32; 5],
}

impl HealthSample {
    /// The count of nodes in `state`.
    pub fn count(&self, state: HealthState) -> u32 {
        self.counts[state.index()]
    }
}

/// The states of every node of `groups` at `at`, with `health` as recorded.
pub fn health_sample(
    groups: &[GroupWithNodes],
    health: &HashMap<NodeId, NodeHealth>,
    at: DateTime<Utc>,
) -> HealthSample {
    let mut counts = [0u32; 5];
    for node in groups.iter().flat_map(|g| &g.nodes) {
        let state = HealthState::of(node.enabled, health.get(&node.id));
        counts[state.index()] += 1;
    }
    HealthSample { at, counts }
}

/// The page of `groups` that `query` asks for, with `health` as recorded.
pub fn fleet_page(
    groups: &[GroupWithNodes],
    health: &HashMap<NodeId, NodeHealth>,
    query: &FleetQuery,
) -> FleetPage {
    let needle = query.search.trim().to_ascii_lowercase();
    let mut counts = HealthState::ALL.map(|s| (s, 0));
    let mut total = 0;
    let mut sorted: Vec<&GroupWithNodes> = groups.iter().collect();
    sorted.sort_by(|a, b| a.group.name.cmp(&b.group.name));
    let mut matched = Vec::new();
    for group in sorted {
        let group_hit = group.group.name.to_ascii_lowercase().contains(&needle);
        let mut nodes: Vec<&EdgeNode> = group.nodes.iter().collect();
        nodes.sort_by_key(|n| (n.ip, n.port));
        for node in nodes {
            total += 1;
            let hit = group_hit || {
                let addr = std::net::SocketAddr::new(node.ip, node.port).to_string();
                addr.to_ascii_lowercase().contains(&needle)
            };
            if !hit {
                continue;
            }
            let state = HealthState::of(node.enabled, health.get(&node.id));
            counts[state.index()].1 += 1;
            if query.state.is_none_or(|wanted| wanted == state) {
                matched.push((group, node, state));
            }
        }
    }
    let per_page = query.per_page.max(1);
    let pages = matched.len().div_ceil(per_page).max(1);
    let page = query.page.min(pages - 1);
    let rows = matched
        .iter()
        .skip(page * per_page)
        .take(per_page)
        .map(|(group, node, state)| FleetRow {
            group: group.group.name.clone(),
            protocol: group.group.protocol.name(),
            node: (*node).clone(),
            state: *state,
            health: health.get(&node.id).cloned(),
        })
        .collect();
    FleetPage {
        counts,
        matching: matched.len(),
        total,
        page,
        pages,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fanout::health::HealthBook;
    use crate::fleet::{EdgeGroup, GroupId, Protocol};

    fn fleet(nodes: usize) -> Vec<GroupWithNodes> {
        let group = |id: i64, name: &str, range: std::ops::Range<usize>| GroupWithNodes {
            group: EdgeGroup {
                id: GroupId(id),
                name: name.into(),
                protocol: Protocol::preset("varnish").expect("preset"),
            },
            nodes: range
                .map(|i| EdgeNode {
                    id: NodeId(i as i64),
                    group_id: GroupId(id),
                    ip: std::net::Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8).into(),
                    port: 80,
                    enabled: i % 10 != 9,
                })
                .collect(),
        };
        vec![
            group(2, "west", nodes / 2..nodes),
            group(1, "east", 0..nodes / 2),
        ]
    }

    #[test]
    fn states_follow_the_recent_failure_share() {
        let book = HealthBook::default();
        let now = chrono::Utc::now();
        book.record(NodeId(1), None, now);
        book.record(NodeId(2), Some("503"), now);
        book.record(NodeId(2), None, now);
        book.record(NodeId(3), Some("timeout"), now);
        let health = book.snapshot();
        let state = |id| HealthState::of(true, health.get(&NodeId(id)));
        assert_eq!(state(1), HealthState::Healthy);
        assert_eq!(state(2), HealthState::Degraded);
        assert_eq!(state(3), HealthState::Failing);
        assert_eq!(state(4), HealthState::NeverPurged);
        assert_eq!(
            HealthState::of(false, health.get(&NodeId(3))),
            HealthState::Disabled
        );
        for (i, s) in HealthState::ALL.into_iter().enumerate() {
            assert_eq!(HealthState::parse(s.as_str()), Some(s));
            assert_eq!(s.index(), i);
        }
    }

    #[test]
    fn a_page_counts_filters_and_sorts_by_group() {
        let groups = fleet(100);
        let book = HealthBook::default();
        for i in 0..5 {
            book.record(NodeId(i), Some("connect_refused"), chrono::Utc::now());
        }
        let health = book.snapshot();
        let all = fleet_page(
            &groups,
            &health,
            &FleetQuery {
                per_page: 30,
                ..Default::default()
            },
        );
        assert_eq!((all.total, all.matching, all.pages), (100, 100, 4));
        assert_eq!(all.rows.len(), 30);
        assert_eq!(all.rows[0].group, "east");
        assert_eq!(all.counts[2], (HealthState::Failing, 5));
        assert_eq!(all.counts[3], (HealthState::Disabled, 10));
        assert_eq!(all.counts[4], (HealthState::NeverPurged, 85));
        let sample = health_sample(&groups, &health, chrono::Utc::now());
        assert_eq!(sample.counts, [0, 0, 5, 10, 85]);
        assert_eq!(sample.count(HealthState::Disabled), 10);

        let failing = fleet_page(
            &groups,
            &health,
            &FleetQuery {
                state: Some(HealthState::Failing),
                per_page: 30,
                page: 7,
                ..Default::default()
            },
        );
        assert_eq!((failing.matching, failing.page, failing.pages), (5, 0, 1));
        assert!(failing.rows.iter().all(|r| r.state == HealthState::Failing));

        let west = fleet_page(
            &groups,
            &health,
            &FleetQuery {
                search: "WEST".into(),
                per_page: 100,
                ..Default::default()
            },
        );
        assert_eq!(west.matching, 50);
        let one = fleet_page(
            &groups,
            &health,
            &FleetQuery {
                search: "10.0.0.7:".into(),
                per_page: 100,
                ..Default::default()
            },
        );
        assert_eq!(one.rows.len(), 1);
        assert_eq!(one.rows[0].node.id, NodeId(7));
    }
}
