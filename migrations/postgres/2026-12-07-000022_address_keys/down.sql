DROP TABLE pending_backfills;
DROP TABLE address_keys;
