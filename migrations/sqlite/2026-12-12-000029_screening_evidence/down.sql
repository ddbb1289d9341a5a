DROP INDEX notifications_unread_by_link;
ALTER TABLE payout_items DROP COLUMN screened_at_sending;
ALTER TABLE payout_items DROP COLUMN screened_at_confirmation;
ALTER TABLE organizations DROP COLUMN sanctions_max_age_days;
