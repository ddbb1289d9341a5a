//! Proof that a payee controls an address: the challenge their wallet signs, and the check of the
//! signature each family's wallets make — EIP-191 `personal_sign` (EVM), TRON's TIP-191, the
//! Bitcoin-family signed message (legacy headers as Bitcoin and Litecoin Core's `signmessage`
//! and Electrum make them, BIP-137's segwit headers as Trezor and Sparrow do), and a plain
//! ed25519 signature of the message's bytes (Solana wallets' `signMessage`).
//!
//! The message is rebuilt from the stored challenge, never taken from the person: a signature
//! of anything else (another organization, payee, address or nonce) does not verify.

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};
use sha3::Keccak256;

use crate::domain::asset::AddressFamily;

/// How a proof was checked; stored with it as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// EIP-191 `personal_sign`: "\x19Ethereum Signed Message:\n" + length + message, keccak-256.
    Eip191,
    /// TIP-191: "\x19TRON Signed Message:\n" + length + message, keccak-256.
    Tip191,
    /// The Bitcoin-family signed message (its chain's magic, double SHA-256), base64 with a
    /// BIP-137 header.
    SignedMessage,
    /// ed25519 over the message's UTF-8 bytes.
    Ed25519,
}

impl Method {
    pub fn of(family: AddressFamily) -> Method {
        match family {
            AddressFamily::Evm => Method::Eip191,
            AddressFamily::Tron => Method::Tip191,
            AddressFamily::Bitcoin | AddressFamily::Litecoin | AddressFamily::Dogecoin => Method::SignedMessage,
            AddressFamily::Solana => Method::Ed25519,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Eip191 => "eip191",
            Method::Tip191 => "tip191",
            Method::SignedMessage => "signed_message",
            Method::Ed25519 => "ed25519",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        [Method::Eip191, Method::Tip191, Method::SignedMessage, Method::Ed25519].into_iter().find(|m| m.as_str() == s)
    }

    /// As managers read it beside an address.
    pub fn label(self) -> &'static str {
        match self {
            Method::Eip191 => "EIP-191 signature",
            Method::Tip191 => "TIP-191 signature",
            Method::SignedMessage => "signed message",
            Method::Ed25519 => "ed25519 signature",
        }
    }

    /// What the payee is told to do with their wallet.
    pub fn how(self) -> &'static str {
        match self {
            Method::Eip191 => {
                "Sign the message in your wallet (MetaMask, Rabby, a Ledger: \"Sign message\", personal_sign)."
            }
            Method::Tip191 => {
                "Sign the message in TronLink or your Ledger (\"Sign message\"; TronWeb's signMessageV2)."
            }
            Method::SignedMessage => {
                "Use your wallet's \"Sign message\" (Electrum, Sparrow, Trezor Suite, Litecoin Core's signmessage) with \
                 this address, and paste the base64 signature."
            }
            Method::Ed25519 => {
                "Sign the message in Phantom, Solflare or Backpack (\"Sign message\") and paste the signature."
            }
        }
    }
}

/// The longest name written into a challenge.
const MAX_NAME_CHARS: usize = 80;

/// What a challenge binds a signature to.
#[derive(Debug, Clone)]
pub struct Challenge<'a> {
    pub org_id: i64,
    pub org_name: &'a str,
    pub payee_id: i64,
    pub payee_name: &'a str,
    pub network: &'a str,
    pub address: &'a str,
    pub nonce: &'a str,
    pub expires_at: NaiveDateTime,
}

