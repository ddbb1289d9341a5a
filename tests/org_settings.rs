//! Settings → Assets, Fees and Balances, and the dashboard's balances — on every backend.

mod common;

use actix_web::http::StatusCode;
use common::{TestApp, backends, demo_org};
use payouts::domain::asset::find;
use payouts::domain::fee::Operation;
use payouts::service::access::org_settings;
use payouts::service::payouts::ledger;

#[actix_web::test]
async fn demo_balances_show_on_the_dashboard() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let page = client.get("/").await;
        assert!(page.body.contains(r#"<td class="amount">50,000 USDT_TRC20</td>"#), "[{backend:?}] {}", page.body);
        assert!(page.body.contains(r#"<td class="amount">1.5 BTC</td>"#));
        assert!(page.body.contains(r#"<td class="amount">12.5 ETH</td>"#));
        let mut conn = app.conn();
        let org = payouts::db::orgs::find_by_name(&mut conn, "Demo Company").unwrap().unwrap();
        let btc = ledger::balance_of(&mut conn, org.id, find("BTC").unwrap()).unwrap();
        assert_eq!(
            (btc.available.to_string(), btc.reserved.to_string(), btc.paid.to_string()),
            ("1.5".into(), "0".into(), "0".into())
        );
    }
}

#[actix_web::test]
async fn admin_records_a_deposit_and_the_ledger_shows_who() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/balances").await;
        let res = admin
            .post_form("/settings/balances", &[("asset", "USDT_TRC20"), ("amount", "0.000001"), ("note", "tx 0xabc")])
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let page = admin.get("/settings/balances").await;
        assert!(page.body.contains("Deposit recorded: 50,000.000001 USDT_TRC20 now available."), "{}", page.body);
        assert!(page.body.contains("tx 0xabc") && page.body.contains("admin@demo.local"));

        let res =
            admin.post_form("/settings/balances", &[("asset", "USDT_TRC20"), ("amount", "12,5"), ("note", "")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("Use a dot as the decimal mark"));
        assert!(res.body.contains("Say where the funds came from"));
        assert!(res.body.contains("value=\"12,5\""), "what was typed is kept");

        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let res = accountant
            .post_form("/settings/balances", &[("asset", "BTC"), ("amount", "100"), ("note", "free money")])
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        let mut conn = app.conn();
        let org = payouts::db::orgs::find_by_name(&mut conn, "Demo Company").unwrap().unwrap();
        let btc = ledger::balance_of(&mut conn, org.id, find("BTC").unwrap()).unwrap();
        assert_eq!(btc.available.to_string(), "1.5", "[{backend:?}] nothing changed");
    }
}

#[actix_web::test]
async fn admin_edits_a_fee_rule_and_it_is_audited() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/fees").await;
        assert!(page.body.contains("id=\"USDT_TRC20-single-percent\""), "[{backend:?}]");
        let res = admin
            .post_form(
                "/settings/fees/USDT_TRC20/single",
                &[("percent", "1.25"), ("fixed", "0.5"), ("min", "2"), ("max", "50")],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);

        let mut conn = app.conn();
        let org = payouts::db::orgs::find_by_name(&mut conn, "Demo Company").unwrap().unwrap();
        let rule =
            org_settings::fee_schedule(&mut conn, org.id).unwrap().rule(find("USDT_TRC20").unwrap(), Operation::Single);
        let fee = rule.fee_for(payouts::domain::Amount::parse(find("USDT_TRC20").unwrap(), "1000").unwrap());
        assert_eq!(fee.to_string(), "13", "[{backend:?}] 1.25 % of 1000 + 0.5");

        let res = admin
            .post_form(
                "/settings/fees/USDT_TRC20/mass_row",
                &[("percent", "abc"), ("fixed", "0"), ("min", "5"), ("max", "1")],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("Write the percentage as a plain number"));
        assert!(res.body.contains("The maximum cannot be below the minimum."));
        assert!(
            res.body.contains("id=\"USDT_TRC20-mass_row-percent\" name=\"percent\" value=\"abc\""),
            "typed value kept"
        );

        let audit = admin.get("/settings/audit").await;
        assert!(
            audit.body.contains("fee.changed")
                && audit.body.contains("1.25 % + 0.5 USDT_TRC20 fixed, min 2 USDT_TRC20, max 50 USDT_TRC20"),
            "[{backend:?}]"
        );
        assert_eq!(
            admin
                .post_form("/settings/fees/XRP/single", &[("percent", "1"), ("fixed", "0"), ("min", "0")])
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[actix_web::test]
async fn admin_chooses_the_enabled_assets() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/assets").await;
        assert_eq!(
            page.body.matches(" checked>").count() - page.body.matches("value=\"on\" checked>").count(),
            payouts::domain::asset::ASSETS.len(),
            "[{backend:?}] all enabled at first"
        );
        let res = admin.post_form("/settings/assets", &[("asset", "USDT_TRC20"), ("asset", "BTC")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let mut conn = app.conn();
        let org = payouts::db::orgs::find_by_name(&mut conn, "Demo Company").unwrap().unwrap();
        let enabled: Vec<&str> =
            org_settings::enabled_assets(&mut conn, org.id).unwrap().iter().map(|a| a.code).collect();
        assert_eq!(enabled, ["BTC", "USDT_TRC20"]);
        let res = admin.post_form("/settings/assets", &[]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("Keep at least one asset enabled."));
        let audit = admin.get("/settings/audit").await;
        assert!(audit.body.contains("asset.disabled") && audit.body.contains("asset ETH"), "[{backend:?}]");
        // The dashboard lists the enabled assets, plus any other that still holds funds.
        let dashboard = admin.get("/").await;
        assert!(
            dashboard.body.contains("<th scope=\"row\">USDT_TRC20</th>")
                && dashboard.body.contains("<th scope=\"row\">ETH</th>")
        );
        assert!(!dashboard.body.contains("<th scope=\"row\">LTC</th>"));
    }
}

#[actix_web::test]
async fn admins_choose_whether_recipients_solana_token_accounts_are_created() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let org = demo_org(&app);
        let creates = |app: &TestApp| org_settings::creates_token_accounts(&mut app.conn(), org).unwrap();
        assert!(creates(&app), "[{backend:?}] on at first");
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        accountant.get("/").await;
        let res = accountant.post_form("/settings/assets/token-accounts", &[]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] admins only");
        assert!(creates(&app), "[{backend:?}]");

        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/assets").await;
        assert!(page.body.contains("name=\"create\" value=\"on\" checked>"), "[{backend:?}]");
        let res = admin.post_form("/settings/assets/token-accounts", &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        assert!(!creates(&app), "[{backend:?}] unticked: off");
        let page = admin.get("/settings/assets").await;
        assert!(page.body.contains("fail unsent") && !page.body.contains("value=\"on\" checked>"), "[{backend:?}]");
        admin.post_form("/settings/assets/token-accounts", &[("create", "on")]).await;
        assert!(creates(&app), "[{backend:?}] ticked: on");
        let audit = admin.get("/settings/audit").await.body;
        assert!(
            audit.contains("org.token_accounts_refused") && audit.contains("org.token_accounts_created"),
            "[{backend:?}] both changes audited"
        );
    }
}

#[actix_web::test]
async fn registry_template_downloads_as_csv() {
    let app = TestApp::start(payouts::db::Backend::Sqlite).await;
    let mut client = app.client().await;
    let res = client.get("/registry-template.csv").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.header("content-type").unwrap().starts_with("text/csv"));
    assert!(res.header("content-disposition").unwrap().contains("attachment"));
    assert_eq!(res.body.lines().next(), Some("address,amount,comment,reference"));
}

#[actix_web::test]
async fn concurrent_deposits_all_count() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (org_id, admin_id) = {
            let mut conn = app.conn();
            let admin = payouts::db::users::find_by_email(&mut conn, "admin@demo.local").unwrap().unwrap();
            (admin.org_id, admin.id)
        };
        let actor = payouts::service::access::Actor {
            user_id: admin_id,
            org_id,
            email: "admin@demo.local".into(),
            role: payouts::domain::account::Role::Admin,
            ip: None,
            stepped_up_at: None,
            via_api: false,
            clock: app.state.clock.clone(),
        };
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let pool = app.state.pool.clone();
                let actor = actor.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().unwrap();
                    for _ in 0..5 {
                        let form = ledger::DepositForm {
                            asset: "DOGE".into(),
                            amount: "1.00000001".into(),
                            note: "parallel".into(),
                        };
                        ledger::deposit(&mut conn, &actor, &form).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut conn = app.conn();
        let doge = ledger::balance_of(&mut conn, org_id, find("DOGE").unwrap()).unwrap();
        assert_eq!(doge.available.to_string(), "40.0000004", "[{backend:?}] 40 deposits, none lost");
        let entries = payouts::db::ledger::entries_for_asset(&mut conn, org_id, "DOGE").unwrap();
        assert_eq!(entries.len(), 40);
    }
}
