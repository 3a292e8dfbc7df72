-- Each server's tools as its last successful tools/list gave them (definition as MCP JSON, position, pin), so
-- listings, forms and the assistant's tool list need no live session. Policy state stays in tool_states.
CREATE TABLE tool_catalog (
    owner_id        TEXT NOT NULL,
    server_id       TEXT NOT NULL,
    position        INTEGER NOT NULL,
    tool_name       TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    pin             TEXT NOT NULL,
    PRIMARY KEY (server_id, tool_name)
);
CREATE INDEX tool_catalog_owner ON tool_catalog (owner_id);
-- One row per server that has listed at least once (even an empty list): "never listed" is the absence of a row.
CREATE TABLE tool_catalog_listings (
    server_id     TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    server_name   TEXT NOT NULL,
    approved_hash TEXT NOT NULL,
    listed_at     REAL NOT NULL
);
CREATE INDEX tool_catalog_listings_owner ON tool_catalog_listings (owner_id);
