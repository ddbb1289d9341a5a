//! Published address vectors (tests/data/address_vectors.json) through the domain validator,
//! plus Litecoin and Dogecoin addresses built from Bitcoin Core's key_io hashes with their own
//! version bytes and prefixes.

use payouts::domain::Address;
use payouts::domain::asset::find;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/address_vectors.json")).unwrap()
}

#[test]
fn published_valid_addresses_pass() {
    for v in vectors()["valid"].as_array().unwrap() {
        let (asset, address) = (v["asset"].as_str().unwrap(), v["address"].as_str().unwrap());
        let parsed = Address::parse(find(asset).unwrap(), address)
            .unwrap_or_else(|e| panic!("{asset} {address} ({}): {e}", v["source"]));
        assert_eq!(
            !parsed.warnings.is_empty(),
            v["warns"].as_bool().unwrap_or(false),
            "{address}: {:?}",
            parsed.warnings
        );
        if let Some(canonical) = v["canonical"].as_str() {
            assert_eq!(parsed.value, canonical);
        }
    }
}

#[test]
fn published_invalid_addresses_fail_saying_why() {
    for v in vectors()["invalid"].as_array().unwrap() {
        let (asset, address) = (v["asset"].as_str().unwrap(), v["address"].as_str().unwrap());
        let err = Address::parse(find(asset).unwrap(), address)
            .err()
            .unwrap_or_else(|| panic!("{asset} {address} ({}) accepted", v["source"]));
        let expected = v["error"].as_str().unwrap();
        assert!(err.contains(expected), "{address}: expected {expected:?} in {err:?}");
    }
}

const KEY_IO_P2PKH_HASH: &str = "a31c06bd463e3923bc1aadbde48b16976c080717";
const KEY_IO_P2SH_HASH: &str = "373b819a068f32b7a6b38b6b38729647cfde01c2";

fn base58check(version: u8, hash_hex: &str) -> String {
    let mut payload = vec![version];
    payload.extend(hex::decode(hash_hex).unwrap());
    bs58::encode(payload).with_check().into_string()
}

#[test]
fn litecoin_and_dogecoin_use_their_own_versions_and_prefixes() {
    let ltc = find("LTC").unwrap();
    let doge = find("DOGE").unwrap();
    let l = base58check(0x30, KEY_IO_P2PKH_HASH);
    let m = base58check(0x32, KEY_IO_P2SH_HASH);
    assert!(l.starts_with('L') && m.starts_with('M'), "{l} {m}");
    assert!(Address::parse(ltc, &l).is_ok() && Address::parse(ltc, &m).is_ok());
    let hrp = bech32::Hrp::parse("ltc").unwrap();
    let ltc1 = bech32::segwit::encode_v0(hrp, &hex::decode(KEY_IO_P2PKH_HASH).unwrap()).unwrap();
    assert!(ltc1.starts_with("ltc1q"));
    assert!(Address::parse(ltc, &ltc1).is_ok(), "{ltc1}");
    assert!(Address::parse(ltc, &base58check(0x6f, KEY_IO_P2PKH_HASH)).unwrap_err().contains("testnet"));

    let d = base58check(0x1e, KEY_IO_P2PKH_HASH);
    let nine_or_a = base58check(0x16, KEY_IO_P2SH_HASH);
    assert!(d.starts_with('D') && (nine_or_a.starts_with('9') || nine_or_a.starts_with('A')));
    assert!(Address::parse(doge, &d).is_ok() && Address::parse(doge, &nine_or_a).is_ok());
    assert!(Address::parse(doge, &base58check(0x71, KEY_IO_P2PKH_HASH)).unwrap_err().contains("testnet"));
    // A Litecoin L… address is not a Bitcoin one, and the message says what it is.
    assert_eq!(
        Address::parse(find("BTC").unwrap(), &l).unwrap_err(),
        "This is a Litecoin address, but BTC pays on Bitcoin."
    );
}

#[test]
fn tron_needs_version_0x41() {
    let trx = find("TRX").unwrap();
    let not_tron = base58check(0x42, KEY_IO_P2PKH_HASH);
    assert!(Address::parse(trx, &not_tron).is_err());
    let tron = base58check(0x41, KEY_IO_P2PKH_HASH);
    assert!(tron.starts_with('T'));
    assert!(Address::parse(trx, &tron).is_ok());
}
