-- Payees with an email get a receipt for each row paid to them, where the organization enables it.
ALTER TABLE organizations ADD COLUMN payee_receipts BOOLEAN NOT NULL DEFAULT FALSE;
