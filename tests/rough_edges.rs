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
