//! Payouts → Export for accounting: one balanced journal entry per payout and month, from the
//! fiat values recorded when its rows were paid (never recomputed), booked to the accounts the
//! organization mapped in Settings → Accounting. A payout whose rows were paid without a current
//! rate cannot be valued: it is left out and named, never guessed.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use crate::db::values::ItemValueRow;
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::fiat::{self, Currency};
use crate::domain::journal::{Entry, Line};
use crate::domain::registry::check_text;
use crate::domain::{Amount, FieldErrors};
use crate::error::{AppError, stored_amount};
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry as AuditEntry};

/// Where each kind of line is booked: account codes (Xero) or names (QuickBooks).
#[derive(Debug, Clone)]
pub struct Mapping {
    /// The expense (or payables) account the rows' values are debited to.
    pub expense: String,
    /// Per purpose: a payout whose description contains the text (any case) is debited to the
    /// account instead, the first rule that matches winning.
    pub purposes: Vec<(String, String)>,
    pub service_fee: String,
    pub network_fee: String,
    /// Xero asks for a tax rate's name on every line.
    pub tax_rate: String,
    /// The crypto asset account of each enabled asset (and each network's coin).
    pub assets: Vec<(&'static Asset, String)>,
}

const MAX_ACCOUNT_CHARS: usize = 100;

fn asset_default(a: &Asset) -> String {
    format!("Crypto assets — {}", a.code)
}

/// The month (`YYYY-MM`, in the organization's zone) of its latest paid row: what the export
/// opens on, so that it shows activity rather than an empty previous month.
pub fn latest_paid_month(conn: &mut DbConnection, org_id: i64) -> Result<Option<String>, AppError> {
    let zone = crate::service::access::org_settings::time_zone(conn, org_id)?;
    Ok(db::values::last_paid_at(conn, org_id)?.map(|t| zone.local(t).format("%Y-%m").to_string()))
}

/// Whether an admin set any account under Settings → Accounting (else the files carry the
/// default names, which a ledger expecting account codes refuses).
pub fn accounts_set(conn: &mut DbConnection, org_id: i64) -> Result<bool, AppError> {
    Ok(!db::values::accounts(conn, org_id)?.is_empty())
}

pub fn mapping(conn: &mut DbConnection, org_id: i64) -> Result<Mapping, AppError> {
    let saved: HashMap<String, String> = db::values::accounts(conn, org_id)?.into_iter().collect();
    let get = |key: &str, default: &str| saved.get(key).cloned().unwrap_or_else(|| default.to_owned());
    let mut assets: Vec<&'static Asset> = crate::service::access::org_settings::enabled_assets(conn, org_id)?;
    // Gas is paid in the network's coin, which then needs an account too.
    for coin in assets
        .clone()
        .iter()
        .filter_map(|a| asset::ASSETS.iter().find(|c| c.network == a.network && !c.code.contains('_')))
    {
        if !assets.iter().any(|a| a.code == coin.code) {
            assets.push(coin);
        }
    }
    Ok(Mapping {
        expense: get("expense", "Crypto payouts"),
        purposes: {
            let mut rules: Vec<(String, String)> =
                saved.iter().filter_map(|(k, v)| Some((k.strip_prefix("purpose:")?.to_owned(), v.clone()))).collect();
            // Stored as a map; kept in the order they were typed by a numbered prefix.
            rules.sort();
            rules.into_iter().filter_map(|(k, v)| Some((k.split_once(':')?.1.to_owned(), v))).collect()
        },
        service_fee: get("service_fee", "Payout service fees"),
        network_fee: get("network_fee", "Network fees"),
        tax_rate: get("tax_rate", "Tax Exempt"),
        assets: assets
            .into_iter()
            .map(|a| (a, saved.get(&format!("asset:{}", a.code)).cloned().unwrap_or_else(|| asset_default(a))))
            .collect(),
    })
}

impl Mapping {
    /// The account a payout's rows are debited to.
    fn expense_for(&self, description: &str) -> String {
        let d = description.to_lowercase();
        self.purposes
            .iter()
            .find(|(text, _)| d.contains(&text.to_lowercase()))
            .map_or_else(|| self.expense.clone(), |(_, account)| account.clone())
    }

