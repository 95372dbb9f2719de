//! Requests in flight per edge node, counted in an array: the scheduler asks "is this node
//! busy?" for candidate nodes of every ready task each time it dispatches, so the answer must be
//! an index, not a hash of the node's address; and it asks "is any node free?" first, so that a
//! fleet at its limit costs nothing to look at.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::fleet::NodeTarget;

/// Dense numbers (slots) for the nodes of the running tasks, and the requests in flight per slot.
#[derive(Debug)]
pub(crate) struct NodeSlots {
    by_addr: HashMap<SocketAddr, u32>,
    by_node_set: HashMap<i64, Arc<[u32]>>,
    in_flight: Vec<u32>,
    /// Requests in flight to one node at most.
    per_node: u32,
    /// Slots below `per_node`.
    free: usize,
}

impl Default for NodeSlots {
    /// One request in flight per node.
    fn default() -> Self {
        Self::new(1)
    }
}

impl NodeSlots {
    /// No slots yet; a node is busy with `per_node` requests in flight.
    pub fn new(per_node: u32) -> Self {
        Self {
            by_addr: HashMap::new(),
            by_node_set: HashMap::new(),
            in_flight: Vec::new(),
            per_node: per_node.max(1),
            free: 0,
        }
    }

    /// The slot of each node of a frozen node set, in the set's order.
    pub fn of_node_set(&mut self, node_set_id: i64, nodes: &[NodeTarget]) -> Arc<[u32]> {
        if let Some(slots) = self.by_node_set.get(&node_set_id) {
            return Arc::clone(slots);
        }
        let slots: Arc<[u32]> = nodes
            .iter()
            .map(|node| {
                let next = self.in_flight.len() as u32;
                let slot = *self
                    .by_addr
                    .entry(SocketAddr::new(node.ip, node.port))
                    .or_insert(next);
                if slot == next {
                    self.in_flight.push(0);
                    self.free += 1;
                }
                slot
            })
            .collect();
        self.by_node_set.insert(node_set_id, Arc::clone(&slots));
        slots
    }

    /// Whether the node in `slot` has as many requests in flight as it may.
    pub fn is_busy(&self, slot: u32) -> bool {
        self.in_flight[slot as usize] >= self.per_node
    }

    /// Whether some node may take another request.
    pub fn any_free(&self) -> bool {
        self.free > 0
    }

    /// A request to the node in `slot` went out.
    pub fn sent(&mut self, slot: u32) {
        let count = &mut self.in_flight[slot as usize];
        *count += 1;
        if *count == self.per_node {
            self.free -= 1;
        }
    }

    /// A request to the node in `slot` came back.
    pub fn answered(&mut self, slot: u32) {
        let count = &mut self.in_flight[slot as usize];
        if *count == self.per_node {
            self.free += 1;
        }
        *count = count.saturating_sub(1);
    }

    /// Forgets every slot; only when no request is in flight and no task holds slots, so that
    /// the numbering does not grow without end as fleets change.
    pub fn clear(&mut self) {
        debug_assert!(self.in_flight.iter().all(|count| *count == 0));
        self.by_addr.clear();
        self.by_node_set.clear();
        self.in_flight.clear();
        self.free = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Protocol;

    fn node(port: u16) -> NodeTarget {
        NodeTarget {
            node_id: crate::fleet::NodeId(i64::from(port)),
            ip: "127.0.0.1".parse().expect("ip"),
            port,
            protocol: Protocol::Varnish,
        }
    }

    #[test]
    fn a_node_shared_by_two_node_sets_has_one_slot_and_one_count() {
        let mut slots = NodeSlots::new(1);
        let first = slots.of_node_set(1, &[node(1), node(2)]);
        let second = slots.of_node_set(2, &[node(2), node(3)]);
        assert_eq!(&*first, &[0, 1]);
        assert_eq!(&*second, &[1, 2]);
        slots.sent(first[1]);
        assert!(slots.is_busy(second[0]));
        assert!(slots.any_free());
        slots.sent(first[0]);
        slots.sent(second[1]);
        assert!(!slots.any_free(), "every node at its limit");
        slots.answered(second[0]);
        assert!(!slots.is_busy(first[1]));
        assert!(slots.any_free());
        slots.answered(first[0]);
        slots.answered(second[1]);
        slots.clear();
        assert!(!slots.any_free());
        assert_eq!(&*slots.of_node_set(2, &[node(3)]), &[0]);
    }
}
