-- How old a sanctions list may grow before the organization's admins are told it is stale (on
-- the dashboard and by a notice): lists are published daily or weekly, and screening against a
-- month-old list misses whoever was listed since.
ALTER TABLE organizations ADD COLUMN sanctions_max_age_days INTEGER NOT NULL DEFAULT 7;

-- Evidence that a row was screened: when, and against which list versions (JSON
-- {"at": …, "lists": [{"name": …, "version": …}]}), once when the payout was confirmed and once
-- right before the row was handed to its rail.
ALTER TABLE payout_items ADD COLUMN screened_at_confirmation TEXT;
ALTER TABLE payout_items ADD COLUMN screened_at_sending TEXT;

-- A decision made settles the notices that asked for it (approval requests once a payout is no
-- longer pending): found by what they link to, among the unread ones only.
CREATE INDEX notifications_unread_by_link ON notifications(org_id, link) WHERE read_at IS NULL;
