//! Rough edges a new user met (issue 26, first items): a favicon on every page, no results to
//! download before a payout has any, and a progress bar that does not read as success when rows
//! failed — on every backend.

mod common;

use common::{EVM_ADDRESS, TRON_ADDRESS, TestApp, actor, backends, instant_rail, payout_id_of, process_all};

/// Every payout needs one manager's approval from now on.
fn require_one_approval(app: &TestApp) {
    let admin = actor(app, "admin@demo.local");
    let fields: Vec<(String, String)> = vec![("required".into(), "on".into()), ("needed".into(), "1".into())];
    payouts::service::payouts::approvals::set_policy(&mut app.conn(), &admin, &fields).unwrap();
}

#[actix_web::test]
async fn every_page_names_its_icon_and_the_icon_is_served() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        let login = client.get("/login").await;
        assert!(login.body.contains(r#"<link rel="icon" href="/static/favicon.svg""#), "[{backend:?}]");
        client.login("viewer@demo.local", "demo").await;
        let forbidden = client.get("/payouts/new/single").await;
        assert!(forbidden.body.contains(r#"href="/static/favicon.svg""#), "[{backend:?}] error pages too");
        let icon = client.get("/static/favicon.svg").await;
        assert_eq!(icon.status, actix_web::http::StatusCode::OK, "[{backend:?}]");
        assert_eq!(icon.header("content-type"), Some("image/svg+xml"), "[{backend:?}]");
        assert!(icon.body.starts_with("<svg"), "[{backend:?}]");
        // Where browsers look when a page names no icon (the API docs): sent to the same one.
        let ico = client.get("/favicon.ico").await;
        assert_eq!(ico.status, actix_web::http::StatusCode::MOVED_PERMANENTLY, "[{backend:?}]");
        assert_eq!(ico.location(), Some("/static/favicon.svg"), "[{backend:?}]");
        // The inbox bell is drawn, not an emoji a phone without an emoji font shows as a box.
        let home = client.get("/").await;
        assert!(home.body.contains("<svg class=\"bell-icon\""), "[{backend:?}]");
        assert!(!home.body.contains("&#128276;") && !home.body.contains('\u{1F514}'), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn results_are_offered_once_a_payout_has_them_and_a_failed_bar_is_marked_failed() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_one_approval(&app);
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let pending = payout_id_of(&accountant.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "waits").await);
        let page = accountant.get(&format!("/payouts/{pending}")).await.body;
        assert!(page.contains("Pending"), "[{backend:?}] {page}");
        assert!(!page.contains("Download results"), "[{backend:?}] nothing to download while it waits");

        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        let failing = payout_id_of(&accountant.single_payout("ETH", "0.1", EVM_ADDRESS, "fails").await);
        let paid = payout_id_of(&accountant.single_payout("USDT_TRC20", "5", TRON_ADDRESS, "pays").await);
        for id in [failing, paid] {
            let review = manager.get(&format!("/payouts/{id}")).await.body;
            let digest = common::hidden_field(&review, "digest").unwrap_or_default();
            manager.post_form(&format!("/payouts/{id}/approve"), &[("digest", &digest)]).await;
        }
        process_all(&app, &instant_rail(&app, &[EVM_ADDRESS]));
        let failed = accountant.get(&format!("/payouts/{failing}")).await.body;
        assert!(failed.contains("0 of 1 paid, 1 failed"), "[{backend:?}] {failed}");
        assert!(failed.contains(r#"<progress id="progress" class="progress-failed""#), "[{backend:?}] {failed}");
        assert!(failed.contains("Download results"), "[{backend:?}] its results say why");
        let completed = accountant.get(&format!("/payouts/{paid}")).await.body;
        assert!(completed.contains("Completed") && !completed.contains("progress-failed"), "[{backend:?}]");
        assert!(completed.contains("Download results"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn pages_speak_plainly_fees_carry_their_unit_and_the_api_docs_are_linked() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_one_approval(&app);
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&accountant.single_payout("USDT_TRC20", "100", TRON_ADDRESS, "plain").await);
        let list = accountant.get("/payouts").await.body;
        assert!(
            list.contains(
                r#"<td class="amount">100 USDT_TRC20</td>
      <td class="amount">1 USDT_TRC20</td>"#
            ),
            "[{backend:?}] the fee has its unit: {list}"
        );

        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        let page = manager.get(&format!("/payouts/{id}")).await.body;
        assert!(!page.contains(">sha256:") && !page.contains("binds to"), "[{backend:?}] no digest shown to a person");
        assert!(page.contains("exactly as shown here"), "[{backend:?}]");
        assert!(common::hidden_field(&page, "digest").unwrap().starts_with("sha256:"), "[{backend:?}] still bound");

        let mut admin_client = app.client().await;
        admin_client.login("admin@demo.local", "demo").await;
        let keys = admin_client.get("/settings/api-keys").await.body;
        assert!(keys.contains(r#"<a href="/api/docs">API documentation</a>"#), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn the_editor_stops_saying_no_rows_once_a_row_is_added_and_says_it_again_when_the_last_goes() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let id = accountant.start_draft("USDT_TRC20", "Rows").await;
        let editor = accountant.get(&format!("/payouts/drafts/{id}")).await.body;
        assert!(editor.contains(r#"<p id="no-rows" class="empty">No rows yet"#), "[{backend:?}] {editor}");

        let added = accountant
            .post_htmx(&format!("/payouts/drafts/{id}/rows"), &[("address", TRON_ADDRESS), ("amount", "3")])
            .await;
        assert!(
            added.body.contains(r#"<p id="no-rows" class="empty" hx-swap-oob="true"></p>"#),
            "[{backend:?}] {}",
            added.body
        );
        let row = payouts::db::drafts::lines(&mut app.conn(), id).unwrap()[0].id;
        let deleted = accountant.post_htmx(&format!("/payouts/drafts/{id}/rows/{row}/delete"), &[]).await;
        assert!(
            deleted.body.contains(r#"<p id="no-rows" class="empty" hx-swap-oob="true">No rows yet"#),
            "[{backend:?}] {}",
            deleted.body
        );
        assert!(editor.contains(r#"<label for="purpose">Payout description</label>"#), "[{backend:?}] one wording");
        assert!(editor.contains(r#"<section class="card danger-zone discard">"#), "[{backend:?}] discard set apart");

        // Discarding asks first (issue 44, item 10): one tap leads to a page that says what is
        // lost; a bare POST changes nothing; the page's button discards.
        assert!(editor.contains(&format!(r#"href="/payouts/drafts/{id}/discard""#)), "[{backend:?}]");
        let ask = accountant.get(&format!("/payouts/drafts/{id}/discard")).await;
        assert!(ask.body.contains("Discard this draft?") && ask.body.contains("0 rows"), "[{backend:?}] {}", ask.body);
        let bare = accountant.post_form(&format!("/payouts/drafts/{id}/discard"), &[]).await;
        assert_eq!(bare.location(), Some(format!("/payouts/drafts/{id}/discard").as_str()), "[{backend:?}]");
        let open = payouts::db::drafts::find_in_org(&mut app.conn(), common::demo_org(&app), id).unwrap().unwrap();
        assert_eq!(open.status.as_str(), "open", "[{backend:?}] still open");
        let done = accountant.post_form(&format!("/payouts/drafts/{id}/discard"), &[("confirm", "yes")]).await;
        assert_eq!(done.location(), Some("/payouts/new/mass"), "[{backend:?}]");
        let gone = payouts::db::drafts::find_in_org(&mut app.conn(), common::demo_org(&app), id).unwrap().unwrap();
        assert_eq!(gone.status.as_str(), "discarded", "[{backend:?}]");
    }
}

#[actix_web::test]
async fn error_pages_keep_the_header_and_say_who_can() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;
        let refused = viewer.get("/payouts/new/single").await;
        assert_eq!(refused.status, actix_web::http::StatusCode::FORBIDDEN, "[{backend:?}]");
        for part in [r#"<nav aria-label="Main">"#, ">Sign out<", "Error 403", "for the Accountant role"] {
            assert!(refused.body.contains(part), "[{backend:?}] {part}: {}", refused.body);
        }
        assert!(refused.body.contains(r#"<a href="mailto:accountant@demo.local">"#), "[{backend:?}] who to ask");
        let missing = viewer.get("/no-such-page").await;
        assert_eq!(missing.status, actix_web::http::StatusCode::NOT_FOUND, "[{backend:?}]");
        assert!(
            missing.body.contains(r#"<nav aria-label="Main">"#) && missing.body.contains("Error 404"),
            "[{backend:?}]"
        );
        assert!(
            missing.body.contains(r#"<a href="/api/docs">API docs</a>"#),
            "[{backend:?}] the user menu links the docs"
        );

        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let dashboard = admin.get("/").await.body;
        assert!(
            dashboard.contains("New payouts are made by accountants: ask <a href=\"mailto:accountant@demo.local\">"),
            "[{backend:?}] {dashboard}"
        );
        let settings = admin.get("/settings/users").await.body;
        assert!(!settings.contains("Error"), "[{backend:?}]");
        // An htmx request gets no second header inside the part it replaces.
        let fragment = viewer
            .send(actix_web::test::TestRequest::get().uri("/no-such-page").insert_header(("HX-Request", "true")))
            .await;
        assert!(!fragment.body.contains(r#"<nav aria-label="Main">"#), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn amounts_are_written_one_way_paid_means_one_thing_and_empty_assets_fold() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/balances").await;
        let deposit = [("asset", "USDT_TRC20"), ("amount", "2512.5"), ("note", "Top-up")];
        let done = admin.post_form("/settings/balances", &deposit).await;
        let flash = admin.get(done.location().unwrap()).await.body;
        assert!(flash.contains("Deposit recorded: 52,512.5 USDT_TRC20 now available."), "[{backend:?}] {flash}");
        assert!(flash.contains(r#"<td class="amount">2,512.5 USDT_TRC20</td>"#), "[{backend:?}] the ledger: {flash}");

        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&accountant.single_payout("USDT_TRC20", "100", TRON_ADDRESS, "paid").await);
        process_all(&app, &instant_rail(&app, &[]));
        let balances = admin.get("/settings/balances").await.body;
        let row = r#"<td class="amount">52,411.5 USDT_TRC20</td>
        <td class="amount">0 USDT_TRC20</td>
        <td class="amount">100 USDT_TRC20</td>
        <td class="amount">1 USDT_TRC20</td>"#;
        assert!(balances.contains(row), "[{backend:?}] paid out and its fees apart: {balances}");
        let dashboard = accountant.get("/").await.body;
        assert!(
            dashboard.contains(r#"<span class="amount">100 USDT_TRC20</span> paid to recipients"#),
            "[{backend:?}]"
        );
        assert!(
            dashboard.contains(r#"Service fees on those rows: <span class="amount">1 USDT_TRC20</span>"#),
            "[{backend:?}]"
        );
        // The demo enables every asset and funds six: the others fold under one line.
        let folded = format!("{} more enabled assets with no balance", payouts::domain::asset::ASSETS.len() - 6);
        assert!(dashboard.contains(&folded), "[{backend:?}] {dashboard}");
        assert!(!dashboard.contains(r#"<th scope="row">POL</th>"#), "[{backend:?}] no zero row");
        assert!(dashboard.contains(r#"<th scope="row">BTC</th>"#), "[{backend:?}]");

        let audit = admin.get("/settings/audit").await.body;
        assert!(audit.contains("2,512.5 USDT_TRC20: Top-up"), "[{backend:?}] {audit}");
        assert!(audit.contains("Single 101 USDT_TRC20 to 1 recipient"), "[{backend:?}] {audit}");
        assert!(audit.contains(&format!(r#"<a href="/payouts/{id}">payout {id}</a>"#)), "[{backend:?}] objects link");
    }
}

#[actix_web::test]
async fn the_audit_log_filters_by_who_what_which_and_when() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&accountant.single_payout("USDT_TRC20", "7", TRON_ADDRESS, "audited").await);
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let users = admin.get("/settings/users").await.body;
        let accountant_id = common::user_id_in(&users, "accountant@demo.local");

        let by_action = admin.get("/settings/audit?action=payout.created").await.body;
        assert!(by_action.contains("<code>payout.created</code>"), "[{backend:?}] {by_action}");
        assert!(!by_action.contains("<code>login.succeeded</code>"), "[{backend:?}] {by_action}");
        let by_actor = admin.get(&format!("/settings/audit?actor={accountant_id}")).await.body;
        assert!(by_actor.contains("<code>payout.created</code>"), "[{backend:?}]");
        assert!(!by_actor.contains("<td>admin@demo.local</td>"), "[{backend:?}] {by_actor}");
        let by_object = admin.get(&format!("/settings/audit?object=payout+{id}")).await.body;
        assert!(by_object.contains(&format!(r#"<a href="/payouts/{id}">payout {id}</a>"#)), "[{backend:?}]");
        assert!(!by_object.contains("<code>login."), "[{backend:?}] {by_object}");
        let today = chrono::Utc::now().date_naive();
        let by_day = admin.get(&format!("/settings/audit?day={today}")).await.body;
        assert!(by_day.contains("<code>payout.created</code>"), "[{backend:?}]");
        let other_day = admin.get("/settings/audit?day=2001-01-01").await.body;
        assert!(other_day.contains("No entry matches these filters."), "[{backend:?}] {other_day}");
        let bad = admin.get("/settings/audit?day=yesterday&object=a+b+c").await;
        assert_eq!(bad.status, actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(bad.body.contains("Use a date like 2026-11-24."), "[{backend:?}] {}", bad.body);
        assert!(bad.body.contains("kind and id"), "[{backend:?}] {}", bad.body);
        for hostile in ["action=%00", "object=payout%00+1", &format!("object={}", "p".repeat(60_000))] {
            let res = admin.get(&format!("/settings/audit?{hostile}")).await;
            assert!(res.status.is_client_error() || res.status.is_success(), "[{backend:?}] {}", res.status);
        }
        let older = admin.get(&format!("/settings/audit?actor={accountant_id}&before=999999999")).await.body;
        assert!(older.contains("<code>payout.created</code>"), "[{backend:?}] paging keeps the filters");
    }
}

#[actix_web::test]
async fn someone_short_of_funds_is_told_who_records_deposits() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let form = accountant.get("/payouts/new/single").await.body;
        assert!(form.contains(r#"Available now: <span class="amount">1.5 BTC</span>"#), "[{backend:?}] {form}");
        let fields = [("asset", "USDT_TRC20"), ("amount", "999999"), ("address", TRON_ADDRESS), ("description", "x")];
        let review = accountant.post_form("/payouts/new/single", &fields).await.body;
        assert!(
            review.contains("ask an admin to record a deposit: <a href=\"mailto:admin@demo.local\">"),
            "[{backend:?}] {review}"
        );
        assert!(!review.contains("Confirm and pay"), "[{backend:?}]");

        let admin = actor(&app, "admin@demo.local");
        payouts::service::access::org_settings::set_enabled_assets(&mut app.conn(), &admin, &["POL".to_string()])
            .unwrap();
        let empty = accountant.get("/payouts/new/single").await.body;
        assert!(
            empty.contains(
                "nothing in any asset. Only admins record deposits: ask <a href=\"mailto:admin@demo.local\">"
            ),
            "[{backend:?}] {empty}"
        );
    }
}

#[actix_web::test]
async fn archiving_a_payee_is_set_apart_as_a_danger() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        accountant.get("/payees").await;
        let added = accountant.post_form("/payees", &[("name", "Ann")]).await;
        let page = accountant.get(added.location().unwrap()).await.body;
        let save = page.find("Save payee").expect("the details form");
        let zone = page.find(r#"<section class="card danger-zone">"#).expect("a danger zone");
        assert!(save < zone, "[{backend:?}]");
        assert!(page.contains(r#"<button type="submit" class="danger">Archive Ann</button>"#), "[{backend:?}] {page}");
    }
}

#[actix_web::test]
async fn whoever_cannot_approve_a_waiting_payout_is_told_who_can() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_one_approval(&app);
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&accountant.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "who").await);
        let page = accountant.get(&format!("/payouts/{id}")).await.body;
        let who = page.split("Managers who can decide: ").nth(1).unwrap_or_default().split("</p>").next().unwrap();
        for m in ["manager@demo.local", "manager2@demo.local"] {
            assert!(who.contains(&format!(r#"<a href="mailto:{m}">{m}</a>"#)), "[{backend:?}] {page}");
        }
        assert!(!page.contains("Your approval counts"), "[{backend:?}] that sentence is for managers");
        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        let theirs = manager.get(&format!("/payouts/{id}")).await.body;
        assert!(theirs.contains("Approve payout of") && !theirs.contains("Managers who can decide"), "[{backend:?}]");
    }
}
