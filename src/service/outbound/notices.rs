//! The event stream's second reader: takes each event once (its own cursor, `notified_at`) and
//! decides who is told what, in one transaction with the inbox rows and the outbox.

use chrono::NaiveDateTime;
use serde_json::Value;

use super::tell::{Notice, Notifier, tell};
use crate::db::events::EventRow;
use crate::db::models::UserRow;
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::event::{
    DRAFT_READY, ITEM_HELD, ITEM_STATUS_CHANGED, LOOKALIKE_ACKNOWLEDGED, PAYEE_ADDRESS_CHANGED, PAYOUT_CREATED,
    PAYOUT_STATUS_CHANGED, SANCTIONS_LIST_STALE, SECURITY_NOTICE, WALLET_GAS_LOW,
};
use crate::domain::notice::{Group, short_address};
use crate::domain::payout::PayoutStatus;
use crate::error::AppError;
use crate::service::payouts::approvals;

/// Events taken in one transaction at most.
pub const EVENTS_PER_TURN: i64 = 200;

/// Takes the oldest events the notifier has not taken and tells their people; returns how many
/// this call took. One event that cannot be told is logged and skipped, never holding up the rest.
pub fn notify(conn: &mut DbConnection, n: &Notifier, at: NaiveDateTime) -> Result<usize, AppError> {
    let events = db::events::unnotified(conn, EVENTS_PER_TURN)?;
    // Most of a large payout's events are its rows' progress, which nobody is told of: taken
    // together, not one transaction each.
    let (events, quiet): (Vec<EventRow>, Vec<EventRow>) = events.into_iter().partition(concerns_people);
    let quiet_ids: Vec<i64> = quiet.iter().map(|e| e.id).collect();
    let mut taken = db::write_tx(conn, |conn| {
        let taken = db::events::take_many_for_notices(conn, &quiet_ids, at)?;
        // Receipts for rows paid to payees go out with the events that tell of them (each once:
        // a mark per row, whichever process takes the event).
        // Claims opened ask their payees for an address the same way.
        for event in quiet.iter().filter(|e| e.topic == ITEM_STATUS_CHANGED) {
            let made = super::payee_mail::receipt(conn, n, event, at)
                .and_then(|()| super::payee_mail::claim(conn, n, event, at));
            match made {
                Ok(()) => {}
                Err(e @ (AppError::Db(_) | AppError::Pool(_))) => return Err(e),
                Err(e) => tracing::error!(event = event.id, error = %e, "a payee's email could not be made; skipped"),
            }
        }
        Ok(taken)
    })?;
    for event in &events {
        let told = db::write_tx(conn, |conn| {
            if !db::events::take_for_notices(conn, event.id, at)? {
                return Ok(false);
            }
            for (org, notice, people) in notices_of(conn, event, at)? {
                tell(conn, n, org, &notice, &people, at)?;
            }
            if event.topic == PAYEE_ADDRESS_CHANGED {
                super::payee_mail::address_changed(conn, n, event, at)?;
            }
            Ok::<_, AppError>(true)
        });
        match told {
            Ok(true) => taken += 1,
            Ok(false) => {}
            // The database is away: the event waits for the next round.
            Err(e @ (AppError::Db(_) | AppError::Pool(_))) => return Err(e),
            Err(e) => {
                tracing::error!(event = event.id, topic = %event.topic, error = %e, "an event could not be told; skipped");
                // Taken alone, so the stream moves on past it.
                db::events::take_for_notices(conn, event.id, at)?;
            }
        }
    }
    Ok(taken)
}

/// Whether an event may tell anyone anything (decided on its topic and status alone).
fn concerns_people(event: &EventRow) -> bool {
    match event.topic.as_str() {
        ITEM_STATUS_CHANGED => event.data.contains("\"needs_review\""),
        PAYOUT_CREATED
        | PAYOUT_STATUS_CHANGED
        | PAYEE_ADDRESS_CHANGED
        | DRAFT_READY
        | WALLET_GAS_LOW
        | LOOKALIKE_ACKNOWLEDGED
        | ITEM_HELD
        | SANCTIONS_LIST_STALE
        | SECURITY_NOTICE => true,
        _ => false,
    }
}

type Told = Vec<(i64, Notice, Vec<UserRow>)>;

