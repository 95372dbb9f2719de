-- Facts every instance must agree on, such as the fingerprint of the master key that sealed the
-- stored API keys.
CREATE TABLE settings (
    name            TEXT    PRIMARY KEY,
    value           TEXT    NOT NULL
);
