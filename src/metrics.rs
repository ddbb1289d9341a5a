//! What this process counts for Prometheus: requests by route, the processor's rows, the last
//! ledger check. Figures read from the database (backlogs, ages, balances) are set on each scrape
//! by `web::metrics`. One registry per process, as Prometheus scrapes each process.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    pub registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    rows: Family<Labels, Counter>,
    ledger_problems: Gauge,
    /// Set on each scrape from the database and the chains.
    pub scraped: Scraped,
}

pub type Figure = Family<Labels, Gauge<f64, AtomicU64>>;
pub type Single = Gauge<f64, AtomicU64>;

pub struct Scraped {
    pub rows_open: Figure,
    pub oldest_pending_approval: Single,
    pub oldest_open_row: Single,
    pub stuck_rows: Single,
    pub rows_held: Single,
    pub sanctions_list_age: Figure,
    pub webhook_deliveries: Figure,
    pub notifications: Figure,
    pub hot_wallet: Figure,
    pub pool: Figure,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "payouts_http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("payouts_http_request_duration_seconds", "Time to answer, by route", latency.clone());
        let rows = Family::<Labels, Counter>::default();
        registry.register(
            "payouts_processor_rows",
            "Payout rows this process's processors ended, by outcome",
            rows.clone(),
        );
        let ledger_problems = Gauge::default();
        ledger_problems.set(-1);
        registry.register(
            "payouts_ledger_problems",
            "Problems the last daily ledger check of this process found (-1: not run here yet)",
            ledger_problems.clone(),
        );
        let mut single = |name: &str, help: &str| {
            let g = Single::default();
            registry.register(name, help, g.clone());
            g
        };
        let oldest_pending_approval = single(
            "payouts_oldest_pending_approval_seconds",
            "Age of the oldest payout waiting for a manager (0: none)",
        );
        let oldest_open_row = single(
            "payouts_oldest_open_row_seconds",
            "Time since the least recently moved row in progress last changed (0: none)",
        );
        let stuck_rows = single(
            "payouts_stuck_rows",
            "Rows in progress unchanged for longer than --stuck-after-minutes, and rows needing review",
        );
        let rows_held = single(
            "payouts_rows_held_for_compliance",
            "Rows held because their address was on a sanctions list when they were about to be sent",
        );
        let mut figure = |name: &str, help: &str| {
            let f = Figure::default();
            registry.register(name, help, f.clone());
            f
        };
        let scraped = Scraped {
            oldest_pending_approval,
            oldest_open_row,
            stuck_rows,
            rows_held,
            sanctions_list_age: figure(
                "payouts_sanctions_list_age_seconds",
                "Time since each sanctions list in force was imported, by list",
            ),
            rows_open: figure("payouts_rows_open", "Payout rows not yet ended, by status (all organizations)"),
            webhook_deliveries: figure("payouts_webhook_deliveries", "Webhook deliveries waiting or failed, by status"),
            notifications: figure("payouts_notifications", "Emails and chat messages queued or failed, by status"),
            hot_wallet: figure("payouts_hot_wallet_balance", "Hot wallet balance on chain, by asset and address"),
            pool: figure("payouts_db_pool_connections", "Database connections of this process, by state"),
        };
        Metrics { registry, requests, latency, rows, ledger_problems, scraped }
    })
}

/// A request's method as a label: the standard methods by name, any other `other`, so made-up
/// methods cannot grow the label set.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    const STANDARD: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
    STANDARD.into_iter().find(|m| *m == method.as_str()).unwrap_or("other")
}

/// One answered request; `method` is a [`method_label`] and `route` the route's pattern
/// (`/payouts/{id}`), never the raw path, so the label set stays small whatever people send.
pub fn request(method: &'static str, route: &str, status: u16, seconds: f64) {
    let m = metrics();
    m.requests
        .get_or_create(&vec![
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ])
        .inc();
    m.latency.get_or_create(&vec![("route", route.to_owned())]).observe(seconds);
}

pub fn rows_ended(completed: usize, failed: usize) {
    let m = metrics();
    m.rows.get_or_create(&vec![("outcome", "completed".to_owned())]).inc_by(completed as u64);
    m.rows.get_or_create(&vec![("outcome", "failed".to_owned())]).inc_by(failed as u64);
}

pub fn ledger_checked(problems: usize) {
    metrics().ledger_problems.set(problems as i64);
}
