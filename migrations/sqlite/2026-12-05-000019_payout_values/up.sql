-- Fiat values recorded as they happen, never recomputed: the rate a payout was confirmed at,
-- and each row's rate, value and fees when it was paid.

-- How far the rate may move between a fiat-priced review and its Confirm, in percent.
ALTER TABLE org_reporting ADD COLUMN tolerance_percent TEXT NOT NULL DEFAULT '1';

-- A mass draft whose amounts are typed in fiat (the reporting currency): converted at review.
ALTER TABLE mass_drafts ADD COLUMN fiat_currency TEXT;

-- The rate that applied when the payout was confirmed (no row: there was no current rate).
-- Fiat amounts are in minor units of `currency`, as text.
CREATE TABLE payout_rates (
    payout_id BIGINT PRIMARY KEY REFERENCES payouts(id),
    currency TEXT NOT NULL,
    rate TEXT NOT NULL,
    source TEXT NOT NULL,
    observed_at TIMESTAMP NOT NULL,
    amount_fiat TEXT NOT NULL,
    fee_fiat TEXT NOT NULL,
    -- Set when the rows were entered in fiat: the crypto amounts were derived from it.
    entered_in_fiat BOOLEAN NOT NULL DEFAULT FALSE
);

-- One row per payout row (by its payout and line): its value at confirmation, and at payment the rate then, its value,
-- the service fee's value and the network fee the chain charged (in the chain's own coin).
CREATE TABLE item_values (
    payout_id BIGINT NOT NULL REFERENCES payouts(id),
    line INTEGER NOT NULL,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    currency TEXT NOT NULL,
    confirmed_fiat TEXT,
    -- The amount as entered in fiat, when it was (minor units of `currency`).
    entered_fiat TEXT,
    paid_at TIMESTAMP,
    paid_currency TEXT,
    paid_rate TEXT,
    paid_source TEXT,
    paid_observed_at TIMESTAMP,
    paid_fiat TEXT,
    fee_fiat TEXT,
    network_asset TEXT,
    network_fee TEXT,
    network_fee_fiat TEXT,
    PRIMARY KEY (payout_id, line)
);
CREATE INDEX item_values_paid ON item_values(org_id, paid_at);
