-- Sanctions lists, for the whole installation: each named list's version in force (0: none yet)
-- and the version last handed to an import. An import writes its addresses under a new version
-- in short transactions, then puts that version in force in one, compared on the version it
-- was handed (a later import started meanwhile wins); screening reads only versions in force.
CREATE TABLE sanction_lists (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    next_version INTEGER NOT NULL,
    source TEXT NOT NULL,
    -- OFAC's files say: SDN_ADVANCED's DateOfIssue, SDN's Publish_Date (midnight UTC).
    published_at TIMESTAMP,
    imported_at TIMESTAMP NOT NULL,
    entries BIGINT NOT NULL,
    imported_by TEXT NOT NULL
);

-- Each listed address in its compared form (domain::sanctions::normalize), under the list
-- version that holds it.
CREATE TABLE sanctioned_addresses (
    list_name TEXT NOT NULL,
    version INTEGER NOT NULL,
    address TEXT NOT NULL,
    entity TEXT NOT NULL,
    PRIMARY KEY (list_name, version, address)
);
CREATE INDEX sanctioned_addresses_address ON sanctioned_addresses(address);

-- Why a row is held for compliance: its address was on a list in force when the processor was
-- about to send it. A held row stays queued and is never claimed; a manager may fail it (its
-- funds released), an admin may release it once the address is on no list.
ALTER TABLE payout_items ADD COLUMN compliance_hold TEXT;
