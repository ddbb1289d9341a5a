//! Mainnet payout addresses, checked by each chain's real rules: base58check, bech32/bech32m
//! (BIP-173, BIP-350), EIP-55 and Solana's ed25519 keys, using maintained crates for the
//! encodings, hashes and curve.

use bech32::primitives::decode::SegwitHrpstringError;
use bech32::segwit;
use sha3::{Digest, Keccak256};

use super::asset::{AddressFamily, Asset};

/// An address that passed its family's checks, in canonical form (bech32 lower case, EVM in
/// its EIP-55 mixed case), with anything the payer should double-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub value: String,
    pub family: AddressFamily,
    pub warnings: Vec<String>,
}

/// Longer than any address of any supported network (bech32m taproot addresses have 62).
pub const MAX_ADDRESS_CHARS: usize = 100;

impl Address {
    /// Checks `input` as an address of `asset`'s network. When it is a valid address of another
    /// network, the message says which.
    pub fn parse(asset: &Asset, input: &str) -> Result<Address, String> {
        let s = input.trim();
        // Bounded before anything decodes it: the checks below are not linear in the length.
        let len = s.chars().count();
        if len > MAX_ADDRESS_CHARS {
            return Err(format!(
                "This is {len} characters long; no {} address is longer than {MAX_ADDRESS_CHARS}. Check what was pasted.",
                asset.network
            ));
        }
        check_characters(s)?;
        match parse_family(asset.family, s) {
            Ok(address) => Ok(address),
            Err(message) => match identify(s) {
                Some(family) if family != asset.family => {
                    Err(format!("This is {}, but {} pays on {}.", family.address_kind(), asset.code, asset.network))
                }
                _ => Err(message),
            },
        }
    }
}

/// Which family an address belongs to, judged from its form with one decode: a registry that
/// mixes networks must not cost a full validation per family per row.
fn identify(s: &str) -> Option<AddressFamily> {
    if s.len() == 42 && s.starts_with("0x") && s[2..].chars().all(|c| c.is_ascii_hexdigit()) {
        return Some(AddressFamily::Evm);
    }
    if let Ok((hrp, _, _)) = segwit::decode(s) {
        return match hrp.as_str().to_ascii_lowercase().as_str() {
            "bc" => Some(AddressFamily::Bitcoin),
            "ltc" => Some(AddressFamily::Litecoin),
            _ => None,
        };
    }
    let Some(payload) = bs58::decode(s).with_check(None).into_vec().ok().filter(|p| p.len() == 21) else {
        // No checksum, 32 bytes: a Solana account.
        return bs58::decode(s).into_vec().is_ok_and(|raw| raw.len() == 32).then_some(AddressFamily::Solana);
    };
    [(&BITCOIN, AddressFamily::Bitcoin), (&LITECOIN, AddressFamily::Litecoin), (&DOGECOIN, AddressFamily::Dogecoin)]
        .into_iter()
        .find(|(chain, _)| chain.versions.contains(&payload[0]))
        .map(|(_, family)| family)
        .or((payload[0] == 0x41).then_some(AddressFamily::Tron))
}

fn check_characters(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("Enter an address.".into());
    }
    if s.chars().any(char::is_whitespace) {
        return Err("An address cannot contain spaces or line breaks.".into());
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        let what = if matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
        {
            "an invisible character"
        } else {
            "a character that only looks like a letter or digit"
        };
        return Err(format!(
            "The address contains {what} (U+{:04X}). Type it again or copy it from the source.",
            c as u32
        ));
    }
    Ok(())
}

fn parse_family(family: AddressFamily, s: &str) -> Result<Address, String> {
    let (value, warnings) = match family {
        AddressFamily::Bitcoin => utxo(s, &BITCOIN)?,
        AddressFamily::Litecoin => utxo(s, &LITECOIN)?,
        AddressFamily::Dogecoin => utxo(s, &DOGECOIN)?,
        AddressFamily::Tron => (tron(s)?, Vec::new()),
        AddressFamily::Solana => solana(s)?,
        AddressFamily::Evm => return evm(s),
    };
    Ok(Address { value, family, warnings })
}

/// What tells a UTXO chain's addresses apart.
struct UtxoChain {
    name: &'static str,
    /// base58check version bytes of mainnet P2PKH and P2SH addresses.
    versions: &'static [u8],
    test_versions: &'static [u8],
    /// bech32 human-readable part on mainnet, if the chain has segwit.
    hrp: Option<&'static str>,
    test_hrps: &'static [&'static str],
}

