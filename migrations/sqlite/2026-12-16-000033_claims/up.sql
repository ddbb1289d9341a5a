-- Claims: a row naming a payee with no address yet. It waits "awaiting address" (funds reserved)
-- until the payee gives an address that becomes payable, or until `claim_until`, when it is
-- cancelled and released. `claim_reminders` counts the reminders sent (each stage once).
-- SQLite cannot change a CHECK in place: the table is rebuilt, and with it payout_events, whose
-- rows refer to it. The copy of the events refers to the new table, so dropping the old ones
-- orphans nothing, and renaming the new table rewrites that reference. One transaction, with
-- foreign keys enforced throughout.
CREATE TABLE payout_items_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payout_id BIGINT NOT NULL REFERENCES payouts(id),
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    line INTEGER NOT NULL,
    address TEXT NOT NULL,
    amount TEXT NOT NULL,
    fee TEXT NOT NULL,
    comment TEXT NOT NULL,
    reference TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'queued', 'submitting', 'submitted', 'needs_review', 'awaiting_address', 'completed', 'failed', 'cancelled')),
    -- What the rail sees: a retry after a crash looks the transfer up by it before sending again.
    idempotency_key TEXT NOT NULL UNIQUE,
    tx_hash TEXT,
    confirmations INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    payee_id BIGINT REFERENCES payees(id),
    log_index INTEGER,
    vout INTEGER,
    instruction_index INTEGER,
    compliance_hold TEXT,
    screened_at_confirmation TEXT,
    screened_at_sending TEXT,
    claim BOOLEAN NOT NULL DEFAULT FALSE,
    claim_until TIMESTAMP NULL,
    claim_reminders INTEGER NOT NULL DEFAULT 0
);
INSERT INTO payout_items_new (id, payout_id, org_id, line, address, amount, fee, comment, reference, status, idempotency_key, tx_hash, confirmations, error, attempts, lease_owner, lease_until, updated_at, payee_id, log_index, vout, instruction_index, compliance_hold, screened_at_confirmation, screened_at_sending) SELECT id, payout_id, org_id, line, address, amount, fee, comment, reference, status, idempotency_key, tx_hash, confirmations, error, attempts, lease_owner, lease_until, updated_at, payee_id, log_index, vout, instruction_index, compliance_hold, screened_at_confirmation, screened_at_sending FROM payout_items;
CREATE TABLE payout_events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payout_id BIGINT NOT NULL REFERENCES payouts(id),
    item_id BIGINT REFERENCES payout_items_new(id),
    actor_user_id BIGINT REFERENCES users(id),
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
INSERT INTO payout_events_new (id, payout_id, item_id, actor_user_id, from_status, to_status, reason, created_at)
SELECT id, payout_id, item_id, actor_user_id, from_status, to_status, reason, created_at FROM payout_events;
DROP TABLE payout_events;
DROP TABLE payout_items;
ALTER TABLE payout_items_new RENAME TO payout_items;
ALTER TABLE payout_events_new RENAME TO payout_events;
CREATE INDEX payout_items_payout ON payout_items(payout_id, line);
CREATE INDEX payout_items_status ON payout_items(status, lease_until);
CREATE INDEX payout_items_address ON payout_items(org_id, address);
CREATE INDEX payout_items_reference ON payout_items(org_id, reference);
CREATE INDEX payout_items_payee ON payout_items(payee_id, id) WHERE payee_id IS NOT NULL;
CREATE INDEX payout_events_payout ON payout_events(payout_id, id);
-- The open claims, by when they lapse: the sweep and the reminders read only these.
CREATE INDEX payout_items_open_claims ON payout_items(claim_until) WHERE status = 'awaiting_address';
-- A payee's rows not yet ended (their page's "on its way"), without walking their history.
CREATE INDEX payout_items_payee_open ON payout_items(payee_id) WHERE status NOT IN ('completed', 'failed', 'cancelled');
-- How long a payee has to claim, in days.
ALTER TABLE organizations ADD COLUMN claim_days INTEGER NOT NULL DEFAULT 30;
