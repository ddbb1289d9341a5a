//! The ledger verifier: every balance recomputed from its entries, and the books' invariants
//! checked against the payouts and their rows, all read in one snapshot while the server may
//! keep working. It only reads; what it finds is named with ids for a person to investigate.

use std::collections::HashMap;
use std::fmt;

use crate::db::verify::{ItemMoney, PayoutTotals};
use crate::db::{self, DbConnection};
use crate::domain::Amount;
use crate::domain::asset::{self, Asset};
use crate::domain::ledger::{Balance, Movement};
use crate::domain::payout::ItemStatus;
use crate::domain::stored::Checked;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub org_id: i64,
    pub asset: String,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "organization {} {}: {}", self.org_id, self.asset, self.what)
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub balances: usize,
    pub entries: usize,
    pub payouts: usize,
    pub items: usize,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_whole(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} balances, {} ledger entries, {} payouts, {} rows checked: {}",
            self.balances,
            self.entries,
            self.payouts,
            self.items,
            match self.problems.len() {
                0 => "the books are whole".to_owned(),
                1 => "1 problem".to_owned(),
                n => format!("{n} problems"),
            }
        )
    }
}

/// Before any payout: the first day the paid days are read from.
const EPOCH: chrono::NaiveDate = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");

pub fn verify(conn: &mut DbConnection) -> Result<Report, AppError> {
    db::read_snapshot(conn, |conn| {
        let mut report = Report::default();
        for (org_id, code) in db::verify::org_assets(conn)? {
            let mut books = Books { org_id, code: code.clone(), problems: Vec::new() };
            match asset::find(&code) {
                Some(asset) => books.check(conn, asset, &mut report)?,
                None => books.problem("an asset this server does not know"),
            }
            report.problems.append(&mut books.problems);
        }
        for org_id in db::verify::counter_orgs(conn)? {
            check_counters(conn, org_id, &mut report)?;
            check_paid_addresses(conn, org_id, &mut report)?;
        }
        Ok(report)
    })
}

/// What one payout's ledger entries moved.
#[derive(Clone, Copy)]
struct Moved {
    reserved: Amount,
    settled: Amount,
    released: Amount,
}

/// The three sums a payout's rows hold: still open, paid, given back.
#[derive(Clone, Copy)]
struct Held {
    open: Amount,
    paid: Amount,
    released: Amount,
}

struct Books {
    org_id: i64,
    code: String,
    problems: Vec<Problem>,
}

impl Books {
    fn problem(&mut self, what: impl Into<String>) {
        self.problems.push(Problem { org_id: self.org_id, asset: self.code.clone(), what: what.into() });
    }

    fn amount(&mut self, asset: &'static Asset, text: &str, whose: impl FnOnce() -> String) -> Option<Amount> {
        match Amount::parse_non_negative(asset, text) {
            Ok(a) => Some(a),
            Err(e) => {
                self.problem(format!("{}: stored amount {text:?} is not an amount ({e})", whose()));
                None
            }
        }
    }

    fn add(&mut self, a: Amount, b: Amount) -> Amount {
        a.checked_add(b).unwrap_or_else(|| {
            self.problem("a total overflows");
            a
        })
    }