const BITCOIN: UtxoChain = UtxoChain {
    name: "Bitcoin",
    versions: &[0x00, 0x05],
    test_versions: &[0x6f, 0xc4],
    hrp: Some("bc"),
    test_hrps: &["tb", "bcrt"],
};
const LITECOIN: UtxoChain = UtxoChain {
    name: "Litecoin",
    // 0x05 is the legacy P2SH version Litecoin shares with Bitcoin (3…).
    versions: &[0x30, 0x32, 0x05],
    test_versions: &[0x6f, 0x3a, 0xc4],
    hrp: Some("ltc"),
    test_hrps: &["tltc", "rltc"],
};
const DOGECOIN: UtxoChain =
    UtxoChain { name: "Dogecoin", versions: &[0x1e, 0x16], test_versions: &[0x71, 0xc4], hrp: None, test_hrps: &[] };

const MISTYPED: &str = "The address's checksum does not match: a character is mistyped or missing.";

/// The test networks whose addresses this process pays, by their bech32 prefix: none, unless a
/// rail was connected to a test or regtest node (`rails::utxo`), whose coins are worth nothing.
/// Process-wide because an address is checked in many places that know no rail, and set once,
/// at start, before any request is served.
static TEST_NETWORKS: std::sync::RwLock<Vec<&'static str>> = std::sync::RwLock::new(Vec::new());

/// Accepts the addresses of the test network with bech32 prefix `hrp` (`tltc`, `rltc`, `tb`,
/// `bcrt`) and its chain's testnet base58 forms from now on, in this process.
pub fn accept_test_network(hrp: &'static str) {
    let mut accepted = TEST_NETWORKS.write().unwrap_or_else(|e| e.into_inner());
    if !accepted.contains(&hrp) {
        accepted.push(hrp);
    }
}

fn test_network_accepted(hrp: &str) -> bool {
    TEST_NETWORKS.read().unwrap_or_else(|e| e.into_inner()).contains(&hrp)
}

fn utxo(s: &str, chain: &UtxoChain) -> Result<(String, Vec<String>), String> {
    let lower = s.to_ascii_lowercase();
    let hrp_of = |hrp: &str| lower.starts_with(&format!("{hrp}1"));
    if let Some(hrp) = chain.test_hrps.iter().find(|h| hrp_of(h)) {
        if test_network_accepted(hrp) {
            return segwit_address(s, hrp, chain.name);
        }
        return Err(format!("This is a {} testnet address; only mainnet addresses can be paid.", chain.name));
    }
    if let Some(hrp) = chain.hrp.filter(|h| hrp_of(h)) {
        return segwit_address(s, hrp, chain.name);
    }
    let payload = base58check(s)?;
    match payload.first() {
        Some(v) if payload.len() == 21 && chain.versions.contains(v) => Ok((s.to_owned(), Vec::new())),
        Some(v)
            if payload.len() == 21
                && chain.test_versions.contains(v)
                && chain.test_hrps.iter().any(|h| test_network_accepted(h)) =>
        {
            Ok((s.to_owned(), Vec::new()))
        }
        Some(v) if payload.len() == 21 && chain.test_versions.contains(v) => {
            Err(format!("This is a {} testnet address; only mainnet addresses can be paid.", chain.name))
        }
        _ => Err(format!("This is not {}.", chain_kind(chain))),
    }
}

fn chain_kind(chain: &UtxoChain) -> &'static str {
    match chain.name {
        "Bitcoin" => AddressFamily::Bitcoin.address_kind(),
        "Litecoin" => AddressFamily::Litecoin.address_kind(),
        _ => AddressFamily::Dogecoin.address_kind(),
    }
}

