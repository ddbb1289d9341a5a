ALTER TABLE organizations DROP COLUMN payee_receipts;
