//! Sanctions screening at scale: a 1,000,000-line list imported (parsed, staged and put in force),
//! then 10,000 addresses screened against it (the 100 listed among them found), and the import's
//! hold on payout writers: the longest a one-row write waited while the import ran beside it.
//! Prints times on SQLite (a file, as the server uses it) and on PostgreSQL when
//! PAYOUTS_BENCH_PG_URL (default the local server) is reachable.
//!
//!     cargo bench --bench sanctions

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use payouts::db::{DatabaseUrl, DbConnection};
use payouts::service::compliance::{self, Importer};
use payouts::service::payouts::bootstrap;
use payouts::{AppState, Config};
use sha2::{Digest, Sha256};

const LISTED: usize = 1_000_000;
const SCREENED: usize = 10_000;
const FOUND: usize = 100;

fn evm(seed: &str, n: usize) -> String {
    let hex: String =
        Sha256::digest(format!("{seed}/{n}").as_bytes())[..20].iter().map(|b| format!("{b:02x}")).collect();
    payouts::domain::address::eip55(&hex)
}

fn measure(label: &str, url: &DatabaseUrl) {
    let state = AppState::open(url, 4, Config::default(), None).expect("open");
    bootstrap::initialize(&mut state.pool.get().unwrap(), true, "", "").unwrap();
    let list: String = (0..LISTED).map(|n| evm("listed", n) + "\n").collect();
    let now = payouts::clock::now();

    // A writer beside the import: one row at a time, each write's wait recorded.
    let importing = AtomicBool::new(true);
    let (imported, import_s, worst_write) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut conn = state.pool.get().unwrap();
            let (mut worst, mut n) = (Duration::ZERO, 0);
            while importing.load(Ordering::SeqCst) {
                let started = Instant::now();
                n += 1;
                payouts::db::settings::get_or_insert(&mut conn, &format!("bench.write.{n}"), "x").unwrap();
                worst = worst.max(started.elapsed());
                std::thread::sleep(Duration::from_millis(5));
            }
            worst
        });
        let started = Instant::now();
        let mut conn = state.pool.get().unwrap();
        let imported =
            compliance::import(&mut conn, Importer::System("bench"), "bench", "bench", list.as_bytes(), now).unwrap();
        let took = started.elapsed().as_secs_f64();
        importing.store(false, Ordering::SeqCst);
        (imported, took, writer.join().unwrap())
    });
    assert_eq!(imported.entries, LISTED);

    let mut screened: Vec<String> = (0..SCREENED - FOUND).map(|n| evm("clean", n)).collect();
    screened.extend((0..FOUND).map(|n| evm("listed", n * 9_973).to_ascii_lowercase()));
    let refs: Vec<&str> = screened.iter().map(String::as_str).collect();
    let mut conn = state.pool.get().unwrap();
    let conn: &mut DbConnection = &mut conn;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let found = compliance::listed(conn, &refs).unwrap();
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(found.iter().flatten().count(), FOUND);
    }
    println!(
        "{label:<9} import {LISTED} addresses: {import_s:.1} s (a one-row write beside it waited at most {} ms) | \
         screen {SCREENED} addresses ({FOUND} listed): {best:.0} ms",
        worst_write.as_millis()
    );
}

fn main() {
    support::on_both_databases("sanctions", measure);
}
