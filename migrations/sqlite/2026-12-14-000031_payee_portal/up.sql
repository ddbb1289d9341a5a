-- The payee's own side (issue 43): one-time links emailed to payees (an invitation, 72 hours; a
-- sign-in link, 15 minutes), their sessions (a kind apart from staff sessions), the challenges
-- their wallets sign, and the proof kept with an address they submit.
CREATE TABLE payee_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    payee_id BIGINT NOT NULL REFERENCES payees(id),
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'sign_in')),
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX payee_links_payee ON payee_links(payee_id, created_at);

CREATE TABLE payee_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    payee_id BIGINT NOT NULL REFERENCES payees(id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX payee_sessions_payee ON payee_sessions(payee_id);

-- What a payee's wallet is asked to sign; a challenge is used once (used_at), before expires_at.
CREATE TABLE payee_challenges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    payee_id BIGINT NOT NULL REFERENCES payees(id),
    asset TEXT NOT NULL,
    address TEXT NOT NULL,
    nonce TEXT NOT NULL UNIQUE,
    -- The text the wallet signs, written by the server when the challenge was made.
    message TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX payee_challenges_payee ON payee_challenges(payee_id, created_at);

-- A payee asks for a sign-in link by email: found by an index probe, whatever the book's size.
CREATE INDEX payees_email ON payees(email);

-- Whether payees may submit an address without a signature (marked "not proven").
ALTER TABLE organizations ADD COLUMN payees_may_skip_proof BOOLEAN NOT NULL DEFAULT FALSE;

-- An address a payee submitted has no staff member who entered it: entered_by becomes
-- optional (SQLite rebuilds the table to drop NOT NULL), and the proof is kept beside it
-- (JSON {method, message, signature, at}, or NULL: not proven).
CREATE TABLE payee_addresses_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    payee_id BIGINT NOT NULL REFERENCES payees(id),
    network TEXT NOT NULL,
    address TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'replaced')),
    entered_by BIGINT REFERENCES users(id),
    entered_at TIMESTAMP NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at TIMESTAMP,
    payable_from TIMESTAMP,
    reason TEXT NOT NULL,
    lookalike_ack_by BIGINT REFERENCES users(id),
    lookalike_ack_at TIMESTAMP,
    submitted_by_payee BOOLEAN NOT NULL DEFAULT FALSE,
    proof TEXT
);
INSERT INTO payee_addresses_new (id, org_id, payee_id, network, address, status, entered_by, entered_at,
    decided_by, decided_at, payable_from, reason, lookalike_ack_by, lookalike_ack_at)
SELECT id, org_id, payee_id, network, address, status, entered_by, entered_at,
    decided_by, decided_at, payable_from, reason, lookalike_ack_by, lookalike_ack_at FROM payee_addresses;
DROP TABLE payee_addresses;
ALTER TABLE payee_addresses_new RENAME TO payee_addresses;
CREATE INDEX payee_addresses_payee ON payee_addresses(payee_id, network, status);
CREATE INDEX payee_addresses_address ON payee_addresses(org_id, address);
CREATE INDEX payee_addresses_pending ON payee_addresses(org_id, status, id);
