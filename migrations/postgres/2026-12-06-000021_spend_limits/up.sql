-- Most that may leave an organization in one asset: per payout, per rolling 24 hours and per
-- calendar month in the organization's zone. A NULL limit is no limit. over_limit: 'refuse' a
-- payout over a limit, or let it through with one approval more ('approve').
CREATE TABLE spend_limits (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    per_payout TEXT,
    per_day TEXT,
    per_month TEXT,
    over_limit TEXT NOT NULL DEFAULT 'refuse',
    PRIMARY KEY (org_id, asset)
);