    fn check(&mut self, conn: &mut DbConnection, asset: &'static Asset, report: &mut Report) -> Result<(), AppError> {
        let zero = Amount::zero(asset);
        let entries = db::ledger::entries_for_asset(conn, self.org_id, asset.code)?;
        report.entries += entries.len();
        let mut replayed = Balance::zero(asset);
        let mut deposits = zero;
        let mut moved: HashMap<i64, Moved> = HashMap::new();
        for e in &entries {
            let movement = match e.kind.as_str() {
                "deposit" => Movement::Deposit,
                "reserve" => Movement::Reserve,
                "release" => Movement::Release,
                "settle" => Movement::Settle,
                other => {
                    self.problem(format!("ledger entry #{}: unknown kind {other:?}", e.id));
                    continue;
                }
            };
            let (from, to) = movement.buckets();
            if (from.as_str(), to.as_str()) != (e.from_bucket.as_str(), e.to_bucket.as_str()) {
                self.problem(format!(
                    "ledger entry #{}: a {} moves {} → {}, not {} → {}",
                    e.id,
                    e.kind,
                    from.as_str(),
                    to.as_str(),
                    e.from_bucket,
                    e.to_bucket
                ));
            }
            let Some(amount) = self.amount(asset, &e.amount, || format!("ledger entry #{}", e.id)) else { continue };
            match replayed.apply(movement, amount) {
                Ok(next) => replayed = next,
                Err(err) => self.problem(format!("ledger entry #{} ({} {}): {err}", e.id, e.kind, amount.money())),
            }
            match (movement, e.payout_id) {
                (Movement::Deposit, _) => deposits = self.add(deposits, amount),
                (_, None) => self.problem(format!("ledger entry #{}: a {} that names no payout", e.id, e.kind)),
                (_, Some(id)) => {
                    let m = moved.entry(id).or_insert(Moved { reserved: zero, settled: zero, released: zero });
                    match movement {
                        Movement::Reserve => m.reserved = self.add(m.reserved, amount),
                        Movement::Settle => m.settled = self.add(m.settled, amount),
                        _ => m.released = self.add(m.released, amount),
                    }
                }
            }
        }

        self.check_balance_row(conn, asset, &replayed, deposits, !entries.is_empty(), report)?;

        let payouts = db::verify::payouts(conn, self.org_id, asset.code)?;
        let items = db::verify::items(conn, self.org_id, asset.code)?;
        report.payouts += payouts.len();
        report.items += items.len();
        let mut by_payout: HashMap<i64, Vec<&ItemMoney>> = HashMap::new();
        for item in &items {
            by_payout.entry(item.payout_id).or_default().push(item);
        }
        let mut open = zero;
        let mut paid = zero;
        for payout in &payouts {
            let rows = by_payout.remove(&payout.id).unwrap_or_default();
            let held = self.check_payout(asset, payout, &rows, moved.remove(&payout.id));
            open = self.add(open, held.open);
            paid = self.add(paid, held.paid);
        }
        for id in moved.keys() {
            self.problem(format!("ledger entries name payout #{id}, which does not exist in this asset"));
        }
        if replayed.reserved != open {
            self.problem(format!("reserved {} but the open rows hold {}", replayed.reserved.money(), open.money()));
        }
        if replayed.paid != paid {
            self.problem(format!(
                "paid {} but the paid rows and their fees come to {}",
                replayed.paid.money(),
                paid.money()
            ));
        }
        self.check_paid_once(&items);
        self.check_paid_totals(conn, asset, &items)?;
        Ok(())
    }

    /// The running sums of what was paid (the dashboard's days, the fees of all time) equal the
    /// paid rows.
    fn check_paid_totals(
        &mut self,
        conn: &mut DbConnection,
        asset: &'static Asset,
        items: &[ItemMoney],
    ) -> Result<(), AppError> {
        let zero = Amount::zero(asset);
        let (mut amounts, mut fees) = (zero, zero);
        for row in items.iter().filter(|r| r.status.known() == Some(ItemStatus::Completed)) {
            let whose = || format!("row #{}", row.id);
            if let (Some(a), Some(f)) = (self.amount(asset, &row.amount, whose), self.amount(asset, &row.fee, whose)) {
                amounts = self.add(amounts, a);
                fees = self.add(fees, f);
            }
        }
        let (mut day_amounts, mut day_fees) = (zero, zero);
        for (code, day, a, f) in db::paid_totals::days_since(conn, self.org_id, EPOCH)? {
            if code != asset.code {
                continue;
            }
            let whose = || format!("paid day {day}");
            if let (Some(a), Some(f)) = (self.amount(asset, &a, whose), self.amount(asset, &f, whose)) {
                day_amounts = self.add(day_amounts, a);
                day_fees = self.add(day_fees, f);
            }
        }
        if (day_amounts, day_fees) != (amounts, fees) {
            self.problem(format!(
                "the paid days add up to {} + {} fees, the paid rows to {} + {} fees",
                day_amounts.money(),
                day_fees.money(),
                amounts.money(),
                fees.money()
            ));
        }
        let kept = match db::paid_totals::fees(conn, self.org_id, asset.code)? {
            Some(f) => self.amount(asset, &f, || "the fees paid".into()).unwrap_or(zero),
            None => zero,
        };
        if kept != fees {
            self.problem(format!(
                "fees paid kept as {} but the paid rows' fees come to {}",
                kept.money(),
                fees.money()
            ));
        }
        Ok(())
    }

