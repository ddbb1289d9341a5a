//! What the UTXO tests share: a real Litecoin Core node in regtest (`litecoind`, installed by
//! `.ci/run`) on free ports in a temporary directory, a database with the demo organization and
//! LTC on its ledger, and the real server paying through the node.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use payouts::db::Backend;
use payouts::domain::account::Role;
use payouts::domain::asset::find;
use payouts::domain::payout::PayoutKind;
use payouts::domain::registry::{Row, RowInput};
use payouts::rails::utxo::config::{Credentials, UtxoConfig};
use payouts::rails::utxo::rpc::NodeRpc;
use payouts::service::access::Actor;
use payouts::service::payouts as payout_service;
use payouts::service::payouts::{bootstrap, ledger};
use payouts::{AppState, Config};
use serde_json::{Value, json};

use crate::common::{Process, TestDb, connect_rail, free_port, serve_on_chain};

pub struct Node {
    child: Child,
    pub dir: tempfile::TempDir,
    pub url: String,
    bin: PathBuf,
    ports: (u16, u16),
}

impl Drop for Node {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub fn litecoind() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("litecoind")).find(|p| p.is_file()))
}

impl Node {
    pub fn cookie(&self) -> PathBuf {
        self.dir.path().join("regtest/.cookie")
    }

