//! Where money leaves. A rail sends transfers and reports on them by their idempotency key, so
//! that after a crash a transfer that was sent but not recorded is found instead of sent again.
//! Each network family is a folder here; `family` turns a chain config file into a rail, and what
//! every rail must promise is written down in ARCHITECTURE.md ("What a rail promises").

#[cfg(feature = "evm")]
pub mod evm;
pub mod family;
pub mod jsonrpc;
pub mod simulated;
pub mod solana;
pub mod utxo;

use crate::domain::{Amount, Asset};

/// One transfer, named by the idempotency key of the payout item it pays.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub key: String,
    /// The organization paying: a rail may apply its settings (whether Solana token accounts
    /// are created for recipients).
    pub org_id: i64,
    pub asset: &'static Asset,
    pub address: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxState {
    /// On the network, not yet confirmed deeply enough.
    Pending { confirmations: u32 },
    Confirmed {
        confirmations: u32,
        /// What the network charged for this transfer, in the chain's own coin (its share of a
        /// batch transaction's fee); None where the rail cannot say.
        network_fee: Option<Amount>,
    },
    /// Rejected or reverted: nothing was paid. The reason is for a person to act on.
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RailTx {
    /// Empty when nothing was sent (a row failed before sending).
    pub tx_hash: String,
    pub state: TxState,
    /// Where in its block the transfer was logged, for a transfer sharing a transaction with
    /// others (a batch), once mined.
    pub log_index: Option<u32>,
    /// Which output of its transaction pays the transfer, on a UTXO chain.
    pub vout: Option<u32>,
    /// Which instruction of its transaction pays the transfer, on Solana.
    pub instruction: Option<u32>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RailError {
    /// The network could not be reached; the transfer may or may not have been sent, so the
    /// next attempt looks it up first.
    #[error("the network is unavailable: {0}")]
    Unavailable(String),
}

pub trait Rail: Send + Sync {
    /// As shown to people ("simulated network").
    fn label(&self) -> &'static str;

    /// Whether this rail pays `asset` on a real chain; the simulated network pays the rest and
    /// answers false.
    fn pays(&self, _asset: &'static Asset) -> bool {
        false
    }

    /// Whether many transfers can go out as one transaction (a mass payout paid at once).
    fn supports_batch(&self) -> bool;

    /// Sends the transfers: one transaction for all of them when batching, else one each. A key
    /// that was already sent is not sent again: its first transaction is returned.
    fn submit(&self, transfers: &[Transfer]) -> Result<Vec<RailTx>, RailError>;

    /// The transaction sent for `key`, if any.
    fn lookup(&self, key: &str) -> Result<Option<RailTx>, RailError>;

    /// [`Rail::lookup`] for many keys, answers in the keys' order; a rail that can ask for many
    /// at once overrides it.
    fn lookup_many(&self, keys: &[&str]) -> Vec<Result<Option<RailTx>, RailError>> {
        keys.iter().map(|k| self.lookup(k)).collect()
    }

    // What the pages ask of a rail paying on a real chain, each call reaching its node. A rail
    // with no wallet of its own (the simulated network) answers None.

    /// The hot wallet paying `asset` and its balance on chain; None when this rail does not pay it.
    fn wallet(&self, _asset: &'static Asset) -> Option<WalletView> {
        None
    }

    /// What the network charges to carry rows of `asset` to `addresses` (one per row), shown on
    /// the review, for an organization that lets the rail create recipients' token accounts
    /// (`creates_accounts`) or not; None when this rail does not pay it.
    fn network_fee(
        &self,
        _asset: &'static Asset,
        _addresses: &[&str],
        _creates_accounts: bool,
    ) -> Option<Result<NetworkFee, String>> {
        None
    }

    /// The wallet's own coin against what the open rows will take from it; None when this rail
    /// pays none of `open`.
    fn gas_outlook(&self, _open: &[OpenRows]) -> Option<Result<GasOutlook, String>> {
        None
    }
}

/// A real chain's hot wallet, as the pages show it beside the ledger.
pub struct WalletView {
    pub asset: &'static Asset,
    pub address: String,
    /// The wallet's balance on chain, or why it could not be read.
    pub on_chain: Result<Amount, String>,
}

/// An estimate of what the network charges to carry transfers, paid by the hot wallet in the
/// chain's own coin; separate from the service fee, which the organization pays.
pub struct NetworkFee {
    /// Everything the hot wallet pays the network, rent included.
    pub amount: Amount,
    pub transfers: usize,
    pub transactions: usize,
    /// Recipients' token accounts the hot wallet creates (Solana), and the rent they hold.
    pub new_accounts: usize,
    pub rent: Option<Amount>,
    /// What the rail found about particular addresses that a person should read first.
    pub notes: Vec<String>,
}

impl NetworkFee {
    /// An estimate with no accounts created and nothing to note.
    pub fn plain(amount: Amount, transfers: usize, transactions: usize) -> NetworkFee {
        NetworkFee { amount, transfers, transactions, new_accounts: 0, rent: None, notes: Vec::new() }
    }
}

/// Rows of payouts in progress not yet settled, for one asset: how many, and what they pay.
#[derive(Debug, Clone)]
pub struct OpenRows {
    pub asset: &'static Asset,
    pub rows: usize,
    pub value: Amount,
}

/// The hot wallet's coin against what the open rows will take from it: the gas of every row (at
/// the fee the rail signs with now) and the value of rows paid in the coin itself.
#[derive(Debug, Clone)]
pub struct GasOutlook {
    pub coin: &'static Asset,
    pub address: String,
    pub held: Amount,
    pub gas: Amount,
    pub value: Amount,
}

impl GasOutlook {
    /// What the wallet lacks, when it lacks anything.
    pub fn short_by(&self) -> Option<Amount> {
        let needed = self.gas.checked_add(self.value)?;
        needed.checked_sub(self.held).filter(|s| !s.is_negative() && !s.is_zero())
    }
}
