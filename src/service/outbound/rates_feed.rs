//! Exchange rates from a public price API, polled by one process at a time: CoinGecko's
//! `simple/price` and Kraken's public `Ticker`, in their documented response shapes. A reading
//! passes the outlier guard (`valuation::rates::record_provider`); an error, a timeout or an absurd
//! value records nothing, so the last good rate stays until it is stale.

use std::time::Duration;

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::clock::Clock;
use crate::db::{self, DbConnection};
use crate::domain::asset::Asset;
use crate::domain::fiat::{Currency, Rate};
use crate::domain::outbound::OutboundPolicy;
use crate::error::AppError;
use crate::service::access::org_settings;
use crate::service::valuation::rates;

pub use crate::config::rates::{Feed, Provider};

impl Provider {
    /// The provider's name for an asset's coin (None: it does not price it).
    fn coin(self, asset: &Asset) -> Option<&'static str> {
        let base = asset.code.split('_').next().unwrap_or(asset.code);
        match (self, base) {
            (Provider::CoinGecko, "BTC") => Some("bitcoin"),
            (Provider::CoinGecko, "LTC") => Some("litecoin"),
            (Provider::CoinGecko, "DOGE") => Some("dogecoin"),
            (Provider::CoinGecko, "ETH") => Some("ethereum"),
            (Provider::CoinGecko, "USDT") => Some("tether"),
            (Provider::CoinGecko, "USDC") => Some("usd-coin"),
            (Provider::CoinGecko, "TRX") => Some("tron"),
            (Provider::CoinGecko, "BNB") => Some("binancecoin"),
            (Provider::CoinGecko, "POL") => Some("polygon-ecosystem-token"),
            (Provider::CoinGecko, "SOL") => Some("solana"),
            (Provider::Kraken, "BTC") => Some("XBT"),
            (Provider::Kraken, "DOGE") => Some("XDG"),
            (Provider::Kraken, "LTC") => Some("LTC"),
            (Provider::Kraken, "ETH") => Some("ETH"),
            (Provider::Kraken, "USDT") => Some("USDT"),
            (Provider::Kraken, "USDC") => Some("USDC"),
            (Provider::Kraken, "TRX") => Some("TRX"),
            (Provider::Kraken, "POL") => Some("POL"),
            (Provider::Kraken, "SOL") => Some("SOL"),
            _ => None,
        }
    }
}

/// One reading: (asset, currency, rate).
pub type Readings = Vec<(&'static Asset, &'static Currency, Rate)>;

/// A value the provider sent for a pair that is no believable rate (zero, negative, absurd, not
/// a number): left out, with why, while the other pairs are recorded.
fn refuse(name: &str, why: String) {
    tracing::warn!(pair = name, reason = %why, "a provider's value was refused");
}

/// Asks the provider for every pair at once; the pairs it does not answer are left out. An
/// answer that is not the documented shape is an error naming what was wrong.
pub fn fetch(
    agent: &ureq::Agent,
    feed: &Feed,
    pairs: &[(&'static Asset, &'static Currency)],
) -> Result<Readings, String> {
    let base = feed.base.as_str().trim_end_matches('/');
    match feed.provider {
        Provider::CoinGecko => {
            let mut ids: Vec<&str> = pairs.iter().filter_map(|(a, _)| feed.provider.coin(a)).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut currencies: Vec<String> = pairs.iter().map(|(_, c)| c.code.to_ascii_lowercase()).collect();
            currencies.sort_unstable();
            currencies.dedup();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let url =
                format!("{base}/api/v3/simple/price?ids={}&vs_currencies={}", ids.join(","), currencies.join(","));
            let mut request = agent.get(&url);
            if let Some(key) = &feed.api_key {
                let header = if feed.base.host_str().is_some_and(|h| h.starts_with("pro-api")) {
                    "x-cg-pro-api-key"
                } else {
                    "x-cg-demo-api-key"
                };
                request = request.header(header, key);
            }
            let body = read(request.call())?;
            let mut out = Vec::new();
            for (asset, currency) in pairs {
                let Some(id) = feed.provider.coin(asset) else { continue };
                let value = &body[id][currency.code.to_ascii_lowercase()];
                match number(value) {
                    Some(Ok(rate)) => out.push((*asset, *currency, rate)),
                    Some(Err(why)) => refuse(&format!("{id}/{}", currency.code), why),
                    None => {}
                }
            }
            Ok(out)
        }
        Provider::Kraken => {
            let mut wanted: Vec<(String, &'static Asset, &'static Currency)> = pairs
                .iter()
                .filter_map(|(a, c)| feed.provider.coin(a).map(|coin| (format!("{coin}{}", c.code), *a, *c)))
                .collect();
            wanted.sort_by(|x, y| x.0.cmp(&y.0));
            wanted.dedup_by(|x, y| x.0 == y.0 && x.1.code == y.1.code);
            if wanted.is_empty() {
                return Ok(Vec::new());
            }
            let mut names: Vec<&str> = wanted.iter().map(|(n, _, _)| n.as_str()).collect();
            names.dedup();
            let url = format!("{base}/0/public/Ticker?pair={}", names.join(","));
            let body = read(agent.get(&url).call())?;
            if let Some(errors) = body["error"].as_array().filter(|e| !e.is_empty()) {
                let said: Vec<String> = errors.iter().filter_map(|e| e.as_str()).map(excerpt).collect();
                return Err(format!("Kraken answered errors: {}", said.join("; ")));
            }
            let result = body["result"].as_object().ok_or("Kraken's answer has no result object")?;
            let mut out = Vec::new();
            for (name, asset, currency) in wanted {
                let coin = feed.provider.coin(asset).unwrap_or_default();
                let legacy = [name.clone(), format!("X{coin}Z{}", currency.code), format!("{coin}Z{}", currency.code)];
                let Some(ticker) = legacy.iter().find_map(|k| result.get(k)) else { continue };
                // "c": the last trade closed, [price, lot volume], prices as decimal strings.
                let Some(price) = ticker["c"][0].as_str() else {
                    return Err(format!("Kraken's ticker for {name} has no last price"));
                };
                match Rate::parse(price) {
                    Ok(rate) => out.push((asset, currency, rate)),
                    Err(why) => refuse(&name, why),
                }
            }
            Ok(out)
        }
    }
}

