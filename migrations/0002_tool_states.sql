-- Per owner and server: whether each tool is allowed, denied or held, and the pin it was decided for.
CREATE TABLE tool_states (
    owner_id   TEXT NOT NULL,
    server_id  TEXT NOT NULL,
    tool_name  TEXT NOT NULL,
    state      TEXT NOT NULL,
    pin        TEXT NOT NULL,
    reason     TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (server_id, tool_name)
);
CREATE INDEX tool_states_owner ON tool_states (owner_id);
