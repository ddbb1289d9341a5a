//! What can be paid out: each asset's network, decimals, minimum, address family and explorer.

use std::fmt;

/// How an asset's addresses are written and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    Bitcoin,
    Litecoin,
    Dogecoin,
    Evm,
    Tron,
    Solana,
}

impl AddressFamily {
    pub const ALL: [AddressFamily; 6] = [
        AddressFamily::Bitcoin,
        AddressFamily::Litecoin,
        AddressFamily::Dogecoin,
        AddressFamily::Evm,
        AddressFamily::Tron,
        AddressFamily::Solana,
    ];

    /// "a Bitcoin address", as said in messages.
    pub fn address_kind(self) -> &'static str {
        match self {
            AddressFamily::Bitcoin => "a Bitcoin address",
            AddressFamily::Litecoin => "a Litecoin address",
            AddressFamily::Dogecoin => "a Dogecoin address",
            AddressFamily::Evm => "an EVM address (Ethereum, BNB Smart Chain, Polygon)",
            AddressFamily::Tron => "a TRON address",
            AddressFamily::Solana => "a Solana address",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    pub code: &'static str,
    pub name: &'static str,
    /// The network the asset is paid on, as people name it.
    pub network: &'static str,
    pub decimals: u32,
    /// The smallest payout, written as an amount of this asset.
    pub min_amount: &'static str,
    pub family: AddressFamily,
    /// Transaction page, with `{tx}` where the hash goes.
    pub explorer_tx: &'static str,
}

impl Asset {
    /// A transaction hash as this asset's network writes it: `0x` and 64 hex digits on EVM
    /// chains (the prefix added when missing), a transaction's signature in base58 (64 bytes) on
    /// Solana, 64 hex digits elsewhere; hex in lower case.
    pub fn parse_tx_hash(&self, s: &str) -> Result<String, String> {
        let s = s.trim();
        if self.family == AddressFamily::Solana {
            // Bounded before decoding: base58 decodes in time quadratic in the length.
            return match (s.len() <= 90).then(|| bs58::decode(s).into_vec()) {
                Some(Ok(bytes)) if bytes.len() == 64 => Ok(s.to_owned()),
                _ => Err("A Solana transaction is named by its signature: 64 bytes in base58 (87 or 88 \
                          characters), as the explorer shows it."
                    .into()),
            };
        }
        let evm = self.family == AddressFamily::Evm;
        let digits = if evm { s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s) } else { s };
        if digits.len() == 64 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            let digits = digits.to_ascii_lowercase();
            return Ok(if evm { format!("0x{digits}") } else { digits });
        }
        Err(if evm {
            format!("A {} transaction hash is 0x and 64 hexadecimal digits, as the explorer shows it.", self.network)
        } else {
            format!("A {} transaction hash is 64 hexadecimal digits, as the explorer shows it.", self.network)
        })
    }

    /// The transaction's page on the explorer its chain's config names, or else the asset's
    /// usual one.
    pub fn explorer_url(&self, tx_hash: &str) -> String {
        let template = EXPLORERS.get().and_then(|m| m.get(self.code)).map_or(self.explorer_tx, String::as_str);
        template.replace("{tx}", tx_hash)
    }
}

