-- Every transaction the EVM rail signed, stored before it is broadcast: after a crash the same
-- signed bytes are sent again or looked up, never signed anew with another nonce for the item.
-- The unique nonce per wallet and chain is what keeps two processors from using one nonce.
CREATE TABLE evm_transactions (
    idempotency_key TEXT PRIMARY KEY,
    chain_id BIGINT NOT NULL,
    from_address TEXT NOT NULL,
    nonce BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    raw_tx TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (chain_id, from_address, nonce)
);
