-- What was paid, summed as it is recorded, so the dashboard's 30-day chart and the balances'
-- "paid out, fees apart" read a few rows however many rows were paid: per organization, asset
-- and UTC day (the rows' amounts and service fees), and the service fees of all time per asset.
-- Amounts are canonical text, summed in Rust under the asset's balance-row lock.
CREATE TABLE paid_days (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    day DATE NOT NULL,
    amount TEXT NOT NULL,
    fees TEXT NOT NULL,
    PRIMARY KEY (org_id, asset, day)
);

CREATE TABLE paid_fees (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    fees TEXT NOT NULL,
    PRIMARY KEY (org_id, asset)
);

-- Built from the rows already paid by the program after migrating (the sums are exact in Rust).
INSERT INTO pending_backfills (name) VALUES ('paid_totals');
