//! Demo payouts in every status, so the pages show something on first start.

use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::error::AppError;
use crate::rails::Rail;
use crate::service::access::Actor;
use crate::service::payouts::processor::{self, ProcessorConfig};
use crate::service::payouts::{self, SinglePayoutForm};

/// Transfers to this address fail on the simulated network in demo mode.
pub const DEMO_FAIL_ADDRESS: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";

fn form(asset: &str, amount: &str, address: &str, description: &str) -> SinglePayoutForm {
    SinglePayoutForm {
        asset: asset.into(),
        amount: amount.into(),
        description: description.into(),
        address: address.into(),
        ..Default::default()
    }
}

/// On the demo's sample sanctions list: paying it is refused everywhere, as a listed address is.
pub const DEMO_SANCTIONED_ADDRESS: &str = "TK845YfUtfnuU1Whr6prDjm4tqnEjwFCk9";

/// The demo's sample sanctions list, naming one address, so that a visitor sees a refused row.
pub fn seed_sanctions(conn: &mut DbConnection, at: chrono::NaiveDateTime) -> Result<(), AppError> {
    use crate::service::compliance::{Importer, import};
    let list = format!("address,reason\n{DEMO_SANCTIONED_ADDRESS},Demo: a sample listed address\n");
    import(conn, Importer::System("demo"), "Demo sample list", "demo", list.as_bytes(), at)?;
    Ok(())
}

/// Seeds the demo organization's payouts. `rail` must confirm at once and fail transfers to
/// [`DEMO_FAIL_ADDRESS`]; the payouts it settles end Completed or Failed.
pub fn seed_payouts(conn: &mut DbConnection, rail: &dyn Rail) -> Result<(), AppError> {
    let user = db::users::find_by_email(conn, "accountant@demo.local")?.ok_or(AppError::NotFound)?;
    let actor = Actor::of_user(user, Role::Accountant);
    let create = |conn: &mut DbConnection, f: SinglePayoutForm, key: &str| -> Result<i64, AppError> {
        let draft = payouts::check_single(conn, &actor, &f)?;
        Ok(payouts::create(conn, &actor, &draft, key)?.payout.id)
    };
    let tron = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
    let evm = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    create(conn, form("USDT_TRC20", "1250.5", tron, "Invoice 2026-114, design work"), "demo-completed-1")?;
    create(
        conn,
        form("BTC", "0.015", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "October retainer"),
        "demo-completed-2",
    )?;
    create(
        conn,
        form("USDT_ERC20", "300", DEMO_FAIL_ADDRESS, "Travel refund (address rejected by the network)"),
        "demo-failed",
    )?;
    for _ in 0..3 {
        processor::tick(conn, rail, "demo-seed", &ProcessorConfig::default())?;
    }
    let cancelled = create(conn, form("ETH", "0.5", evm, "Duplicate of invoice 2026-110"), "demo-cancelled")?;
    payouts::cancel(conn, &actor, cancelled, "Duplicate: already paid")?;
    // Left queued: the server's processor sends it in its first seconds.
    create(conn, form("TRX", "2500", tron, "Community reward"), "demo-in-progress")?;
    // The demo organization requires approval, so the whole workflow can be tried at once: this
    // one waits for a manager.
    db::orgs::set_approval_required(conn, actor.org_id, true)?;
    // A payee address approved in the demo is payable at once, so the flow can be tried end to end.
    db::payees::set_cooling_off(conn, actor.org_id, 0)?;
    create(conn, form("USDT_TRC20", "4800", tron, "November salary, contractor team lead"), "demo-pending")?;
    Ok(())
}
