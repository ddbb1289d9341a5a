DROP TABLE payee_last_paid;
DROP TABLE paid_addresses;
