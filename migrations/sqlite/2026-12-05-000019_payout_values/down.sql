DROP TABLE item_values;
DROP TABLE payout_rates;
ALTER TABLE org_reporting DROP COLUMN tolerance_percent;
ALTER TABLE mass_drafts DROP COLUMN fiat_currency;
