DROP INDEX payouts_scheduled;
ALTER TABLE payouts DROP COLUMN scheduled_for;
ALTER TABLE mass_drafts DROP COLUMN repeat_of;
DROP INDEX payout_items_payee;
ALTER TABLE payout_items DROP COLUMN payee_id;
DROP TABLE payee_addresses;
DROP TABLE payees;
ALTER TABLE organizations DROP COLUMN payee_cooling_off_minutes;
ALTER TABLE organizations DROP COLUMN extra_approval_for_new_addresses;