fn segwit_address(s: &str, hrp: &str, chain: &str) -> Result<(String, Vec<String>), String> {
    if s.chars().any(|c| c.is_ascii_lowercase()) && s.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("The address mixes upper and lower case; a bech32 address is all one case.".into());
    }
    match segwit::decode(s) {
        Ok((decoded_hrp, version, program)) if decoded_hrp.as_str().eq_ignore_ascii_case(hrp) => {
            // Valid by BIP-350, but no wallet spends these yet: coins sent there may be stuck.
            let unusual = version.to_u8() > 1 || (version.to_u8() == 1 && program.len() != 32);
            let warnings = if unusual {
                vec![format!(
                    "This address uses segwit version {} with a {}-byte program, which wallets do not use yet; \
                     confirm it with the recipient.",
                    version.to_u8(),
                    program.len()
                )]
            } else {
                Vec::new()
            };
            Ok((s.to_ascii_lowercase(), warnings))
        }
        Ok(_) => Err(format!("This is not a {chain} address.")),
        Err(e) => Err(match e.0 {
            SegwitHrpstringError::Checksum(_) => MISTYPED.into(),
            SegwitHrpstringError::WitnessLength(_)
            | SegwitHrpstringError::Padding(_)
            | SegwitHrpstringError::NoData => {
                "The address has the wrong length for its type: a character is missing or extra.".into()
            }
            SegwitHrpstringError::InvalidWitnessVersion(_) => "The address has an unknown witness version.".into(),
            SegwitHrpstringError::TooLong(_) => "The address is too long.".into(),
            SegwitHrpstringError::Unchecked(_) => {
                "The address contains a character bech32 does not use (1, b, i or o after the prefix).".into()
            }
            _ => format!("This is not a valid {chain} address."),
        }),
    }
}

/// The payload (version byte first) of a base58check string.
fn base58check(s: &str) -> Result<Vec<u8>, String> {
    bs58::decode(s).with_check(None).into_vec().map_err(|e| match e {
        bs58::decode::Error::InvalidCharacter { character, .. } => {
            format!("The address contains `{character}`, which base58 does not use (0, O, I and l are never used).")
        }
        bs58::decode::Error::InvalidChecksum { .. } => MISTYPED.into(),
        _ => "The address is too short to be valid.".into(),
    })
}

fn tron(s: &str) -> Result<String, String> {
    if s.len() == 42 && s.starts_with("41") && s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("This is a TRON address in hex form; use its base58 form, which starts with T.".into());
    }
    if !s.starts_with('T') {
        return Err("A TRON address starts with T.".into());
    }
    let payload = base58check(s)?;
    if payload.len() != 21 || payload[0] != 0x41 {
        return Err("This is not a TRON address.".into());
    }
    Ok(s.to_owned())
}

/// A Solana account: 32 bytes in base58, with no checksum (a mistyped character makes another
/// valid address; the payee's proof of control is the guard). An address off the ed25519 curve
/// has no private key: it belongs to a program (a program-derived address), and only that
/// program can move what is sent there.
fn solana(s: &str) -> Result<(String, Vec<String>), String> {
    let raw = bs58::decode(s).into_vec().map_err(|e| match e {
        bs58::decode::Error::InvalidCharacter { character, .. } => {
            format!("The address contains `{character}`, which base58 does not use (0, O, I and l are never used).")
        }
        _ => "This is not a Solana address.".to_owned(),
    })?;
    let raw: [u8; 32] = raw.try_into().map_err(|raw: Vec<u8>| {
        format!(
            "A Solana address is 32 bytes in base58 (32 to 44 characters); this one is {} bytes: a character is \
             missing or extra.",
            raw.len()
        )
    })?;
    if bs58::encode(raw).into_string() != s {
        return Err("This is not a Solana address: it is not written as base58 writes 32 bytes.".into());
    }
    if raw == [0; 32] {
        return Err("This is the System Program's address; anything sent to it is lost.".into());
    }
    let mut warnings = Vec::new();
    if curve25519_dalek::edwards::CompressedEdwardsY(raw).decompress().is_none() {
        warnings.push(
            "This address has no private key: it belongs to a program (a program-derived address), and only that \
             program can move what is sent to it. Confirm with the recipient that it is meant to receive payments."
                .into(),
        );
    }
    Ok((s.to_owned(), warnings))
}

fn evm(s: &str) -> Result<Address, String> {
    let Some(hex) = s.strip_prefix("0x") else {
        return Err("An EVM address starts with 0x.".into());
    };
    if hex.len() != 40 {
        return Err(format!("An EVM address has 40 hex digits after 0x; this one has {}.", hex.len()));
    }
    if let Some(c) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("An EVM address has only hex digits (0-9, a-f) after 0x; `{c}` is not one."));
    }
    if hex.bytes().all(|b| b == b'0') {
        return Err("This is the zero address; anything sent to it is lost.".into());
    }
    let checksummed = eip55(hex);
    let mut warnings = Vec::new();
    if checksummed[2..] != *hex {
        let mixed_case = hex.chars().any(|c| c.is_ascii_lowercase()) && hex.chars().any(|c| c.is_ascii_uppercase());
        if mixed_case {
            return Err(
                "The address's checksum (its mix of upper and lower case) does not match: a character is mistyped."
                    .into(),
            );
        }
        // All one case: valid, but a typo in it cannot be detected.
        warnings.push(
            "This address carries no checksum (it is all one case), so a typo cannot be detected: check it carefully."
                .into(),
        );
    }
    Ok(Address { value: checksummed, family: AddressFamily::Evm, warnings })
}

