//! Payees and address change control — on every backend: an entered address is paid only
//! after a manager other than the person who entered it approves it and the cooling-off period
//! has passed, on the pages and through the API.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{TRON_ADDRESS, TestApp, backends, demo_org, end_cooling_off, payout_id_of};
use serde_json::json;

/// Creates a payee through the page and returns its id.
async fn add_payee<S, B>(client: &mut common::Client<S>, name: &str, external_id: &str) -> i64
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    client.get("/payees").await;
    let res = client.post_form("/payees", &[("name", name), ("external_id", external_id), ("email", "")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    res.location().unwrap().trim_start_matches("/payees/").parse().unwrap()
}

fn address_rows(app: &TestApp, payee: i64) -> Vec<(String, String)> {
    payouts::db::payees::addresses_of(&mut app.conn(), payee)
        .unwrap()
        .into_iter()
        .map(|a| (a.address, a.status.as_str().to_owned()))
        .collect()
}

const SECOND_TRON: &str = "TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC";

#[actix_web::test]
async fn an_entered_address_is_paid_only_after_another_manager_approves_it_and_cooling_off_ends() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let payee = add_payee(&mut accountant, "Alice Example", "EMP-7").await;
        accountant.get(&format!("/payees/{payee}")).await;

        // A mistyped address is refused with the field named, and nothing is stored.
        let res = accountant
            .post_form(&format!("/payees/{payee}/addresses"), &[("asset", "USDT_TRC20"), ("address", "TR7NHqjeKQ")])
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("id=\"address-error\""), "[{backend:?}] the address field carries the message");
        assert!(address_rows(&app, payee).is_empty());

        let res = accountant
            .post_form(&format!("/payees/{payee}/addresses"), &[("asset", "USDT_TRC20"), ("address", TRON_ADDRESS)])
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        assert_eq!(address_rows(&app, payee), [(TRON_ADDRESS.to_owned(), "pending".to_owned())]);
        let page = accountant.get(&format!("/payees/{payee}")).await;
        assert!(page.body.contains("Awaiting approval"), "[{backend:?}]");

        // Pending: the single-payout form says why, naming the payee.
        accountant.get("/payouts/new/single").await;
        let fields = [("asset", "USDT_TRC20"), ("amount", "10"), ("address", TRON_ADDRESS), ("description", "Salary")];
        let review = accountant.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(
            review.body.contains("This address of payee Alice Example is awaiting a manager&#39;s approval."),
            "[{backend:?}] {}",
            review.body
        );

        // The manager sees it beside pending payouts and approves it.
        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        let queue = manager.get("/approvals").await;
        assert!(queue.body.contains("Approve address for Alice Example"), "[{backend:?}]");
        assert!(queue.body.contains(TRON_ADDRESS));
        let id = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        let res = manager.post_form(&format!("/payee-addresses/{id}/approve"), &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        assert_eq!(address_rows(&app, payee), [(TRON_ADDRESS.to_owned(), "approved".to_owned())]);

        // Approved, cooling off for the organization's 24 hours: still not payable.
        let review = accountant.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(review.body.contains("is cooling off after approval and becomes payable at"), "[{backend:?}]");

        // Through the API too: the create's own transaction refuses it.
        let key = payouts::service::access::api_keys::create_from_cli(
            &mut app.conn(),
            "accountant@demo.local",
            "create",
            "t",
        )
        .unwrap();
        let body = json!({"asset": "USDT_TRC20", "kind": "single", "description": "Salary",
                          "items": [{"address": TRON_ADDRESS, "amount": "10"}]});
        let api = |k: &str| {
            TestRequest::post()
                .uri("/api/v1/payouts")
                .insert_header(("Authorization", format!("Bearer {key}")))
                .insert_header(("Idempotency-Key", k.to_owned()))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(body.to_string())
        };
        let res = accountant.send(api("k-cooling")).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("Alice Example"), "[{backend:?}] {}", res.body);
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);

        // Once the period has passed, it is paid like any address.
        end_cooling_off(&app);
        assert_eq!(accountant.send(api("k-payable")).await.status, StatusCode::CREATED, "[{backend:?}]");
        let res = accountant.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "Salary").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);

        // A changed address is pending again while the approved one stays payable; approving
        // the new one replaces the old.
        accountant.get(&format!("/payees/{payee}")).await;
        accountant
            .post_form(&format!("/payees/{payee}/addresses"), &[("asset", "TRX"), ("address", SECOND_TRON)])
            .await;
        let mut rows = address_rows(&app, payee);
        rows.sort();
        assert_eq!(
            rows,
            [(SECOND_TRON.to_owned(), "pending".to_owned()), (TRON_ADDRESS.to_owned(), "approved".to_owned())],
            "[{backend:?}] TRX and USDT_TRC20 share the Tron network: one address per network"
        );
        let queue = manager.get("/approvals").await;
        assert!(queue.body.contains(SECOND_TRON) && queue.body.contains(TRON_ADDRESS), "[{backend:?}] old → new shown");
        let id = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        manager.post_form(&format!("/payee-addresses/{id}/approve"), &[]).await;
        let mut rows = address_rows(&app, payee);
        rows.sort();
        assert_eq!(
            rows,
            [(SECOND_TRON.to_owned(), "approved".to_owned()), (TRON_ADDRESS.to_owned(), "replaced".to_owned())]
        );
        // Every change is in the audit log.
        let actions: Vec<String> =
            payouts::db::audit::list_in_org(&mut app.conn(), demo_org(&app), &Default::default(), None, 100)
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect();
        for action in ["payee.created", "payee.address_entered", "payee.address_approved"] {
            assert!(actions.iter().any(|a| a == action), "[{backend:?}] {action} in {actions:?}");
        }
    }
}

