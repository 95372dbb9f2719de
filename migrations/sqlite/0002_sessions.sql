-- Dashboard sessions: the cookie carries a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash      BLOB    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
