ALTER TABLE evm_transactions DROP COLUMN cancel_requested_at;
DROP TABLE evm_replaced;
DROP TABLE evm_batch_rows;
ALTER TABLE payout_items DROP COLUMN log_index;