#[actix_web::test]
async fn nobody_approves_an_address_they_entered_and_a_rejection_needs_a_reason() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let payee = add_payee(&mut accountant, "Bob Player", "").await;
        accountant.get(&format!("/payees/{payee}")).await;
        accountant
            .post_form(&format!("/payees/{payee}/addresses"), &[("asset", "USDT_TRC20"), ("address", TRON_ADDRESS)])
            .await;
        let id = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;

        // The accountant who entered it becomes a manager: still not theirs to approve.
        let me = common::actor(&app, "accountant@demo.local");
        payouts::db::users::set_role(&mut app.conn(), me.user_id, "manager").unwrap();
        let promoted = payouts::service::access::Actor { role: payouts::domain::account::Role::Manager, ..me };
        let refused = payouts::service::payees::decide_address(&mut app.conn(), &promoted, id, true, false, "");
        assert!(
            matches!(&refused, Err(payouts::AppError::Conflict(m)) if m.contains("a manager other than you")),
            "[{backend:?}] {refused:?}"
        );
        let mut promoted_client = app.client().await;
        promoted_client.login("accountant@demo.local", "demo").await;
        let queue = promoted_client.get("/approvals").await;
        assert!(!queue.body.contains("Approve address for Bob Player"), "[{backend:?}] no button for one's own entry");
        assert_eq!(address_rows(&app, payee)[0].1, "pending", "[{backend:?}]");

        // An accountant cannot decide at all; a manager must give a reason to reject.
        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;
        viewer.get("/payees").await;
        let res = viewer.post_form(&format!("/payee-addresses/{id}/approve"), &[]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        manager.get("/approvals").await;
        manager.post_form(&format!("/payee-addresses/{id}/reject"), &[("reason", "  ")]).await;
        assert_eq!(address_rows(&app, payee)[0].1, "pending", "[{backend:?}] no reason, no rejection");
        manager.post_form(&format!("/payee-addresses/{id}/reject"), &[("reason", "Not the address Bob gave us")]).await;
        assert_eq!(address_rows(&app, payee)[0].1, "rejected", "[{backend:?}]");
        // Decided once: a second decision changes nothing.
        let again = manager.post_form(&format!("/payee-addresses/{id}/approve"), &[]).await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        assert_eq!(address_rows(&app, payee)[0].1, "rejected", "[{backend:?}]");
        // A rejected address is not the payee's: it blocks nothing.
        payouts::db::users::set_role(&mut app.conn(), promoted.user_id, "accountant").unwrap();
        let mut payer = app.client().await;
        payer.login("accountant@demo.local", "demo").await;
        let res = payer.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "Reward").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
    }
}

#[actix_web::test]
async fn concurrent_approvals_of_two_addresses_leave_one_approved_per_network() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let accountant = common::actor(&app, "accountant@demo.local");
        let form = payouts::service::payees::PayeeForm { name: "Carol".into(), ..Default::default() };
        let payee = payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id;
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "TRX", TRON_ADDRESS).unwrap();
        let first = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        // The second address supersedes the first before approval.
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "TRX", SECOND_TRON).unwrap();
        let second = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        assert_eq!(address_rows(&app, payee).iter().filter(|(_, s)| s == "pending").count(), 1, "[{backend:?}]");
        let manager = common::actor(&app, "manager@demo.local");
        let threads: Vec<_> = [first, second, second]
            .into_iter()
            .map(|id| {
                let pool = app.state.pool.clone();
                let manager = manager.clone();
                std::thread::spawn(move || {
                    payouts::service::payees::decide_address(&mut pool.get().unwrap(), &manager, id, true, false, "")
                })
            })
            .collect();
        let ok = threads.into_iter().map(|t| t.join().unwrap()).filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "[{backend:?}] the superseded address cannot be approved, the live one once");
        let rows = address_rows(&app, payee);
        assert_eq!(rows.iter().filter(|(_, s)| s == "approved").count(), 1, "[{backend:?}] {rows:?}");
        assert!(rows.contains(&(SECOND_TRON.to_owned(), "approved".to_owned())), "[{backend:?}] {rows:?}");
    }
}

#[actix_web::test]
async fn payee_forms_name_the_field_and_keep_what_was_typed() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        add_payee(&mut accountant, "Dana", "EMP-1").await;
        accountant.get("/payees").await;
        let long = "x".repeat(5_000);
        let res =
            accountant.post_form("/payees", &[("name", &long), ("external_id", "EMP-1"), ("email", "no-at")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("A name has at most 200 characters."), "[{backend:?}]");
        assert!(res.body.contains("id=\"payee-email-error\""), "[{backend:?}]");
        let res = accountant.post_form("/payees", &[("name", "Dana Two"), ("external_id", "EMP-1")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("Another payee already has this external id."), "[{backend:?}]");
        assert!(res.body.contains("value=\"Dana Two\""), "[{backend:?}] what was typed is kept");
        let list = accountant.get("/payees?q=Dan").await;
        assert_eq!(list.body.matches("<td><a href=\"/payees/").count(), 1, "[{backend:?}] one Dana, nothing added");
        // Viewers read the book but cannot change it.
        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;
        viewer.get("/payees").await;
        assert_eq!(
            viewer.post_form("/payees", &[("name", "Eve")]).await.status,
            StatusCode::FORBIDDEN,
            "[{backend:?}]"
        );
    }
}

