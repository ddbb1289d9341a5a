ALTER TABLE mass_drafts DROP COLUMN send_on;
ALTER TABLE mass_drafts DROP COLUMN schedule_id;
DROP TABLE payout_schedules;
ALTER TABLE payees DROP COLUMN tags;
ALTER TABLE organizations DROP COLUMN time_zone;
