DROP TABLE sim_transfers; DROP TABLE payout_events; DROP TABLE payout_items; DROP TABLE payouts; ALTER TABLE organizations DROP COLUMN approval_required;
