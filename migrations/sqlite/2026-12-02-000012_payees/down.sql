DROP TABLE payee_addresses;
DROP TABLE payees;
ALTER TABLE organizations DROP COLUMN payee_cooling_off_minutes;
