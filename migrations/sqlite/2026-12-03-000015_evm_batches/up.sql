-- A mass payout's rows paid through the batch contract: each row names the batch transaction
-- (stored in evm_transactions under the batch's own key) and its index in that call. Written in
-- the same transaction as the batch's signed bytes, before they are broadcast.
CREATE TABLE evm_batch_rows (
    idempotency_key TEXT PRIMARY KEY,
    batch_key TEXT NOT NULL REFERENCES evm_transactions(idempotency_key),
    row_index INTEGER NOT NULL
);
CREATE INDEX evm_batch_rows_batch ON evm_batch_rows(batch_key);

-- Where in its block a row's payment was logged (the batch contract's Paid event), so that a row
-- sharing a transaction with others can be told apart on an explorer.
ALTER TABLE payout_items ADD COLUMN log_index INTEGER;

-- Earlier signed versions of a stored transaction that a replacement (same nonce, higher fee)
-- took the place of: whichever version is mined decides what happened, so all are kept.
CREATE TABLE evm_replaced (
    tx_hash TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL REFERENCES evm_transactions(idempotency_key),
    raw_tx TEXT NOT NULL,
    replaced_at TIMESTAMP NOT NULL
);
CREATE INDEX evm_replaced_key ON evm_replaced(idempotency_key);

-- A manager asked to cancel this transaction while it was pending: the rail replaces it with an
-- empty transfer to the wallet itself (same nonce); whichever version is mined decides.
ALTER TABLE evm_transactions ADD COLUMN cancel_requested_at TIMESTAMP;
