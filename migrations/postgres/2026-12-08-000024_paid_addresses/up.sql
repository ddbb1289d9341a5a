-- What the organization paid, one row per address, kept up to date in the transaction that
-- records a row paid: whether an address was paid before (first payments, lookalikes), when and
-- by which payout and line it was paid last, and how often. A request reads one row per address
-- it names, however often that address was paid before.
CREATE TABLE paid_addresses (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    address TEXT NOT NULL,
    first_paid_at TIMESTAMP NOT NULL,
    last_paid_at TIMESTAMP NOT NULL,
    last_payout_id BIGINT NOT NULL,
    last_line INTEGER NOT NULL,
    times_paid BIGINT NOT NULL,
    PRIMARY KEY (org_id, address)
);

-- The address each payee was paid at last (a payee's changed address is flagged against it).
CREATE TABLE payee_last_paid (
    payee_id BIGINT PRIMARY KEY REFERENCES payees(id),
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    item_id BIGINT NOT NULL,
    address TEXT NOT NULL
);

-- Built once from the rows already paid.
INSERT INTO paid_addresses (org_id, address, first_paid_at, last_paid_at, last_payout_id, last_line, times_paid)
SELECT org_id, address, first_paid_at, last_paid_at, payout_id, line, n FROM (
    SELECT org_id, address, payout_id, line,
           MIN(updated_at) OVER (PARTITION BY org_id, address) AS first_paid_at,
           MAX(updated_at) OVER (PARTITION BY org_id, address) AS last_paid_at,
           COUNT(*) OVER (PARTITION BY org_id, address) AS n,
           ROW_NUMBER() OVER (PARTITION BY org_id, address ORDER BY updated_at DESC, id DESC) AS rn
    FROM payout_items WHERE status = 'completed'
) AS paid WHERE rn = 1;

INSERT INTO payee_last_paid (payee_id, org_id, item_id, address)
SELECT payee_id, org_id, id, address FROM (
    SELECT payee_id, org_id, id, address, ROW_NUMBER() OVER (PARTITION BY payee_id ORDER BY id DESC) AS rn
    FROM payout_items WHERE status = 'completed' AND payee_id IS NOT NULL
) AS last WHERE rn = 1;
