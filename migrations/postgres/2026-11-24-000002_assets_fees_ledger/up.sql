-- Amounts are canonical decimal TEXT on both backends (see src/domain/money.rs).

CREATE TABLE org_assets (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (org_id, asset)
);

CREATE TABLE fee_rules (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('single', 'mass_row')),
    percent TEXT NOT NULL,
    fixed TEXT NOT NULL,
    min_fee TEXT NOT NULL,
    max_fee TEXT,
    updated_by BIGINT REFERENCES users(id),
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, asset, operation)
);

-- One row per organization and asset, changed only by compare-and-swap on `version` in the
-- same transaction as the ledger entries that explain the change.
CREATE TABLE balances (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    available TEXT NOT NULL,
    reserved TEXT NOT NULL,
    paid TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (org_id, asset)
);

-- Append-only: each entry moves `amount` from one bucket to another
-- (external → available for a deposit; available → reserved; reserved → paid; reserved → available).
CREATE TABLE ledger_entries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_bucket TEXT NOT NULL,
    to_bucket TEXT NOT NULL,
    amount TEXT NOT NULL,
    payout_id BIGINT,
    note TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_org_asset ON ledger_entries(org_id, asset, id);
