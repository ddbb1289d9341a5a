DROP TABLE spend_limits;
