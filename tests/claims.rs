//! Claims (issue 43), on every backend: a row names a payee with no address; its funds are
//! reserved and it waits "awaiting address"; the payee is emailed a link and reminded; once the
//! payee's address is approved and past its cooling-off the row is sent, once, however many
//! sweeps run at the same instant; unclaimed by the organization's limit it is cancelled and its
//! funds released. The API creates claims and lists the open ones; webhooks hear
//! `payout.item_claimed`.

mod common;

use actix_web::http::StatusCode;
use chrono::Duration;
use common::{TestApp, actor, api_request, backends, json_of};
use payouts::db;
use payouts::domain::asset;
use payouts::service::payees::book::{self, PayeeForm};
use payouts::service::payouts::claims;
use payouts::service::payouts::ledger;
use serde_json::json;

fn payee(app: &TestApp, name: &str, email: &str) -> i64 {
    let accountant = actor(app, "accountant@demo.local");
    let form = PayeeForm { name: name.into(), email: email.into(), ..Default::default() };
    book::create(&mut app.conn(), &accountant, &form).unwrap().id
}

fn notifier() -> payouts::service::outbound::tell::Notifier {
    payouts::service::outbound::tell::Notifier {
        public_url: url::Url::parse("https://payouts.example.com/").unwrap(),
        mail: true,
        stuck_after: chrono::Duration::hours(1),
    }
}

fn notify(app: &TestApp) {
    let n = notifier();
    while payouts::service::outbound::notices::notify(&mut app.conn(), &n, payouts::clock::now()).unwrap() > 0 {}
}

fn claim_mails(app: &TestApp, to: &str) -> Vec<db::outbox::OutboxRow> {
    db::outbox::to_recipient(&mut app.conn(), to).unwrap().into_iter().filter(|m| m.kind == "payee_claim").collect()
}

fn usdt(app: &TestApp) -> payouts::domain::ledger::Balance {
    let org = common::demo_org(app);
    ledger::balance_of(&mut app.conn(), org, asset::find("USDT_TRC20").unwrap()).unwrap()
}

/// `POST /api/v1/payouts` of USDT_TRC20 `items` (single for one item, mass for more).
fn create_claim(key: &str, idem: &str, items: serde_json::Value) -> actix_web::test::TestRequest {
    let kind = if items.as_array().map_or(0, Vec::len) == 1 { "single" } else { "mass" };
    let body =
        json!({"asset": "USDT_TRC20", "kind": kind, "description": "Bounty", "purpose": "Bounties", "items": items});
    api_request("POST", "/api/v1/payouts", key, Some(body)).insert_header(("Idempotency-Key", idem))
}

