ALTER TABLE payout_items DROP COLUMN compliance_hold;
DROP TABLE sanctioned_addresses;
DROP TABLE sanction_lists;
