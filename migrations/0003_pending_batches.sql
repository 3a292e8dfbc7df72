-- Whole-file changes (uploads, on-disk edits of mcp.json) waiting for their owner's confirmation.
-- body_json holds everything shown (no secret values); secrets_enc the env values, encrypted per batch.
CREATE TABLE pending_batches (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    enterprise_id TEXT,
    team_id       TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    source        TEXT NOT NULL,
    body_json     TEXT NOT NULL,
    secrets_enc   TEXT,
    created_at    REAL NOT NULL
);
CREATE INDEX pending_batches_owner ON pending_batches (owner_id, source);
