//! The payee's page: their addresses with each one's state and proof, and what they were paid.

use chrono::NaiveDateTime;

use super::PayeeActor;
use crate::db::{self, DbConnection};
use crate::domain::payee::AddressState;
use crate::domain::payout::ItemStatus;
use crate::error::AppError;
use crate::service::payees::{Period, STATEMENT_PAGE_ROWS, Statement, statement_of};

/// One of the payee's addresses, as they see it.
pub struct AddressLine {
    pub network: String,
    pub address: String,
    /// In the payee's words: "Waiting for a manager", "In use", …
    pub state: String,
    pub entered_at: NaiveDateTime,
    /// They submitted it with a signature from its wallet.
    pub proven: bool,
    /// The organization entered it (not the payee).
    pub by_organization: bool,
}

fn words(state: AddressState, payable_from: Option<NaiveDateTime>) -> String {
    match state {
        AddressState::Pending => "Waiting for a manager".into(),
        AddressState::CoolingOff => match payable_from {
            Some(t) => format!("Approved; in use from {} UTC", t.format("%Y-%m-%d %H:%M")),
            None => "Approved".into(),
        },
        AddressState::Payable => "In use".into(),
        AddressState::Rejected => "Not accepted".into(),
        AddressState::Replaced => "Replaced".into(),
    }
}

/// A payment to the payee not yet ended, as they see it.
pub struct OnItsWay {
    pub asset: &'static crate::domain::asset::Asset,
    pub amount: crate::domain::Amount,
    /// In the payee's words: "Waiting for your address until …", "Being sent", …
    pub state: String,
    /// A claim waiting for their address: the page asks for one on this network.
    pub needs_address: bool,
    pub tx_hash: String,
    pub explorer_url: String,
    pub description: String,
}

fn payment_words(status: ItemStatus, claim_until: Option<NaiveDateTime>) -> String {
    match status {
        ItemStatus::AwaitingAddress => match claim_until {
            Some(t) => format!("Waiting for your address, until {} UTC", t.format("%Y-%m-%d %H:%M")),
            None => "Waiting for your address".into(),
        },
        ItemStatus::Waiting => "Being approved".into(),
        ItemStatus::Queued | ItemStatus::Submitting => "Being sent".into(),
        ItemStatus::Submitted => "Confirming on the network".into(),
        ItemStatus::NeedsReview => "Being checked".into(),
        ItemStatus::Completed => "Paid".into(),
        ItemStatus::Failed => "Not paid".into(),
        ItemStatus::Cancelled => "Cancelled".into(),
    }
}

/// The payee's payments not yet ended: claims waiting for their address, rows being approved,
/// sent or confirmed. Nothing of the organization's own figures.
pub fn on_its_way(conn: &mut DbConnection, who: &PayeeActor) -> Result<Vec<OnItsWay>, AppError> {
    let rows = db::claims::in_flight_of_payee(conn, who.org_id, who.payee_id)?;
    let mut out = Vec::with_capacity(rows.len());
    // A mass payout's rows share their payout's description: read once.
    let mut descriptions: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    for (item, code) in rows {
        let Some(asset) = crate::domain::asset::find(&code) else { continue };
        if let std::collections::hash_map::Entry::Vacant(slot) = descriptions.entry(item.payout_id) {
            slot.insert(db::payouts::find(conn, item.payout_id)?.description);
        }
        let tx_hash = item.tx_hash.clone().unwrap_or_default();
        out.push(OnItsWay {
            asset,
            amount: crate::error::stored_amount(asset, &item.amount)?,
            state: payment_words(item.status, item.claim_until),
            needs_address: item.status == ItemStatus::AwaitingAddress,
            explorer_url: if tx_hash.is_empty() { String::new() } else { asset.explorer_url(&tx_hash) },
            tx_hash,
            description: descriptions.get(&item.payout_id).cloned().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Addresses newest first (the last 50), and the payments of the statement page.
pub fn overview(conn: &mut DbConnection, who: &PayeeActor) -> Result<(Vec<AddressLine>, Statement), AppError> {
    let at = who.now();
    let mut rows = db::payees::addresses_of(conn, who.payee_id)?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.id));
    rows.truncate(50);
    let addresses = rows
        .into_iter()
        .map(|r| AddressLine {
            state: words(AddressState::of(r.status, r.payable_from, at), r.payable_from),
            entered_at: r.entered_at,
            proven: r.proof.is_some(),
            by_organization: !r.submitted_by_payee,
            network: r.network,
            address: r.address,
        })
        .collect();
    let statement = statement_of(conn, who.org_id, who.payee_id, &Period::default(), STATEMENT_PAGE_ROWS)?;
    Ok((addresses, statement))
}

/// The payee's statement for a period: their page's payslip view and CSV. What the payee was
/// paid and how, never the organization's own figures (its service fees, the network's fees).
pub fn statement(conn: &mut DbConnection, who: &PayeeActor, period: &Period) -> Result<Statement, AppError> {
    statement_of(conn, who.org_id, who.payee_id, period, crate::service::payees::STATEMENT_PAGE_ROWS * 50)
}

pub fn statement_csv(conn: &mut DbConnection, who: &PayeeActor, period: &Period) -> Result<String, AppError> {
    let s = statement(conn, who, period)?;
    let mut out = ::csv::Writer::from_writer(Vec::new());
    let fail = |e: ::csv::Error| AppError::Internal(e.to_string());
    out.write_record([
        "paid_at_utc",
        "asset",
        "network",
        "amount",
        "tx_hash",
        "explorer_url",
        "description",
        "currency",
        "value_at_payment",
    ])
    .map_err(fail)?;
    for r in &s.rows {
        let (currency, value) = match &r.value {
            Some(v) => (v.currency.code.to_owned(), v.plain()),
            None => (String::new(), String::new()),
        };
        let cells = [
            r.paid_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            r.asset.code.to_owned(),
            r.asset.network.to_owned(),
            r.amount.to_string(),
            r.tx_hash.clone(),
            r.explorer_url.clone(),
            r.description.clone(),
            currency,
            value,
        ];
        // A description is the organization's text: a cell a spreadsheet would run as a
        // formula is written as text.
        out.write_record(cells.iter().map(|c| crate::domain::spreadsheet::safe_cell(c).into_owned())).map_err(fail)?;
    }
    String::from_utf8(out.into_inner().map_err(|e| AppError::Internal(e.to_string()))?)
        .map_err(|e| AppError::Internal(e.to_string()))
}