#[actix_web::test]
async fn a_mass_payout_with_a_row_to_an_unapproved_payee_address_names_the_line_and_creates_nothing() {
    use payouts::domain::payout::PayoutKind;
    use payouts::domain::registry::{Row, RowInput};
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let accountant = common::actor(&app, "accountant@demo.local");
        let form = payouts::service::payees::PayeeForm { name: "Frank".into(), ..Default::default() };
        let payee = payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id;
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_TRC20", SECOND_TRON)
            .unwrap();
        let asset = payouts::domain::asset::find("USDT_TRC20").unwrap();
        let rows: Vec<Row> = [TRON_ADDRESS, SECOND_TRON, &common::tron_address(3)]
            .iter()
            .enumerate()
            .map(|(n, a)| Row::check(asset, n as u64 + 1, &RowInput { address: a, amount: "5", ..Default::default() }))
            .collect();
        let draft =
            payouts::service::payouts::price(&mut app.conn(), &accountant, PayoutKind::Mass, asset, "Rewards", rows)
                .unwrap();
        let refused = payouts::service::payouts::create(&mut app.conn(), &accountant, &draft, "mass-pending");
        match refused {
            Err(payouts::AppError::Validation(e)) => {
                let m = e.get("_form").unwrap_or_default();
                assert!(m.contains("Line 2: this address of payee Frank is awaiting a manager's approval."), "{m}");
                assert!(!m.contains("Line 1") && !m.contains("Line 3"), "{m}");
            }
            other => panic!("[{backend:?}] {:?}", other.map(|c| c.payout.id)),
        }
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);
    }
}

#[actix_web::test]
async fn ten_employees_imported_from_a_csv_wait_for_approval_and_a_bad_file_changes_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        accountant.get("/payees").await;

        // One bad address and one unknown asset: nothing is imported, each named by line and column.
        let mut bad = String::from("name,external_id,email,asset,address\r\n");
        bad.push_str(&format!("Ann,E-1,ann@example.com,USDT_TRC20,{TRON_ADDRESS}\r\n\r\n"));
        bad.push_str("Ben,E-2,,USDT_TRC20,TR7NHqjeKQ\r\n");
        bad.push_str(&format!("Cy,E-3,,XYZ,{TRON_ADDRESS}\r\n"));
        let res = accountant.upload("/payees/import", "payees.csv", bad.as_bytes()).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let page = accountant.get("/payees").await;
        assert!(page.body.contains("Nothing was imported."), "[{backend:?}] {}", page.body);
        assert!(page.body.contains("Line 4, column address:"), "[{backend:?}] the real line, after an empty one");
        assert!(page.body.contains("Line 5, column asset:"), "[{backend:?}]");
        assert!(payouts::db::payees::all_in_org(&mut app.conn(), demo_org(&app)).unwrap().is_empty());

        let mut good = String::from("name,external_id,email,asset,address,tags\n");
        for n in 0..10u32 {
            let tags = if n < 8 { "\"Employees, Berlin\"" } else { "contractors" };
            good.push_str(&format!(
                "Employee {n},EMP-{n},e{n}@example.com,USDT_TRC20,{},{tags}\n",
                common::tron_address(n)
            ));
        }
        accountant.upload("/payees/import", "payees.csv", good.as_bytes()).await;
        let page = accountant.get("/payees").await;
        assert!(
            page.body.contains("Imported: 10 added, 0 updated, 10 address(es) entered"),
            "[{backend:?}] {}",
            page.body
        );
        let book = payouts::db::payees::all_in_org(&mut app.conn(), demo_org(&app)).unwrap();
        assert_eq!(book.len(), 10);
        let pending = payouts::db::payees::pending_count(&mut app.conn(), demo_org(&app)).unwrap();
        assert_eq!(pending, 10, "[{backend:?}] every imported address waits for a manager");
        assert_eq!(book[0].tags, ",employees,berlin,", "[{backend:?}] tags stored lowercase");
        // A whole tag finds its payees; a part of one does not.
        let found = accountant.get("/payees?q=employees").await;
        assert_eq!(found.body.matches("<td><a href=\"/payees/").count(), 8, "[{backend:?}]");
        let part = accountant.get("/payees?q=berl").await;
        assert_eq!(part.body.matches("<td><a href=\"/payees/").count(), 0, "[{backend:?}] a part of a tag is no tag");
        let other = accountant.get("/payees?q=Contractors").await;
        assert_eq!(other.body.matches("<td><a href=\"/payees/").count(), 2, "[{backend:?}] tags match in any case");
        let bad_tag = accountant.upload("/payees/import", "t.csv", b"name,tags\nZed,<script>\n").await;
        assert_eq!(bad_tag.status, StatusCode::SEE_OTHER);
        assert!(accountant.get("/payees").await.body.contains("Line 2, column tags:"), "[{backend:?}]");

        // Importing again with one changed address and one renamed employee: no new payee, one
        // new pending address.
        let changed =
            good.replace(&common::tron_address(3), SECOND_TRON).replace("Employee 5,EMP-5", "Employee Five,EMP-5");
        accountant.upload("/payees/import", "payees.csv", changed.as_bytes()).await;
        let page = accountant.get("/payees").await;
        assert!(
            page.body.contains("Imported: 0 added, 1 updated, 1 address(es) entered"),
            "[{backend:?}] {}",
            page.body
        );
        let three = book.iter().find(|p| p.external_id == "EMP-3").unwrap().id;
        let rows = address_rows(&app, three);
        assert_eq!(rows.len(), 2, "[{backend:?}] {rows:?}");
        assert_eq!(rows[0], (SECOND_TRON.to_owned(), "pending".to_owned()), "[{backend:?}]");
        assert_eq!(rows[1].1, "replaced", "[{backend:?}] the first, never approved, is superseded");

        // The export lists every payee and address with its state, formulas neutralized.
        let evil = payouts::service::payees::PayeeForm { name: "=HYPERLINK(\"x\")".into(), ..Default::default() };
        payouts::service::payees::create(&mut app.conn(), &common::actor(&app, "accountant@demo.local"), &evil)
            .unwrap();
        let csv = accountant.get("/payees/export.csv").await;
        assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
        assert!(csv.body.starts_with("name,external_id,email,asset,address,network,address_state,archived,tags\n"));
        assert!(csv.body.contains(",\"employees, berlin\"\n"), "[{backend:?}] tags exported for import");
        assert!(csv.body.contains(&format!("Employee 0,EMP-0,e0@example.com,TRX,{},TRON", common::tron_address(0))));
        assert!(csv.body.contains("Awaiting approval"), "[{backend:?}]");
        assert!(csv.body.contains("'=HYPERLINK"), "[{backend:?}] {}", csv.body);
        assert_eq!(
            csv.body.lines().count(),
            1 + 10 + 1,
            "[{backend:?}] header, 10 live addresses, 1 payee without one"
        );
    }
}

