DROP TABLE rate_pins;
DROP TABLE rates;
DROP TABLE org_reporting;
