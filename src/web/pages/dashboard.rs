use actix_web::{HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::domain::Amount;
use crate::domain::account::Role;
use crate::error::AppError;
use crate::rails::{GasOutlook, WalletView};
use crate::service::access::users;
use crate::service::payouts::dashboard::{self, Overview};
use crate::service::payouts::ledger::BalanceLine;
use crate::web::context::Authed;
use crate::web::datetime::Stamp as _;
use crate::web::layout::Layout;
use crate::web::page;

#[derive(Template)]
#[template(path = "pages/dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub org_name: String,
    pub role_label: &'static str,
    pub can_administer: bool,
    pub can_create: bool,
    pub o: Overview,
    /// Hot wallets of the real chains, beside the ledger balances they pay from.
    pub wallets: Vec<WalletView>,
    /// Hot wallets whose coin cannot pay the gas of the payouts in progress.
    pub gas_short: Vec<GasOutlook>,
    /// Sanctions lists older than the organization allows (told to admins only).
    pub stale_lists: Vec<crate::service::compliance::freshness::ListAge>,
    /// Whom to ask for a deposit or a payout, for those who cannot make one.
    pub admins: Vec<String>,
    pub accountants: Vec<String>,
}

impl DashboardPage {
    /// Assets that hold or held funds; the others are folded under one line.
    /// The fiat value of an asset's available balance, as the dashboard says it.
    fn value(&self, code: &str) -> &str {
        self.o.values.iter().find(|(c, _)| *c == code).map_or("", |(_, v)| v.as_str())
    }

    fn held(&self) -> Vec<&BalanceLine> {
        self.o.balances.iter().filter(|l| !l.is_empty()).collect()
    }

    fn empty_assets(&self) -> Vec<&BalanceLine> {
        self.o.balances.iter().filter(|l| l.is_empty()).collect()
    }

    fn wallet(&self, code: &str) -> Option<&WalletView> {
        self.wallets.iter().find(|w| w.asset.code == code)
    }

    /// How much the hot wallet lacks to pay what is reserved, when it lacks anything.
    fn shortfall(&self, code: &str, reserved: &Amount) -> Option<Amount> {
        let held = *self.wallet(code)?.on_chain.as_ref().ok()?;
        reserved.checked_sub(held).filter(|s| !s.is_negative() && !s.is_zero())
    }
}

pub async fn show(state: web::Data<AppState>, authed: Authed) -> Result<HttpResponse, AppError> {
    let actor = authed.actor();
    let stuck_after = state.config.stuck_after;
    let app = state.get_ref().clone();
    let now = state.clock.now();
    let (overview, wallets, gas_short, admins, accountants, stale_lists) = state
        .run(move |conn| {
            let o = dashboard::overview(conn, &actor, stuck_after)?;
            let wallets = o.balances.iter().filter_map(|b| app.wallet(b.asset())).collect();
            let gas_short = crate::service::outbound::gas_watch::short_wallets(conn, &app.rails)?;
            let admins = users::who_can_any(conn, actor.org_id, &[Role::Admin])?;
            let accountants = users::who_can_any(conn, actor.org_id, &[Role::Accountant])?;
            let stale = if actor.role.can_administer() {
                crate::service::compliance::freshness::stale(conn, actor.org_id, now)?
            } else {
                Vec::new()
            };
            Ok((o, wallets, gas_short, admins, accountants, stale))
        })
        .await?;
    page(&DashboardPage {
        layout: Layout::new(&authed.ctx, "/"),
        org_name: authed.user.org_name.clone(),
        role_label: authed.user.role.label(),
        can_administer: authed.user.role.can_administer(),
        can_create: authed.user.role.can_create_payouts(),
        o: overview,
        wallets,
        gas_short,
        stale_lists,
        admins,
        accountants,
    })
}