#[actix_web::test]
async fn a_payees_statement_lists_exactly_the_rows_paid_to_them_and_matches_the_ledger() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let accountant = common::actor(&app, "accountant@demo.local");
        let form = payouts::service::payees::PayeeForm {
            name: "Gina".into(),
            external_id: "EMP-9".into(),
            ..Default::default()
        };
        let payee = payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id;
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_TRC20", TRON_ADDRESS)
            .unwrap();
        let first = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        let manager = common::actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, first, true, false, "").unwrap();
        end_cooling_off(&app);

        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        for (amount, address) in [("100", TRON_ADDRESS), ("250.5", TRON_ADDRESS), ("7", SECOND_TRON)] {
            let res = client.single_payout("USDT_TRC20", amount, address, "November").await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        }
        common::process_all(&app, &common::instant_rail(&app, &[]));
        // Her address changes later: what was paid stays on her statement.
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_TRC20", SECOND_TRON)
            .unwrap();
        let second = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        payouts::service::payees::decide_address(&mut app.conn(), &manager, second, true, false, "").unwrap();

        let page = client.get(&format!("/payees/{payee}")).await;
        assert!(
            page.body.contains("350.5 USDT_TRC20</span> paid"),
            "[{backend:?}] 100 + 250.5, not the 7 to another address"
        );
        assert!(page.body.contains("https://tronscan.org/#/transaction/"), "[{backend:?}] explorer links");
        let csv = client.get(&format!("/payees/{payee}/statement.csv")).await;
        let lines: Vec<&str> = csv.body.lines().collect();
        assert_eq!(lines.len(), 3, "[{backend:?}] header and two rows: {}", csv.body);
        assert!(lines[0].starts_with("paid_at_utc,payee,external_id,payout_id,line,asset,amount,fee,tx_hash"));
        // Each row's amount and fee are what the ledger settled for it.
        let items: Vec<payouts::db::payouts::ItemRow> =
            payouts::db::payouts::list(&mut app.conn(), demo_org(&app), &Default::default(), None, 10)
                .unwrap()
                .iter()
                .flat_map(|p| payouts::db::payouts::items(&mut app.conn(), p.id).unwrap())
                .filter(|i| i.payee_id == Some(payee))
                .collect();
        assert_eq!(items.len(), 2, "[{backend:?}] the rows to her approved address are linked to her");
        for item in &items {
            let expected = format!(
                ",Gina,EMP-9,{},1,USDT_TRC20,{},{},{}",
                item.payout_id,
                item.amount,
                item.fee,
                item.tx_hash.clone().unwrap()
            );
            assert!(lines.iter().any(|l| l.contains(&expected)), "[{backend:?}] {expected} in {}", csv.body);
        }
        let b = payouts::service::payouts::ledger::balance_of(
            &mut app.conn(),
            demo_org(&app),
            payouts::domain::asset::find("USDT_TRC20").unwrap(),
        )
        .unwrap();
        // The ledger paid her two rows and the other one, amount and fee each: her statement
        // holds exactly her part of it.
        let asset = payouts::domain::asset::find("USDT_TRC20").unwrap();
        let amount = |s: &str| payouts::domain::Amount::parse_non_negative(asset, s).unwrap();
        let debit = |i: &payouts::db::payouts::ItemRow| amount(&i.amount).checked_add(amount(&i.fee)).unwrap();
        let all: Vec<payouts::db::payouts::ItemRow> =
            payouts::db::payouts::list(&mut app.conn(), demo_org(&app), &Default::default(), None, 10)
                .unwrap()
                .iter()
                .flat_map(|p| payouts::db::payouts::items(&mut app.conn(), p.id).unwrap())
                .collect();
        let paid = all.iter().fold(amount("0"), |t, i| t.checked_add(debit(i)).unwrap());
        assert_eq!(b.paid, paid, "[{backend:?}]");
        let fees = items.iter().fold(amount("0"), |t, i| t.checked_add(amount(&i.fee)).unwrap());
        assert!(page.body.contains(&format!("service fees {} USDT_TRC20", fees.grouped())), "[{backend:?}] {}", fees);

        // A period with nothing, and a date that is not one.
        let tomorrow = (payouts::clock::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
        let empty = client.get(&format!("/payees/{payee}?from={tomorrow}")).await;
        assert!(empty.body.contains("Nothing paid to Gina in this period."), "[{backend:?}]");
        assert_eq!(client.get(&format!("/payees/{payee}/statement.csv?from={tomorrow}")).await.body.lines().count(), 1);
        let bad = client.get(&format!("/payees/{payee}?to=31.12.2026")).await;
        assert!(bad.body.contains("id=\"statement-to-error\""), "[{backend:?}] the field is named");
        // Another organization's payee is not found.
        let other = common::actor(&app, "other-admin@example.com");
        assert!(matches!(
            payouts::service::payees::statement(&mut app.conn(), &other, payee, &Default::default(), 10),
            Err(payouts::AppError::NotFound)
        ));
    }
}

