ALTER TABLE organizations DROP COLUMN create_token_accounts;
ALTER TABLE payout_items DROP COLUMN instruction_index;
DROP TABLE solana_rows;
DROP TABLE solana_transactions;