    /// The per-purpose rules as the settings field shows them: `text = account`, one per line.
    pub fn purposes_text(&self) -> String {
        self.purposes.iter().map(|(t, a)| format!("{t} = {a}")).collect::<Vec<_>>().join("\n")
    }

    fn asset_account(&self, a: &Asset) -> String {
        self.assets.iter().find(|(x, _)| x.code == a.code).map_or_else(|| asset_default(a), |(_, acc)| acc.clone())
    }
}

/// Settings → Accounting: every account as typed (`expense`, `service_fee`, `network_fee`,
/// `tax_rate`, `asset:CODE`), checked, all or nothing, audited.
pub fn save_mapping(conn: &mut DbConnection, actor: &Actor, fields: &HashMap<String, String>) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let current = mapping(conn, actor.org_id)?;
    let mut keys: Vec<String> = ["expense", "service_fee", "network_fee", "tax_rate"].map(String::from).to_vec();
    keys.extend(current.assets.iter().map(|(a, _)| format!("asset:{}", a.code)));
    let mut errors = FieldErrors::new();
    let mut rows = Vec::new();
    for key in keys {
        let value = fields.get(&key).map(|v| v.trim()).unwrap_or_default();
        if value.is_empty() {
            errors.add(&key, "Enter an account (its code for Xero, its name for QuickBooks).");
        } else if let Err(e) = check_text(value, MAX_ACCOUNT_CHARS) {
            errors.add(&key, e);
        } else {
            rows.push((key, value.to_owned()));
        }
    }
    let purposes = fields.get("purposes").map(String::as_str).unwrap_or_default();
    match parse_purposes(purposes) {
        Ok(rules) => rows.extend(
            rules.into_iter().enumerate().map(|(n, (text, account))| (format!("purpose:{n:03}:{text}"), account)),
        ),
        Err(e) => errors.add("purposes", e),
    }
    errors.into_result(())?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        db::values::save_accounts(conn, actor.org_id, &rows)?;
        audit::record(conn, AuditEntry::by(actor, "accounting.mapping_changed", "organization", actor.org_id), at)?;
        Ok(())
    })
}

/// At most this many per-purpose rules.
const MAX_PURPOSES: usize = 50;

/// `text = account` lines, blank lines skipped; a bad line is named.
fn parse_purposes(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |why: &str| format!("Line {}: {why}", n + 1);
        let (purpose, account) =
            line.split_once('=').ok_or_else(|| bad("write it as text = account, like Salaries = 6010."))?;
        let (purpose, account) = (purpose.trim(), account.trim());
        if purpose.is_empty() || account.is_empty() {
            return Err(bad("write it as text = account, like Salaries = 6010."));
        }
        check_text(purpose, MAX_ACCOUNT_CHARS).map_err(|e| bad(&e))?;
        check_text(account, MAX_ACCOUNT_CHARS).map_err(|e| bad(&e))?;
        rules.push((purpose.to_owned(), account.to_owned()));
        if rules.len() > MAX_PURPOSES {
            return Err(format!("At most {MAX_PURPOSES} purposes."));
        }
    }
    Ok(rules)
}

/// One payout whose rows paid in the period cannot be booked, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub payout_id: i64,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Journal {
    pub month: String,
    pub entries: Vec<Entry>,
    pub skipped: Vec<Skipped>,
}

/// Lines Xero imports from one file at most.
pub const XERO_MAX_LINES: usize = 300;

impl Journal {
    pub fn lines(&self) -> usize {
        self.entries.iter().map(|e| e.lines.len()).sum()
    }
}