/// The EIP-55 form of 40 hex digits: each letter upper case where the Keccak-256 of the
/// lower-case address has a nibble of 8 or more.
pub fn eip55(hex: &str) -> String {
    let lower = hex.to_ascii_lowercase();
    let hash = Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 { c.to_ascii_uppercase() } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::asset::find;

    fn check(code: &str, s: &str) -> Result<Address, String> {
        Address::parse(find(code).unwrap(), s)
    }

    #[test]
    fn another_networks_address_is_named() {
        let err = check("USDT_ERC20", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap_err();
        assert_eq!(err, "This is a TRON address, but USDT_ERC20 pays on Ethereum.");
        let err = check("USDT_TRC20", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap_err();
        assert!(err.starts_with("This is an EVM address"), "{err}");
        let err = check("ETH", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").unwrap_err();
        assert!(err.starts_with("This is a Bitcoin address"), "{err}");
    }

    #[test]
    fn spaces_around_are_trimmed_and_inside_refused() {
        assert!(check("TRX", "  TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t\t").is_ok());
        assert!(check("TRX", "TR7NHqjeKQxGTCi8q8 ZY4pL8otSzgjLj6t").unwrap_err().contains("spaces"));
        assert!(check("TRX", "TR7NHqjeKQxGTCi8q8\u{200B}ZY4pL8otSzgjLj6t").unwrap_err().contains("invisible"));
        // Cyrillic Т (U+0422) in place of a Latin T.
        assert!(check("TRX", "\u{0422}R7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap_err().contains("looks like"));
    }

    #[test]
    fn solana_accounts_are_32_bytes_and_a_program_owned_one_is_warned_about() {
        // The USDC mint and a wallet key: both valid; the key is on the curve.
        for code in ["SOL", "USDC_SOL", "USDT_SOL"] {
            let usdc_mint = check(code, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v").unwrap();
            assert_eq!(usdc_mint.family, AddressFamily::Solana);
        }
        let key = curve25519_dalek::constants::ED25519_BASEPOINT_COMPRESSED.to_bytes();
        let wallet = check("SOL", &bs58::encode(key).into_string()).unwrap();
        assert!(wallet.warnings.is_empty(), "{:?}", wallet.warnings);
        // y = 2 is not the y of any point of the curve: a program-derived address looks like this.
        let mut off = [0u8; 32];
        off[0] = 2;
        assert!(curve25519_dalek::edwards::CompressedEdwardsY(off).decompress().is_none());
        let pda = check("SOL", &bs58::encode(off).into_string()).unwrap();
        assert!(pda.warnings[0].contains("no private key"), "{:?}", pda.warnings);

        assert!(check("SOL", "11111111111111111111111111111111").unwrap_err().contains("System Program"));
        for wrong_length in ["EPjFWdd5AufqSSqeM2qN1xzybapC8G", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1vEP"] {
            let err = check("SOL", wrong_length).unwrap_err();
            assert!(err.contains("bytes: a character is missing or extra"), "{err}");
        }
        assert!(check("SOL", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1l").unwrap_err().contains("`l`"));
        let err = check("SOL", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap_err();
        assert_eq!(err, "This is an EVM address (Ethereum, BNB Smart Chain, Polygon), but SOL pays on Solana.");
        let err = check("USDT_TRC20", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v").unwrap_err();
        assert_eq!(err, "This is a Solana address, but USDT_TRC20 pays on TRON.");
    }

    #[test]
    fn tron_hex_form_gets_a_hint() {
        let err = check("TRX", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c").unwrap_err();
        assert!(err.contains("hex form"), "{err}");
    }

    #[test]
    fn zero_address_is_refused() {
        assert!(check("ETH", "0x0000000000000000000000000000000000000000").unwrap_err().contains("zero address"));
    }

    #[test]
    fn evm_addresses_are_stored_checksummed() {
        let a = check("ETH", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").unwrap();
        assert_eq!(a.value, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
        assert_eq!(a.warnings.len(), 1);
    }
}
