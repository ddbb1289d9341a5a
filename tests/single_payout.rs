//! A single payout end to end: form, review, confirm, processing, balances, cancel, failure,
//! concurrency and restarts — on every backend.

mod common;

use actix_web::http::StatusCode;
use common::{EVM_ADDRESS, TRON_ADDRESS, TestApp, backends, demo_org, instant_rail, payout_id_of, process_all};
use payouts::domain::asset::find;
use payouts::service::payouts::ledger;

fn balance(app: &TestApp, code: &str) -> (String, String, String) {
    let b = ledger::balance_of(&mut app.conn(), demo_org(app), find(code).unwrap()).unwrap();
    (b.available.to_string(), b.reserved.to_string(), b.paid.to_string())
}

fn status_of(app: &TestApp, id: i64) -> String {
    payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned()
}

#[actix_web::test]
async fn accountant_pays_a_contractor_and_the_payout_completes() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let form = client.get("/payouts/new/single").await;
        for label in ["Payout currency", "Payout amount", "Payout description", "Destination address"] {
            assert!(form.body.contains(&format!(">{label}</label>")), "[{backend:?}] label {label}");
        }
        client.get("/payouts/new/single").await;
        let review = client
            .post_form(
                "/payouts/new/single",
                &[
                    ("asset", "USDT_TRC20"),
                    ("amount", "1250.5"),
                    ("address", TRON_ADDRESS),
                    ("description", "Invoice 7"),
                ],
            )
            .await;
        assert!(
            review.body.contains("Service fee</dt><dd class=\"amount\">6.2525 USDT_TRC20"),
            "[{backend:?}] {}",
            review.body
        );
        assert!(review.body.contains("Confirm and pay 1,256.7525 USDT_TRC20"));
        assert!(review.body.contains("Available after</dt><dd class=\"amount\">48,743.2475 USDT_TRC20"));
        assert_eq!(
            payouts::db::payouts::list(&mut app.conn(), demo_org(&app), &Default::default(), None, 10).unwrap().len(),
            0,
            "the review stores nothing"
        );

        let res = client.single_payout("USDT_TRC20", "1250.5", TRON_ADDRESS, "Invoice 7").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let id = payout_id_of(&res);
        assert_eq!(status_of(&app, id), "in_progress");
        assert_eq!(
            balance(&app, "USDT_TRC20"),
            ("48743.2475".into(), "1256.7525".into(), "0".into()),
            "[{backend:?}] reserved"
        );

        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(status_of(&app, id), "completed", "[{backend:?}]");
        assert_eq!(
            balance(&app, "USDT_TRC20"),
            ("48743.2475".into(), "0".into(), "1256.7525".into()),
            "[{backend:?}] settled"
        );

        let page = client.get(&format!("/payouts/{id}")).await;
        assert!(page.body.contains("badge-completed\">Completed"), "[{backend:?}]");
        assert!(page.body.contains("https://tronscan.org/#/transaction/"), "explorer link");
        for step in ["Created and confirmed", "Line 1 paid", "sent on the simulated network: transaction", "All 1 paid"]
        {
            assert!(page.body.contains(step), "[{backend:?}] timeline shows {step}");
        }
        assert!(!page.body.contains("hx-trigger=\"every 2s\""), "a finished payout stops polling");
    }
}

#[actix_web::test]
async fn edit_returns_to_the_form_with_every_value() {
    let app = TestApp::start(payouts::db::Backend::Sqlite).await;
    let mut client = app.client().await;
    client.login("accountant@demo.local", "demo").await;
    client.get("/payouts/new/single").await;
    let review = client
        .post_form(
            "/payouts/new/single",
            &[("asset", "ETH"), ("amount", "0.25"), ("address", EVM_ADDRESS), ("description", "Q3 & more")],
        )
        .await;
    let start = review.body.find("href=\"/payouts/new/single?").unwrap() + 6;
    let href = &review.body[start..start + review.body[start..].find('"').unwrap()];
    let form = client.get(&href.replace("&#38;", "&")).await;
    assert!(form.body.contains("<option value=\"ETH\" selected>"));
    assert!(form.body.contains("value=\"0.25\"") && form.body.contains(&format!("value=\"{EVM_ADDRESS}\"")));
    assert!(form.body.contains("value=\"Q3 &#38; more\""), "{}", form.body);
}