#[actix_web::test]
async fn a_claim_waits_for_its_payees_address_and_is_paid_once_when_that_address_is_payable() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let org = common::demo_org(&app);
        db::orgs::set_approval_required(&mut app.conn(), org, false).unwrap();
        let ada = payee(&app, "Ada Lovelace", "ada@example.com");
        let key = common::api_key(&app, "accountant@demo.local", "read,create");
        let mut client = app.client().await;
        let before = usdt(&app);

        let res =
            client.send(create_claim(&key, "c1", json!([{"payee_id": ada, "amount": "25", "claim": true}]))).await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        let body = json_of(&res);
        let payout_id = body["id"].as_i64().unwrap();
        let item = &body["items"][0];
        assert_eq!(item["status"], "awaiting_address", "[{backend:?}]");
        assert_eq!((item["claim"].as_bool(), item["address"].as_str()), (Some(true), Some("")), "[{backend:?}]");
        assert_eq!(item["payee_id"], ada, "[{backend:?}]");
        let until = chrono::DateTime::parse_from_rfc3339(item["claim_until"].as_str().unwrap()).unwrap().naive_utc();
        let days = (until - payouts::clock::now()).num_hours();
        assert!((30 * 24 - 1..=30 * 24).contains(&days), "[{backend:?}] the default limit: 30 days ({days} h)");
        // Its amount and fee are reserved like any row's.
        let reserved = usdt(&app);
        let debit =
            payouts::domain::Amount::parse(asset::find("USDT_TRC20").unwrap(), body["total_debit"].as_str().unwrap())
                .unwrap();
        assert_eq!(reserved.available.checked_add(debit), Some(before.available), "[{backend:?}]");

        // The staff's page says who gives the address, and until when.
        let mut staff = app.client().await;
        staff.login("accountant@demo.local", "demo").await;
        let page = staff.get(&format!("/payouts/{payout_id}")).await;
        assert!(page.body.contains("Claim: the payee gives the address by"), "[{backend:?}]");
        assert!(page.body.contains("Awaiting the payee"), "[{backend:?}] the row's status");

        let report = payouts::service::payouts::verify::verify(&mut app.conn()).unwrap();
        assert!(report.is_whole(), "[{backend:?}] an open claim's reservation adds up");

        // The open claims, by API.
        let open = json_of(&client.send(api_request("GET", "/api/v1/claims", &key, None)).await);
        assert_eq!(open.as_array().unwrap().len(), 1, "[{backend:?}] {open}");
        assert_eq!((open[0]["payout_id"].as_i64(), open[0]["amount"].as_str()), (Some(payout_id), Some("25")));
        assert_eq!(open[0]["network"], "TRON", "[{backend:?}]");

        // The payee is emailed a link to their page, once however often the event is read.
        notify(&app);
        notify(&app);
        let mails = claim_mails(&app, "ada@example.com");
        assert_eq!(mails.len(), 1, "[{backend:?}]");
        assert_eq!(mails[0].subject, "Demo Company has a payment for you: 25 USDT_TRC20", "[{backend:?}]");
        assert!(mails[0].body_text.contains("https://payouts.example.com/payee/link/"), "[{backend:?}]");
        assert!(mails[0].body_text.contains("TRON"), "[{backend:?}]");

        // Nothing is sent without an address: the processor does not take it, the sweep finds nothing.
        common::process_all(&app, &common::instant_rail(&app, &[]));
        assert_eq!(claims::sweep(&mut app.conn(), payouts::clock::now()).unwrap(), Default::default());
        assert_eq!(db::payouts::items(&mut app.conn(), payout_id).unwrap()[0].status.as_str(), "awaiting_address");

        // The payee's page shows it waiting for their address.
        let accountant = actor(&app, "accountant@demo.local");
        let linked =
            payouts::service::outbound::links::invite_payee(&mut app.conn(), &notifier(), &accountant, ada).unwrap();
        let link = url::Url::parse(&linked.link).unwrap().path().to_owned();
        let mut their = app.client().await;
        their.get(&link).await;
        their.post_form(&link, &[]).await;
        let home = their.get("/payee").await;
        assert!(home.body.contains("Waiting for your address"), "[{backend:?}] {}", home.body);
        assert!(home.body.contains("25 USDT_TRC20") && home.body.contains("Bounty"), "[{backend:?}]");
        let form = their.get("/payee/addresses/new?asset=USDT_TRC20").await;
        assert!(form.body.contains("<option value=\"USDT_TRC20\" selected>"), "[{backend:?}] the claim's asset chosen");

        // An address entered and approved is still cooling off: not yet.
        let address = common::tron_address(71);
        let entered = payouts::service::payees::addresses::enter_address(
            &mut app.conn(),
            &accountant,
            ada,
            "USDT_TRC20",
            &address,
        )
        .unwrap();
        assert_eq!(claims::sweep(&mut app.conn(), payouts::clock::now()).unwrap().answered, 0, "[{backend:?}] pending");
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, true, false, "").unwrap();
        assert_eq!(claims::sweep(&mut app.conn(), payouts::clock::now()).unwrap().answered, 0, "[{backend:?}] cooling");
        common::end_cooling_off(&app);

        // Four sweeps at the same instant (as four processes would): the claim is answered once.
        let now = payouts::clock::now();
        let answered: usize =
            common::at_once(&app, 4, |conn| claims::sweep(conn, now).map(|r| r.answered).unwrap_or(0))
                .into_iter()
                .sum();
        assert_eq!(answered, 1, "[{backend:?}]");
        let row = db::payouts::items(&mut app.conn(), payout_id).unwrap().remove(0);
        assert_eq!((row.status.as_str(), row.address.as_str()), ("queued", address.as_str()), "[{backend:?}]");
        let told: Vec<serde_json::Value> = db::events::of_org(&mut app.conn(), org)
            .unwrap()
            .into_iter()
            .filter(|e| e.topic == "payout.item_claimed")
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect();
        assert_eq!(told.len(), 1, "[{backend:?}]");
        assert_eq!(told[0]["item"]["address"], address.as_str(), "[{backend:?}]");
        assert_eq!(told[0]["payee_address"]["ownership_proven"], false, "[{backend:?}] entered by the organization");

        // Sent once; the payout completes; the claim is no longer open.
        common::process_all(&app, &common::instant_rail(&app, &[]));
        common::process_all(&app, &common::instant_rail(&app, &[]));
        assert_eq!(claims::sweep(&mut app.conn(), payouts::clock::now()).unwrap(), Default::default());
        let payout = db::payouts::find(&mut app.conn(), payout_id).unwrap();
        assert_eq!(payout.status.as_str(), "completed", "[{backend:?}]");
        let row = db::payouts::items(&mut app.conn(), payout_id).unwrap().remove(0);
        assert!(row.tx_hash.is_some(), "[{backend:?}]");
        let after = usdt(&app);
        assert_eq!(after.reserved, before.reserved, "[{backend:?}] nothing left reserved");
        assert_eq!(after.available.checked_add(debit), Some(before.available), "[{backend:?}] paid once");
        let open = json_of(&client.send(api_request("GET", "/api/v1/claims", &key, None)).await);
        assert_eq!(open, json!([]), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn an_unclaimed_claim_is_reminded_then_cancelled_and_its_funds_released() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let org = common::demo_org(&app);
        db::orgs::set_approval_required(&mut app.conn(), org, false).unwrap();
        let ada = payee(&app, "Ada Lovelace", "ada@example.com");
        let grace = payee(&app, "Grace Hopper", "grace@example.com");
        let key = common::api_key(&app, "accountant@demo.local", "read,create");
        let mut client = app.client().await;
        let before = usdt(&app);
        let items = json!([
            {"payee_id": ada, "amount": "40", "claim": true, "reference": "A-1"},
            {"payee_id": grace, "amount": "10", "claim": true, "reference": "G-1"},
        ]);
        let res = client.send(create_claim(&key, "c2", items)).await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        let payout_id = json_of(&res)["id"].as_i64().unwrap();
        notify(&app);
        assert_eq!(claim_mails(&app, "ada@example.com").len(), 1, "[{backend:?}]");

        // Grace answers in time; Ada does not.
        let accountant = actor(&app, "accountant@demo.local");
        let manager = actor(&app, "manager@demo.local");
        let entered = payouts::service::payees::addresses::enter_address(
            &mut app.conn(),
            &accountant,
            grace,
            "USDT_TRC20",
            &common::tron_address(72),
        )
        .unwrap();
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, true, false, "").unwrap();
        common::end_cooling_off(&app);
        assert_eq!(claims::sweep(&mut app.conn(), payouts::clock::now()).unwrap().answered, 1, "[{backend:?}]");
        common::process_all(&app, &common::instant_rail(&app, &[]));
        common::process_all(&app, &common::instant_rail(&app, &[]));

        // Reminders: a week before, then a day before; each once.
        let n = notifier();
        let start = payouts::clock::now();
        let remind = |at| payouts::service::outbound::periodic::run(&mut app.conn(), &n, at).unwrap();
        let reminders =
            || claim_mails(&app, "ada@example.com").into_iter().filter(|m| m.subject.starts_with("Reminder")).count();
        remind(start + Duration::days(10));
        assert_eq!(reminders(), 0, "[{backend:?}] not yet");
        // A payout whose only row left waits for its payee is not "stuck".
        let admin = actor(&app, "admin@demo.local").user_id;
        let seen = db::notices::inbox(&mut app.conn(), admin, None, 100).unwrap();
        assert!(
            !seen.iter().any(|n| n.subject.starts_with("Stuck")),
            "[{backend:?}] {:?}",
            seen.iter().map(|n| &n.subject).collect::<Vec<_>>()
        );
        remind(start + Duration::days(23) + Duration::hours(1));
        remind(start + Duration::days(23) + Duration::hours(2));
        assert_eq!(reminders(), 1, "[{backend:?}] a week before, once");
        remind(start + Duration::days(29) + Duration::hours(1));
        remind(start + Duration::days(29) + Duration::hours(2));
        assert_eq!(reminders(), 2, "[{backend:?}] and a day before");
        assert_eq!(claim_mails(&app, "grace@example.com").len(), 1, "[{backend:?}] an answered claim is not reminded");

        // Not lapsed before its limit; cancelled and released after it, once.
        assert_eq!(claims::sweep(&mut app.conn(), start + Duration::days(29)).unwrap().lapsed, 0, "[{backend:?}]");
        let later = start + Duration::days(30) + Duration::minutes(1);
        let lapsed: usize = common::at_once(&app, 3, |conn| claims::sweep(conn, later).map(|r| r.lapsed).unwrap_or(0))
            .into_iter()
            .sum();
        assert_eq!(lapsed, 1, "[{backend:?}]");
        let rows = db::payouts::items(&mut app.conn(), payout_id).unwrap();
        assert_eq!((rows[0].status.as_str(), rows[1].status.as_str()), ("cancelled", "completed"), "[{backend:?}]");
        assert!(rows[0].error.as_deref().unwrap_or_default().contains("not claimed by"), "[{backend:?}]");
        let payout = db::payouts::find(&mut app.conn(), payout_id).unwrap();
        assert_eq!(payout.status.as_str(), "partially_completed", "[{backend:?}]");
        let after = usdt(&app);
        assert_eq!(after.reserved, before.reserved, "[{backend:?}] Ada's share released");
        let grace_fee = payouts::domain::Amount::parse(after.available.asset(), &rows[1].fee).unwrap();
        let grace_paid =
            payouts::domain::Amount::parse(after.available.asset(), "10").unwrap().checked_add(grace_fee).unwrap();
        assert_eq!(after.available.checked_add(grace_paid), Some(before.available), "[{backend:?}] only Grace paid");
        let report = payouts::service::payouts::verify::verify(&mut app.conn()).unwrap();
        assert!(report.is_whole(), "[{backend:?}] the ledger still adds up: {} problems", report.problems.len());
    }
}

