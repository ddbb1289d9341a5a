-- Search by part of a payout's description without reading every payout: a trigram index
-- answers `lower(description) LIKE '%…%'` (pg_trgm ships with PostgreSQL and is a trusted
-- extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX payouts_description_trgm ON payouts USING gin (lower(description) gin_trgm_ops);
