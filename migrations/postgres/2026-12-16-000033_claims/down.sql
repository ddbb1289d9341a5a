ALTER TABLE organizations DROP COLUMN claim_days;
DROP INDEX payout_items_payee_open;
DROP INDEX payout_items_open_claims;
ALTER TABLE payout_items DROP COLUMN claim_reminders;
ALTER TABLE payout_items DROP COLUMN claim_until;
ALTER TABLE payout_items DROP COLUMN claim;
ALTER TABLE payout_items DROP CONSTRAINT payout_items_status_check;
ALTER TABLE payout_items ADD CONSTRAINT payout_items_status_check CHECK (status IN ('waiting', 'queued',
    'submitting', 'submitted', 'needs_review', 'completed', 'failed', 'cancelled'));
