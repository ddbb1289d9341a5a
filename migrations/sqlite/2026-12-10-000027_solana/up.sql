-- Every transaction the Solana rail signed, stored before it is sent: its signature (its name
-- on the network), its bytes and the last block height at which its blockhash lets it land.
-- After a crash the same bytes are sent again until they land or that height passes; only then,
-- and only when the network has no record of the signature, is the chunk signed anew, in the
-- place of the stored version (compared and swapped on the signature, so never two live
-- versions). A transaction is known by its first row's key.
CREATE TABLE solana_transactions (
    tx_key TEXT PRIMARY KEY,
    asset TEXT NOT NULL,
    signature TEXT NOT NULL UNIQUE,
    raw_tx TEXT NOT NULL,
    last_valid_height BIGINT NOT NULL,
    -- How many times the chunk was signed anew after its blockhash expired unsent.
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- The rows a transaction pays, in row order: the owner paid, whether its token account is
-- created first, and the instruction of the stored version that pays it. A row the network
-- refused alone when a chunk was signed anew is kept with its reason and left out.
CREATE TABLE solana_rows (
    idempotency_key TEXT PRIMARY KEY,
    tx_key TEXT NOT NULL REFERENCES solana_transactions(tx_key),
    row_index INTEGER NOT NULL,
    address TEXT NOT NULL,
    amount BIGINT NOT NULL,
    creates_account BOOLEAN NOT NULL,
    instruction_index INTEGER,
    failed TEXT
);
CREATE INDEX solana_rows_tx ON solana_rows(tx_key);

-- Which instruction of its transaction paid a row, on Solana (signature and instruction name
-- the payment).
ALTER TABLE payout_items ADD COLUMN instruction_index INTEGER;

-- Whether the Solana rail creates a recipient's token account (its rent paid by the hot wallet)
-- for this organization's rows; off, such a row fails unsent.
ALTER TABLE organizations ADD COLUMN create_token_accounts BOOLEAN NOT NULL DEFAULT TRUE;