#[actix_web::test]
async fn invalid_fields_are_explained_next_to_them_and_nothing_is_stored() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        let res = client
            .post_form(
                "/payouts/new/single",
                &[("asset", "USDT_ERC20"), ("amount", "12,5"), ("address", TRON_ADDRESS), ("description", "")],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("This is a TRON address, but USDT_ERC20 pays on Ethereum."));
        assert!(res.body.contains("Use a dot as the decimal mark: write 12.5, not 12,5."));
        assert!(
            res.body.contains("value=\"12,5\"") && res.body.contains(&format!("value=\"{TRON_ADDRESS}\"")),
            "typed values kept"
        );

        // The live check as the user leaves a field: the same rule, as an htmx fragment.
        let check = client
            .post_form(
                "/payouts/new/single/check",
                &[
                    ("field", "address"),
                    ("asset", "USDT_ERC20"),
                    ("amount", ""),
                    ("address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
                    ("description", ""),
                ],
            )
            .await;
        assert!(check.body.starts_with("<div id=\"address-feedback\""), "{}", check.body);
        assert!(check.body.contains("checksum"));
        let check = client
            .post_form(
                "/payouts/new/single/check",
                &[
                    ("field", "amount"),
                    ("asset", "USDT_ERC20"),
                    ("amount", "0.5"),
                    ("address", ""),
                    ("description", ""),
                ],
            )
            .await;
        assert!(check.body.contains("The smallest USDT_ERC20 payout is 1 USDT_ERC20."), "{}", check.body);
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);
    }
}

#[actix_web::test]
async fn confirming_twice_creates_one_payout() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        let fields = [
            ("asset", "BTC"),
            ("amount", "0.01"),
            ("address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            ("description", "x"),
        ];
        let review = client.post_form("/payouts/new/single", &fields).await;
        let token = common::hidden_field(&review.body, "token").unwrap();
        let digest = common::hidden_field(&review.body, "digest").unwrap();
        let mut confirm = vec![("token", token.as_str()), ("digest", digest.as_str())];
        confirm.extend_from_slice(&fields);
        let first = client.post_form("/payouts/new/single/confirm", &confirm).await;
        let second = client.post_form("/payouts/new/single/confirm", &confirm).await;
        assert_eq!(payout_id_of(&first), payout_id_of(&second), "[{backend:?}]");
        assert!(client.get(&format!("/payouts/{}", payout_id_of(&second))).await.body.contains("already confirmed"));
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 1);
        assert_eq!(balance(&app, "BTC").1, "0.01005", "[{backend:?}] reserved once: 0.01 + 0.5 % fee");
    }
}

#[actix_web::test]
async fn insufficient_balance_is_a_clear_error_and_stores_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        let fields = [
            ("asset", "BTC"),
            ("amount", "1.5"),
            ("address", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
            ("description", ""),
        ];
        let review = client.post_form("/payouts/new/single", &fields).await;
        assert!(review.body.contains("does not cover the total debit"), "[{backend:?}]");
        assert!(!review.body.contains("Confirm and pay"), "no confirm button");
        // A forged confirm of exactly what the review showed: the balance is checked again.
        let accountant = common::actor(&app, "accountant@demo.local");
        let form = payouts::service::payouts::SinglePayoutForm {
            asset: "BTC".into(),
            amount: "1.5".into(),
            description: "".into(),
            address: "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa".into(),
            ..Default::default()
        };
        let digest = payouts::service::payouts::check_single(&mut app.conn(), &accountant, &form).unwrap().digest();
        let token = "ab".repeat(32);
        let mut all: Vec<(&str, &str)> = vec![("token", &token), ("digest", &digest)];
        all.extend_from_slice(&fields);
        let res = client.post_form("/payouts/new/single/confirm", &all).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}]");
        assert!(
            res.body.contains("Insufficient available balance: 1.5075 BTC needed, 1.5 BTC available."),
            "{}",
            res.body
        );
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);
        assert_eq!(balance(&app, "BTC"), ("1.5".into(), "0".into(), "0".into()));
    }
}

#[actix_web::test]
async fn approval_on_leaves_the_payout_pending_with_funds_reserved() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), true).unwrap();
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let res = client.single_payout("USDT_TRC20", "100", TRON_ADDRESS, "needs approval").await;
        let id = payout_id_of(&res);
        assert!(client.get(&format!("/payouts/{id}")).await.body.contains("waits for a manager"), "[{backend:?}]");
        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(status_of(&app, id), "pending", "[{backend:?}] nothing is sent before approval");
        assert_eq!(balance(&app, "USDT_TRC20"), ("49899".into(), "101".into(), "0".into()));
        let items = payouts::db::payouts::items(&mut app.conn(), id).unwrap();
        assert_eq!(items[0].status.as_str(), "waiting");
    }
}

