-- How long a newly approved payee address waits before it can be paid (minutes).
ALTER TABLE organizations ADD COLUMN payee_cooling_off_minutes INTEGER NOT NULL DEFAULT 1440;
-- A payout with a row to an address never paid, or to a payee's changed address, needs one
-- approval more than the policy's (at least two).
ALTER TABLE organizations ADD COLUMN extra_approval_for_new_addresses BOOLEAN NOT NULL DEFAULT FALSE;

-- The people and accounts an organization pays again and again.
CREATE TABLE payees (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    external_id TEXT NOT NULL,
    notes TEXT NOT NULL,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payees_org_name ON payees(org_id, name);
-- An employee number or player id names one payee (empty when the organization has none).
CREATE UNIQUE INDEX payees_org_external_id ON payees(org_id, external_id) WHERE external_id <> '';

-- A payee's address on one network, under change control: entered (pending), approved by a
-- manager other than the person who entered it (payable after the cooling-off period),
-- rejected, or replaced by a later approved address. Rows are never deleted.
CREATE TABLE payee_addresses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    payee_id BIGINT NOT NULL REFERENCES payees(id),
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'replaced')),
    entered_by BIGINT NOT NULL REFERENCES users(id),
    entered_at TIMESTAMP NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at TIMESTAMP,
    payable_from TIMESTAMP,
    reason TEXT NOT NULL
);
CREATE INDEX payee_addresses_payee ON payee_addresses(payee_id, network, status);
-- Payout rows are matched to payees by address.
CREATE INDEX payee_addresses_address ON payee_addresses(org_id, address);
CREATE INDEX payee_addresses_pending ON payee_addresses(org_id, status, id);

-- The payee a payout row paid, linked when the payout is created from the payee's approved
-- address: statements list exactly these rows, whatever the address later becomes. Partial, so
-- the rows of payouts to no payee add nothing to it on each status change.
ALTER TABLE payout_items ADD COLUMN payee_id BIGINT REFERENCES payees(id);
CREATE INDEX payout_items_payee ON payout_items(payee_id, id) WHERE payee_id IS NOT NULL;

-- A draft made by "Repeat" from an earlier mass payout, which its editor compares it with.
ALTER TABLE mass_drafts ADD COLUMN repeat_of BIGINT REFERENCES payouts(id);

-- A pay day: the payout's rows are sent at this time (UTC), not before. The processor skips
-- the payouts still waiting for theirs, found by this index.
ALTER TABLE payouts ADD COLUMN scheduled_for TIMESTAMP;
CREATE INDEX payouts_scheduled ON payouts(scheduled_for) WHERE scheduled_for IS NOT NULL;
