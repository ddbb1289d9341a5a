-- People are told: the notifier reads the event stream with its own cursor (notified_at), writes
-- each person's inbox and the outbox of emails and chat messages a sender thread delivers.
ALTER TABLE events ADD COLUMN notified_at TIMESTAMP;
CREATE INDEX events_unnotified ON events(id) WHERE notified_at IS NULL;

-- One row per person told: what the bell counts and the inbox lists. email says what became of
-- its email: none (inbox only), queued, digest (daily digest), overflow (hourly bound reached;
-- sent in the next hourly digest), digested.
CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    grp TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    read_at TIMESTAMP
);
CREATE INDEX notifications_inbox ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_waiting ON notifications(user_id, created_at) WHERE email IN ('digest', 'overflow');

-- Emails and chat messages to send. A sender claims a row with a lease; a crash mid-send leaves
-- it to be sent again when the lease ends (at least once). Sensitive bodies (one-time links) are
-- blanked once the row is sent or given up.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    reply_to TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    sensitive BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    last_error TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbox_org ON outbox(org_id, id);
CREATE INDEX outbox_recipient ON outbox(recipient, created_at);

-- A person's choices: per group immediate, digest or inbox; security notices always by email.
CREATE TABLE notification_prefs (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    approvals TEXT NOT NULL,
    outcomes TEXT NOT NULL,
    operations TEXT NOT NULL,
    follow_payouts BOOLEAN NOT NULL,
    digest_hour INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- An organization's chat channels (the Telegram token sealed with the server key) and reminder.
CREATE TABLE org_notify (
    org_id BIGINT PRIMARY KEY REFERENCES organizations(id),
    slack_url TEXT,
    telegram_token TEXT,
    telegram_chat_id TEXT,
    chat_topics TEXT NOT NULL,
    reminder_hours INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Said once: a reminder, a stuck payout, a failing endpoint, a day's digest. The first insert
-- of a mark wins across processes.
CREATE TABLE notice_marks (
    mark TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE invitations (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    invited_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX invitations_org ON invitations(org_id, id);

-- "Forgot your password?": every request is recorded the same way whether or not the address
-- has an account (no enumeration); the notifier issues the link later, for real accounts only.
CREATE TABLE reset_requests (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT,
    created_at TIMESTAMP NOT NULL,
    handled_at TIMESTAMP
);
CREATE INDEX reset_requests_email ON reset_requests(email, created_at);
CREATE INDEX reset_requests_ip ON reset_requests(ip, created_at);
CREATE INDEX reset_requests_open ON reset_requests(id) WHERE handled_at IS NULL;

CREATE TABLE password_resets (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
