DELETE FROM pending_backfills WHERE name = 'paid_totals';
DROP TABLE paid_fees;
DROP TABLE paid_days;