    fn check_balance_row(
        &mut self,
        conn: &mut DbConnection,
        asset: &'static Asset,
        replayed: &Balance,
        deposits: Amount,
        has_entries: bool,
        report: &mut Report,
    ) -> Result<(), AppError> {
        let Some(row) = db::ledger::balance(conn, self.org_id, asset.code)? else {
            if has_entries {
                self.problem("ledger entries but no balance row");
            }
            return Ok(());
        };
        report.balances += 1;
        let stored = [("available", &row.available), ("reserved", &row.reserved), ("paid", &row.paid)];
        let recomputed = [replayed.available, replayed.reserved, replayed.paid];
        let mut parsed = Vec::new();
        for ((bucket, text), recomputed) in stored.into_iter().zip(recomputed) {
            let Some(kept) = self.amount(asset, text, || format!("balance {bucket}")) else { continue };
            if kept != recomputed {
                self.problem(format!(
                    "balance {bucket} is {} but its ledger entries give {}",
                    kept.money(),
                    recomputed.money()
                ));
            }
            parsed.push(kept);
        }
        if let [a, r, p] = parsed[..] {
            let funded = a.checked_add(r).and_then(|s| s.checked_add(p));
            if funded != Some(deposits) {
                self.problem(format!(
                    "available {} + reserved {} + paid {} is not the {} credited",
                    a.money(),
                    r.money(),
                    p.money(),
                    deposits.money()
                ));
            }
        }
        Ok(())
    }

    fn check_payout(
        &mut self,
        asset: &'static Asset,
        payout: &PayoutTotals,
        rows: &[&ItemMoney],
        moved: Option<Moved>,
    ) -> Held {
        let zero = Amount::zero(asset);
        let id = payout.id;
        let mut held = Held { open: zero, paid: zero, released: zero };
        let (mut amounts, mut fees) = (zero, zero);
        for row in rows {
            let whose = || format!("payout #{id} line {} (row #{})", row.line, row.id);
            let (Some(amount), Some(fee)) =
                (self.amount(asset, &row.amount, whose), self.amount(asset, &row.fee, whose))
            else {
                continue;
            };
            amounts = self.add(amounts, amount);
            fees = self.add(fees, fee);
            let both = self.add(amount, fee);
            match &row.status {
                Checked::Known(ItemStatus::Completed) => held.paid = self.add(held.paid, both),
                Checked::Known(ItemStatus::Failed | ItemStatus::Cancelled) => {
                    held.released = self.add(held.released, both)
                }
                Checked::Known(_) => held.open = self.add(held.open, both),
                Checked::Unknown(name) => self.problem(format!("{}: unknown status {name:?}", whose())),
            }
        }
        if rows.len() != payout.item_count as usize {
            self.problem(format!("payout #{id} counts {} rows but has {}", payout.item_count, rows.len()));
        }
        let whose = || format!("payout #{id}");
        let totals = (
            self.amount(asset, &payout.amount_total, whose),
            self.amount(asset, &payout.fee, whose),
            self.amount(asset, &payout.total_debit, whose),
        );
        if let (Some(total), Some(fee), Some(debit)) = totals {
            if total != amounts || fee != fees {
                self.problem(format!(
                    "payout #{id} says {} + {} fee, its rows add up to {} + {} fee",
                    total.money(),
                    fee.money(),
                    amounts.money(),
                    fees.money()
                ));
            }
            if total.checked_add(fee) != Some(debit) {
                self.problem(format!("payout #{id}: total debit {} is not amount + fee", debit.money()));
            }
            let moved = moved.unwrap_or(Moved { reserved: zero, settled: zero, released: zero });
            if moved.reserved != debit {
                self.problem(format!(
                    "payout #{id} reserved {} for a debit of {}",
                    moved.reserved.money(),
                    debit.money()
                ));
            }
            if moved.settled != held.paid {
                self.problem(format!(
                    "payout #{id} settled {} but its paid rows come to {} (a row paid twice or never booked)",
                    moved.settled.money(),
                    held.paid.money()
                ));
            }
            if moved.released != held.released {
                self.problem(format!(
                    "payout #{id} released {} but its failed and cancelled rows come to {}",
                    moved.released.money(),
                    held.released.money()
                ));
            }
        }
        if let Some(status) = payout.status.known().filter(|s| s.is_terminal())
            && !held.open.is_zero()
        {
            self.problem(format!(
                "payout #{id} is {} but rows holding {} are still open",
                status.as_str(),
                held.open.money()
            ));
        }
        held
    }

    /// No idempotency key may send twice, and no two rows may claim one transfer: a batch
    /// transaction pays many rows, each told apart by its log index where the chain has one.
    fn check_paid_once(&mut self, items: &[ItemMoney]) {
        let mut keys: HashMap<&str, &ItemMoney> = HashMap::new();
        let mut transfers: HashMap<(&str, i32), &ItemMoney> = HashMap::new();
        for item in items {
            if let Some(first) = keys.insert(&item.idempotency_key, item) {
                self.problem(format!(
                    "rows #{} and #{} share the idempotency key {}",
                    first.id, item.id, item.idempotency_key
                ));
            }
            let (Some(hash), Some(log)) = (item.tx_hash.as_deref().filter(|h| !h.is_empty()), item.log_index) else {
                continue;
            };
            if item.status.known() != Some(ItemStatus::Completed) {
                continue;
            }
            if let Some(first) = transfers.insert((hash, log), item) {
                self.problem(format!(
                    "payout #{} line {} and payout #{} line {} were both paid by transaction {hash} (log {log})",
                    first.payout_id, first.line, item.payout_id, item.line
                ));
            }
        }
    }
}

