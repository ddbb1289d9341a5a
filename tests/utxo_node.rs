//! The UTXO rail's start-up checks against a real Litecoin Core node in regtest (`litecoind`,
//! installed by `.ci/run`): the node's network, its coin told by the genesis block, the wallet
//! loaded and able to sign, and credentials that never show in an error.

mod common;
#[path = "utxo/harness.rs"]
mod harness;

use std::time::Duration;

use harness::node_or_skip;
use payouts::rails::utxo::UtxoNode;
use payouts::rails::utxo::build::Output;
use serde_json::json;

#[test]
fn a_node_is_accepted_only_on_the_configured_network_coin_and_wallet() {
    let Some(node) = node_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let connect = |replace: &[(&str, &str)]| node.config(dir.path(), replace).and_then(UtxoNode::connect);

    let ok = connect(&[]).unwrap();
    assert_eq!((ok.config.asset.code, ok.config.wallet.as_str()), ("LTC", "hot"));

    let main = connect(&[("\"regtest\"", "\"main\"")]).unwrap_err();
    assert!(main.ends_with("is on the regtest network, not main"), "{main}");
    let bitcoin = connect(&[("\"LTC\"", "\"BTC\"")]).unwrap_err();
    assert!(bitcoin.contains("is not a Bitcoin node: its genesis block is 530827f3"), "{bitcoin}");
    let unknown = connect(&[("\"hot\"", "\"payroll\"")]).unwrap_err();
    assert!(unknown.contains("the wallet \"payroll\" is not loaded"), "{unknown}");

    node.cli("createwallet", json!(["watch", true])).unwrap();
    let watch = connect(&[("\"hot\"", "\"watch\"")]).unwrap_err();
    assert!(watch.contains("holds no private keys, so it cannot sign"), "{watch}");
}

