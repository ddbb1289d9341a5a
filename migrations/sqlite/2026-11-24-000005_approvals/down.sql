DROP TABLE payout_approvals; DROP TABLE approval_thresholds; ALTER TABLE organizations DROP COLUMN approvals_needed;
