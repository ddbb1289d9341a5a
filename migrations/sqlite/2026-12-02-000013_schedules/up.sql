-- Pay days and schedules are typed and shown in the organization's time zone (an IANA name).
ALTER TABLE organizations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- Tags group payees for the mass editor's picker ("employees", "players"), stored lowercase
-- between commas (",employees,berlin,") so one tag is found with LIKE '%,tag,%'.
ALTER TABLE payees ADD COLUMN tags TEXT NOT NULL DEFAULT '';

-- "Every month on the 25th at 09:00, from this run": a draft repeating the template payout is
-- made `days_before` days ahead of each pay day, for the accountant to review and confirm.
-- next_draft_at advances with a compare-and-swap, so each pay day gets one draft however many
-- processes run the scheduler.
CREATE TABLE payout_schedules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    name TEXT NOT NULL,
    template_payout_id BIGINT NOT NULL REFERENCES payouts(id),
    day_of_month INTEGER NOT NULL CHECK (day_of_month BETWEEN 1 AND 31),
    time_of_day TEXT NOT NULL,
    days_before INTEGER NOT NULL CHECK (days_before BETWEEN 0 AND 27),
    next_pay_at TIMESTAMP NOT NULL,
    next_draft_at TIMESTAMP NOT NULL,
    active BOOLEAN NOT NULL,
    last_draft_id BIGINT,
    last_error TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX payout_schedules_due ON payout_schedules(next_draft_at) WHERE active;
CREATE INDEX payout_schedules_org ON payout_schedules(org_id, id);

-- A draft the scheduler made: its schedule, and the pay day its review proposes.
ALTER TABLE mass_drafts ADD COLUMN schedule_id BIGINT REFERENCES payout_schedules(id);
ALTER TABLE mass_drafts ADD COLUMN send_on TIMESTAMP;
