-- Each draft row's checked verdict, kept so a view does not check every row again.
ALTER TABLE mass_draft_rows ADD COLUMN verdict TEXT;
