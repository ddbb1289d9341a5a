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
