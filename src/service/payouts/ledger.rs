//! Balances and the movements that change them, each a compare-and-swap on the balance row
//! plus an append-only entry, inside the caller's transaction.

use chrono::NaiveDateTime;

use crate::db::ledger::{BalanceRow, EntryRow, NewEntryRow};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::ledger::{Balance, LedgerError, Movement};
use crate::domain::{Amount, FieldErrors};
use crate::error::{AppError, stored_amount};
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

/// How often a compare-and-swap is retried against concurrent writers before giving up.
const CAS_ATTEMPTS: usize = 20;

fn to_balance(row: &BalanceRow) -> Result<Balance, AppError> {
    let asset =
        asset::find(&row.asset).ok_or_else(|| AppError::Internal(format!("unknown stored asset {}", row.asset)))?;
    Ok(Balance {
        available: stored_amount(asset, &row.available)?,
        reserved: stored_amount(asset, &row.reserved)?,
        paid: stored_amount(asset, &row.paid)?,
    })
}

/// What a movement records besides its amount.
pub struct MoveContext<'a> {
    pub org_id: i64,
    pub payout_id: Option<i64>,
    pub note: &'a str,
    pub actor_user_id: Option<i64>,
    pub at: NaiveDateTime,
}

/// Releases one row's reservation (its amount and fee) back to the available balance, in the
/// caller's write transaction: a row failed by a person, a claim nobody answered.
pub(crate) fn release_row(
    conn: &mut DbConnection,
    payout: &crate::db::payouts::PayoutRow,
    item: &crate::db::payouts::ItemRow,
    note: &str,
    actor_user_id: Option<i64>,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    let asset = super::payout_asset(payout)?;
    let (amount, fee) =
        (crate::error::stored_amount(asset, &item.amount)?, crate::error::stored_amount(asset, &item.fee)?);
    let held = amount.checked_add(fee).ok_or_else(|| AppError::Internal("item total overflow".into()))?;
    let ctx = MoveContext { org_id: payout.org_id, payout_id: Some(payout.id), note, actor_user_id, at };
    move_funds(conn, Movement::Release, held, &ctx).map(drop)
}

/// Moves `amount` between buckets. Call inside a write transaction: the balance row and the
/// entry change together or not at all.
pub fn move_funds(
    conn: &mut DbConnection,
    movement: Movement,
    amount: Amount,
    ctx: &MoveContext,
) -> Result<Balance, AppError> {
    let code = amount.asset().code;
    for _ in 0..CAS_ATTEMPTS {
        // Read holding the row: concurrent movements of the asset take turns instead of losing
        // their compare-and-swap to each other.
        let row = match db::ledger::balance_for_update(conn, ctx.org_id, code)? {
            Some(row) => row,
            // The asset's first movement: its zero row is made once.
            None => {
                db::ledger::ensure_balance(conn, ctx.org_id, code)?;
                db::ledger::balance_for_update(conn, ctx.org_id, code)?.ok_or(AppError::NotFound)?
            }
        };
        let next = to_balance(&row)?.apply(movement, amount).map_err(ledger_error)?;
        let swapped = db::ledger::compare_and_swap(
            conn,
            &row,
            &next.available.to_string(),
            &next.reserved.to_string(),
            &next.paid.to_string(),
        )?;
        if swapped {
            let (from, to) = movement.buckets();
            db::ledger::append(
                conn,
                &NewEntryRow {
                    org_id: ctx.org_id,
                    asset: code,
                    kind: movement.as_str(),
                    from_bucket: from.as_str(),
                    to_bucket: to.as_str(),
                    amount: &amount.to_string(),
                    payout_id: ctx.payout_id,
                    note: ctx.note,
                    created_by: ctx.actor_user_id,
                    created_at: ctx.at,
                },
            )?;
            return Ok(next);
        }
    }
    Err(AppError::Conflict("The balance is changing too fast right now; try again.".into()))
}

fn ledger_error(e: LedgerError) -> AppError {
    match e {
        LedgerError::Insufficient { .. } => AppError::Conflict(e.to_string()),
        other => AppError::Internal(other.to_string()),
    }
}