#[actix_web::test]
async fn cancel_releases_the_reservation_and_is_refused_once_sending_started() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&client.single_payout("USDT_TRC20", "100", TRON_ADDRESS, "oops").await);
        let page = client.get(&format!("/payouts/{id}")).await;
        assert!(page.body.contains("Cancel payout of 101 USDT_TRC20"), "[{backend:?}]");
        let res = client.post_form(&format!("/payouts/{id}/cancel"), &[("reason", "")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert!(client.get(&format!("/payouts/{id}")).await.body.contains("Say why the payout is cancelled."));
        assert_eq!(status_of(&app, id), "in_progress", "no reason, no cancel");
        client.get(&format!("/payouts/{id}")).await;
        client.post_form(&format!("/payouts/{id}/cancel"), &[("reason", "wrong invoice")]).await;
        assert_eq!(status_of(&app, id), "cancelled", "[{backend:?}]");
        assert_eq!(balance(&app, "USDT_TRC20"), ("50000".into(), "0".into(), "0".into()), "[{backend:?}] released");
        assert!(client.get(&format!("/payouts/{id}")).await.body.contains("Cancelled: wrong invoice"));
        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(status_of(&app, id), "cancelled", "a cancelled payout is never sent");

        let id = payout_id_of(&client.single_payout("USDT_TRC20", "100", TRON_ADDRESS, "sent").await);
        process_all(&app, &instant_rail(&app, &[]));
        client.get(&format!("/payouts/{id}")).await;
        let res = client.post_form(&format!("/payouts/{id}/cancel"), &[("reason", "too late")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert!(client.get(&format!("/payouts/{id}")).await.body.contains("can no longer be cancelled"));
        assert_eq!(status_of(&app, id), "completed", "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_failed_transfer_releases_its_reservation_with_a_reason() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&client.single_payout("USDT_ERC20", "500", EVM_ADDRESS, "will fail").await);
        process_all(&app, &instant_rail(&app, &[EVM_ADDRESS]));
        assert_eq!(status_of(&app, id), "failed", "[{backend:?}]");
        assert_eq!(balance(&app, "USDT_ERC20"), ("20000".into(), "0".into(), "0".into()), "[{backend:?}] released");
        let page = client.get(&format!("/payouts/{id}")).await;
        assert!(page.body.contains("Check the address with the recipient"), "[{backend:?}] an actionable error");
    }
}

#[actix_web::test]
async fn viewers_cannot_create_and_other_organizations_get_404() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&accountant.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "ours").await);

        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;
        assert_eq!(viewer.get(&format!("/payouts/{id}")).await.status, StatusCode::OK, "viewers read");
        assert!(!viewer.get("/payouts").await.body.contains("New payout"), "and are not offered to create");
        assert_eq!(viewer.get("/payouts/new/single").await.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        let res = viewer
            .post_form(
                "/payouts/new/single",
                &[("asset", "USDT_TRC20"), ("amount", "10"), ("address", TRON_ADDRESS), ("description", "")],
            )
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let res = viewer.post_form(&format!("/payouts/{id}/cancel"), &[("reason", "mine now")]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] a viewer cannot cancel");

        let mut other = app.client().await;
        other.login("other-admin@example.com", "other-password").await;
        assert_eq!(other.get(&format!("/payouts/{id}")).await.status, StatusCode::NOT_FOUND, "[{backend:?}]");
        assert_eq!(
            other.post_form(&format!("/payouts/{id}/cancel"), &[("reason", "x")]).await.status,
            StatusCode::NOT_FOUND
        );
        assert!(!other.get("/payouts").await.body.contains(&format!("/payouts/{id}\"")));
        assert_eq!(status_of(&app, id), "in_progress");
    }
}

/// Solana is an asset family of its own before its rail lands: its addresses are checked as
/// 32-byte keys (one owned by a program warned about on the review), and the simulated network
/// names the transfer by a signature, as Solana does.
#[actix_web::test]
async fn a_sol_payout_is_checked_as_solana_and_named_by_a_signature() {
    // The ed25519 base point: a key's address. y = 2 is on no point: a program's address.
    let wallet = "6x5SYnLroiN7WYq8NQYU9KHcH4YjpBbwpUfVu3EB7ieH";
    let mut off = [0u8; 32];
    off[0] = 2;
    let program = bs58::encode(off).into_string();
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/balances").await;
        let res = admin.post_form("/settings/balances", &[("asset", "SOL"), ("amount", "10"), ("note", "seed")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        let form = [("asset", "SOL"), ("amount", "1.5"), ("address", program.as_str()), ("description", "Rent")];
        let review = client.post_form("/payouts/new/single", &form).await;
        assert!(review.body.contains("belongs to a program"), "[{backend:?}] {}", review.body);
        let typo =
            [("asset", "SOL"), ("amount", "1.5"), ("address", "6x5SYnLroiN7WYq8NQYU9KHcH4YjpBb"), ("description", "x")];
        let refused = client.post_form("/payouts/new/single", &typo).await;
        assert!(refused.body.contains("a character is missing or extra"), "[{backend:?}] {}", refused.body);

        let res = client.single_payout("SOL", "1.5", wallet, "Invoice 8").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let id = payout_id_of(&res);
        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(status_of(&app, id), "completed", "[{backend:?}]");
        let item = &payouts::db::payouts::items(&mut app.conn(), id).unwrap()[0];
        let signature = item.tx_hash.clone().unwrap();
        assert_eq!(bs58::decode(&signature).into_vec().unwrap().len(), 64, "[{backend:?}] {signature}");
        let page = client.get(&format!("/payouts/{id}")).await;
        assert!(page.body.contains(&format!("https://solscan.io/tx/{signature}")), "[{backend:?}]");
    }
}
