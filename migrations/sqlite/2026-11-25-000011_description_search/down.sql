DROP TRIGGER payouts_search_update;
DROP TRIGGER payouts_search_delete;
DROP TRIGGER payouts_search_insert;
DROP TABLE payouts_search;
