DROP TABLE accounting_accounts;
