//! The Solana family: SOL and SPL tokens paid from one hot wallet over JSON-RPC
//! (`--chain-config solana=FILE`). The chain config with its keypair and mints (`config`); a
//! payout's rows packed by size into signed transactions (`build`); recipients' token accounts
//! read, chunks simulated and the wallet counted down before anything is stored (`prepare`);
//! the rail storing each transaction before sending it (`rail`) and following it by signature
//! until it lands, sent again or signed anew only once expired unseen (`follow`); the JSON-RPC
//! calls (`rpc`).

pub mod build;
pub mod config;
mod follow;
mod prepare;
pub mod rail;
pub mod rpc;