#[actix_web::test]
async fn claims_name_what_is_wrong_wait_for_approval_and_can_be_cancelled() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let org = common::demo_org(&app);
        let ada = payee(&app, "Ada Lovelace", "ada@example.com");
        let no_email = payee(&app, "Nobody", "");
        let key = common::api_key(&app, "accountant@demo.local", "read,create");
        let mut client = app.client().await;

        for (items, field, words) in [
            (json!([{"payee_id": no_email, "amount": "5", "claim": true}]), "items[0].payee_id", "has no email"),
            (json!([{"amount": "5", "claim": true}]), "items[0].payee_id", "names the payee"),
            (
                json!([{"payee_id": ada, "amount": "5", "claim": true, "address": common::tron_address(73)}]),
                "items[0].address",
                "leave it empty",
            ),
            (json!([{"payee_id": 999999, "amount": "5", "claim": true}]), "items[0].payee_id", "no payee"),
        ] {
            let res = client.send(create_claim(&key, &format!("bad-{field}-{words}"), items)).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
            let errors = json_of(&res)["errors"].clone();
            assert!(
                errors
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == field && e["message"].as_str().unwrap().contains(words)),
                "[{backend:?}] {words}: {errors}"
            );
        }
        assert_eq!(common::count_items(&app.state, &["awaiting_address", "waiting"]), 0, "[{backend:?}] nothing made");

        // With approval on, the claim waits for it; its time starts when it is approved.
        db::orgs::set_approval_required(&mut app.conn(), org, true).unwrap();
        let res = client.send(create_claim(&key, "c3", json!([{"payee_id": ada, "amount": "5", "claim": true}]))).await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        let body = json_of(&res);
        let payout_id = body["id"].as_i64().unwrap();
        assert_eq!((body["status"].as_str(), body["items"][0]["status"].as_str()), (Some("pending"), Some("waiting")));
        assert!(body["items"][0]["claim_until"].is_null(), "[{backend:?}]");
        notify(&app);
        assert!(claim_mails(&app, "ada@example.com").is_empty(), "[{backend:?}] not asked before approval");
        let manager = actor(&app, "manager@demo.local");
        let payout = db::payouts::find(&mut app.conn(), payout_id).unwrap();
        let digest = payouts::service::payouts::approvals::digest(&mut app.conn(), &payout).unwrap();
        payouts::service::payouts::approvals::approve(&mut app.conn(), &manager, payout_id, &digest).unwrap();
        let row = db::payouts::items(&mut app.conn(), payout_id).unwrap().remove(0);
        assert_eq!(row.status.as_str(), "awaiting_address", "[{backend:?}]");
        assert!(row.claim_until.is_some(), "[{backend:?}]");
        notify(&app);
        assert_eq!(claim_mails(&app, "ada@example.com").len(), 1, "[{backend:?}] asked once approved");

        // The same from the browser: the payee's page offers "Pay by claim"; the form and the
        // review say who gives the address; Confirm makes the claim, waiting for approval.
        let mut staff = app.client().await;
        staff.login("accountant@demo.local", "demo").await;
        let page = staff.get(&format!("/payees/{ada}")).await;
        assert!(page.body.contains(&format!("/payouts/new/single?claim_for={ada}")), "[{backend:?}]");
        let page = staff.get(&format!("/payouts/new/single?claim_for={ada}")).await;
        assert!(page.body.contains("Paid by claim to Ada Lovelace"), "[{backend:?}] {}", page.body);
        let ada_text = ada.to_string();
        let fields = [
            ("asset", "USDT_TRC20"),
            ("amount", "7"),
            ("description", "Bounty by form"),
            ("claim_for", ada_text.as_str()),
        ];
        let review = staff.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::OK, "[{backend:?}] {}", review.body);
        assert!(review.body.contains("Given by Ada Lovelace by claim"), "[{backend:?}]");
        let token = common::hidden_field(&review.body, "token").unwrap();
        let digest = common::hidden_field(&review.body, "digest").unwrap();
        let mut confirm = vec![("token", token.as_str()), ("digest", digest.as_str())];
        confirm.extend_from_slice(&fields);
        let by_form = common::payout_id_of(&staff.post_form("/payouts/new/single/confirm", &confirm).await);
        let row = db::payouts::items(&mut app.conn(), by_form).unwrap().remove(0);
        assert_eq!((row.claim, row.payee_id, row.status.as_str()), (true, Some(ada), "waiting"), "[{backend:?}]");
        assert_eq!(row.address, "", "[{backend:?}]");
        // A payee without an email cannot be asked: named on the form, nothing made.
        let nobody = no_email.to_string();
        let fields = [("asset", "USDT_TRC20"), ("amount", "7"), ("description", "x"), ("claim_for", nobody.as_str())];
        let refused = staff.post_form("/payouts/new/single", &fields).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(refused.body.contains("has no email"), "[{backend:?}]");

        // Not started paying: the creator may cancel it, and its funds are released.
        let before = usdt(&app);
        let accountant = actor(&app, "accountant@demo.local");
        payouts::service::payouts::cancel(&mut app.conn(), &accountant, payout_id, "Paid in cash").unwrap();
        let row = db::payouts::items(&mut app.conn(), payout_id).unwrap().remove(0);
        assert_eq!(row.status.as_str(), "cancelled", "[{backend:?}]");
        assert!(usdt(&app).available > before.available, "[{backend:?}] released");
        assert_eq!(claims::sweep(&mut app.conn(), payouts::clock::now()).unwrap(), Default::default());

        // The limit is the organization's: an admin sets it, and a bad one is named.
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/approvals").await;
        let res = admin.post_form("/settings/payees/claims", &[("claim_days", "0")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("claim-days-error"), "[{backend:?}]");
        let long = "9".repeat(300_000);
        let res = admin.post_form("/settings/payees/claims", &[("claim_days", &long)]).await;
        assert_ne!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "[{backend:?}]");
        let res = admin.post_form("/settings/payees/claims", &[("claim_days", "10")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        assert_eq!(db::orgs::find(&mut app.conn(), org).unwrap().claim_days, 10, "[{backend:?}]");
        db::orgs::set_approval_required(&mut app.conn(), org, false).unwrap();
        let res = client.send(create_claim(&key, "c4", json!([{"payee_id": ada, "amount": "6", "claim": true}]))).await;
        let until = json_of(&res)["items"][0]["claim_until"].as_str().unwrap().to_owned();
        let until = chrono::DateTime::parse_from_rfc3339(&until).unwrap().naive_utc();
        assert_eq!((until - payouts::clock::now()).num_days(), 9, "[{backend:?}] ten days, less the seconds gone");
    }
}
