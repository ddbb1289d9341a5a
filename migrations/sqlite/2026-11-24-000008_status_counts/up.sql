-- How many payouts each organization has in each status, kept in the same transaction as every
-- status change, so the list's status tabs do not count the whole table on every request.
CREATE TABLE payout_status_counts (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    status TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (org_id, status)
);
INSERT INTO payout_status_counts (org_id, status, count)
SELECT org_id, status, COUNT(*) FROM payouts GROUP BY org_id, status;
