-- Servers, pending confirmations and the audit log. Secret values live only in *_enc columns.
CREATE TABLE servers (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    enterprise_id TEXT,
    team_id       TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    transport     TEXT NOT NULL,
    config_json   TEXT NOT NULL,
    secrets_enc   TEXT,
    enabled       INTEGER NOT NULL,
    approved_hash TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    UNIQUE (owner_id, name)
);

CREATE TABLE pending_changes (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL,
    enterprise_id TEXT,
    team_id       TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    server_id     TEXT,
    base_version  INTEGER,
    config_json   TEXT NOT NULL,
    secrets_enc   TEXT,
    created_at    REAL NOT NULL
);
CREATE INDEX pending_changes_owner ON pending_changes (owner_id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          REAL NOT NULL,
    owner_id    TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    server_name TEXT,
    detail_json TEXT NOT NULL
);
CREATE INDEX audit_log_owner ON audit_log (owner_id, id);