/// The first instant of a month `YYYY-MM` in the organization's zone and the first of the next,
/// in UTC.
fn month_bounds(month: &str, zone: crate::domain::zone::Zone) -> Result<(NaiveDateTime, NaiveDateTime), FieldErrors> {
    let bad = || FieldErrors::single("month", "Choose a month, like 2026-11.");
    let (y, m) = month.trim().split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let first = NaiveDate::from_ymd_opt(y, m, 1).filter(|_| (2000..=2100).contains(&y)).ok_or_else(bad)?;
    let next = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1) } else { NaiveDate::from_ymd_opt(y, m + 1, 1) }
        .ok_or_else(bad)?;
    let utc = |d: NaiveDate| {
        zone.to_utc(d.and_hms_opt(0, 0, 0).expect("midnight")).map_err(|e| FieldErrors::single("month", e))
    };
    Ok((utc(first)?, utc(next)?))
}

/// The journal of a month: an entry per payout with rows paid in it. `per_row` debits each row
/// on its own line instead of one line per payout.
pub fn journal(conn: &mut DbConnection, actor: &Actor, month: &str, per_row: bool) -> Result<Journal, AppError> {
    let zone = crate::service::access::org_settings::time_zone(conn, actor.org_id)?;
    let (from, to) = month_bounds(month, zone)?;
    let map = mapping(conn, actor.org_id)?;
    let mut by_payout: BTreeMap<i64, Vec<ItemValueRow>> = BTreeMap::new();
    for row in db::values::paid_between(conn, actor.org_id, from, to)? {
        by_payout.entry(row.payout_id).or_default().push(row);
    }
    let (mut entries, mut skipped) = (Vec::new(), Vec::new());
    for (payout_id, rows) in by_payout {
        let payout = db::payouts::find_in_org(conn, actor.org_id, payout_id)?.ok_or(AppError::NotFound)?;
        let asset = asset::find(&payout.asset)
            .ok_or_else(|| AppError::Internal(format!("unknown stored asset {}", payout.asset)))?;
        let items: HashMap<i32, crate::db::payouts::ItemRow> =
            db::payouts::items(conn, payout_id)?.into_iter().map(|i| (i.line, i)).collect();
        match entry_of(&payout, asset, &rows, &items, &map, zone, per_row, month) {
            Ok(e) => entries.push(e),
            Err(reason) => skipped.push(Skipped { payout_id, reason }),
        }
    }
    Ok(Journal { month: month.trim().to_owned(), entries, skipped })
}