/// The text a wallet signs: one line (a line break copied between systems would change the bytes).
pub fn message(c: &Challenge) -> String {
    let name = |s: &str| -> String {
        s.chars().map(|ch| if ch.is_control() { ' ' } else { ch }).take(MAX_NAME_CHARS).collect()
    };
    format!(
        "Payouts address proof. Organization: {} (#{}). Payee: {} (#{}). Network: {}. Address: {}. Nonce: {}. \
         Valid until: {}.",
        name(c.org_name),
        c.org_id,
        name(c.payee_name),
        c.payee_id,
        c.network,
        c.address,
        c.nonce,
        c.expires_at.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// The longest signature text read: every format here fits in 200 characters.
const MAX_SIGNATURE_CHARS: usize = 200;

/// Checks that `signature` over `message` was made by the key of `address` (canonical, as
/// `Address::parse` writes it). The error says what is wrong in words for the payee.
pub fn verify(family: AddressFamily, address: &str, message: &str, signature: &str) -> Result<Method, String> {
    let signature = signature.trim();
    if signature.is_empty() {
        return Err("Paste the signature your wallet made.".into());
    }
    if signature.len() > MAX_SIGNATURE_CHARS {
        return Err("This is too long to be a signature: paste only the signature your wallet made.".into());
    }
    let method = Method::of(family);
    match method {
        Method::Eip191 => {
            let key = recover_keccak(b"\x19Ethereum Signed Message:\n", message, signature)?;
            let signer = crate::domain::address::eip55(&hex::encode(&keccak(&key)[12..]));
            if !signer.eq_ignore_ascii_case(address) {
                return Err(format!("This signature was made by {signer}, not by {address}."));
            }
        }
        Method::Tip191 => {
            let key = recover_keccak(b"\x19TRON Signed Message:\n", message, signature)?;
            let mut raw = vec![0x41];
            raw.extend_from_slice(&keccak(&key)[12..]);
            let signer = bs58::encode(raw).with_check().into_string();
            if signer != address {
                return Err(format!("This signature was made by {signer}, not by {address}."));
            }
        }
        Method::SignedMessage => signed_message(family, address, message, signature)?,
        Method::Ed25519 => ed25519(address, message, signature)?,
    }
    Ok(method)
}

fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// 65 bytes of hex, `r ‖ s ‖ v`, with or without `0x`.
fn hex65(signature: &str) -> Result<[u8; 65], String> {
    let text = signature.strip_prefix("0x").unwrap_or(signature);
    let bytes = hex::decode(text).map_err(|_| "A signature from this wallet is hex: 0x and 130 digits.".to_string())?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("A signature is 65 bytes; this one is {}.", b.len()))
}

/// The uncompressed public key (64 bytes, without the 0x04 tag) that signed
/// `prefix ‖ decimal length ‖ message` under keccak-256.
fn recover_keccak(prefix: &[u8], message: &str, signature: &str) -> Result<[u8; 64], String> {
    let sig = hex65(signature)?;
    let mut prefixed = prefix.to_vec();
    prefixed.extend_from_slice(message.len().to_string().as_bytes());
    prefixed.extend_from_slice(message.as_bytes());
    let recid = match sig[64] {
        v @ (27 | 28) => v - 27,
        v @ (0 | 1) => v,
        _ => return Err("The signature's last byte is not a recovery id (27 or 28).".into()),
    };
    let key = recover(&keccak(&prefixed), &sig[..64], recid)?;
    let point = key.to_encoded_point(false);
    let mut out = [0u8; 64];
    out.copy_from_slice(&point.as_bytes()[1..]);
    Ok(out)
}

/// The secp256k1 key that made `rs` over `digest`. A high `s` (which some signers still emit)
/// is the same signature with the other recovery id.
fn recover(digest: &[u8; 32], rs: &[u8], recid: u8) -> Result<k256::ecdsa::VerifyingKey, String> {
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    let invalid = || "The signature is not valid (it was changed or cut short).".to_string();
    let sig = Signature::from_slice(rs).map_err(|_| invalid())?;
    let (sig, recid) = match sig.normalize_s() {
        Some(low) => (low, recid ^ 1),
        None => (sig, recid),
    };
    let recid = RecoveryId::from_byte(recid).ok_or_else(invalid)?;
    VerifyingKey::recover_from_prehash(digest, &sig, recid).map_err(|_| invalid())
}

fn hash160(bytes: &[u8]) -> [u8; 20] {
    ripemd::Ripemd160::digest(Sha256::digest(bytes)).into()
}

/// Base58check version bytes of pay-to-public-key-hash addresses (Bitcoin, Litecoin, Dogecoin,
/// and their test networks); any other version the parser accepts is a script hash.
const P2PKH_VERSIONS: [u8; 5] = [0x00, 0x30, 0x1e, 0x6f, 0x71];

fn push_compact_size(out: &mut Vec<u8>, n: usize) {
    if n < 0xfd {
        out.push(n as u8);
    } else {
        out.push(0xfd);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    }
}

fn signed_message(family: AddressFamily, address: &str, message: &str, signature: &str) -> Result<(), String> {
    use base64::Engine;
    let magic: &[u8] = match family {
        AddressFamily::Litecoin => b"Litecoin Signed Message:\n",
        AddressFamily::Dogecoin => b"Dogecoin Signed Message:\n",
        _ => b"Bitcoin Signed Message:\n",
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| "The signature from this wallet is base64 (88 characters, often ending in =).".to_string())?;
    let sig: [u8; 65] =
        sig.try_into().map_err(|b: Vec<u8>| format!("A signature is 65 bytes; this one is {}.", b.len()))?;
    // BIP-137: 27–30 an uncompressed key, 31–34 compressed (also Electrum's for segwit),
    // 35–38 P2SH-P2WPKH, 39–42 P2WPKH; the low two bits are the recovery id.
    let compressed = match sig[0] {
        27..=30 => false,
        31..=42 => true,
        _ => return Err("The signature's first byte is not a header Bitcoin-family wallets write.".into()),
    };
    let mut data = Vec::with_capacity(magic.len() + message.len() + 4);
    push_compact_size(&mut data, magic.len());
    data.extend_from_slice(magic);
    push_compact_size(&mut data, message.len());
    data.extend_from_slice(message.as_bytes());
    let digest: [u8; 32] = Sha256::digest(Sha256::digest(&data)).into();
    let key = recover(&digest, &sig[1..], (sig[0] - 27) & 3)?;
    let key_hash = hash160(key.to_encoded_point(compressed).as_bytes());
    let mismatch = || format!("This signature was not made by the key of {address}.");
    let lower = address.to_ascii_lowercase();
    if let Ok((_, version, program)) = bech32::segwit::decode(&lower) {
        if version != bech32::segwit::VERSION_0 || program.len() != 20 {
            return Err("This address type (Taproot or a script) has no signed message wallets agree on; use a \
                        single-key address (bc1q…, ltc1q…, 1…, L…) or ask the organization to accept it unproven."
                .into());
        }
        return if compressed && program == key_hash { Ok(()) } else { Err(mismatch()) };
    }
    let payload = bs58::decode(address).with_check(None).into_vec().map_err(|_| mismatch())?;
    let (version, hash) = payload.split_first().ok_or_else(mismatch)?;
    let expected = if P2PKH_VERSIONS.contains(version) {
        key_hash
    } else {
        // P2SH-P2WPKH: the script hash of `0 <20-byte key hash>`; wallets sign it with a
        // compressed key only.
        if !compressed {
            return Err(mismatch());
        }
        let mut script = vec![0x00, 0x14];
        script.extend_from_slice(&key_hash);
        hash160(&script)
    };
    if hash == expected { Ok(()) } else { Err(mismatch()) }
}

fn ed25519(address: &str, message: &str, signature: &str) -> Result<(), String> {
    use base64::Engine;
    let key: [u8; 32] = bs58::decode(address)
        .into_vec()
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "This is not a Solana address.".to_string())?;
    let raw = if signature.len() == 128 && signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(signature).ok()
    } else if signature.ends_with('=') {
        base64::engine::general_purpose::STANDARD.decode(signature).ok()
    } else {
        bs58::decode(signature).into_vec().ok()
    };
    let sig: [u8; 64] = raw.and_then(|b| b.try_into().ok()).ok_or_else(|| {
        "A Solana signature is 64 bytes, in base58 (87 or 88 characters) as wallets show it.".to_string()
    })?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|_| "This address has no key: it belongs to a program.")?;
    key.verify_strict(message.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| format!("This signature was not made by the key of {address}, or not over this message."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2026-12-07 18:00:00", "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn the_message_names_everything_it_binds_on_one_line() {
        let c = Challenge {
            org_id: 1,
            org_name: "Acme\nLtd",
            payee_id: 42,
            payee_name: "Ada Lovelace",
            network: "TRON",
            address: "TXYZ",
            nonce: "00ff",
            expires_at: at(),
        };
        assert_eq!(
            message(&c),
            "Payouts address proof. Organization: Acme Ltd (#1). Payee: Ada Lovelace (#42). Network: TRON. \
             Address: TXYZ. Nonce: 00ff. Valid until: 2026-12-07T18:00:00Z."
        );
    }

    #[test]
    fn malformed_signatures_are_named_not_panicked_on() {
        let evm = "0x52908400098527886E0F7030069857D2E4169EE7";
        for (family, address, sig) in [
            (AddressFamily::Evm, evm, ""),
            (AddressFamily::Evm, evm, "0x1234"),
            (AddressFamily::Evm, evm, &"z".repeat(300)),
            (AddressFamily::Evm, evm, &format!("0x{}", "00".repeat(65))),
            (AddressFamily::Bitcoin, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "not base64!"),
            (AddressFamily::Bitcoin, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", &"A".repeat(88)),
            (AddressFamily::Solana, "11111111111111111111111111111111", "3"),
        ] {
            assert!(verify(family, address, "m", sig).is_err(), "{family:?} {sig}");
        }
    }
}
