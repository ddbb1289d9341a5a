-- A mass payout under construction, kept in the database so that a large upload is not shipped
-- back and forth through the page, and a refresh, a second tab or tomorrow loses nothing.
CREATE TABLE mass_drafts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id BIGINT NOT NULL REFERENCES organizations(id),
    created_by BIGINT NOT NULL REFERENCES users(id),
    asset TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'discarded')),
    payout_id BIGINT REFERENCES payouts(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mass_drafts_org ON mass_drafts(org_id, status, id);

-- Rows as typed; they are checked whenever the draft is shown or confirmed.
CREATE TABLE mass_draft_rows (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    draft_id BIGINT NOT NULL REFERENCES mass_drafts(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    source_line BIGINT,
    address TEXT NOT NULL,
    amount TEXT NOT NULL,
    comment TEXT NOT NULL,
    reference TEXT NOT NULL,
    -- A problem of the uploaded line that its cells cannot show (a stray delimiter that shifted
    -- the columns); kept until the row is edited.
    upload_error TEXT
);
CREATE INDEX mass_draft_rows_draft ON mass_draft_rows(draft_id, position);