fn notices_of(conn: &mut DbConnection, event: &EventRow, at: NaiveDateTime) -> Result<Told, AppError> {
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let org = event.org_id;
    let id = |v: &Value| v.as_i64().unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let out = match event.topic.as_str() {
        PAYOUT_CREATED if data["status"] == "pending" => approval_needed(conn, id(&data["id"]), false, at)?,
        PAYOUT_STATUS_CHANGED => {
            // Once a payout is no longer pending nobody needs to decide on it: its approval
            // requests leave everyone's unread count.
            if data["status"] != "pending" {
                let link = format!("/payouts/{}", id(&data["id"]));
                db::notices::settle(conn, org, &["approval_needed", "approval_reminder"], &link, at)?;
            }
            outcome(conn, org, &data)?
        }
        ITEM_STATUS_CHANGED if data["item"]["status"] == "needs_review" => {
            let payout_id = id(&data["payout_id"]);
            // One notice per payout, however many of its rows need review.
            if !db::notices::mark_once(conn, &format!("needs_review:{payout_id}"), at)? {
                return Ok(Vec::new());
            }
            let line = id(&data["item"]["line"]);
            let notice = Notice {
                kind: "needs_review",
                group: Group::Outcomes,
                chat_topic: Some("needs_review"),
                subject: format!("Needs review: row {line} of payout #{payout_id}"),
                lines: vec![
                    format!(
                        "The network cannot say what became of row {line} ({} {} to {}).",
                        text(&data["item"]["amount"]),
                        text(&data["asset"]),
                        text(&data["item"]["address"])
                    ),
                    "A manager decides whether it was paid, with the evidence, on the payout's page.".into(),
                ],
                chat_lines: vec![format!(
                    "Row {line}: {} {} to {}",
                    text(&data["item"]["amount"]),
                    text(&data["asset"]),
                    short_address(&text(&data["item"]["address"]))
                )],
                link: format!("/payouts/{payout_id}"),
                reply_to: String::new(),
            };
            let people = creator_and_followers(conn, org, payout_id)?;
            vec![(org, notice, people)]
        }
        PAYEE_ADDRESS_CHANGED if data["address"]["status"] != "pending" => {
            // Decided (approved, rejected, replaced): once none of the payee's addresses waits,
            // nobody needs to decide, and the requests leave everyone's unread count.
            let payee = id(&data["payee"]["id"]);
            if !db::payees::has_pending(conn, payee)? {
                db::notices::settle(conn, org, &["address_pending"], &format!("/payees/{payee}"), at)?;
            }
            Vec::new()
        }
        PAYEE_ADDRESS_CHANGED => {
            let (name, network, address) =
                (text(&data["payee"]["name"]), text(&data["address"]["network"]), text(&data["address"]["address"]));
            let previous = data["previous_address"].as_str().map(str::to_owned);
            let mut lines = vec![format!("{name} has a new {network} address waiting for a manager: {address}")];
            if let Some(p) = &previous {
                lines.push(format!("It would replace {p}."));
            }
            lines.push("Check it with the payee by another channel before approving it.".into());
            let notice = Notice {
                kind: "address_pending",
                group: Group::Approvals,
                chat_topic: Some("address_pending"),
                subject: format!("Approve address: {name}, {network}"),
                chat_lines: vec![format!("{name}: {}", short_address(&address))],
                lines,
                link: format!("/payees/{}", id(&data["payee"]["id"])),
                reply_to: String::new(),
            };
            vec![(org, notice, with_role(conn, org, Role::can_approve)?)]
        }
        LOOKALIKE_ACKNOWLEDGED => {
            let payout_id = id(&data["payout_id"]);
            let (who, who_id) = (text(&data["acknowledged_by"]["email"]), id(&data["acknowledged_by"]["id"]));
            let rows = data["lines"].as_array().cloned().unwrap_or_default();
            let mut lines = vec![format!(
                "{who} confirmed payout #{payout_id} with {} whose address looks like a known one, saying they \
                 checked each with its recipient by another channel:",
                crate::domain::words::count(rows.len(), "row", "rows")
            )];
            lines.extend(rows.iter().take(20).map(|r| text(&r["message"])));
            if rows.len() > 20 {
                lines.push(format!("And {} more rows, listed on the payout's page.", rows.len() - 20));
            }
            lines.push(
                "It needs one approval more. Check these rows before approving: address poisoning looks \
                        exactly like this."
                    .into(),
            );
            let chat_lines = rows
                .iter()
                .take(5)
                .map(|r| {
                    // Whole, with where they differ: a shortened address hides exactly the
                    // characters a poisoner copies.
                    let (address, resembles) = (text(&r["address"]), text(&r["resembles"]));
                    format!(
                        "Line {}: {address} looks like {resembles}; they differ at {}",
                        id(&r["line"]),
                        crate::domain::lookalike::differing_places(&address, &resembles)
                    )
                })
                .collect();
            let notice = Notice {
                kind: "lookalike_acknowledged",
                group: Group::Approvals,
                chat_topic: Some("lookalike_acknowledged"),
                subject: format!("Lookalike address on payout #{payout_id}, acknowledged by {who}"),
                lines,
                chat_lines,
                link: format!("/payouts/{payout_id}"),
                reply_to: who.clone(),
            };
            let people = with_role(conn, org, Role::can_approve)?.into_iter().filter(|u| u.id != who_id).collect();
            vec![(org, notice, people)]
        }
        DRAFT_READY => {
            let name = text(&data["schedule"]["name"]);
            let rows = id(&data["rows"]);
            let notice = Notice {
                kind: "draft_ready",
                group: Group::Outcomes,
                chat_topic: None,
                subject: format!("Ready for review: {name}, {}", crate::domain::words::count(rows, "row", "rows")),
                lines: vec![
                    format!(
                        "The schedule {name} made the draft of its next pay day ({}).",
                        crate::domain::words::count(rows, "row", "rows")
                    ),
                    "Review and confirm it; nothing is paid until someone does.".into(),
                ],
                chat_lines: Vec::new(),
                link: text(&data["review_path"]),
                reply_to: String::new(),
            };
            vec![(org, notice, with_role(conn, org, Role::can_create_payouts)?)]
        }
        ITEM_HELD => {
            let payout_id = id(&data["payout_id"]);
            let line = id(&data["item"]["line"]);
            let (list, entity) = (text(&data["hold"]["list"]), text(&data["hold"]["entity"]));
            let address = text(&data["item"]["address"]);
            let whom = if entity.is_empty() { String::new() } else { format!(" ({entity})") };
            let notice = Notice {
                kind: "item_held",
                group: Group::Operations,
                chat_topic: Some("compliance"),
                subject: format!("Held for compliance: row {line} of payout #{payout_id}"),
                lines: vec![
                    format!(
                        "Row {line} ({} {} to {address}) was about to be sent, and the address is on the sanctions \
                         list \"{list}\"{whom}. Nothing was sent.",
                        text(&data["item"]["amount"]),
                        text(&data["asset"]),
                    ),
                    "A manager may fail the row (its funds are released); an admin may release it only once the \
                     address is on no list."
                        .into(),
                ],
                chat_lines: vec![format!("Row {line}: {} on \"{list}\"", short_address(&address))],
                link: format!("/payouts/{payout_id}"),
                reply_to: String::new(),
            };
            let mut people = with_role(conn, org, Role::can_administer)?;
            for p in creator_and_followers(conn, org, payout_id)? {
                if !people.iter().any(|u| u.id == p.id) {
                    people.push(p);
                }
            }
            vec![(org, notice, people)]
        }
        SANCTIONS_LIST_STALE => {
            let list = text(&data["list"]);
            let notice = Notice {
                kind: "list_stale",
                group: Group::Operations,
                chat_topic: Some("compliance"),
                subject: format!("Sanctions list out of date: {list}"),
                lines: vec![
                    format!(
                        "The sanctions list \"{list}\" was imported {} days ago; your organization allows {} days.",
                        data["age_days"].as_i64().unwrap_or_default(),
                        data["max_age_days"].as_i64().unwrap_or_default()
                    ),
                    "Payouts are screened against it as it is: import a current file under Settings → Compliance."
                        .into(),
                ],
                chat_lines: vec![format!("Sanctions list \"{list}\" is out of date")],
                link: "/settings/compliance".into(),
                reply_to: String::new(),
            };
            vec![(org, notice, with_role(conn, org, Role::can_administer)?)]
        }
        WALLET_GAS_LOW => {
            let (coin, network) = (text(&data["coin"]), text(&data["network"]));
            let wallet = text(&data["wallet"]);
            let notice = Notice {
                kind: "gas_low",
                group: Group::Operations,
                chat_topic: Some("operations"),
                subject: format!("Wallet low on gas: {coin} on {network}, short by {}", text(&data["short_by"])),
                lines: vec![
                    format!("The hot wallet {wallet} holds {} {coin}.", text(&data["held"])),
                    format!(
                        "Payouts in progress need {} {coin} of gas; they wait until the wallet is funded.",
                        text(&data["gas_needed"])
                    ),
                ],
                chat_lines: vec![format!(
                    "Wallet {} short by {} {coin}",
                    short_address(&wallet),
                    text(&data["short_by"])
                )],
                link: "/".into(),
                reply_to: String::new(),
            };
            vec![(org, notice, with_role(conn, org, Role::can_administer)?)]
        }
        SECURITY_NOTICE => {
            let user = db::users::find(conn, id(&data["user_id"]))?;
            let what = text(&data["what"]);
            let mut lines = vec![what.clone()];
            if let Some(ip) = data["ip"].as_str() {
                lines.push(format!("From the address {ip}."));
            }
            lines.push("If this was not you, sign in, change what was changed and tell your administrator.".into());
            let notice = Notice {
                kind: "security",
                group: Group::Security,
                chat_topic: None,
                subject: format!("Security: {}", what.split(". ").next().unwrap_or_default().trim_end_matches('.')),
                lines,
                chat_lines: Vec::new(),
                link: "/account/security".into(),
                reply_to: String::new(),
            };
            vec![(org, notice, vec![user])]
        }
        _ => Vec::new(),
    };
    Ok(out)
}

