//! Registry parse + full validation of generated 100,000-row files, beside a raw `csv` parse
//! of the same bytes. Criterion measures each; a closing pass prints rows/s and the ratio.
//!
//!     cargo bench --bench registry

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use payouts::domain::address::eip55;
use payouts::domain::asset::{self, Asset};
use payouts::domain::registry::{self, Limits};

const ROWS: usize = 100_000;

// The server's allocator, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A deterministic byte stream (xorshift), enough to make distinct addresses.
struct Bytes(u64);

impl Bytes {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for b in out.iter_mut() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
        out
    }
}

fn base58check(version: u8, hash: [u8; 20]) -> String {
    let mut payload = vec![version];
    payload.extend(hash);
    bs58::encode(payload).with_check().into_string()
}

fn btc(bytes: &mut Bytes, i: usize) -> String {
    if i.is_multiple_of(2) {
        base58check(0x00, bytes.take())
    } else {
        bech32::segwit::encode_v0(bech32::hrp::BC, &bytes.take::<20>()).unwrap()
    }
}

fn evm(bytes: &mut Bytes) -> String {
    eip55(&hex::encode(bytes.take::<20>()))
}

fn tron(bytes: &mut Bytes) -> String {
    base58check(0x41, bytes.take())
}

/// `kind`: "btc", "evm", "tron", or "mixed" (the three in turn).
fn registry_file(kind: &str) -> Vec<u8> {
    let mut bytes = Bytes(0x9E37_79B9_7F4A_7C15);
    let mut out = String::from("address,amount,comment,reference\n");
    for i in 0..ROWS {
        let address = match (kind, i % 3) {
            ("btc", _) | ("mixed", 0) => btc(&mut bytes, i),
            ("evm", _) | ("mixed", 1) => evm(&mut bytes),
            _ => tron(&mut bytes),
        };
        out.push_str(&format!("{address},{}.{:02},Salary {i},REF-{i}\n", 1 + i % 5000, i % 100));
    }
    out.into_bytes()
}

fn raw_csv(data: &[u8]) -> usize {
    let mut reader = csv::Reader::from_reader(data);
    let mut record = csv::StringRecord::new();
    let mut n = 0;
    while reader.read_record(&mut record).unwrap() {
        n += record.len();
    }
    n
}

fn validate(data: &[u8], asset: &'static Asset) -> usize {
    let limits = Limits { max_rows: ROWS, max_bytes: 64 << 20 };
    registry::parse(data, asset, &limits).unwrap().rows.iter().filter(|r| r.is_valid()).count()
}

fn cases() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("btc", "BTC", registry_file("btc")),
        ("evm", "USDT_ERC20", registry_file("evm")),
        ("tron", "USDT_TRC20", registry_file("tron")),
        // Two rows in three belong to another network: the worst case, where each such row is
        // also tried against every other address family to say which network it is for.
        ("mixed", "USDT_ERC20", registry_file("mixed")),
    ]
}

fn median_secs(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2].as_secs_f64()
}

fn main() {
    let cases = cases();
    let mut criterion = Criterion::default().sample_size(10).configure_from_args();
    let mut group = criterion.benchmark_group("registry_100k");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, code, data) in &cases {
        let asset = asset::find(code).unwrap();
        group.bench_function(format!("raw_csv/{name}"), |b| b.iter(|| raw_csv(black_box(data))));
        group.bench_function(format!("validate/{name}"), |b| b.iter(|| validate(black_box(data), asset)));
    }
    group.finish();
    criterion.final_summary();

    println!(
        "\n{:<7} {:>11} {:>14} {:>14} {:>8} {:>7}",
        "file", "asset", "raw csv rows/s", "validated/s", "ratio", "valid"
    );
    for (name, code, data) in &cases {
        let asset = asset::find(code).unwrap();
        let raw = median_secs(
            || {
                black_box(raw_csv(data));
            },
            5,
        );
        let full = median_secs(
            || {
                black_box(validate(data, asset));
            },
            5,
        );
        println!(
            "{name:<7} {code:>11} {:>14.0} {:>14.0} {:>7.1}x {:>7}",
            ROWS as f64 / raw,
            ROWS as f64 / full,
            full / raw,
            validate(data, asset)
        );
    }
}
