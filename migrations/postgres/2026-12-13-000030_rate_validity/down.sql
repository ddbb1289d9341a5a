DROP INDEX rates_own_pair;
ALTER TABLE rates DROP COLUMN valid_until;
