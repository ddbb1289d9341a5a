-- A rate an organization types or imports (its bank's daily rate) is valid until the time it
-- names, by default the end of the day in the organization's zone; the staleness limit in
-- minutes is for a provider's rates only. NULL for a provider's rates and for rates recorded
-- before validity was kept (those age by the limit, as they did).
ALTER TABLE rates ADD COLUMN valid_until TIMESTAMP;

-- The organization's own newest rate for a pair, found without walking a provider's readings.
CREATE INDEX rates_own_pair ON rates(org_id, asset, currency, observed_at);
