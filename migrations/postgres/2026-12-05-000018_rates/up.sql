-- Fiat values: each organization's reporting currency and its rules for rates.
CREATE TABLE org_reporting (
    org_id BIGINT PRIMARY KEY REFERENCES organizations(id),
    currency TEXT NOT NULL,
    -- A rate older than this is stale: nothing is converted with it.
    stale_minutes INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Exchange rates as observed: a provider's (org_id NULL, for everyone) or typed or imported by
-- an organization's admin. An exact decimal as text. status: accepted, or held (an outlier
-- waiting for a second reading).
CREATE TABLE rates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT REFERENCES organizations(id),
    asset TEXT NOT NULL,
    currency TEXT NOT NULL,
    rate TEXT NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    observed_at TIMESTAMP NOT NULL,
    recorded_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX rates_pair ON rates(asset, currency, observed_at);

-- A rate an admin fixed for an asset (a peg they chose, never a hidden one), until unpinned.
CREATE TABLE rate_pins (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    currency TEXT NOT NULL,
    rate TEXT NOT NULL,
    pinned_by BIGINT NOT NULL REFERENCES users(id),
    pinned_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, asset, currency)
);
