-- The assistant's conversations: one per (thread, person), since in a channel thread each person talks to the
-- assistant with their own tools. history_enc is the model's message history (tool results included), encrypted.
CREATE TABLE assistant_threads (
    thread_key   TEXT PRIMARY KEY,
    owner_id     TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    thread_ts    TEXT NOT NULL,
    history_enc  TEXT,
    last_prompt_enc TEXT,
    servers_json TEXT,
    updated_at   REAL NOT NULL
);
CREATE INDEX assistant_threads_owner ON assistant_threads (owner_id);

-- Tool calls waiting for their owner's Allow once / Always allow / Deny, kept across restarts.
CREATE TABLE assistant_approvals (
    id          TEXT PRIMARY KEY,
    -- the calls one model response asked for: the turn resumes once every one of them is answered
    batch_id    TEXT NOT NULL,
    thread_key  TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    call_id     TEXT NOT NULL,
    tool_name   TEXT NOT NULL,
    state       TEXT NOT NULL,
    message_ts  TEXT,
    -- set once the turn has resumed with this batch's answers, so two last clicks resume it only once
    resumed     INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);
CREATE INDEX assistant_approvals_thread ON assistant_approvals (thread_key, state);
CREATE INDEX assistant_approvals_due ON assistant_approvals (state, expires_at);

-- Per person and tool: "ask" (always ask before the assistant calls it) or "always" (never ask, even for a
-- risky or destructive tool), for the tool definition with this pin.
CREATE TABLE tool_approval_modes (
    owner_id   TEXT NOT NULL,
    server_id  TEXT NOT NULL,
    tool_name  TEXT NOT NULL,
    mode       TEXT NOT NULL,
    pin        TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (server_id, tool_name)
);
CREATE INDEX tool_approval_modes_owner ON tool_approval_modes (owner_id);

-- Slack event ids already taken, so a retried delivery is answered once (kept for a day).
CREATE TABLE slack_events_seen (
    event_id TEXT PRIMARY KEY,
    seen_at  REAL NOT NULL
);
