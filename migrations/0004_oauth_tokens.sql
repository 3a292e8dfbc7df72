-- OAuth tokens and client registrations for remote servers, encrypted, one row per server.
CREATE TABLE oauth_credentials (
    server_id       TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL,
    tokens_enc      TEXT,
    client_info_enc TEXT,
    updated_at      REAL NOT NULL
);