#[actix_web::test]
async fn new_and_changed_addresses_are_flagged_on_review_and_approval_and_can_need_another_approval() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let accountant = common::actor(&app, "accountant@demo.local");
        let manager = common::actor(&app, "manager@demo.local");
        let form = payouts::service::payees::PayeeForm { name: "Hana".into(), ..Default::default() };
        let payee = payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id;
        let approve_latest = |app: &TestApp| {
            let id = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
            payouts::service::payees::decide_address(&mut app.conn(), &manager, id, true, false, "").unwrap();
            end_cooling_off(app);
        };
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_TRC20", TRON_ADDRESS)
            .unwrap();
        approve_latest(&app);
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let review = |amount: &'static str, address: &'static str| {
            [("asset", "USDT_TRC20"), ("amount", amount), ("address", address), ("description", "Salary")]
        };
        client.get("/payouts/new/single").await;
        let first = client.post_form("/payouts/new/single", &review("10", TRON_ADDRESS)).await;
        assert!(first.body.contains("First payment</dt>"), "[{backend:?}] never paid before");
        assert!(first.body.contains("never paid Hana at this address"), "[{backend:?}]");
        client.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "October").await;
        common::process_all(&app, &common::instant_rail(&app, &[]));
        let again = client.post_form("/payouts/new/single", &review("10", TRON_ADDRESS)).await;
        assert!(
            !again.body.contains("First payment</dt>") && !again.body.contains("Address changed</dt>"),
            "[{backend:?}]"
        );

        // Her address changes (approved by a manager): the next payout to her is flagged twice.
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_TRC20", SECOND_TRON)
            .unwrap();
        approve_latest(&app);
        let changed = client.post_form("/payouts/new/single", &review("10", SECOND_TRON)).await;
        assert!(changed.body.contains("First payment</dt>"), "[{backend:?}]");
        assert!(changed.body.contains("Address changed</dt>"), "[{backend:?}]");
        assert!(
            changed
                .body
                .contains(&format!("Hana's last payout went to <span class=\"mono wrap\">{TRON_ADDRESS}</span>")),
            "[{backend:?}] old → new: {}",
            changed.body
        );

        // The policy asks for one approval more on such payouts, at least two.
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/approvals").await;
        let res = admin.post_form("/settings/approvals", &[("needed", "1"), ("extra_for_new_addresses", "yes")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let flagged = payout_id_of(&client.single_payout("USDT_TRC20", "20", SECOND_TRON, "November").await);
        let usual =
            payout_id_of(&client.single_payout("USDT_TRC20", "30", TRON_ADDRESS, "Old address, paid before").await);
        let find = |id| payouts::db::payouts::find(&mut app.conn(), id).unwrap();
        assert_eq!((find(flagged).status.as_str(), find(flagged).approvals_required), ("pending", 2), "[{backend:?}]");
        assert_eq!((find(usual).status.as_str(), find(usual).approvals_required), ("in_progress", 0), "[{backend:?}]");

        // The manager sees why on the approval page.
        let mut mgr = app.client().await;
        mgr.login("manager@demo.local", "demo").await;
        let page = mgr.get(&format!("/payouts/{flagged}")).await;
        assert!(page.body.contains("Addresses to check"), "[{backend:?}]");
        assert!(
            page.body.contains(&format!(
                "Address changed since the last payout: <span class=\"mono wrap\">{TRON_ADDRESS}</span>"
            )),
            "[{backend:?}]"
        );

        // A mass payout's review counts and lists them.
        let draft = client.start_draft("USDT_TRC20", "December").await;
        let csv = format!("address,amount\n{TRON_ADDRESS},5\n{SECOND_TRON},5\n{},5\n", common::tron_address(5));
        client.upload(&format!("/payouts/drafts/{draft}/upload"), "run.csv", csv.as_bytes()).await;
        let review = client.get(&format!("/payouts/drafts/{draft}/review")).await;
        assert!(
            review.body.contains("2 first payments to an address never paid before; 1 payee address changed"),
            "[{backend:?}] {}",
            review.body
        );
        assert!(
            review.body.contains("<td>Hana</td>") && review.body.contains("<span class=\"muted\">not a payee</span>")
        );
    }
}

