-- Where an organization books its payouts: an account (a code for Xero, a name for QuickBooks)
-- per kind of line. entry: expense, service_fee, network_fee, tax_rate, or asset:CODE.
CREATE TABLE accounting_accounts (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    entry TEXT NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (org_id, entry)
);
