DROP TABLE payout_status_counts;
