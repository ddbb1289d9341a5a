ALTER TABLE payee_addresses DROP COLUMN proof;
ALTER TABLE payee_addresses DROP COLUMN submitted_by_payee;
ALTER TABLE organizations DROP COLUMN payees_may_skip_proof;
DROP INDEX payees_email;
DROP TABLE payee_challenges;
DROP TABLE payee_sessions;
DROP TABLE payee_links;
