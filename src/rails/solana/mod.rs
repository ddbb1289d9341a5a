//! The Solana family (issue 41, in progress): SOL and SPL tokens paid from one hot wallet over
//! JSON-RPC. What is here: the chain config with its keypair and mints (`config`) and a
//! payout's rows packed by size into signed transactions (`build`), and the JSON-RPC calls
//! (`rpc`), tested against a local network. Storing, sending and following them as a rail are
//! not yet, so this family is not registered in
//! `rails::family` and pays nothing; SOL, USDC_SOL and USDT_SOL are paid on the simulated
//! network meanwhile.

pub mod build;
pub mod config;
pub mod rpc;
