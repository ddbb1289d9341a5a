DROP TABLE evm_batch_rows;
ALTER TABLE payout_items DROP COLUMN log_index;