/// The organization's balance of every asset it has one of, in the asset table's order.
pub fn balances(conn: &mut DbConnection, org_id: i64) -> Result<Vec<Balance>, AppError> {
    let rows = db::ledger::balances(conn, org_id)?;
    let mut list = rows.iter().map(to_balance).collect::<Result<Vec<_>, _>>()?;
    list.sort_by_key(|b| asset::ASSETS.iter().position(|a| a.code == b.asset().code));
    Ok(list)
}

/// One asset's balance as both the dashboard and the Balances page show it: "paid out" is what
/// recipients received; the service fees charged on those rows are their own figure (the
/// ledger's paid bucket holds both).
pub struct BalanceLine {
    pub balance: Balance,
    pub paid_out: Amount,
    pub fees_paid: Amount,
}

impl BalanceLine {
    /// Nothing ever came in: pages fold such assets away.
    pub fn is_empty(&self) -> bool {
        self.balance.funded().is_none_or(|f| f.is_zero())
    }

    pub fn asset(&self) -> &'static Asset {
        self.balance.asset()
    }
}

/// One line per enabled asset (zero where nothing was deposited), then any other asset that
/// still holds funds, in the order of the asset list.
pub fn balance_sheet(conn: &mut DbConnection, org_id: i64) -> Result<Vec<BalanceLine>, AppError> {
    let enabled = crate::service::access::org_settings::enabled_assets(conn, org_id)?;
    let held = balances(conn, org_id)?;
    let mut list: Vec<Balance> = enabled
        .iter()
        .map(|a| held.iter().find(|b| b.asset().code == a.code).copied().unwrap_or_else(|| Balance::zero(a)))
        .collect();
    list.extend(
        held.iter()
            .filter(|b| !enabled.iter().any(|a| a.code == b.asset().code) && !b.funded().is_some_and(|f| f.is_zero())),
    );
    list.sort_by_key(|b| asset::ASSETS.iter().position(|a| a.code == b.asset().code));
    let fees = super::paid_totals::fees_paid(conn, org_id)?;
    list.into_iter()
        .map(|balance| {
            let a = balance.asset();
            let fees_paid = match fees.get(a.code) {
                Some(f) => stored_amount(a, f)?,
                None => Amount::zero(a),
            };
            let paid_out =
                balance.paid.checked_sub(fees_paid).ok_or_else(|| AppError::Internal("paid total overflow".into()))?;
            Ok(BalanceLine { balance, paid_out, fees_paid })
        })
        .collect()
}

pub fn balance_of(conn: &mut DbConnection, org_id: i64, asset: &'static Asset) -> Result<Balance, AppError> {
    match db::ledger::balance(conn, org_id, asset.code)? {
        Some(row) => to_balance(&row),
        None => Ok(Balance::zero(asset)),
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DepositForm {
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub note: String,
}

/// An admin records funds that arrived (the stand-in for incoming transfers).
pub fn deposit(conn: &mut DbConnection, actor: &Actor, form: &DepositForm) -> Result<Balance, AppError> {
    actor.require(Role::can_administer)?;
    let mut errors = FieldErrors::new();
    let asset = asset::find(&form.asset);
    if asset.is_none() {
        errors.add("asset", "Choose an asset.");
    }
    let amount = asset.and_then(|a| Amount::parse(a, &form.amount).map_err(|e| errors.add("amount", e)).ok());
    let note = form.note.trim();
    if note.is_empty() {
        errors.add("note", "Say where the funds came from, e.g. the incoming transaction.");
    } else if let Err(e) = crate::domain::registry::check_text(note, 200) {
        errors.add("note", e);
    }
    errors.into_result(())?;
    let amount = amount.expect("checked");
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let ctx = MoveContext { org_id: actor.org_id, payout_id: None, note, actor_user_id: Some(actor.user_id), at };
        let balance = move_funds(conn, Movement::Deposit, amount, &ctx)?;
        audit::record(
            conn,
            Entry::by(actor, "balance.deposit", "balance", amount.asset().code)
                .detail(format!("{}: {note}", amount.money())),
            at,
        )?;
        Ok(balance)
    })
}

/// The newest entries, for the balances page.
pub fn recent_entries(conn: &mut DbConnection, org_id: i64, limit: i64) -> Result<Vec<EntryRow>, AppError> {
    Ok(db::ledger::entries(conn, org_id, limit)?)
}