#[actix_web::test]
async fn repeating_last_months_run_pays_each_payees_current_address_and_marks_what_differs() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let accountant = common::actor(&app, "accountant@demo.local");
        let manager = common::actor(&app, "manager@demo.local");
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payees").await;
        let mut book = String::from("name,external_id,asset,address\n");
        for n in 0..3u32 {
            book.push_str(&format!("Worker {n},W-{n},USDT_TRC20,{}\n", common::tron_address(n)));
        }
        client.upload("/payees/import", "book.csv", book.as_bytes()).await;
        let approve_all = |app: &TestApp| {
            for (a, _) in payouts::db::payees::pending_in_org(&mut app.conn(), demo_org(app), 100).unwrap() {
                payouts::service::payees::decide_address(&mut app.conn(), &manager, a.id, true, false, "").unwrap();
            }
            end_cooling_off(app);
        };
        approve_all(&app);

        // October: three workers and one contractor who is not in the book.
        let draft = client.start_draft("USDT_TRC20", "October salaries").await;
        let mut run = String::from("address,amount,reference\n");
        for n in 0..3u32 {
            run.push_str(&format!("{},100,W-{n}\n", common::tron_address(n)));
        }
        run.push_str(&format!("{TRON_ADDRESS},40,CONTRACTOR\n"));
        client.upload(&format!("/payouts/drafts/{draft}/upload"), "oct.csv", run.as_bytes()).await;
        client.get(&format!("/payouts/drafts/{draft}/review")).await;
        let october = payout_id_of(&client.confirm_draft(draft, &[]).await);
        common::process_all(&app, &common::instant_rail(&app, &[]));
        assert_eq!(
            payouts::db::payouts::find(&mut app.conn(), october).unwrap().status.as_str().to_owned(),
            "completed",
            "[{backend:?}]"
        );

        // Worker 1 gives a new address, approved by a manager.
        let one = payouts::db::payees::find_by_external_id(&mut app.conn(), demo_org(&app), "W-1").unwrap().unwrap().id;
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, one, "USDT_TRC20", SECOND_TRON).unwrap();
        approve_all(&app);

        let page = client.get(&format!("/payouts/{october}")).await;
        assert!(page.body.contains("Repeat this run"), "[{backend:?}]");
        let res = client.post_form(&format!("/payouts/{october}/repeat"), &[]).await;
        let november: i64 = res.location().unwrap().trim_start_matches("/payouts/drafts/").parse().unwrap();
        let lines = payouts::db::drafts::lines(&mut app.conn(), november).unwrap();
        let addresses: Vec<&str> = lines.iter().map(|l| l.address.as_str()).collect();
        let expected =
            [common::tron_address(0), SECOND_TRON.to_owned(), common::tron_address(2), TRON_ADDRESS.to_owned()];
        assert_eq!(
            addresses,
            expected.iter().map(String::as_str).collect::<Vec<_>>(),
            "[{backend:?}] current addresses"
        );
        let editor = client.get(&format!("/payouts/drafts/{november}")).await;
        assert!(editor.body.contains(&format!("Changes since <a href=\"/payouts/{october}\">payout #{october}</a>")));
        assert!(
            editor.body.contains(&format!("Address changed: {} → {SECOND_TRON}", common::tron_address(1))),
            "[{backend:?}] {}",
            editor.body
        );
        // The contractor is dropped, a new worker added, and worker 0 gets a raise.
        let contractor = lines[3].id;
        client.post_form(&format!("/payouts/drafts/{november}/rows/{contractor}/delete"), &[]).await;
        let fields = [
            ("address", common::tron_address(7)),
            ("amount", "100".into()),
            ("comment", String::new()),
            ("reference", "W-7".into()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        client.post_form(&format!("/payouts/drafts/{november}/rows"), &fields).await;
        let first = lines[0].id;
        let raise = [
            ("address", common::tron_address(0)),
            ("amount", "120".into()),
            ("comment", String::new()),
            ("reference", "W-0".into()),
        ];
        let raise: Vec<(&str, &str)> = raise.iter().map(|(k, v)| (*k, v.as_str())).collect();
        client.post_form(&format!("/payouts/drafts/{november}/rows/{first}"), &raise).await;
        let editor = client.get(&format!("/payouts/drafts/{november}")).await;
        assert!(editor.body.contains("Amount changed: 100 → 120"), "[{backend:?}]");
        assert!(editor.body.contains("New since the last run"), "[{backend:?}]");
        assert!(editor.body.contains("Not in this run any more: CONTRACTOR (40)."), "[{backend:?}]");

        // Only finished mass payouts repeat.
        let single = payout_id_of(&client.single_payout("USDT_TRC20", "5", TRON_ADDRESS, "One-off").await);
        let refused = payouts::service::payouts::repeat::repeat(&mut app.conn(), &accountant, single);
        assert!(matches!(refused, Err(payouts::AppError::Conflict(_))), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_payout_with_a_pay_day_is_sent_then_and_not_before_and_can_be_cancelled_until_then() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let pay_day = (payouts::clock::now() + chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M").to_string();
        let confirm = async |client: &mut common::Client<_>, amount: &str, send_on: &str| {
            client.get("/payouts/new/single").await;
            let fields =
                [("asset", "USDT_TRC20"), ("amount", amount), ("address", TRON_ADDRESS), ("description", "Salary")];
            let review = client.post_form("/payouts/new/single", &fields).await;
            let token = common::hidden_field(&review.body, "token").unwrap();
            let digest = common::hidden_field(&review.body, "digest").unwrap();
            let mut all = vec![("token", token.as_str()), ("digest", digest.as_str()), ("send_on", send_on)];
            all.extend_from_slice(&fields);
            client.post_form("/payouts/new/single/confirm", &all).await
        };
        // A time that is not one, or one in the past: said on the review, nothing stored.
        let res = confirm(&mut client, "10", "25.12.2026 09:00").await;
        assert!(res.body.contains("Use a date and time like 2026-12-25T09:00 (UTC)"), "[{backend:?}] {}", res.status);
        let res = confirm(&mut client, "10", "2020-01-01T09:00").await;
        assert!(res.body.contains("The pay day is in the past"), "[{backend:?}]");
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);

        let cancelled = payout_id_of(&confirm(&mut client, "10", &pay_day).await);
        let later = payout_id_of(&confirm(&mut client, "20", &pay_day).await);
        let page = client.get(&format!("/payouts/{later}")).await;
        assert!(
            page.body.contains("Pay day</dt>") && page.body.contains("rows are sent then, not before"),
            "[{backend:?}]"
        );
        let rail = common::instant_rail(&app, &[]);
        common::process_all(&app, &rail);
        let status = |id| payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned();
        assert_eq!(
            (status(cancelled).as_str(), status(later).as_str()),
            ("in_progress", "in_progress"),
            "[{backend:?}]"
        );
        assert!(rail.sent().unwrap().is_empty(), "[{backend:?}] nothing sent before the pay day");

        // Cancelled before its day: the reservation is released.
        client.get(&format!("/payouts/{cancelled}")).await;
        client.post_form(&format!("/payouts/{cancelled}/cancel"), &[("reason", "Paid by hand")]).await;
        assert_eq!(status(cancelled), "cancelled", "[{backend:?}]");
        let asset = payouts::domain::asset::find("USDT_TRC20").unwrap();
        let reserved =
            payouts::service::payouts::ledger::balance_of(&mut app.conn(), demo_org(&app), asset).unwrap().reserved;
        let held = payouts::db::payouts::find(&mut app.conn(), later).unwrap().total_debit;
        assert_eq!(reserved.to_string(), held, "[{backend:?}] only the other payout stays reserved");

        // A minute before the day, by the processor's clock: still nothing. Then the day comes.
        let day = payouts::db::payouts::find(&mut app.conn(), later).unwrap().scheduled_for.unwrap();
        let clock = payouts::clock::Clock::fixed(day - chrono::Duration::minutes(1));
        common::process_all_at(&app, &rail, clock.clone());
        assert_eq!(status(later), "in_progress", "[{backend:?}]");
        clock.advance(chrono::Duration::minutes(1));
        common::process_all_at(&app, &rail, clock);
        assert_eq!(status(later), "completed", "[{backend:?}]");
        assert_eq!(rail.sent().unwrap().len(), 1, "[{backend:?}]");

        // A mass payout takes a pay day on its review too.
        let draft = client.start_draft("USDT_TRC20", "December salaries").await;
        let csv = format!("address,amount\n{TRON_ADDRESS},5\n");
        client.upload(&format!("/payouts/drafts/{draft}/upload"), "dec.csv", csv.as_bytes()).await;
        client.get(&format!("/payouts/drafts/{draft}/review")).await;
        let mass = payout_id_of(&client.confirm_draft(draft, &[("send_on", &pay_day)]).await);
        let scheduled = payouts::db::payouts::find(&mut app.conn(), mass).unwrap().scheduled_for.unwrap();
        assert_eq!(scheduled.format("%Y-%m-%dT%H:%M").to_string(), pay_day, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn payee_address_changes_go_out_as_signed_webhook_events() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = common::actor(&app, "admin@demo.local");
        let policy = payouts::domain::outbound::OutboundPolicy::permissive();
        let events = vec![payouts::service::outbound::webhooks::PAYEE_ADDRESS_CHANGED.to_owned()];
        payouts::service::outbound::webhooks::add_endpoint(
            &mut app.conn(),
            &admin,
            "http://127.0.0.1:9/payees",
            &events,
            &policy,
        )
        .unwrap();
        let accountant = common::actor(&app, "accountant@demo.local");
        let form =
            payouts::service::payees::PayeeForm { name: "Ivo".into(), external_id: "P-1".into(), ..Default::default() };
        let payee = payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id;
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_TRC20", TRON_ADDRESS)
            .unwrap();
        let id = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        let manager = common::actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, id, true, false, "").unwrap();
        app.fan_out();
        let mut sent = payouts::db::webhooks::recent(&mut app.conn(), demo_org(&app), 10).unwrap();
        sent.reverse();
        let bodies: Vec<serde_json::Value> = sent
            .iter()
            .map(|d| {
                assert_eq!(d.event_type, "payee.address_changed", "[{backend:?}]");
                serde_json::from_str(&d.payload).unwrap()
            })
            .collect();
        assert_eq!(bodies.len(), 2, "[{backend:?}] entered, then approved");
        let states: Vec<&str> = bodies.iter().map(|b| b["data"]["address"]["status"].as_str().unwrap()).collect();
        assert_eq!(states, ["pending", "approved"], "[{backend:?}]");
        assert_eq!(bodies[1]["data"]["payee"]["external_id"], "P-1");
        assert_eq!(bodies[1]["data"]["address"]["address"], TRON_ADDRESS);
        assert!(bodies[1]["data"]["address"]["payable_from"].is_string(), "[{backend:?}] when it can be paid");
    }
}

#[actix_web::test]
async fn payees_picked_by_tag_become_draft_rows_shown_with_their_names_and_counted_flags() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let manager = common::actor(&app, "manager@demo.local");
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payees").await;
        let mut book = String::from("name,external_id,asset,address,tags\n");
        for n in 0..3u32 {
            book.push_str(&format!("Worker {n},W-{n},USDT_TRC20,{},employees\n", common::tron_address(n)));
        }
        book.push_str(&format!("Contractor,C-1,USDT_TRC20,{TRON_ADDRESS},contractors\n"));
        client.upload("/payees/import", "book.csv", book.as_bytes()).await;
        for (a, _) in payouts::db::payees::pending_in_org(&mut app.conn(), demo_org(&app), 100).unwrap() {
            payouts::service::payees::decide_address(&mut app.conn(), &manager, a.id, true, false, "").unwrap();
        }
        end_cooling_off(&app);
        // A new employee whose address a manager has not approved yet.
        client
            .upload(
                "/payees/import",
                "new.csv",
                format!("name,external_id,asset,address,tags\nNewbie,W-9,USDT_TRC20,{SECOND_TRON},employees\n")
                    .as_bytes(),
            )
            .await;

        let draft = client.start_draft("USDT_TRC20", "December salaries").await;
        let editor = client.get(&format!("/payouts/drafts/{draft}")).await;
        assert!(editor.body.contains("Add payees from the book"), "[{backend:?}]");
        let picker = client.get(&format!("/payouts/drafts/{draft}/payees?q=employees")).await;
        assert_eq!(picker.status, StatusCode::OK, "[{backend:?}] {}", picker.body);
        assert_eq!(picker.body.matches("name=\"payee\"").count(), 3, "[{backend:?}] only payable payees can be ticked");
        assert!(picker.body.contains("Newbie") && picker.body.contains("Address awaiting approval"), "[{backend:?}]");
        assert!(!picker.body.contains("Contractor"), "[{backend:?}] another tag");

        let id_of = |external: &str| {
            payouts::db::payees::find_by_external_id(&mut app.conn(), demo_org(&app), external)
                .unwrap()
                .unwrap()
                .id
                .to_string()
        };
        let res = client.post_form(&format!("/payouts/drafts/{draft}/payees"), &[("amount", "100")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("Choose at least one payee."), "[{backend:?}]");
        let (w0, w1, w2, newbie) = (id_of("W-0"), id_of("W-1"), id_of("W-2"), id_of("W-9"));
        let fields = [
            ("payee", w2.as_str()),
            ("payee", w0.as_str()),
            ("payee", w1.as_str()),
            ("payee", newbie.as_str()),
            ("amount", "100"),
        ];
        let res = client.post_form(&format!("/payouts/drafts/{draft}/payees"), &fields).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let lines = payouts::db::drafts::lines(&mut app.conn(), draft).unwrap();
        let got: Vec<(String, String, String)> =
            lines.iter().map(|l| (l.address.clone(), l.amount.clone(), l.reference.clone())).collect();
        let want: Vec<(String, String, String)> =
            (0..3).map(|n| (common::tron_address(n), "100".to_owned(), format!("W-{n}"))).collect();
        assert_eq!(got, want, "[{backend:?}] by name, at each approved address, the external id as reference");

        // The editor names each row's payee; the totals bar counts first payments.
        let editor = client.get(&format!("/payouts/drafts/{draft}")).await;
        assert!(editor.body.contains("Newbie"), "[{backend:?}] the flash names who was left out");
        assert!(editor.body.contains("<td class=\"cell-payee\">Worker 1"), "[{backend:?}]");
        assert!(editor.body.contains("<strong>3</strong> first payments to an address"), "[{backend:?}]");
        // A registry row to a payee's address is shown with the payee too.
        let csv = format!("address,amount\n{TRON_ADDRESS},40\n");
        client.upload(&format!("/payouts/drafts/{draft}/upload"), "c.csv", csv.as_bytes()).await;
        let editor = client.get(&format!("/payouts/drafts/{draft}")).await;
        assert!(editor.body.contains("<td class=\"cell-payee\">Contractor"), "[{backend:?}]");
        // A row that names a known employee number beside another address is warned about.
        let other = client.start_draft("USDT_TRC20", "Spreadsheet run").await;
        let swapped = format!("address,amount,reference\n{},100,W-1\n", common::tron_address(40));
        client.upload(&format!("/payouts/drafts/{other}/upload"), "s.csv", swapped.as_bytes()).await;
        let review = client.get(&format!("/payouts/drafts/{other}/review")).await;
        assert!(
            review.body.contains(&format!(
                "W-1 is payee Worker 1, whose approved address is {}; this row pays another address.",
                common::tron_address(1)
            )),
            "[{backend:?}] {}",
            review.body
        );

        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;
        assert_eq!(viewer.get(&format!("/payouts/drafts/{draft}/payees")).await.status, StatusCode::FORBIDDEN);
    }
}
