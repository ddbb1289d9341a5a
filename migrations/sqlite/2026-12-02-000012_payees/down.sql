DROP INDEX payout_items_payee;
ALTER TABLE payout_items DROP COLUMN payee_id;
DROP TABLE payee_addresses;
DROP TABLE payees;
ALTER TABLE organizations DROP COLUMN payee_cooling_off_minutes;
