ALTER TABLE payee_addresses DROP COLUMN lookalike_ack_at;
ALTER TABLE payee_addresses DROP COLUMN lookalike_ack_by;
