-- The event stream: every change another room (or the outside world) may care about, written in
-- the same transaction as the change, with the JSON it is told as (a snapshot of that moment).
-- Readers (the webhook fan-out, later notifications) take each event once and mark it.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    topic TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    dispatched_at TIMESTAMP
);
CREATE INDEX events_undispatched ON events(id) WHERE dispatched_at IS NULL;
CREATE INDEX events_dispatched ON events(dispatched_at) WHERE dispatched_at IS NOT NULL;
