//! What the Solana rail tests share besides the network: a relay in front of its JSON-RPC that
//! can swallow `sendTransaction` (a send lost between the server and the network, as when the
//! server dies right after storing a transaction), a database with the demo organization and
//! SOL and USDC on its ledger, and the real server paying through the relay.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use payouts::db::Backend;
use payouts::domain::account::Role;
use payouts::domain::asset::find;
use payouts::domain::payout::PayoutKind;
use payouts::domain::registry::{Row, RowInput};
use payouts::service::access::Actor;
use payouts::service::payouts as payout_service;
use payouts::service::payouts::{bootstrap, ledger};
use payouts::{AppState, Config};
use solana_pubkey::Pubkey;

use crate::common::{Process, TestDb, connect_rail, free_port, serve_on_chain};

/// A relay to the network's JSON-RPC; while `swallow` is set, a `sendTransaction` is dropped
/// unanswered (the connection closed), so the server cannot tell whether it arrived.
pub struct Relay {
    pub url: String,
    pub swallow: Arc<AtomicBool>,
    /// `sendTransaction` calls dropped so far.
    pub swallowed: Arc<AtomicUsize>,
}

impl Relay {
    pub fn start(upstream: &str) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let swallow = Arc::new(AtomicBool::new(false));
        let swallowed = Arc::new(AtomicUsize::new(0));
        let (flag, count, upstream) = (swallow.clone(), swallowed.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (flag, count, upstream) = (flag.clone(), count.clone(), upstream.clone());
                std::thread::spawn(move || relay_one(stream, &upstream, &flag, &count));
            }
        });
        Relay { url, swallow, swallowed }
    }
}

fn relay_one(mut stream: std::net::TcpStream, upstream: &str, swallow: &AtomicBool, swallowed: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    if body.contains("\"sendTransaction\"") && swallow.load(Ordering::SeqCst) {
        swallowed.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let answer = ureq::post(upstream)
        .header("content-type", "application/json")
        .send(&body)
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok());
    let Some(answer) = answer else { return };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// A fresh database with the demo organization and SOL and USDC_SOL on its ledger.
pub struct Books {
    pub state: AppState,
    pub actor: Actor,
    pub url: String,
    _db: TestDb,
}

impl Books {
    pub fn open(backend: Backend) -> Books {
        let (db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 2, Config::default(), None).unwrap();
        let mut conn = state.pool.get().unwrap();
        bootstrap::initialize(&mut conn, true, "", "").unwrap();
        let of = |email: &str, role| {
            let mut conn = state.pool.get().unwrap();
            Actor::of_user(payouts::db::users::find_by_email(&mut conn, email).unwrap().unwrap(), role)
        };
        let admin = of("admin@demo.local", Role::Admin);
        for (asset, amount) in [("SOL", "500"), ("USDC_SOL", "100000")] {
            let form = ledger::DepositForm { asset: asset.into(), amount: amount.into(), note: "local network".into() };
            ledger::deposit(&mut conn, &admin, &form).unwrap();
        }
        drop(conn);
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", url.target()),
            Backend::Postgres => url.target().to_owned(),
        };
        let actor = of("accountant@demo.local", Role::Accountant);
        Books { state, actor, url, _db: db }
    }

    /// Creates and queues a payout of `asset` paying (owner, amount) rows; returns its id.
    pub fn pay(&self, asset: &str, rows: &[(Pubkey, String)], key: &str) -> i64 {
        let asset = find(asset).unwrap();
        let kind = if rows.len() == 1 { PayoutKind::Single } else { PayoutKind::Mass };
        let addresses: Vec<String> = rows.iter().map(|(to, _)| to.to_string()).collect();
        let rows: Vec<Row> = rows
            .iter()
            .zip(&addresses)
            .enumerate()
            .map(|(n, ((_, amount), to))| {
                Row::check(asset, n as u64 + 1, &RowInput { address: to, amount, ..Default::default() })
            })
            .collect();
        let mut conn = self.state.pool.get().unwrap();
        let draft = payout_service::price(&mut conn, &self.actor, kind, asset, "Solana test", rows).unwrap();
        payout_service::create(&mut conn, &self.actor, &draft, key).unwrap().payout.id
    }

    pub fn status(&self, payout: i64) -> String {
        payouts::db::payouts::find(&mut self.state.pool.get().unwrap(), payout).unwrap().status.as_str().to_owned()
    }

    pub fn items(&self, payout: i64) -> Vec<payouts::db::payouts::ItemRow> {
        payouts::db::payouts::items(&mut self.state.pool.get().unwrap(), payout).unwrap()
    }

    /// Waits until every row of `payout` is in one of `statuses`.
    pub fn wait_rows(&self, payout: i64, statuses: &[&str]) {
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
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The stored transactions: (signature, version, last valid height).
    pub fn stored(&self) -> Vec<(String, i32, i64)> {
        use diesel::prelude::*;
        use payouts::db::schema::solana_transactions::dsl as t;
        let mut conn = self.state.pool.get().unwrap();
        t::solana_transactions
            .select((t::signature, t::version, t::last_valid_height))
            .order(t::created_at.asc())
            .load::<(String, i32, i64)>(&mut **conn)
            .unwrap()
    }

    pub fn reserved(&self, asset: &str) -> String {
        let mut conn = self.state.pool.get().unwrap();
        ledger::balance_of(&mut conn, self.actor.org_id, find(asset).unwrap()).unwrap().reserved.to_string()
    }

    /// The rail as a server connects it, in this process: what its pages ask of it.
    pub fn rail(&self, config: &Path) -> std::sync::Arc<dyn payouts::rails::Rail> {
        connect_rail(&self.state.pool, "solana", config)
    }

    /// The real server, paying through the chain config `config`.
    pub fn serve(&self, config: &Path, dir: &Path) -> Process {
        serve_on_chain(&self.url, "solana", config, dir)
    }
}

/// A chain config paying SOL and USDC_SOL (`mint`) from the network's payer through `rpc_url`.
pub fn config_file(dir: &Path, rpc_url: &str, keypair: &Path, mint: &Pubkey, extra: &str) -> PathBuf {
    let path = dir.join(format!("solana-{}.json", free_port()));
    let json = format!(
        r#"{{"rpc_url": "{rpc_url}", "keypair_file": "{}", {extra}
            "assets": {{"SOL": {{}}, "USDC_SOL": {{"mint": "{mint}", "decimals": 6}}}}}}"#,
        keypair.display()
    );
    std::fs::write(&path, json).unwrap();
    path
}
