-- A payee address that looks like a known one (address poisoning) needs two different managers:
-- the first approval, with its acknowledgement, is kept here until a second manager decides.
ALTER TABLE payee_addresses ADD COLUMN lookalike_ack_by BIGINT REFERENCES users(id);
ALTER TABLE payee_addresses ADD COLUMN lookalike_ack_at TIMESTAMP;
