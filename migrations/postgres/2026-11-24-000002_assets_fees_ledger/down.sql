DROP TABLE ledger_entries; DROP TABLE balances; DROP TABLE fee_rules; DROP TABLE org_assets;