#[allow(clippy::too_many_arguments)]
fn entry_of(
    payout: &crate::db::payouts::PayoutRow,
    asset: &'static Asset,
    rows: &[ItemValueRow],
    items: &HashMap<i32, crate::db::payouts::ItemRow>,
    map: &Mapping,
    zone: crate::domain::zone::Zone,
    per_row: bool,
    month: &str,
) -> Result<Entry, String> {
    let code = rows[0].paid_currency.clone().unwrap_or_default();
    let currency: &'static Currency = fiat::currency(&code).ok_or("no reporting currency was recorded")?;
    let minor = |text: &Option<String>| text.as_deref().and_then(|t| t.parse::<i128>().ok());
    let mut lines = Vec::new();
    let (mut credit, mut fees, mut network) = (0i128, 0i128, BTreeMap::<&'static str, (i128, Amount)>::new());
    let (mut crypto, mut paid_total) = (Amount::zero(asset), 0i128);
    let mut rates: Vec<String> = Vec::new();
    for r in rows {
        if r.paid_currency.as_deref() != Some(currency.code) {
            return Err("its rows were valued in different reporting currencies".into());
        }
        let (Some(value), Some(fee)) = (minor(&r.paid_fiat), minor(&r.fee_fiat)) else {
            return Err(format!("line {} was paid without a current {} rate in {}", r.line, asset.code, currency.code));
        };
        let item = items.get(&r.line).ok_or("a row is missing")?;
        let amount = stored_amount(asset, &item.amount).map_err(|e| e.to_string())?;
        let rate = r.paid_rate.clone().unwrap_or_default();
        if !rates.contains(&rate) {
            rates.push(rate.clone());
        }
        if let (Some(n_asset), Some(n_fee)) = (r.network_asset.as_deref(), r.network_fee.as_deref()) {
            let coin = asset::find(n_asset).ok_or("an unknown network coin")?;
            let n = Amount::parse_non_negative(coin, n_fee).map_err(|e| e.to_string())?;
            let Some(v) = minor(&r.network_fee_fiat) else {
                return Err(format!(
                    "the network fee of line {} has no value: no current {} rate then",
                    r.line, coin.code
                ));
            };
            let slot = network.entry(coin.code).or_insert((0, Amount::zero(coin)));
            slot.0 += v;
            slot.1 = slot.1.checked_add(n).ok_or("network fees overflow")?;
        }
        crypto = crypto.checked_add(amount).ok_or("amounts overflow")?;
        paid_total += value;
        fees += fee;
        credit += value + fee;
        if per_row {
            let mut text = format!("Line {} to {}", r.line, crate::domain::asset::shorten(&item.address, 6, 4));
            if !item.comment.is_empty() {
                text.push_str(&format!(" — {}", item.comment));
            }
            lines.push(Line {
                account: map.expense_for(&payout.description),
                description: text,
                amount: value,
                crypto: Some((amount.to_string(), asset.code.into(), rate)),
            });
        }
    }
    let rate_text = if rates.len() == 1 { rates[0].clone() } else { "several".into() };
    if !per_row {
        lines.push(Line {
            account: map.expense_for(&payout.description),
            description: format!("{} paid: {}", crate::domain::words::count(rows.len(), "row", "rows"), crypto.money()),
            amount: paid_total,
            crypto: Some((crypto.to_string(), asset.code.into(), rate_text.clone())),
        });
    }
    if fees != 0 {
        lines.push(Line {
            account: map.service_fee.clone(),
            description: "Service fee".into(),
            amount: fees,
            crypto: None,
        });
    }
    for (value, amount) in network.values() {
        lines.push(Line {
            account: map.network_fee.clone(),
            description: format!("Network fee {}", amount.money()),
            amount: *value,
            crypto: Some((amount.to_string(), amount.asset().code.into(), String::new())),
        });
    }
    lines.push(Line {
        account: map.asset_account(asset),
        description: format!("Paid from {}", asset.code),
        amount: -credit,
        crypto: Some((crypto.to_string(), asset.code.into(), rate_text)),
    });
    for (value, amount) in network.values() {
        lines.push(Line {
            account: map.asset_account(amount.asset()),
            description: format!("Network fee paid in {}", amount.asset().code),
            amount: -*value,
            crypto: Some((amount.to_string(), amount.asset().code.into(), String::new())),
        });
    }
    let last = rows.iter().filter_map(|r| r.paid_at).max().ok_or("no payment time")?;
    let date = zone.local(last).date();
    let description = if payout.description.is_empty() { String::new() } else { format!(": {}", payout.description) };
    Ok(Entry {
        payout_id: payout.id,
        number: format!("PAYOUT-{}-{}", payout.id, month.trim().replace('-', "")),
        date: NaiveDate::from_ymd_opt(date.year(), date.month(), date.day()).unwrap_or(date),
        narration: format!("Payout #{} {}{description}", payout.id, asset.code),
        currency,
        lines,
    })
}

/// The three files the export page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xero,
    QuickBooks,
    Generic,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "xero" => Some(Format::Xero),
            "quickbooks" => Some(Format::QuickBooks),
            "generic" => Some(Format::Generic),
            _ => None,
        }
    }

    pub fn file(self, j: &Journal, map: &Mapping) -> Vec<u8> {
        match self {
            Format::Xero => crate::domain::journal::xero_csv(&j.entries, &map.tax_rate),
            Format::QuickBooks => crate::domain::journal::quickbooks_csv(&j.entries),
            Format::Generic => crate::domain::journal::generic_csv(&j.entries),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Xero => "xero",
            Format::QuickBooks => "quickbooks",
            Format::Generic => "generic",
        }
    }
}
