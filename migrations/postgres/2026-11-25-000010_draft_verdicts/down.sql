ALTER TABLE mass_draft_rows DROP COLUMN verdict;
