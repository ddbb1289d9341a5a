//! Filling a mass payout's draft from the payee book: the payees to pick from (by tag or name),
//! each with the address a row would pay, and adding the picked ones as rows.

use crate::db::drafts::{DraftRow, NewDraftLine};
use crate::db::{self, DbConnection};
use crate::domain::FieldErrors;
use crate::domain::asset::Asset;
use crate::domain::payee::AddressStatus;
use crate::domain::registry::Limits;
use crate::error::AppError;
use crate::service::access::Actor;

use super::drafts::*;

/// A payee as "Add payees" offers it for this draft's asset: the address a row would pay, or
/// why there is none.
pub struct PayeeChoice {
    pub id: i64,
    pub name: String,
    pub external_id: String,
    pub tags: String,
    /// The approved address on the draft's network (payable, or still cooling off).
    pub address: Option<String>,
    pub why_not: &'static str,
}

/// Payees matching `term` (the start of a name, an external id or a whole tag; all when empty),
/// each with the address it would be paid at.
pub fn payee_choices(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    term: &str,
) -> Result<(DraftRow, &'static Asset, Vec<PayeeChoice>), AppError> {
    let (draft, asset) = load_open(conn, actor, id)?;
    let found = crate::service::payees::list(conn, actor, term, false)?;
    let ids: Vec<i64> = found.iter().map(|p| p.id).collect();
    let (_, addresses) = db::payees::with_addresses(conn, actor.org_id, &ids, asset.network)?;
    let choices = found
        .into_iter()
        .map(|p| {
            let mine = addresses.iter().filter(|a| a.payee_id == p.id);
            let approved = mine.clone().find(|a| a.status == AddressStatus::Approved).map(|a| a.address.clone());
            let why_not = match (&approved, mine.clone().any(|a| a.status == AddressStatus::Pending)) {
                (Some(_), _) => "",
                (None, true) => "Address awaiting approval",
                (None, false) => "No address on this network",
            };
            PayeeChoice { id: p.id, name: p.name, external_id: p.external_id, tags: p.tags, address: approved, why_not }
        })
        .collect();
    Ok((draft, asset, choices))
}

/// What "Add payees" did.
#[derive(Debug, PartialEq, Eq)]
pub struct AddedPayees {
    pub added: usize,
    /// Payees left out: archived, or without an approved address on the draft's network.
    pub skipped: Vec<String>,
}

/// Adds a row per chosen payee: the payee's approved address on the draft's network, `amount`
/// (empty leaves each to be filled in), and the payee's external id as the reference. Read and
/// written in one transaction, so an address changed meanwhile is the one added.
pub fn add_payees(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    payee_ids: &[i64],
    amount: &str,
    limits: &Limits,
) -> Result<AddedPayees, AppError> {
    if payee_ids.is_empty() {
        return Err(FieldErrors::single("payee", "Choose at least one payee.").into());
    }
    if payee_ids.len() > limits.max_rows {
        return Err(FieldErrors::single("payee", format!("Choose at most {} payees.", limits.max_rows)).into());
    }
    let mut ids = payee_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let (_, asset) = load_open(conn, actor, id)?;
        let (mut payees, addresses) = db::payees::with_addresses(conn, actor.org_id, &ids, asset.network)?;
        payees.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let approved: std::collections::HashMap<i64, &str> = addresses
            .iter()
            .filter(|a| a.status == AddressStatus::Approved)
            .map(|a| (a.payee_id, a.address.as_str()))
            .collect();
        let mut chosen = Vec::new();
        let mut skipped = Vec::new();
        for p in &payees {
            match approved.get(&p.id) {
                Some(a) if !p.archived => chosen.push((p, a.to_string())),
                _ => skipped.push(p.name.clone()),
            }
        }
        check_room(conn, id, chosen.len(), limits)?;
        let first = db::drafts::max_position(conn, id)? + 1;
        let lines: Vec<NewDraftLine> = chosen
            .iter()
            .enumerate()
            .map(|(n, (p, address))| {
                let form = RowForm {
                    address: address.clone(),
                    amount: amount.trim().to_owned(),
                    comment: String::new(),
                    reference: p.external_id.clone(),
                };
                line_of(asset, id, first + n as i64, None, &form)
            })
            .collect();
        db::drafts::insert_lines(conn, &lines)?;
        db::drafts::touch(conn, id, at)?;
        Ok(AddedPayees { added: lines.len(), skipped })
    })
}
