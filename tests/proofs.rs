//! Proof of control (issue 43): signatures made by independent libraries — eth-account
//! (EIP-191), TronWeb (TIP-191), python-bitcoinlib (Bitcoin and Litecoin signed messages, legacy
//! and BIP-137 segwit headers, and Electrum's header for a segwit address), PyNaCl (ed25519) —
//! verify for their address, and never for another address, organization, nonce or expiry.

mod common;

use chrono::NaiveDateTime;
use common::signers::Signers;
use payouts::domain::address::Address;
use payouts::domain::asset;
use payouts::domain::proof::{self, Challenge, Method};

fn challenge<'a>(org_name: &'a str, network: &'a str, address: &'a str, nonce: &'a str) -> Challenge<'a> {
    Challenge {
        org_id: 7,
        org_name,
        payee_id: 42,
        payee_name: "Ada Lovelace",
        network,
        address,
        nonce,
        expires_at: NaiveDateTime::parse_from_str("2026-12-07 18:00:00", "%Y-%m-%d %H:%M:%S").unwrap(),
    }
}

#[test]
fn each_familys_wallet_signature_proves_its_address_and_nothing_else() {
    let Some(signers) = Signers::find() else { return };
    let cases = [
        ("ETH", "evm", "", Method::Eip191),
        ("USDT_TRC20", "tron", "", Method::Tip191),
        ("BTC", "bitcoin", "p2pkh", Method::SignedMessage),
        ("BTC", "bitcoin", "p2pkh-uncompressed", Method::SignedMessage),
        ("BTC", "bitcoin", "p2sh-p2wpkh", Method::SignedMessage),
        ("BTC", "bitcoin", "p2wpkh", Method::SignedMessage),
        ("BTC", "bitcoin", "p2wpkh-electrum", Method::SignedMessage),
        ("LTC", "litecoin", "p2pkh", Method::SignedMessage),
        ("LTC", "litecoin", "p2sh-p2wpkh", Method::SignedMessage),
        ("LTC", "litecoin", "p2wpkh", Method::SignedMessage),
        ("SOL", "solana", "", Method::Ed25519),
    ];
    for (i, (code, family, kind, method)) in cases.into_iter().enumerate() {
        let asset = asset::find(code).unwrap();
        let (mine, theirs) = ([i as u8 + 1; 32], [i as u8 + 101; 32]);
        // The address the wallet shows, as the product writes it.
        let address = signers.sign(family, kind, mine, "x").address;
        let address = Address::parse(asset, &address).unwrap_or_else(|e| panic!("{code} {kind}: {e}")).value;
        let text = proof::message(&challenge("Acme Ltd", asset.network, &address, "9f8e7d6c5b4a3f2e"));
        let signed = signers.sign(family, kind, mine, &text);
        let what = format!("{code} {kind}");
        assert_eq!(proof::verify(asset.family, &address, &text, &signed.signature), Ok(method), "{what}");

        // Another key's signature of the same message does not prove this address.
        let other = signers.sign(family, kind, theirs, &text);
        let err = proof::verify(asset.family, &address, &text, &other.signature).unwrap_err();
        assert!(err.contains("not made by") || err.contains("was made by"), "{what}: {err}");
        // Nor does this signature prove the other address.
        let other_address = Address::parse(asset, &other.address).unwrap().value;
        assert!(proof::verify(asset.family, &other_address, &text, &signed.signature).is_err(), "{what}");
        // A challenge for another organization, nonce or expiry is another message.
        for changed in [
            proof::message(&challenge("Acme Holdings", asset.network, &address, "9f8e7d6c5b4a3f2e")),
            proof::message(&challenge("Acme Ltd", asset.network, &address, "9f8e7d6c5b4a3f2f")),
            proof::message(&Challenge {
                expires_at: challenge("", "", "", "").expires_at + chrono::Duration::days(1),
                ..challenge("Acme Ltd", asset.network, &address, "9f8e7d6c5b4a3f2e")
            }),
        ] {
            assert!(proof::verify(asset.family, &address, &changed, &signed.signature).is_err(), "{what}");
        }
        // One altered character of the signature.
        let mut broken = signed.signature.clone().into_bytes();
        let at = broken.len() / 2;
        broken[at] = if broken[at] == b'a' { b'b' } else { b'a' };
        let broken = String::from_utf8(broken).unwrap();
        assert!(proof::verify(asset.family, &address, &text, &broken).is_err(), "{what}: altered");
    }
}