    fn spawn(bin: &Path, dir: &Path, (rpc, p2p): (u16, u16), wallets: &[&str]) -> Child {
        Command::new(bin)
            .arg("-regtest")
            .arg(format!("-datadir={}", dir.display()))
            .args([format!("-rpcport={rpc}"), format!("-port={p2p}")])
            // Litecoin Core refuses replacements unless told (Bitcoin Core takes them): the rail's
            // BIP 125 replacements are tested as a Bitcoin node would take them. The node's
            // wallet never broadcasts by itself, so a lost transaction comes back only through
            // the rail; the mempool is not kept across a restart.
            .args(["-server", "-listen=0", "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", "-mempoolreplacement=1"])
            .args(["-walletbroadcast=0", "-persistmempool=0", "-fallbackfee=0.0001"])
            .args(wallets.iter().map(|w| format!("-wallet={w}")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("litecoind runs")
    }

    /// One try: a port free a moment ago may be taken by a parallel test's process.
    fn launch(bin: &Path) -> Option<Node> {
        let dir = tempfile::tempdir().unwrap();
        let ports = (free_port(), free_port());
        let child = Self::spawn(bin, dir.path(), ports, &[]);
        let mut node = Node { child, dir, url: format!("http://127.0.0.1:{}", ports.0), bin: bin.to_owned(), ports };
        node.wait_ready().then_some(())?;
        node.cli("createwallet", json!(["hot"])).ok()?;
        Some(node)
    }

    fn wait_ready(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            if self.cookie().is_file() && self.cli("getblockcount", json!([])).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Stops the node (its mempool is lost) and starts it again with `wallets` loaded.
    pub fn restart(&mut self, wallets: &[&str]) {
        self.cli("stop", json!([])).ok();
        self.child.wait().ok();
        self.child = Self::spawn(&self.bin, self.dir.path(), self.ports, wallets);
        assert!(self.wait_ready(), "litecoind restarts on its ports");
    }

    /// A node-wide call with the cookie, as an operator would make it.
    pub fn cli(&self, method: &str, params: Value) -> Result<Value, String> {
        self.rpc("").node(method, params).map_err(|e| e.to_string())
    }

    /// A call to one of the node's wallets.
    pub fn wallet(&self, wallet: &str, method: &str, params: Value) -> Value {
        self.rpc(wallet).wallet(method, params).unwrap_or_else(|e| panic!("{method} on wallet {wallet}: {e}"))
    }

    fn rpc(&self, wallet: &str) -> NodeRpc {
        let secret = Credentials::Cookie(self.cookie()).read().unwrap();
        NodeRpc::new(&self.url, wallet, &secret, Duration::from_secs(60))
    }

    pub fn config_text(&self, replace: &[(&str, &str)]) -> String {
        let mut json = format!(
            r#"{{"rpc_url": "{}", "rpc_cookie_file": "{}", "wallet": "hot", "network": "regtest",
                "max_fee_rate_sat_vb": 50, "assets": {{"LTC": {{}}}}}}"#,
            self.url,
            self.cookie().display()
        );
        for (from, to) in replace {
            json = json.replace(from, to);
        }
        json
    }

    pub fn config(&self, dir: &Path, replace: &[(&str, &str)]) -> Result<UtxoConfig, String> {
        UtxoConfig::load(&self.config_file(dir, replace))
    }

    pub fn config_file(&self, dir: &Path, replace: &[(&str, &str)]) -> PathBuf {
        let path = dir.join(format!("ltc-{}.json", free_port()));
        std::fs::write(&path, self.config_text(replace)).unwrap();
        path
    }

    /// A wallet with 50 LTC of mature coins per 1 of `blocks` beyond 100.
    pub fn fund(&self, wallet: &str, blocks: u64) {
        let to = self.wallet(wallet, "getnewaddress", json!([]));
        self.cli("generatetoaddress", json!([blocks, to])).unwrap();
    }

    /// Mines `n` blocks with whatever waits in the mempool.
    pub fn mine(&self, n: u64) {
        let to = self.wallet("hot", "getnewaddress", json!([]));
        self.cli("generatetoaddress", json!([n, to])).unwrap();
    }

    /// Mines a block without any transaction of the mempool.
    pub fn mine_empty(&self) {
        let to = self.wallet("hot", "getnewaddress", json!([]));
        self.cli("generateblock", json!([to, []])).unwrap();
    }

    /// Sends `amount` from one of the node's wallets and broadcasts it (the wallets here never
    /// broadcast by themselves).
    pub fn send(&self, from: &str, to: &str, amount: &str) -> String {
        let txid = self.wallet(from, "sendtoaddress", json!([to, amount]));
        let hex = self.wallet(from, "gettransaction", json!([txid]))["hex"].clone();
        self.cli("sendrawtransaction", json!([hex])).unwrap();
        txid.as_str().unwrap().to_owned()
    }

    pub fn mempool(&self) -> Vec<String> {
        serde_json::from_value(self.cli("getrawmempool", json!([])).unwrap()).unwrap()
    }

    /// What `address` (of the `payees` wallet) received, in satoshis, by transaction: each
    /// (txid, vout, satoshis) counted once however many blocks deep.
    pub fn received(&self, address: &str) -> Vec<(String, u32, u64)> {
        let unspent = self.wallet("payees", "listunspent", json!([0, 9_999_999, [address]]));
        unspent
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let coins = format!("{:.8}", u["amount"].as_f64().unwrap());
                let (whole, frac) = coins.split_once('.').unwrap();
                let sat = whole.parse::<u64>().unwrap() * 100_000_000 + frac.parse::<u64>().unwrap();
                (u["txid"].as_str().unwrap().to_owned(), u["vout"].as_u64().unwrap() as u32, sat)
            })
            .collect()
    }
}

pub fn node_or_skip() -> Option<Node> {
    match litecoind() {
        Some(bin) => Some((0..5).find_map(|_| Node::launch(&bin)).expect("litecoind starts within five tries")),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but litecoind is missing: the UTXO rail would go untested")
        }
        None => {
            eprintln!("NOTICE: litecoind not found (Debian package litecoind): the UTXO rail tests are skipped");
            None
        }
    }
}

/// A fresh database with the demo organization and 1,000 LTC on its ledger.
pub struct Books {
    pub state: AppState,
    pub actor: Actor,
    pub manager: Actor,
    pub url: String,
    _db: TestDb,
}