/// A payout waits for approval (or still does, for a reminder): its deciders are told.
pub fn approval_needed(
    conn: &mut DbConnection,
    payout_id: i64,
    reminder: bool,
    at: NaiveDateTime,
) -> Result<Told, AppError> {
    let Some(a) = approvals::awaiting(conn, payout_id, at)? else {
        return Ok(Vec::new());
    };
    let p = &a.payout;
    let rows = crate::domain::words::count(p.item_count, "row", "rows");
    let mut subject = format!("Approve: {}, {rows}", p.amount_total.money());
    if !p.description.is_empty() {
        subject.push_str(&format!(", {}", p.description));
    }
    if reminder {
        subject = format!("Still waiting — {subject}");
    }
    let mut lines = vec![
        format!(
            "{} created payout #{} and it needs your approval ({} of {} given).",
            p.created_by_email, p.id, a.approvals_given, a.approvals_needed
        ),
        format!(
            "Amount: {} plus {} service fee ({} in total).",
            p.amount_total.money(),
            p.fee.money(),
            p.total_debit.money()
        ),
    ];
    let mut chat_lines = vec![format!("By {}; {} in total", p.created_by_email, p.total_debit.money())];
    if let Some(to) = &a.to_address {
        lines.push(format!("To: {to}"));
        chat_lines.push(format!("To {}", short_address(to)));
    }
    lines.push(format!(
        "Rows: {}; first payments to an address: {}; changed payee addresses: {}.",
        p.item_count, a.first_payments, a.changed_addresses
    ));
    if a.lookalikes > 0 {
        lines.push(format!(
            "{} a lookalike address (it looks like an address you know but is another); check them before \
             approving.",
            crate::domain::words::count(a.lookalikes, "row pays", "rows pay")
        ));
        chat_lines.push(crate::domain::words::count(a.lookalikes, "lookalike address", "lookalike addresses"));
    }
    if a.first_payments + a.changed_addresses > 0 {
        chat_lines.push(format!(
            "{}, {}",
            crate::domain::words::count(a.first_payments, "first payment", "first payments"),
            crate::domain::words::count(a.changed_addresses, "changed address", "changed addresses")
        ));
    }
    if let Some(day) = &a.pay_day {
        lines.push(format!("Pay day: {day}."));
        chat_lines.push(format!("Pay day {day}"));
    }
    let notice = Notice {
        kind: if reminder { "approval_reminder" } else { "approval_needed" },
        group: Group::Approvals,
        chat_topic: (!reminder).then_some("approval_needed"),
        subject,
        lines,
        chat_lines,
        link: format!("/payouts/{}", p.id),
        reply_to: p.created_by_email.clone(),
    };
    Ok(vec![(a.org_id, notice, a.deciders)])
}

