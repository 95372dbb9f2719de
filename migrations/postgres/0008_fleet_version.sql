-- A counter that every change to what a node set is made of moves on: nodes, groups, the
-- domains' groups, and node sets pruned. A claim reads it before a domain's nodes and reuses
-- the node set it froze at the same version (engine/src/store/claim.rs). Triggers, so that no
-- write path can forget it; the row lock also orders the changes against each other.
CREATE TABLE fleet_version (
    id      SMALLINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO fleet_version (id, version) VALUES (1, 0);

CREATE FUNCTION move_fleet_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE fleet_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER edge_nodes_changed AFTER INSERT OR UPDATE OR DELETE ON edge_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION move_fleet_version();
CREATE TRIGGER edge_groups_changed AFTER INSERT OR UPDATE OR DELETE ON edge_groups
    FOR EACH STATEMENT EXECUTE FUNCTION move_fleet_version();
CREATE TRIGGER domain_groups_changed AFTER INSERT OR UPDATE OR DELETE ON domain_groups
    FOR EACH STATEMENT EXECUTE FUNCTION move_fleet_version();
CREATE TRIGGER node_sets_pruned AFTER DELETE ON node_sets
    FOR EACH STATEMENT EXECUTE FUNCTION move_fleet_version();