/// `abcdef…7890`: the first `head` and last `tail` characters of a long text, whole when short.
/// Counts characters, not bytes, so no input can make it panic.
pub fn shorten(s: &str, head: usize, tail: usize) -> String {
    let count = s.chars().count();
    if count <= head + tail + 1 {
        return s.to_owned();
    }
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(count - tail).collect();
    format!("{start}…{end}")
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

const fn asset(
    code: &'static str,
    name: &'static str,
    network: &'static str,
    decimals: u32,
    min_amount: &'static str,
    family: AddressFamily,
    explorer_tx: &'static str,
) -> Asset {
    Asset { code, name, network, decimals, min_amount, family, explorer_tx }
}

use AddressFamily::{Bitcoin, Dogecoin, Evm, Litecoin, Solana, Tron};

pub static ASSETS: [Asset; 15] = [
    asset("BTC", "Bitcoin", "Bitcoin", 8, "0.0001", Bitcoin, "https://mempool.space/tx/{tx}"),
    asset("LTC", "Litecoin", "Litecoin", 8, "0.001", Litecoin, "https://litecoinspace.org/tx/{tx}"),
    asset("DOGE", "Dogecoin", "Dogecoin", 8, "1", Dogecoin, "https://dogechain.info/tx/{tx}"),
    asset("ETH", "Ether", "Ethereum", 18, "0.001", Evm, "https://etherscan.io/tx/{tx}"),
    asset("USDT_ERC20", "Tether USD (ERC-20)", "Ethereum", 6, "1", Evm, "https://etherscan.io/tx/{tx}"),
    asset("USDC_ERC20", "USD Coin (ERC-20)", "Ethereum", 6, "1", Evm, "https://etherscan.io/tx/{tx}"),
    asset("TRX", "TRON", "TRON", 6, "1", Tron, "https://tronscan.org/#/transaction/{tx}"),
    asset("USDT_TRC20", "Tether USD (TRC-20)", "TRON", 6, "1", Tron, "https://tronscan.org/#/transaction/{tx}"),
    asset("BNB", "BNB", "BNB Smart Chain", 18, "0.001", Evm, "https://bscscan.com/tx/{tx}"),
    asset("USDT_BEP20", "Tether USD (BEP-20)", "BNB Smart Chain", 18, "1", Evm, "https://bscscan.com/tx/{tx}"),
    asset("POL", "POL", "Polygon", 18, "0.1", Evm, "https://polygonscan.com/tx/{tx}"),
    asset("USDT_POLYGON", "Tether USD (Polygon)", "Polygon", 6, "1", Evm, "https://polygonscan.com/tx/{tx}"),
    asset("SOL", "Solana", "Solana", 9, "0.001", Solana, "https://solscan.io/tx/{tx}"),
    asset("USDC_SOL", "USD Coin (Solana)", "Solana", 6, "1", Solana, "https://solscan.io/tx/{tx}"),
    asset("USDT_SOL", "Tether USD (Solana)", "Solana", 6, "1", Solana, "https://solscan.io/tx/{tx}"),
];

/// The explorer templates the chain configs give, by asset code: set once, when the server starts
/// (a deployment's configuration, like the assets themselves; never changed while it runs).
static EXPLORERS: std::sync::OnceLock<std::collections::HashMap<&'static str, String>> = std::sync::OnceLock::new();

/// Sets the chain configs' explorer templates (asset code → template) for this process; false
/// when they were set already.
pub fn set_explorers(templates: std::collections::HashMap<&'static str, String>) -> bool {
    EXPLORERS.set(templates).is_ok()
}

/// A chain config's `explorer_tx`: an http(s) URL of at most 200 characters with one `{tx}`.
pub fn explorer_template(text: &str) -> Result<String, String> {
    let t = text.trim();
    let ok = t.len() <= 200
        && (t.starts_with("https://") || t.starts_with("http://"))
        && t.matches("{tx}").count() == 1
        && !t.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>');
    if !ok {
        return Err(format!(
            "explorer_tx must be an http(s) URL of at most 200 characters with {{tx}} once where the \
             transaction's hash goes, like https://litecoinspace.org/tx/{{tx}}; got {:?}",
            t.chars().take(60).collect::<String>()
        ));
    }
    Ok(t.to_owned())
}

/// The asset with this code, ignoring case and surrounding spaces.
pub fn find(code: &str) -> Option<&'static Asset> {
    let code = code.trim();
    ASSETS.iter().find(|a| a.code.eq_ignore_ascii_case(code))
}

/// "BTC, LTC, …": for messages that list what is accepted.
pub fn codes() -> String {
    ASSETS.iter().map(|a| a.code).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_found_case_insensitively() {
        for a in &ASSETS {
            assert_eq!(ASSETS.iter().filter(|b| b.code == a.code).count(), 1, "{}", a.code);
            assert_eq!(find(&a.code.to_lowercase()).map(|b| b.code), Some(a.code));
        }
        assert!(find("XRP").is_none());
    }

    #[test]
    fn decimals_match_the_chains() {
        let decimals = |code| find(code).unwrap().decimals;
        assert_eq!((decimals("BTC"), decimals("ETH"), decimals("USDT_TRC20")), (8, 18, 6));
        assert_eq!((decimals("USDT_BEP20"), decimals("USDT_POLYGON"), decimals("USDC_ERC20")), (18, 6, 6));
    }

    #[test]
    fn explorer_links_carry_the_hash() {
        assert_eq!(find("ETH").unwrap().explorer_url("0xabc"), "https://etherscan.io/tx/0xabc");
    }

    #[test]
    fn shorten_never_cuts_inside_a_character_and_keeps_short_text_whole() {
        assert_eq!(shorten("abc", 6, 4), "abc");
        assert_eq!(shorten("", 6, 4), "");
        assert_eq!(shorten("0123456789abcdef", 6, 4), "012345…cdef");
        assert_eq!(shorten("ééééééééééééé", 2, 2), "éé…éé");
    }

    #[test]
    fn transaction_hashes_are_checked_per_network() {
        let btc = find("BTC").unwrap();
        let eth = find("ETH").unwrap();
        let h = "A".repeat(64);
        assert_eq!(btc.parse_tx_hash(&h).unwrap(), "a".repeat(64));
        assert!(btc.parse_tx_hash("abc").is_err());
        assert!(btc.parse_tx_hash(&format!("0x{h}")).is_err());
        assert_eq!(eth.parse_tx_hash(&h).unwrap(), format!("0x{}", "a".repeat(64)));
        assert!(eth.parse_tx_hash("0xabc").unwrap_err().contains("0x and 64 hexadecimal digits"));
        assert!(eth.parse_tx_hash(&"é".repeat(64)).is_err());
        let sol = find("SOL").unwrap();
        let signature = bs58::encode([7u8; 64]).into_string();
        assert_eq!(sol.parse_tx_hash(&format!(" {signature} ")).unwrap(), signature);
        assert!(sol.parse_tx_hash(&h).unwrap_err().contains("signature"), "hex is not a Solana signature");
        assert!(sol.parse_tx_hash(&bs58::encode([7u8; 32]).into_string()).is_err(), "32 bytes is an address");
    }
}
