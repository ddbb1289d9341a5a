-- Claims: a row naming a payee with no address yet. It waits "awaiting address" (funds reserved)
-- until the payee gives an address that becomes payable, or until `claim_until`, when it is
-- cancelled and released. `claim_reminders` counts the reminders sent (each stage once).
ALTER TABLE payout_items DROP CONSTRAINT payout_items_status_check;
ALTER TABLE payout_items ADD CONSTRAINT payout_items_status_check CHECK (status IN ('waiting', 'queued',
    'submitting', 'submitted', 'needs_review', 'awaiting_address', 'completed', 'failed', 'cancelled'));
ALTER TABLE payout_items ADD COLUMN claim BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE payout_items ADD COLUMN claim_until TIMESTAMP NULL;
ALTER TABLE payout_items ADD COLUMN claim_reminders INTEGER NOT NULL DEFAULT 0;
-- The open claims, by when they lapse: the sweep and the reminders read only these.
CREATE INDEX payout_items_open_claims ON payout_items(claim_until) WHERE status = 'awaiting_address';
-- A payee's rows not yet ended (their page's "on its way"), without walking their history.
CREATE INDEX payout_items_payee_open ON payout_items(payee_id) WHERE status NOT IN ('completed', 'failed', 'cancelled');
-- How long a payee has to claim, in days.
ALTER TABLE organizations ADD COLUMN claim_days INTEGER NOT NULL DEFAULT 30;
