-- A TOTP authenticator: the secret sealed with a key derived from the instance secret (bound to
-- the user), set when enrolment starts and in use once confirmed by a valid code. The last time
-- step accepted is kept so that no code is accepted twice.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMP;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- One-time recovery codes, stored as SHA-256 digests (each has about 59 random bits).
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

-- WebAuthn security keys and passkeys: the credential as webauthn-rs serializes it.
CREATE TABLE security_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX security_keys_user ON security_keys(user_id);

-- A session whose user has a second factor is signed in only once second_factor_at is set;
-- step_up_at is the last fresh proof (valid five minutes for approving, confirming and changing
-- settings); webauthn_state holds a key ceremony under way.
ALTER TABLE sessions ADD COLUMN second_factor_at TIMESTAMP;
ALTER TABLE sessions ADD COLUMN step_up_at TIMESTAMP;
ALTER TABLE sessions ADD COLUMN webauthn_state TEXT;

-- The policy: who must have a second factor, and when approving or confirming asks a fresh one.
-- Existing organizations keep working as before; new ones start with the staff rule on.
ALTER TABLE organizations ADD COLUMN second_factor_staff BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN second_factor_accountants BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN step_up_every_approval BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE step_up_thresholds (
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    asset TEXT NOT NULL,
    threshold TEXT NOT NULL,
    PRIMARY KEY (org_id, asset)
);