/// A payout moved: approved (now in progress), rejected, paid, failed or partly paid.
fn outcome(conn: &mut DbConnection, org: i64, data: &Value) -> Result<Told, AppError> {
    let payout_id = data["id"].as_i64().unwrap_or_default();
    let Some(status) = data["status"].as_str().and_then(PayoutStatus::parse) else {
        return Ok(Vec::new());
    };
    let row = db::payouts::find(conn, payout_id)?;
    let emails = db::users::emails_in_org(conn, org)?;
    let p = crate::service::payouts::view(&row, &emails)?;
    let decisions = data["approvals"].as_array().cloned().unwrap_or_default();
    let last = decisions.last();
    let who = |v: Option<&Value>| v.and_then(|a| a["user"].as_str()).unwrap_or("a manager").to_owned();
    let what = if p.description.is_empty() { format!("payout #{}", p.id) } else { p.description.clone() };
    let (kind, chat_topic, subject, lines, reply_to) = match status {
        PayoutStatus::InProgress => {
            let by: Vec<String> =
                decisions.iter().filter(|a| a["decision"] == "approve").map(|a| who(Some(a))).collect();
            if by.is_empty() {
                return Ok(Vec::new());
            }
            (
                "approved",
                None,
                format!("Approved: {}, {what}", p.amount_total.money()),
                vec![format!("Approved by {}. The payout is being paid.", by.join(", "))],
                who(last),
            )
        }
        PayoutStatus::Cancelled => {
            let Some(rejection) = decisions.iter().find(|a| a["decision"] == "reject") else {
                return Ok(Vec::new());
            };
            let reason = rejection["reason"].as_str().unwrap_or_default();
            (
                "rejected",
                Some("payout_rejected"),
                format!("Rejected: {}, {what}", p.amount_total.money()),
                vec![
                    format!("{} rejected it: {reason}", who(Some(rejection))),
                    "Nothing was paid; the reserved amount is available again.".into(),
                ],
                who(Some(rejection)),
            )
        }
        PayoutStatus::Completed => (
            "completed",
            Some("payout_finished"),
            format!("Paid: {}, {what}", p.amount_total.money()),
            vec![format!(
                "Every row of payout #{} was paid ({}).",
                p.id,
                crate::domain::words::count(p.item_count, "row", "rows")
            )],
            String::new(),
        ),
        PayoutStatus::Failed => (
            "failed",
            Some("payout_finished"),
            format!("Failed: {}, {what}", p.amount_total.money()),
            vec![format!("No row of payout #{} could be paid; what was reserved is available again.", p.id)],
            String::new(),
        ),
        PayoutStatus::PartiallyCompleted => {
            let items = db::payouts::items(conn, p.id)?;
            let failed = items.iter().filter(|i| i.status == crate::domain::payout::ItemStatus::Failed).count();
            (
                "partially_completed",
                Some("payout_finished"),
                format!("Partly paid: {} of {} rows failed, {what}", failed, p.item_count),
                vec![format!(
                    "{} of {} rows were paid; {failed} failed. The payout's page lists them and can pay them again.",
                    p.item_count as usize - failed,
                    p.item_count
                )],
                String::new(),
            )
        }
        PayoutStatus::Pending => return Ok(Vec::new()),
    };
    let notice = Notice {
        kind,
        group: Group::Outcomes,
        chat_topic,
        chat_lines: lines.clone(),
        subject,
        lines,
        link: format!("/payouts/{}", p.id),
        reply_to,
    };
    Ok(vec![(org, notice, creator_and_followers(conn, org, payout_id)?)])
}

/// The payout's creator and whoever follows the organization's payouts.
fn creator_and_followers(conn: &mut DbConnection, org: i64, payout_id: i64) -> Result<Vec<UserRow>, AppError> {
    let creator = db::payouts::find(conn, payout_id)?.created_by;
    let users = db::users::list_in_org(conn, org)?;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let following: Vec<i64> =
        db::notices::prefs_of(conn, &ids)?.into_iter().filter(|p| p.follow_payouts).map(|p| p.user_id).collect();
    Ok(users.into_iter().filter(|u| u.id == creator || following.contains(&u.id)).collect())
}

/// Enabled users of the organization whose role passes `allowed`.
pub fn with_role(conn: &mut DbConnection, org: i64, allowed: fn(Role) -> bool) -> Result<Vec<UserRow>, AppError> {
    Ok(db::users::list_in_org(conn, org)?
        .into_iter()
        .filter(|u| !u.disabled && Role::parse(&u.role).is_some_and(allowed))
        .collect())
}
