-- Search by part of a payout's description without reading every payout: a trigram index kept
-- by triggers (FTS5 external content: the text itself stays in payouts).
CREATE VIRTUAL TABLE payouts_search USING fts5(description, content='payouts', content_rowid='id', tokenize='trigram');
INSERT INTO payouts_search(payouts_search) VALUES ('rebuild');
CREATE TRIGGER payouts_search_insert AFTER INSERT ON payouts BEGIN
    INSERT INTO payouts_search(rowid, description) VALUES (new.id, new.description);
END;
CREATE TRIGGER payouts_search_delete AFTER DELETE ON payouts BEGIN
    INSERT INTO payouts_search(payouts_search, rowid, description) VALUES ('delete', old.id, old.description);
END;
CREATE TRIGGER payouts_search_update AFTER UPDATE OF description ON payouts BEGIN
    INSERT INTO payouts_search(payouts_search, rowid, description) VALUES ('delete', old.id, old.description);
    INSERT INTO payouts_search(rowid, description) VALUES (new.id, new.description);
END;
