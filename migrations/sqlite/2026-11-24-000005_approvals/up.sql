-- Distinct manager approvals a payout needs when approval applies.
ALTER TABLE organizations ADD COLUMN approvals_needed INTEGER NOT NULL DEFAULT 1;

-- Above this amount (in the asset) a payout needs approval even when approval is off.
CREATE TABLE approval_thresholds (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    threshold TEXT NOT NULL,
    PRIMARY KEY (org_id, asset)
);

-- One decision per manager per payout, bound to the digest of what the manager saw.
CREATE TABLE payout_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payout_id BIGINT NOT NULL REFERENCES payouts(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (payout_id, user_id)
);