/// Each paid address's summary (how often, last by which payout and line) and each payee's last
/// paid address agree with the paid rows.
fn check_paid_addresses(conn: &mut DbConnection, org_id: i64, report: &mut Report) -> Result<(), AppError> {
    let mut problem = |what: String| report.problems.push(Problem { org_id, asset: "all assets".into(), what });
    let counted: HashMap<String, i64> = db::verify::paid_address_counts(conn, org_id)?.into_iter().collect();
    let kept = db::verify::paid_address_summaries(conn, org_id)?;
    let last_rows: HashMap<(i64, i32), (String, String)> = db::verify::rows_at(
        conn,
        org_id,
        &kept.iter().map(|(_, _, payout, line)| (*payout, *line)).collect::<Vec<_>>(),
    )?
    .into_iter()
    .map(|(payout, line, address, status)| ((payout, line), (address, status)))
    .collect();
    for (address, times, payout, line) in &kept {
        match counted.get(address) {
            Some(n) if n == times => {}
            Some(n) => problem(format!(
                "address {address} is kept as paid {} but {} paid it",
                crate::domain::words::count(*times, "time", "times"),
                crate::domain::words::count(*n, "row", "rows")
            )),
            None => problem(format!("address {address} is kept as paid but no row paid it")),
        }
        match last_rows.get(&(*payout, *line)) {
            Some((a, status)) if a == address && status == ItemStatus::Completed.as_str() => {}
            _ => problem(format!(
                "address {address} is kept as last paid by payout #{payout} line {line}, which did not pay it"
            )),
        }
    }
    let known: std::collections::HashSet<&str> = kept.iter().map(|(a, ..)| a.as_str()).collect();
    for address in counted.keys().filter(|a| !known.contains(a.as_str())) {
        problem(format!("address {address} was paid but is not kept as paid"));
    }
    for (payee, item, address, paid_to) in db::verify::payee_last_paid(conn, org_id)? {
        if paid_to.as_deref() != Some(address.as_str()) {
            problem(format!("payee #{payee} is kept as last paid at {address} by row #{item}, which did not pay it"));
        }
    }
    Ok(())
}

fn check_counters(conn: &mut DbConnection, org_id: i64, report: &mut Report) -> Result<(), AppError> {
    let mut counted = db::verify::counted_statuses(conn, org_id)?;
    let mut kept = db::payouts::status_counts(conn, org_id)?;
    kept.retain(|(_, n)| *n != 0);
    counted.sort();
    kept.sort();
    if counted != kept {
        report.problems.push(Problem {
            org_id,
            asset: "all assets".into(),
            what: format!("payout counters per status {kept:?} but the table holds {counted:?}"),
        });
    }
    Ok(())
}

/// The server's own check, once a day across every process sharing the database: the first
/// process to mark the day runs it and logs what it finds.
pub fn daily_check(conn: &mut DbConnection, at: chrono::NaiveDateTime) -> Result<Option<Report>, AppError> {
    if !db::notices::mark_once(conn, &format!("ledger-check:{}", at.date()), at)? {
        return Ok(None);
    }
    verify(conn).map(Some)
}

pub fn spawn_daily(pool: db::Pool, clock: crate::clock::Clock) {
    std::thread::Builder::new()
        .name("ledger-check".into())
        .spawn(move || {
            loop {
                let checked = pool
                    .get()
                    .map_err(|e| e.to_string())
                    .and_then(|mut conn| daily_check(&mut conn, clock.now()).map_err(|e| e.to_string()));
                if let Ok(Some(report)) = &checked {
                    crate::metrics::ledger_checked(report.problems.len());
                }
                match checked {
                    Ok(Some(report)) if report.is_whole() => tracing::info!("ledger check: {}", report.summary()),
                    Ok(Some(report)) => {
                        for p in &report.problems {
                            tracing::error!("ledger check: {p}");
                        }
                        tracing::error!("ledger check: {}; run `payouts verify-ledger` for the list", report.summary());
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "the ledger check could not run"),
                }
                std::thread::sleep(std::time::Duration::from_secs(600));
            }
        })
        .expect("the ledger check thread starts");
}
