DROP TABLE mass_draft_rows; DROP TABLE mass_drafts;
