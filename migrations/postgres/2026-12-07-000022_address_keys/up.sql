-- The addresses an organization knows (its payee book, the rows it paid), each
-- under the keys a lookalike of it would share (domain/lookalike.rs): the first and last
-- characters after the network prefix, and three segments for near copies. A lookalike check is
-- then an index lookup by key, not a scan. Rows are only added; whether an address is still known
-- (not rejected, paid) is read from the book and the payouts at each check.
CREATE TABLE address_keys (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    lookup TEXT NOT NULL,
    address TEXT NOT NULL,
    PRIMARY KEY (org_id, lookup, address)
);

-- Data steps a migration leaves to the program (keys are computed by Rust code): the program runs
-- each named step after migrating and deletes its row when done.
CREATE TABLE pending_backfills (
    name TEXT PRIMARY KEY
);
INSERT INTO pending_backfills (name) VALUES ('address_keys');