fn read(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value, String> {
    let mut response = response.map_err(|e| excerpt(&e.to_string()))?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(1024 * 1024).read_to_string().map_err(|e| e.to_string())?;
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}: {}", excerpt(&text)));
    }
    serde_json::from_str(&text).map_err(|e| format!("the answer is not JSON: {e}"))
}

/// A JSON number as an exact rate: its decimal text as sent (None when absent or null).
fn number(value: &Value) -> Option<Result<Rate, String>> {
    match value {
        Value::Null => None,
        Value::Number(n) => Some(Rate::parse(&n.to_string())),
        other => Some(Err(format!("{} is not a price", excerpt(&other.to_string())))),
    }
}

fn excerpt(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The pairs the organizations need: their enabled assets in their reporting currency.
pub fn pairs_needed(conn: &mut DbConnection) -> Result<Vec<(&'static Asset, &'static Currency)>, AppError> {
    let mut pairs = Vec::new();
    for org in db::orgs::list(conn)? {
        let currency = rates::reporting(conn, org.id)?.currency;
        for asset in org_settings::enabled_assets(conn, org.id)? {
            pairs.push((asset, currency));
        }
    }
    pairs.sort_by_key(|(a, c)| (a.code, c.code));
    pairs.dedup_by_key(|(a, c)| (a.code, c.code));
    Ok(pairs)
}

/// One poll: fetches every needed pair and records each reading; returns (accepted, held).
pub fn poll(
    conn: &mut DbConnection,
    agent: &ureq::Agent,
    feed: &Feed,
    at: NaiveDateTime,
) -> Result<(usize, usize), String> {
    let pairs = pairs_needed(conn).map_err(|e| e.to_string())?;
    let readings = fetch(agent, feed, &pairs)?;
    let (mut accepted, mut held) = (0, 0);
    for (asset, currency, rate) in readings {
        match rates::record_provider(conn, asset, currency, rate, feed.provider.name(), feed.outlier_percent, at) {
            Ok(rates::Reading::Accepted) => accepted += 1,
            Ok(rates::Reading::Held) => {
                held += 1;
                tracing::warn!(asset = asset.code, currency = currency.code, %rate, "a rate moved beyond the outlier limit; held for a second reading");
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    db::rates::purge_provider(conn, at - chrono::Duration::days(30)).map_err(|e| e.to_string())?;
    Ok((accepted, held))
}

/// The HTTP client for the provider the operator configured: its own timeout, no redirects.
pub fn agent(feed: &Feed) -> ureq::Agent {
    super::net::agent(feed.timeout, OutboundPolicy::permissive())
}

/// Polls every `feed.interval`, one process at a time (the first to mark the interval polls).
pub fn spawn(pool: db::Pool, feed: Feed, clock: Clock) {
    std::thread::Builder::new()
        .name("rates".into())
        .spawn(move || {
            let agent = agent(&feed);
            let secs = feed.interval.as_secs().max(10) as i64;
            loop {
                let at = clock.now();
                let result = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
                    let mark = format!("rates:{}", at.and_utc().timestamp() / secs);
                    if db::notices::mark_once(&mut conn, &mark, at).map_err(|e| e.to_string())? {
                        poll(&mut conn, &agent, &feed, at).map(|_| ())
                    } else {
                        Ok(())
                    }
                });
                if let Err(e) = result {
                    tracing::warn!(provider = feed.provider.name(), error = %e, "reading exchange rates failed; the last good rates stay until stale");
                }
                std::thread::sleep(Duration::from_secs(5));
            }
        })
        .expect("the rates thread starts");
}
