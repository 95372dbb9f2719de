-- A counter that every change to what a node set is made of moves on: nodes, groups, the
-- domains' groups, and node sets pruned. A claim reads it before a domain's nodes and reuses
-- the node set it froze at the same version (engine/src/store/claim.rs). Triggers, so that no
-- write path can forget it.
CREATE TABLE fleet_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO fleet_version (id, version) VALUES (1, 0);

CREATE TRIGGER edge_nodes_inserted AFTER INSERT ON edge_nodes
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER edge_nodes_updated AFTER UPDATE ON edge_nodes
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER edge_nodes_deleted AFTER DELETE ON edge_nodes
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER edge_groups_inserted AFTER INSERT ON edge_groups
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER edge_groups_updated AFTER UPDATE ON edge_groups
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER edge_groups_deleted AFTER DELETE ON edge_groups
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER domain_groups_inserted AFTER INSERT ON domain_groups
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER domain_groups_updated AFTER UPDATE ON domain_groups
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER domain_groups_deleted AFTER DELETE ON domain_groups
BEGIN UPDATE fleet_version SET version = version + 1; END;
CREATE TRIGGER node_sets_deleted AFTER DELETE ON node_sets
BEGIN UPDATE fleet_version SET version = version + 1; END;
