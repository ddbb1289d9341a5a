ALTER TABLE organizations ADD COLUMN approval_required BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE payouts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    kind TEXT NOT NULL CHECK (kind IN ('single', 'mass')),
    asset TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed', 'partially_completed', 'cancelled', 'failed')),
    description TEXT NOT NULL,
    amount_total TEXT NOT NULL,
    fee TEXT NOT NULL,
    total_debit TEXT NOT NULL,
    item_count INTEGER NOT NULL,
    approvals_required INTEGER NOT NULL,
    idempotency_key TEXT,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- A repeated confirm (double click, back button, API retry) finds the first payout.
CREATE UNIQUE INDEX payouts_idempotency ON payouts(org_id, idempotency_key);
-- Keyset pagination newest first, overall and per status tab.
CREATE INDEX payouts_org_id ON payouts(org_id, id);
CREATE INDEX payouts_org_status_id ON payouts(org_id, status, id);
CREATE INDEX payouts_org_created ON payouts(org_id, created_at);

CREATE TABLE payout_items (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payout_id BIGINT NOT NULL REFERENCES payouts(id),
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    line INTEGER NOT NULL,
    address TEXT NOT NULL,
    amount TEXT NOT NULL,
    fee TEXT NOT NULL,
    comment TEXT NOT NULL,
    reference TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'queued', 'submitting', 'submitted', 'needs_review', 'completed', 'failed', 'cancelled')),
    -- What the rail sees: a retry after a crash looks the transfer up by it before sending again.
    idempotency_key TEXT NOT NULL UNIQUE,
    tx_hash TEXT,
    confirmations INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payout_items_payout ON payout_items(payout_id, line);
CREATE INDEX payout_items_status ON payout_items(status, lease_until);
CREATE INDEX payout_items_address ON payout_items(org_id, address);
CREATE INDEX payout_items_reference ON payout_items(org_id, reference);

-- Append-only timeline: who moved what from which status to which, and why.
CREATE TABLE payout_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payout_id BIGINT NOT NULL REFERENCES payouts(id),
    item_id BIGINT REFERENCES payout_items(id),
    actor_user_id BIGINT REFERENCES users(id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX payout_events_payout ON payout_events(payout_id, id);

-- The simulated network's own ledger of transfers, keyed by the item's idempotency key.
CREATE TABLE sim_transfers (
    key TEXT PRIMARY KEY NOT NULL,
    tx_hash TEXT NOT NULL,
    asset TEXT NOT NULL,
    address TEXT NOT NULL,
    amount TEXT NOT NULL,
    fail_reason TEXT,
    submitted_at TIMESTAMP NOT NULL
);
