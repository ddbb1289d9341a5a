//! A chain config's `explorer_tx` (issue 43): receipts and the payee's pages link each
//! transaction to the explorer the deployment names for its chain, not the asset's usual one.
//! The templates are a process's configuration, set once: this binary sets LTC's for itself.

mod common;

use common::{TestApp, actor, backends};
use payouts::db;
use payouts::service::payees::book::{self, PayeeForm};

#[actix_web::test]
async fn receipts_and_the_payees_page_link_to_the_chain_configs_explorer() {
    let mut own = std::collections::HashMap::new();
    own.insert("LTC", payouts::domain::asset::explorer_template("https://explorer.example/ltc/tx/{tx}").unwrap());
    assert!(payouts::domain::asset::set_explorers(own), "set once, at start");
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let org = common::demo_org(&app);
        db::orgs::set_approval_required(&mut app.conn(), org, false).unwrap();
        db::orgs::set_payee_receipts(&mut app.conn(), org, true).unwrap();
        let deposit = payouts::service::payouts::ledger::DepositForm {
            asset: "LTC".into(),
            amount: "10".into(),
            note: "test".into(),
        };
        payouts::service::payouts::ledger::deposit(&mut app.conn(), &actor(&app, "admin@demo.local"), &deposit)
            .unwrap();
        let accountant = actor(&app, "accountant@demo.local");
        let form = PayeeForm { name: "Ada Lovelace".into(), email: "ada@example.com".into(), ..Default::default() };
        let payee = book::create(&mut app.conn(), &accountant, &form).unwrap().id;
        let address = bech32::segwit::encode_v0(bech32::Hrp::parse("ltc").unwrap(), &[7u8; 20]).unwrap();
        let address = address.as_str();
        let entered =
            payouts::service::payees::addresses::enter_address(&mut app.conn(), &accountant, payee, "LTC", address)
                .unwrap();
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, true, false, "").unwrap();
        common::end_cooling_off(&app);
        let mut staff = app.client().await;
        staff.login("accountant@demo.local", "demo").await;
        let paid = common::payout_id_of(&staff.single_payout("LTC", "0.5", address, "December").await);
        common::process_all(&app, &common::instant_rail(&app, &[]));
        let n = payouts::service::outbound::tell::Notifier {
            public_url: url::Url::parse("https://payouts.example.com/").unwrap(),
            mail: true,
            stuck_after: chrono::Duration::hours(1),
        };
        while payouts::service::outbound::notices::notify(&mut app.conn(), &n, payouts::clock::now()).unwrap() > 0 {}
        let tx = db::payouts::items(&mut app.conn(), paid).unwrap()[0].tx_hash.clone().unwrap();
        let link = format!("https://explorer.example/ltc/tx/{tx}");
        let receipts: Vec<_> = db::outbox::to_recipient(&mut app.conn(), "ada@example.com")
            .unwrap()
            .into_iter()
            .filter(|m| m.kind == "payee_receipt")
            .collect();
        assert_eq!(receipts.len(), 1, "[{backend:?}]");
        assert!(receipts[0].body_text.contains(&link), "[{backend:?}] {}", receipts[0].body_text);
        assert!(!receipts[0].body_text.contains("litecoinspace.org"), "[{backend:?}]");
        // The staff's payout page links the same explorer; other assets keep their usual one.
        let page = staff.get(&format!("/payouts/{paid}")).await;
        assert!(page.body.contains(&link), "[{backend:?}]");
        assert_eq!(
            payouts::domain::asset::find("BTC").unwrap().explorer_url("ab"),
            "https://mempool.space/tx/ab",
            "[{backend:?}]"
        );
    }
}
