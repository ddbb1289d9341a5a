ALTER TABLE payout_items DROP COLUMN vout;
DROP TABLE utxo_replaced;
DROP TABLE utxo_rows;
DROP TABLE utxo_transactions;
