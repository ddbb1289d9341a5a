//! The lookalike check of a 10,000-row registry against an organization that knows 100,000
//! addresses (its payee book): the key-index lookup alone, and the address flags the editor and
//! the review compute (first payments, changed addresses and lookalikes together). Prints times
//! on SQLite (a file, as the server uses it) and on PostgreSQL when PAYOUTS_BENCH_PG_URL (default
//! the local server) is reachable.
//!
//!     cargo bench --bench lookalikes

mod support;

use std::time::Instant;

use diesel::prelude::*;
use payouts::db::{self, DatabaseUrl, DbConnection};
use payouts::domain::payee::AddressStatus;
use payouts::service::payees::lookalike;
use payouts::service::payouts::bootstrap;
use payouts::{AppState, Config};
use sha2::{Digest, Sha256};

const KNOWN: usize = 100_000;
const ROWS: usize = 10_000;
const LOOKALIKES: usize = 10;

fn hex(seed: &str, n: usize) -> String {
    Sha256::digest(format!("{seed}/{n}").as_bytes())[..20].iter().map(|b| format!("{b:02x}")).collect()
}

fn evm(hex: &str) -> String {
    payouts::domain::address::eip55(hex)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64() * 1000.0)
}

fn measure(label: &str, url: &DatabaseUrl) {
    let state = AppState::open(url, 2, Config::default(), None).expect("open");
    let mut pooled = state.pool.get().unwrap();
    let conn: &mut DbConnection = &mut pooled;
    bootstrap::initialize(conn, true, "", "").unwrap();
    let org = db::orgs::find_by_name(conn, bootstrap::DEMO_ORG).unwrap().unwrap().id;
    let accountant = db::users::find_by_email(conn, "accountant@demo.local").unwrap().unwrap();
    let payee = db::payees::insert(
        conn,
        &db::payees::NewPayeeRow {
            org_id: org,
            name: "Bench payee",
            email: "",
            external_id: "",
            notes: "",
            archived: false,
            created_by: accountant.id,
            created_at: payouts::clock::now(),
            updated_at: payouts::clock::now(),
            tags: "",
        },
    )
    .unwrap();
    let known: Vec<String> = (0..KNOWN).map(|n| evm(&hex("known", n))).collect();
    let (_, book_ms) = timed(|| {
        db::write_tx(conn, |conn| -> Result<(), db::DbError> {
            for chunk in known.chunks(500) {
                let rows: Vec<db::payees::NewPayeeAddressRow> = chunk
                    .iter()
                    .map(|a| db::payees::NewPayeeAddressRow {
                        org_id: org,
                        payee_id: payee.id,
                        network: "Ethereum",
                        address: a,
                        status: AddressStatus::Approved,
                        entered_by: Some(accountant.id),
                        entered_at: payouts::clock::now(),
                        reason: "",
                        submitted_by_payee: false,
                        proof: None,
                    })
                    .collect();
                let insert = diesel::insert_into(db::schema::payee_addresses::table).values(rows);
                match conn {
                    DbConnection::Sqlite(c) => insert.execute(c)?,
                    DbConnection::Postgres(c) => insert.execute(c)?,
                };
            }
            Ok(())
        })
        .unwrap()
    });
    let refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let (_, index_ms) = timed(|| db::write_tx(conn, |conn| lookalike::remember(conn, org, &refs)).unwrap());
    let keys: i64 = db::schema::address_keys::table.count().get_result(conn).unwrap();

    // A registry of new addresses, ten of them made to share a known address's ends.
    let mut rows: Vec<String> = (0..ROWS - LOOKALIKES).map(|n| evm(&hex("new", n))).collect();
    for n in 0..LOOKALIKES {
        let twin = known[n * 997].to_ascii_lowercase();
        let middle = &hex("middle", n)[4..36];
        rows.push(evm(&format!("{}{middle}{}", &twin[2..6], &twin[38..])));
    }
    let lines: Vec<(u64, &str)> = rows.iter().enumerate().map(|(i, a)| (i as u64 + 1, a.as_str())).collect();
    let (found, new_ms) = timed(|| lookalike::find(conn, org, &lines).unwrap());
    assert_eq!(found.len(), LOOKALIKES, "every planted lookalike is found, and nothing else");
    let (_, again_ms) = timed(|| lookalike::find(conn, org, &lines).unwrap());

    // A repeated payroll: every row an address of the book.
    let repeat: Vec<(u64, &str)> = known[..ROWS].iter().enumerate().map(|(i, a)| (i as u64 + 1, a.as_str())).collect();
    let (none, known_ms) = timed(|| lookalike::find(conn, org, &repeat).unwrap());
    assert!(none.is_empty());

    let actor = payouts::service::access::Actor::of_user(accountant, payouts::domain::account::Role::Accountant);
    let asset = payouts::domain::asset::find("USDT_ERC20").unwrap();
    let (flags, flags_ms) = timed(|| payouts::service::payees::address_flags(conn, &actor, asset, &lines).unwrap());
    assert_eq!(flags.lookalikes, LOOKALIKES);

    println!(
        "{label:<9} book of {KNOWN} addresses inserted in {book_ms:>7.0} ms; indexed under {keys} keys in {index_ms:>7.0} ms"
    );
    println!(
        "{label:<9} {ROWS} new rows ({LOOKALIKES} lookalikes): lookup {new_ms:>6.1} ms first, {again_ms:>6.1} ms again; \
         all address flags {flags_ms:>6.1} ms"
    );
    println!("{label:<9} {ROWS} rows all in the book (repeat payroll): lookup {known_ms:>6.1} ms");
}

fn main() {
    support::on_both_databases("look", measure);
}