#[test]
fn wrong_credentials_are_named_and_never_shown() {
    let Some(node) = node_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "hunter2-not-the-password\n").unwrap();
    let cookie_field = format!("\"rpc_cookie_file\": \"{}\"", node.cookie().display());
    let by_password = format!("\"rpc_user\": \"payouts\", \"rpc_password_file\": \"{}\"", password.display());
    let e = node.config(dir.path(), &[(&cookie_field, &by_password)]).and_then(UtxoNode::connect).unwrap_err();
    assert!(e.contains("refused the RPC credentials (HTTP 401)"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");

    let missing = format!("\"rpc_cookie_file\": \"{}\"", dir.path().join("no-cookie").display());
    let e = node.config(dir.path(), &[(&cookie_field, &missing)]).and_then(UtxoNode::connect).unwrap_err();
    assert!(e.starts_with("rpc_cookie_file") && e.contains("no-cookie"), "{e}");
}

/// A mass payout's 300 rows as one transaction, funded and signed by the node's wallet: every
/// output pays its row's address exactly its amount, the change sits apart, the fee stays under
/// the cap, and inputs not broadcast go back to the wallet.
#[test]
fn three_hundred_rows_become_one_signed_transaction_paying_each_exactly() {
    let Some(node) = node_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hot = node.config(dir.path(), &[]).and_then(UtxoNode::connect).unwrap();
    let funding = hot.rpc.wallet("getnewaddress", json!([])).unwrap();
    hot.rpc.node("generatetoaddress", json!([101, funding])).unwrap();
    node.cli("createwallet", json!(["payees"])).unwrap();
    let payees = payouts::rails::utxo::rpc::NodeRpc::new(
        &node.url,
        "payees",
        &payouts::rails::utxo::config::Credentials::Cookie(node.cookie()).read().unwrap(),
        Duration::from_secs(30),
    );
    let ltc = payouts::domain::asset::find("LTC").unwrap();
    let outputs: Vec<Output> = (0..300u64)
        .map(|i| Output {
            address: payees.wallet("getnewaddress", json!([])).unwrap().as_str().unwrap().to_owned(),
            // 0.001 LTC and up, with a different last digit on every row.
            amount: payouts::domain::Amount::from_minor(ltc, 100_000 + i128::from(i) * 1_001),
        })
        .collect();
    let signed = hot.build(&outputs, 20).unwrap();

    let decoded = hot.rpc.node("decoderawtransaction", json!([signed.hex])).unwrap();
    assert_eq!(decoded["txid"].as_str(), Some(signed.txid.as_str()));
    let vout = decoded["vout"].as_array().unwrap();
    assert!(vout.len() == 300 || vout.len() == 301, "one output a row, and the change");
    for (row, (o, n)) in outputs.iter().zip(&signed.vouts).enumerate() {
        let out = &vout[*n as usize];
        let asked = o.amount.minor();
        let asked = format!("{}.{:08}", asked / 100_000_000, asked % 100_000_000);
        assert_eq!(format!("{:.8}", out["value"].as_f64().unwrap()), asked, "row {row}");
        let to = &out["scriptPubKey"];
        assert_eq!(to["addresses"][0].as_str().or(to["address"].as_str()), Some(o.address.as_str()), "row {row}");
    }
    assert!(
        signed.fee_sat > 0 && signed.fee_sat <= 20 * signed.vsize + 20,
        "fee {} for {} vB",
        signed.fee_sat,
        signed.vsize
    );
    let locked = hot.rpc.wallet("listlockunspent", json!([])).unwrap();
    assert!(!locked.as_array().unwrap().is_empty(), "the inputs stay locked to the signed transaction");
    hot.release(&signed.hex).unwrap();
    assert!(hot.rpc.wallet("listlockunspent", json!([])).unwrap().as_array().unwrap().is_empty());
}

/// A regtest address is refused like any test network's until this process connects a rail to a
/// regtest node; then it is paid like a mainnet one.
#[test]
fn regtest_addresses_are_accepted_only_once_a_regtest_node_is_connected() {
    let Some(node) = node_or_skip() else { return };
    let ltc = payouts::domain::asset::find("LTC").unwrap();
    let address = node.wallet("hot", "getnewaddress", json!([])).as_str().unwrap().to_owned();
    let refused = payouts::domain::address::Address::parse(ltc, &address).unwrap_err();
    assert!(refused.contains("testnet address; only mainnet"), "{refused}");

    let dir = tempfile::tempdir().unwrap();
    let url = payouts::db::DatabaseUrl::sqlite_path(&dir.path().join("db"));
    let pool = payouts::db::connect(&url, 1).unwrap();
    payouts::db::migrate(&mut pool.get().unwrap()).unwrap();
    let setup = payouts::rails::family::Setup { pool, clock: Default::default() };
    let chain = payouts::rails::family::ChainConfig { family: "utxo".into(), file: node.config_file(dir.path(), &[]) };
    let connected = payouts::rails::family::connect_all(&[chain], &setup).unwrap();
    assert_eq!(connected[0].assets, ["LTC"]);
    assert_eq!(payouts::domain::address::Address::parse(ltc, &address).unwrap().value, address);
}

/// Issue 43: a payee proves a Litecoin address with Litecoin Core's own `signmessage` (P2PKH,
/// the "Litecoin Signed Message" magic): the proof the payee's page checks accepts it, and
/// refuses it for another message or another address of the same wallet.
#[test]
fn litecoin_cores_signmessage_proves_a_legacy_address() {
    use payouts::domain::asset::AddressFamily;
    use payouts::domain::proof::{self, Challenge, Method};
    let Some(node) = node_or_skip() else { return };
    let address = node.wallet("hot", "getnewaddress", json!(["", "legacy"])).as_str().unwrap().to_owned();
    let other = node.wallet("hot", "getnewaddress", json!(["", "legacy"])).as_str().unwrap().to_owned();
    let challenge = |nonce| Challenge {
        org_id: 7,
        org_name: "Demo Company",
        payee_id: 42,
        payee_name: "Ada Lovelace",
        network: "Litecoin",
        address: &address,
        nonce,
        expires_at: chrono::NaiveDateTime::parse_from_str("2026-12-31 18:00:00", "%Y-%m-%d %H:%M:%S").unwrap(),
    };
    let message = proof::message(&challenge("5f3c9a0b1d2e4f60"));
    let signature = node.wallet("hot", "signmessage", json!([address, message])).as_str().unwrap().to_owned();
    assert_eq!(proof::verify(AddressFamily::Litecoin, &address, &message, &signature), Ok(Method::SignedMessage));
    // The node agrees with itself: the check is of the same bytes.
    assert_eq!(node.cli("verifymessage", json!([address, signature, message])).unwrap(), json!(true));
    let another = proof::message(&challenge("0000000000000000"));
    assert!(proof::verify(AddressFamily::Litecoin, &address, &another, &signature).is_err(), "another message");
    assert!(proof::verify(AddressFamily::Litecoin, &other, &message, &signature).is_err(), "another address");
    // A Bitcoin-magic check of the same signature fails: the chain's magic is part of the proof.
    assert!(proof::verify(AddressFamily::Bitcoin, &address, &message, &signature).is_err(), "another chain's magic");
}
