-- Each node's recent results (engine/src/fanout/health.rs), saved every few seconds by the
-- instance whose workers asked it, so that a restart, the other instances and
-- `purger nodes list --health` see them. `outcomes`: the window's `recent` results, newest in
-- bit 0 (1 = failed); `updated_at`: its last result, which decides between two instances.
CREATE TABLE node_health (
    node_id             INTEGER PRIMARY KEY REFERENCES edge_nodes (id) ON DELETE CASCADE,
    last_success_at     INTEGER,
    last_failure_at     INTEGER,
    last_failure_reason TEXT,
    recent              INTEGER NOT NULL,
    outcomes            INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

-- How many nodes were in each state, one row per 10 minutes (the edges page's chart).
CREATE TABLE fleet_health_samples (
    at           INTEGER PRIMARY KEY,
    healthy      INTEGER NOT NULL,
    degraded     INTEGER NOT NULL,
    failing      INTEGER NOT NULL,
    disabled     INTEGER NOT NULL,
    never_purged INTEGER NOT NULL
);
