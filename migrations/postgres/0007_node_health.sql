-- Each node's recent results (engine/src/fanout/health.rs), saved every few seconds by the
-- instance whose workers asked it, so that a restart, the other instances and
-- `purger nodes list --health` see them. `outcomes`: the window's `recent` results, newest in
-- bit 0 (1 = failed); `updated_at`: its last result, which decides between two instances.
CREATE TABLE node_health (
    node_id             BIGINT PRIMARY KEY REFERENCES edge_nodes (id) ON DELETE CASCADE,
    last_success_at     BIGINT,
    last_failure_at     BIGINT,
    last_failure_reason TEXT,
    recent              BIGINT NOT NULL,
    outcomes            BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

-- How many nodes were in each state, one row per 10 minutes (the edges page's chart).
CREATE TABLE fleet_health_samples (
    at           BIGINT PRIMARY KEY,
    healthy      BIGINT NOT NULL,
    degraded     BIGINT NOT NULL,
    failing      BIGINT NOT NULL,
    disabled     BIGINT NOT NULL,
    never_purged BIGINT NOT NULL
);