impl Books {
    pub fn open(backend: Backend) -> Books {
        // This test process checks addresses as a server paying on this regtest node does.
        payouts::domain::address::accept_test_network("rltc");
        let (db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 2, Config::default(), None).unwrap();
        let mut conn = state.pool.get().unwrap();
        bootstrap::initialize(&mut conn, true, "", "").unwrap();
        let of = |email: &str, role| {
            let mut conn = state.pool.get().unwrap();
            Actor::of_user(payouts::db::users::find_by_email(&mut conn, email).unwrap().unwrap(), role)
        };
        let admin = of("admin@demo.local", Role::Admin);
        let form = ledger::DepositForm { asset: "LTC".into(), amount: "1000".into(), note: "regtest".into() };
        ledger::deposit(&mut conn, &admin, &form).unwrap();
        drop(conn);
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", url.target()),
            Backend::Postgres => url.target().to_owned(),
        };
        let actor = of("accountant@demo.local", Role::Accountant);
        let manager = of("manager@demo.local", Role::Manager);
        Books { state, actor, manager, url, _db: db }
    }

    /// Creates and queues an LTC payout of (address, amount) rows; returns its id.
    pub fn pay(&self, rows: &[(String, String)], key: &str) -> i64 {
        let asset = find("LTC").unwrap();
        let kind = if rows.len() == 1 { PayoutKind::Single } else { PayoutKind::Mass };
        let rows: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(n, (to, amount))| {
                Row::check(asset, n as u64 + 1, &RowInput { address: to, amount, ..Default::default() })
            })
            .collect();
        let mut conn = self.state.pool.get().unwrap();
        let draft = payout_service::price(&mut conn, &self.actor, kind, asset, "UTXO test", rows).unwrap();
        payout_service::create(&mut conn, &self.actor, &draft, key).unwrap().payout.id
    }

    pub fn status(&self, payout: i64) -> String {
        payouts::db::payouts::find(&mut self.state.pool.get().unwrap(), payout).unwrap().status.as_str().to_owned()
    }

    pub fn items(&self, payout: i64) -> Vec<payouts::db::payouts::ItemRow> {
        payouts::db::payouts::items(&mut self.state.pool.get().unwrap(), payout).unwrap()
    }

    /// Waits until every row of `payout` is in one of `statuses`, mining a block every 200 ms
    /// when `mining` (the regtest node mines only when asked).
    pub fn wait_rows(&self, node: &Node, payout: i64, statuses: &[&str], mining: bool) {
        let started = Instant::now();
        loop {
            let items = self.items(payout);
            if items.iter().all(|i| statuses.contains(&i.status.as_str())) {
                return;
            }
            let seen: Vec<&str> = items.iter().map(|i| i.status.as_str()).collect();
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "payout {payout}: rows {seen:?}, waiting for {statuses:?}"
            );
            if mining {
                node.mine(1);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn reserved_and_available(&self) -> (String, String) {
        let mut conn = self.state.pool.get().unwrap();
        let b = ledger::balance_of(&mut conn, self.actor.org_id, find("LTC").unwrap()).unwrap();
        (b.reserved.to_string(), b.available.to_string())
    }

    /// The rail as a server connects it, in this process: what its pages ask of it.
    pub fn rail(&self, config: &Path) -> std::sync::Arc<dyn payouts::rails::Rail> {
        connect_rail(&self.state.pool, "utxo", config)
    }

    /// The real server, paying through the chain config `config`.
    pub fn serve(&self, config: &Path, dir: &Path) -> Process {
        serve_on_chain(&self.url, "utxo", config, dir)
    }
}

/// `n` fresh addresses of the node's `payees` wallet (created on first use).
pub fn payees(node: &Node, n: usize) -> Vec<String> {
    if node.cli("listwallets", json!([])).unwrap().as_array().unwrap().iter().all(|w| w != "payees") {
        node.cli("createwallet", json!(["payees"])).unwrap();
    }
    (0..n).map(|_| node.wallet("payees", "getnewaddress", json!([])).as_str().unwrap().to_owned()).collect()
}

/// "0.00100000"-style text of `sat` satoshis, as a person would type the amount.
pub fn coins(sat: u64) -> String {
    format!("{}.{:08}", sat / 100_000_000, sat % 100_000_000)
}
