DROP INDEX payouts_description_trgm;
