//! What a payee is told by email, at the address the organization has for them: every change of
//! the address they are paid at — entered (by them or by someone at the organization), approved,
//! rejected. A swapped address is the classic payroll fraud; this is the payee's warning.

use askama::Template;
use chrono::NaiveDateTime;
use serde_json::Value;

use super::tell::{Notifier, queue_email};
use crate::db::events::EventRow;
use crate::db::{self, DbConnection};
use crate::error::AppError;

#[derive(Template)]
#[template(path = "mail/payee.txt")]
struct PayeeText<'a> {
    subject: &'a str,
    lines: &'a [String],
    link: &'a str,
    org_name: &'a str,
}

#[derive(Template)]
#[template(path = "mail/payee.html")]
struct PayeeHtml<'a> {
    subject: &'a str,
    lines: &'a [String],
    link: &'a str,
    org_name: &'a str,
}

/// Tells the payee of a `payee.address_changed` event, once per address and state.
pub fn address_changed(
    conn: &mut DbConnection,
    n: &Notifier,
    event: &EventRow,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    if !n.mail {
        return Ok(());
    }
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let (payee_id, address_id) =
        (data["payee"]["id"].as_i64().unwrap_or(0), data["address"]["id"].as_i64().unwrap_or(0));
    let status = data["address"]["status"].as_str().unwrap_or_default();
    let Some(payee) = db::payees::find_in_org(conn, event.org_id, payee_id)? else { return Ok(()) };
    if payee.email.is_empty() || payee.archived {
        return Ok(());
    }
    // A lookalike's first approval announces the still-pending address again: said once.
    if !db::notices::mark_once(conn, &format!("payee_address:{address_id}:{status}"), at)? {
        return Ok(());
    }
    let org_name = db::orgs::find(conn, event.org_id)?.name;
    let network = data["address"]["network"].as_str().unwrap_or_default();
    let address = data["address"]["address"].as_str().unwrap_or_default();
    let (subject, mut lines) = match status {
        "pending" => (
            format!("A new {network} address for your payments from {org_name}"),
            vec![
                format!("This {network} address was given for your payments: {address}"),
                "A manager checks it before it is used; until then any address approved before stays in use.".into(),
            ],
        ),
        "approved" => (
            format!("Your {network} address for payments from {org_name} is approved"),
            vec![format!("Payments on {network} go to {address} from now on (after a short waiting time).")],
        ),
        "rejected" => (
            format!("A {network} address for your payments from {org_name} was not accepted"),
            vec![format!("{address} was not accepted: {}", data["address"]["reason"].as_str().unwrap_or_default())],
        ),
        _ => return Ok(()),
    };
    lines.push(format!(
        "If you did not ask for this, tell {org_name} at once, by a channel you already use (not by replying here)."
    ));
    let link = n.url("/payee/sign-in");
    let text = PayeeText { subject: &subject, lines: &lines, link: &link, org_name: &org_name }.render()?;
    let html = PayeeHtml { subject: &subject, lines: &lines, link: &link, org_name: &org_name }.render()?;
    queue_email(conn, event.org_id, &payee.email, "", "payee_address", &subject, text, html, false, at)?;
    Ok(())
}

