-- Every transaction the UTXO rail signed, stored before it is broadcast: its rows (one output
-- each), its txid and bytes. After a crash the same bytes are broadcast again; a row is never
-- put in a second transaction (utxo_rows' key), so two processors never fund one row twice.
-- A transaction is known by its first row's key; `version` counts its replacements.
CREATE TABLE utxo_transactions (
    tx_key TEXT PRIMARY KEY,
    coin TEXT NOT NULL,
    txid TEXT NOT NULL UNIQUE,
    raw_tx TEXT NOT NULL,
    fee_sat BIGINT NOT NULL,
    vsize BIGINT NOT NULL,
    -- The chain's height when this version was signed: unconfirmed for long after it, it is
    -- replaced with a higher fee.
    signed_height BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- A manager asked to cancel it while it was unconfirmed; `cancels` marks the stored version
    -- as that cancellation (the same inputs paid back to the wallet).
    cancel_requested_at TIMESTAMP,
    cancels BOOLEAN NOT NULL DEFAULT FALSE
);

-- The rows a transaction pays, in row order, with the output each is paid by in the stored
-- version (a replacement may move them: the version that confirms tells).
CREATE TABLE utxo_rows (
    idempotency_key TEXT PRIMARY KEY,
    tx_key TEXT NOT NULL REFERENCES utxo_transactions(tx_key),
    row_index INTEGER NOT NULL,
    address TEXT NOT NULL,
    amount_sat BIGINT NOT NULL,
    vout INTEGER NOT NULL
);
CREATE INDEX utxo_rows_tx ON utxo_rows(tx_key);

-- Earlier signed versions a replacement took the place of: whichever version confirms is what
-- happened, so every one is kept.
CREATE TABLE utxo_replaced (
    txid TEXT PRIMARY KEY,
    tx_key TEXT NOT NULL REFERENCES utxo_transactions(tx_key),
    raw_tx TEXT NOT NULL,
    fee_sat BIGINT NOT NULL,
    replaced_at TIMESTAMP NOT NULL
);
CREATE INDEX utxo_replaced_tx ON utxo_replaced(tx_key);

-- Which output of its transaction paid a row, on a UTXO chain (txid:vout names the payment).
ALTER TABLE payout_items ADD COLUMN vout INTEGER;
