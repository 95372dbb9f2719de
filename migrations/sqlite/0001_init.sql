-- Purger's schema. Times are Unix epoch milliseconds (UTC); ids of batches and tasks are 32
-- lowercase hex characters.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT    NOT NULL UNIQUE,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'developer')),
    enabled         INTEGER NOT NULL DEFAULT 1,
    can_purge       INTEGER NOT NULL DEFAULT 1,
    password_hash   TEXT,
    time_zone       TEXT    NOT NULL DEFAULT '+08:00',
    -- Daily limits per kind and the most targets in one request; NULL means the default.
    quota_url       INTEGER,
    quota_prefix    INTEGER,
    quota_regex     INTEGER,
    quota_batch     INTEGER,
    created_at      INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_id       TEXT    NOT NULL UNIQUE,
    label           TEXT    NOT NULL DEFAULT '',
    -- SHA-256 of the key string, for lookup; the key itself only encrypted (AEAD).
    key_hash        BLOB    NOT NULL UNIQUE,
    key_sealed      BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE edge_groups (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    protocol        TEXT    NOT NULL,
    -- Protocol options (prefix wildcard support, custom request template) as JSON.
    options         TEXT    NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL
);

CREATE TABLE edge_nodes (
    id              INTEGER PRIMARY KEY,
    group_id        INTEGER NOT NULL REFERENCES edge_groups (id) ON DELETE CASCADE,
    ip              TEXT    NOT NULL,
    port            INTEGER NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    UNIQUE (group_id, ip, port)
);

CREATE TABLE domains (
    id              INTEGER PRIMARY KEY,
    host            TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL
);

CREATE TABLE domain_users (
    domain_id       INTEGER NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (domain_id, user_id)
);
CREATE INDEX domain_users_user ON domain_users (user_id);

CREATE TABLE domain_groups (
    domain_id       INTEGER NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    group_id        INTEGER NOT NULL REFERENCES edge_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (domain_id, group_id)
);

-- A frozen, deduplicated list of nodes a task fans out to. Tasks refer to it, so a task's own
-- storage grows with its failures, not with the size of the fleet.
CREATE TABLE node_sets (
    id              INTEGER PRIMARY KEY,
    digest          TEXT    NOT NULL UNIQUE,
    nodes           TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE batches (
    id              TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    api_key_id      INTEGER REFERENCES api_keys (id),
    source          TEXT    NOT NULL,
    idempotency_key TEXT,
    callback_url    TEXT,
    created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX batches_idempotency ON batches (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE tasks (
    seq             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    batch_id        TEXT    NOT NULL REFERENCES batches (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    domain_id       INTEGER NOT NULL REFERENCES domains (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('url', 'prefix', 'regex')),
    target          TEXT    NOT NULL,
    -- The seed-000 client's own task id (idempotency key), when it sent one.
    client_task_id  TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('created', 'running', 'success', 'failed')),
    node_set_id     INTEGER REFERENCES node_sets (id),
    total           INTEGER NOT NULL DEFAULT 0,
    success         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    -- While running: one bit per node of the node set, set once the node confirmed.
    confirmed       BLOB,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    finished_at     INTEGER,
    deadline_at     INTEGER,
    lease_owner     TEXT,
    lease_expires_at INTEGER,
    callback_url    TEXT,
    -- NULL (no callback or not due yet), 'pending', 'delivered' or 'failed'.
    callback_state  TEXT,
    callback_attempts INTEGER NOT NULL DEFAULT 0,
    callback_next_at INTEGER
);
CREATE INDEX tasks_user_seq ON tasks (user_id, seq);
CREATE INDEX tasks_user_target ON tasks (user_id, target, seq);
CREATE INDEX tasks_batch ON tasks (batch_id);
CREATE INDEX tasks_pending ON tasks (status, lease_expires_at) WHERE status IN ('created', 'running');
CREATE INDEX tasks_callbacks ON tasks (callback_next_at) WHERE callback_state = 'pending';
CREATE UNIQUE INDEX tasks_client_task_id ON tasks (user_id, client_task_id)
    WHERE client_task_id IS NOT NULL;

-- One row per node that failed (or is retrying) for a task: success leaves no row.
CREATE TABLE task_failures (
    task_id         TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    node_index      INTEGER NOT NULL,
    reason          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    detail          TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (task_id, node_index)
);

CREATE TABLE quota_usage (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day             TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    used            INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, kind)
);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor_id        INTEGER,
    actor           TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    detail          TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