/// A receipt for a row paid to a payee (a `payout.item_status_changed` to completed), where the
/// organization sends them and the payee has an email: the amount, asset, network, transaction
/// with its explorer link, the value when paid if recorded, and the payout's description —
/// nothing else of the organization. Once per row, however often the event is read.
pub fn receipt(conn: &mut DbConnection, n: &Notifier, event: &EventRow, at: NaiveDateTime) -> Result<(), AppError> {
    if !n.mail || !event.data.contains("\"completed\"") {
        return Ok(());
    }
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    if data["item"]["status"] != "completed" {
        return Ok(());
    }
    let (payout_id, item_id) = (data["payout_id"].as_i64().unwrap_or(0), data["item"]["id"].as_i64().unwrap_or(0));
    let org = db::orgs::find(conn, event.org_id)?;
    if !org.payee_receipts {
        return Ok(());
    }
    let Some(item) = db::payouts::find_item(conn, payout_id, item_id)? else { return Ok(()) };
    let Some(payee_id) = item.payee_id else { return Ok(()) };
    let Some(payee) = db::payees::find_in_org(conn, event.org_id, payee_id)? else { return Ok(()) };
    if payee.email.is_empty() || payee.archived {
        return Ok(());
    }
    if !db::notices::mark_once(conn, &format!("receipt:{item_id}"), at)? {
        return Ok(());
    }
    let payout = db::payouts::find(conn, payout_id)?;
    let asset = crate::domain::asset::find(&payout.asset)
        .ok_or_else(|| AppError::Internal(format!("unknown asset {}", payout.asset)))?;
    let amount = crate::error::stored_amount(asset, &item.amount)?;
    let tx = item.tx_hash.clone().unwrap_or_default();
    let mut lines = vec![
        format!("{} paid you {}.", org.name, amount.money()),
        format!("Network: {}. Paid to: {}", asset.network, item.address),
    ];
    if !tx.is_empty() {
        lines.push(format!("Transaction: {tx}"));
        lines.push(format!("See it on the network: {}", asset.explorer_url(&tx)));
    }
    let value = db::values::item_of(conn, payout_id, item.line)?.and_then(|v| {
        let currency = crate::domain::fiat::currency(v.paid_currency.as_deref()?)?;
        Some(crate::domain::fiat::Fiat { minor: v.paid_fiat.as_deref()?.parse().ok()?, currency })
    });
    if let Some(v) = value {
        lines.push(format!("Value when paid: {}", v.money()));
    }
    if !payout.description.is_empty() {
        lines.push(format!("Description: {}", payout.description));
    }
    let subject = format!("Payment received: {} from {}", amount.money(), org.name);
    let link = n.url("/payee/sign-in");
    let text = PayeeText { subject: &subject, lines: &lines, link: &link, org_name: &org.name }.render()?;
    let html = PayeeHtml { subject: &subject, lines: &lines, link: &link, org_name: &org.name }.render()?;
    queue_email(conn, event.org_id, &payee.email, "", "payee_receipt", &subject, text, html, false, at)?;
    Ok(())
}

/// A claim opened (a `payout.item_status_changed` to awaiting_address): the payee is emailed what
/// is owed, until when, and a link to give their address. Once per claim.
pub fn claim(conn: &mut DbConnection, n: &Notifier, event: &EventRow, at: NaiveDateTime) -> Result<(), AppError> {
    if !n.mail || !event.data.contains("\"awaiting_address\"") {
        return Ok(());
    }
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    if data["item"]["status"] != "awaiting_address" {
        return Ok(());
    }
    let (payout_id, item_id) = (data["payout_id"].as_i64().unwrap_or(0), data["item"]["id"].as_i64().unwrap_or(0));
    let Some(item) = db::payouts::find_item(conn, payout_id, item_id)? else { return Ok(()) };
    if !db::notices::mark_once(conn, &format!("claim:{item_id}"), at)? {
        return Ok(());
    }
    claim_mail(conn, n, &item, Stage::Opened, at)
}

/// Which email about a claim.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Opened,
    /// A reminder: `1` a week before it lapses, `2` the day before.
    Reminder(i32),
}

/// Days before a claim lapses that each reminder goes out.
pub const REMINDER_DAYS: [(i32, i64); 2] = [(1, 7), (2, 1)];

/// Writes one claim's email (with a fresh link) in the caller's transaction; nothing when the
/// payee cannot be written to.
pub fn claim_mail(
    conn: &mut DbConnection,
    n: &Notifier,
    item: &crate::db::payouts::ItemRow,
    stage: Stage,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let Some(payee_id) = item.payee_id else { return Ok(()) };
    let Some(issued) = crate::service::portal::links::claim_in_tx(conn, item.org_id, payee_id, at)? else {
        return Ok(());
    };
    let payout = db::payouts::find(conn, item.payout_id)?;
    let asset = crate::domain::asset::find(&payout.asset)
        .ok_or_else(|| AppError::Internal(format!("unknown asset {}", payout.asset)))?;
    let amount = crate::error::stored_amount(asset, &item.amount)?;
    let until = item.claim_until.map(|t| format!("{} UTC", t.format("%Y-%m-%d %H:%M"))).unwrap_or_default();
    let org = &issued.org_name;
    let subject = match stage {
        Stage::Opened => format!("{org} has a payment for you: {}", amount.money()),
        Stage::Reminder(_) => format!("Reminder: give your address to receive {} from {org}", amount.money()),
    };
    let mut lines = vec![
        format!("{org} is paying you {} on {}.", amount.money(), asset.network),
        format!(
            "Give the {} address you want it paid to on your page, proven with a signature from its wallet. \
             Once {org} has approved it, the payment is sent.",
            asset.network
        ),
        format!("It is kept for you until {until}; if no address is given by then, it goes back to {org}."),
    ];
    if !payout.description.is_empty() {
        lines.push(format!("Description: {}", payout.description));
    }
    super::links::queue_claim_link(conn, n, &issued, &subject, lines, at)
}
