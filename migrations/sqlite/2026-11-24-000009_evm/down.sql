DROP TABLE evm_transactions;
