//! Manager approval under the four-eyes rule, the policy, and races that must pay once — on
//! every backend.

mod common;

use actix_web::http::StatusCode;
use common::{TRON_ADDRESS, TestApp, backends, demo_org, instant_rail, payout_id_of, process_all};
use payouts::domain::asset::find;
use payouts::service::access::Actor;
use payouts::service::payouts::approvals::{self, Approved};
use payouts::service::payouts::ledger;
use payouts::service::payouts::{self as payout_service, SinglePayoutForm};

use common::actor;

fn create(app: &TestApp, amount: &str, key: &str) -> i64 {
    let accountant = actor(app, "accountant@demo.local");
    let mut conn = app.conn();
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: amount.into(),
        description: key.into(),
        address: TRON_ADDRESS.into(),
        ..Default::default()
    };
    let draft = payout_service::check_single(&mut conn, &accountant, &form).unwrap();
    payout_service::create(&mut conn, &accountant, &draft, key).unwrap().payout.id
}

fn status(app: &TestApp, id: i64) -> String {
    payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned()
}

fn balance(app: &TestApp) -> (String, String, String) {
    let b = ledger::balance_of(&mut app.conn(), demo_org(app), find("USDT_TRC20").unwrap()).unwrap();
    (b.available.to_string(), b.reserved.to_string(), b.paid.to_string())
}

fn require_approval(app: &TestApp, needed: i32) {
    let admin = actor(app, "admin@demo.local");
    let fields = vec![("required".to_string(), "yes".to_string()), ("needed".to_string(), needed.to_string())];
    approvals::set_policy(&mut app.conn(), &admin, &fields).unwrap();
}

#[actix_web::test]
async fn a_manager_approves_and_the_creator_cannot() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_approval(&app, 1);
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let id = payout_id_of(&accountant.single_payout("USDT_TRC20", "100", TRON_ADDRESS, "contractor").await);
        assert_eq!(status(&app, id), "pending", "[{backend:?}]");
        let page = accountant.get(&format!("/payouts/{id}")).await;
        assert!(!page.body.contains("Approve payout"), "[{backend:?}] the creator is not offered to approve");
        assert_eq!(
            accountant.post_form(&format!("/payouts/{id}/approve"), &[("digest", "")]).await.status,
            StatusCode::FORBIDDEN
        );

        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        let queue = manager.get("/approvals").await;
        assert!(queue.body.contains(&format!("href=\"/payouts/{id}\"")), "[{backend:?}] queued");
        assert!(queue.body.contains("class=\"nav-badge\" aria-label=\"1 awaiting\""), "the badge counts it");
        let page = manager.get(&format!("/payouts/{id}")).await;
        assert!(page.body.contains("Approve payout of 101 USDT_TRC20"), "[{backend:?}]");
        let digest = common::hidden_field(&page.body, "digest").unwrap();
        assert!(digest.starts_with("sha256:"));
        let res = manager.post_form(&format!("/payouts/{id}/approve"), &[("digest", &digest)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, id), "in_progress", "[{backend:?}]");
        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(status(&app, id), "completed");
        let page = accountant.get(&format!("/payouts/{id}")).await;
        assert!(
            page.body.contains("Approved by manager@demo.local (1 of 1)"),
            "[{backend:?}] the creator sees the decision"
        );
    }
}

#[actix_web::test]
async fn a_rejection_needs_a_reason_releases_the_funds_and_is_shown_to_the_creator() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_approval(&app, 1);
        let id = create(&app, "100", "to-reject");
        let manager = actor(&app, "manager@demo.local");
        assert!(approvals::reject(&mut app.conn(), &manager, id, " ").is_err());
        approvals::reject(&mut app.conn(), &manager, id, "Wrong wallet, ask the contractor").unwrap();
        assert_eq!(status(&app, id), "cancelled", "[{backend:?}]");
        assert_eq!(balance(&app), ("50000".into(), "0".into(), "0".into()));
        let err = approvals::approve(&mut app.conn(), &actor(&app, "manager2@demo.local"), id, "").unwrap_err();
        assert!(err.to_string().contains("no longer awaits a decision"), "[{backend:?}] {err}");
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        assert!(
            accountant
                .get(&format!("/payouts/{id}"))
                .await
                .body
                .contains("Rejected by manager@demo.local: Wrong wallet, ask the contractor")
        );
    }
}

#[actix_web::test]
async fn two_approvals_need_two_different_managers() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_approval(&app, 2);
        let id = create(&app, "100", "two-keys");
        let (m1, m2) = (actor(&app, "manager@demo.local"), actor(&app, "manager2@demo.local"));
        assert_eq!(approvals::approve(&mut app.conn(), &m1, id, "").unwrap(), Approved::Waiting(1, 2), "[{backend:?}]");
        assert!(approvals::approve(&mut app.conn(), &m1, id, "").unwrap_err().to_string().contains("already decided"));
        assert_eq!(status(&app, id), "pending");
        assert_eq!(approvals::approve(&mut app.conn(), &m2, id, "").unwrap(), Approved::Started);
        assert_eq!(status(&app, id), "in_progress", "[{backend:?}]");
        let accountant = actor(&app, "accountant@demo.local");
        assert!(matches!(
            approvals::approve(&mut app.conn(), &accountant, id, ""),
            Err(payouts::AppError::RoleRequired(_))
        ));
    }
}

#[actix_web::test]
async fn fifty_concurrent_approvals_start_the_payout_once() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_approval(&app, 1);
        for n in 0..8 {
            payouts::service::payouts::bootstrap::add_user_from_cli(
                &mut app.conn(),
                &format!("m{n}@demo.local"),
                "manager",
                "long enough password",
                Some("Demo Company"),
            )
            .unwrap();
        }
        let id = create(&app, "100", "race");
        let managers: Vec<Actor> = (0..8).map(|n| actor(&app, &format!("m{n}@demo.local"))).collect();
        let threads: Vec<_> = (0..50)
            .map(|n| {
                let pool = app.state.pool.clone();
                let manager = managers[n % managers.len()].clone();
                std::thread::spawn(move || approvals::approve(&mut pool.get().unwrap(), &manager, id, ""))
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            results.iter().filter(|r| matches!(r, Ok(Approved::Started))).count(),
            1,
            "[{backend:?}] {results:?}"
        );
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(r, payouts::AppError::Conflict(_)), "[{backend:?}] a clear conflict: {r}");
        }
        let events = payouts::db::payouts::events(&mut app.conn(), id).unwrap();
        assert_eq!(events.iter().filter(|e| e.to_status == "in_progress").count(), 1, "[{backend:?}] one transition");
        let rail = instant_rail(&app, &[]);
        process_all(&app, &rail);
        assert_eq!(rail.sent().unwrap().len(), 1, "[{backend:?}] one submission");
        assert_eq!(
            balance(&app),
            ("49899".into(), "0".into(), "101".into()),
            "[{backend:?}] one set of ledger entries"
        );
    }
}

#[actix_web::test]
async fn approve_racing_reject_and_cancel_has_one_winner() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_approval(&app, 1);
        for round in 0..5 {
            let id = create(&app, "10", &format!("race-{round}"));
            let (m1, m2, creator) = (
                actor(&app, "manager@demo.local"),
                actor(&app, "manager2@demo.local"),
                actor(&app, "accountant@demo.local"),
            );
            let pool = app.state.pool.clone();
            let p1 = pool.clone();
            let a =
                std::thread::spawn(move || approvals::approve(&mut p1.get().unwrap(), &m1, id, "").map(|_| "approved"));
            let p2 = pool.clone();
            let r = std::thread::spawn(move || {
                approvals::reject(&mut p2.get().unwrap(), &m2, id, "no").map(|_| "rejected")
            });
            let p3 = pool.clone();
            let c = std::thread::spawn(move || {
                payout_service::cancel(&mut p3.get().unwrap(), &creator, id, "oops").map(|_| "cancelled")
            });
            let results = [a.join().unwrap(), r.join().unwrap(), c.join().unwrap()];
            // Exactly one decision takes the payout out of Pending; a cancel that comes after an
            // approval, before anything was sent, is a second, allowed step, never a second start.
            let events = payouts::db::payouts::events(&mut app.conn(), id).unwrap();
            let out_of_pending: Vec<&str> = events
                .iter()
                .filter(|e| e.from_status.as_deref() == Some("pending") && e.to_status != "pending")
                .map(|e| e.to_status.as_str())
                .collect();
            assert_eq!(out_of_pending.len(), 1, "[{backend:?}] round {round}: {results:?}");
            for e in results.iter().filter_map(|r| r.as_ref().err()) {
                assert!(matches!(e, payouts::AppError::Conflict(_)), "[{backend:?}] {e}");
            }
            let rejected = results[1].is_ok();
            assert_eq!(
                rejected,
                out_of_pending[0] == "cancelled" && results[0].is_err() && results[2].is_err(),
                "[{backend:?}] {results:?}"
            );
            if results[0].is_ok() {
                assert_eq!(out_of_pending[0], "in_progress", "[{backend:?}] the approval won the race");
                assert!(results[1].is_err(), "no rejection after an approval");
            }
        }
        process_all(&app, &instant_rail(&app, &[]));
        let (available, reserved, paid) = balance(&app);
        let total: f64 = [available, reserved, paid].iter().map(|s| s.parse::<f64>().unwrap()).sum();
        assert!((total - 50000.0).abs() < 1e-9, "[{backend:?}] available + reserved + paid = deposits");
    }
}

#[actix_web::test]
async fn thresholds_and_policy_changes_apply_to_new_payouts_and_are_audited() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/approvals").await;
        let res = admin.post_form("/settings/approvals", &[("needed", "1"), ("threshold_USDT_TRC20", "1000")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        assert_eq!(status(&app, create(&app, "500", "small")), "in_progress", "[{backend:?}] below the threshold");
        let big = create(&app, "2000", "big");
        assert_eq!(status(&app, big), "pending", "[{backend:?}] above it");
        let res = admin.post_form("/settings/approvals", &[("needed", "9"), ("threshold_BTC", "1,5")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            res.body.contains("Choose from 1 to 5 approvals.") && res.body.contains("Use a dot as the decimal mark")
        );
        admin.post_form("/settings/approvals", &[("needed", "1")]).await;
        assert_eq!(status(&app, big), "pending", "[{backend:?}] a waiting payout keeps its rule");
        let audit = admin.get("/settings/audit").await;
        assert!(
            audit.body.contains("approval_policy.changed") && audit.body.contains("required above 1,000 USDT_TRC20"),
            "[{backend:?}]"
        );
    }
}

#[actix_web::test]
async fn managers_clear_the_queue_in_one_go() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        require_approval(&app, 1);
        let ids: Vec<i64> = (0..3).map(|n| create(&app, "10", &format!("bulk-{n}"))).collect();
        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        manager.get("/approvals").await;
        let fields: Vec<(&str, String)> = ids.iter().map(|id| ("id", id.to_string())).collect();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = manager.post_form("/approvals/bulk", &fields).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert!(manager.get("/approvals").await.body.contains("Approved 3 payouts."), "[{backend:?}]");
        for id in ids {
            assert_eq!(status(&app, id), "in_progress", "[{backend:?}]");
        }
    }
}

#[actix_web::test]
async fn an_unconfirmable_item_waits_for_a_manager_and_is_never_sent_again() {
    use diesel::RunQueryDsl;
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let first = create(&app, "100", "lost-1");
        let second = create(&app, "200", "lost-2");
        let slow = payouts::rails::simulated::SimulatedRail::new(
            app.state.pool.clone(),
            payouts::rails::simulated::SimConfig {
                confirm_after: std::time::Duration::from_secs(600),
                ..Default::default()
            },
        );
        process_all(&app, &slow);
        // The network loses its record of both transfers.
        diesel::sql_query("DELETE FROM sim_transfers").execute(&mut **app.conn()).unwrap();
        process_all(&app, &slow);
        for id in [first, second] {
            assert_eq!(status(&app, id), "in_progress", "[{backend:?}]");
            assert_eq!(payouts::db::payouts::items(&mut app.conn(), id).unwrap()[0].status.as_str(), "needs_review");
        }
        assert!(slow.sent().unwrap().is_empty(), "[{backend:?}] nothing was sent again");

        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        let dashboard = manager.get("/").await;
        assert!(dashboard.body.contains(&format!("Payout #{first}, line 1</a> needs review")), "[{backend:?}]");
        let item = payouts::db::payouts::items(&mut app.conn(), first).unwrap().remove(0);
        manager.get(&format!("/payouts/{first}")).await;
        let path = format!("/payouts/{first}/items/{}/resolve", item.id);
        manager.post_form(&path, &[("outcome", "paid"), ("tx_hash", "")]).await;
        assert_eq!(status(&app, first), "in_progress", "[{backend:?}] no hash, no decision");
        manager.post_form(&path, &[("outcome", "paid"), ("tx_hash", "abc123def456")]).await;
        let page = manager.get(&format!("/payouts/{first}")).await;
        assert!(page.body.contains("A TRON transaction hash is 64 hexadecimal digits"), "[{backend:?}] {}", page.body);
        assert_eq!(status(&app, first), "in_progress", "[{backend:?}] a hash of the wrong shape, no decision");
        manager.post_form(&path, &[("outcome", "paid"), ("tx_hash", &"ab12".repeat(16))]).await;
        assert_eq!(status(&app, first), "completed", "[{backend:?}]");
        let item2 = payouts::db::payouts::items(&mut app.conn(), second).unwrap().remove(0);
        let reviewer = actor(&app, "manager2@demo.local");
        let form = payouts::service::payouts::review::ResolveForm {
            outcome: "failed".into(),
            tx_hash: String::new(),
            reason: "Not on chain after 2 days".into(),
        };
        payouts::service::payouts::review::resolve(&mut app.conn(), &reviewer, second, item2.id, &form).unwrap();
        assert_eq!(status(&app, second), "failed", "[{backend:?}]");
        assert_eq!(
            balance(&app),
            ("49899".into(), "0".into(), "101".into()),
            "[{backend:?}] paid one, released the other"
        );
        let viewer = actor(&app, "viewer@demo.local");
        assert!(payouts::service::payouts::review::resolve(&mut app.conn(), &viewer, second, item2.id, &form).is_err());
    }
}

#[actix_web::test]
async fn a_payout_in_progress_too_long_is_flagged_on_the_dashboard() {
    use diesel::RunQueryDsl;
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let id = create(&app, "100", "slow");
        let long_ago = payouts::clock::now() - chrono::Duration::hours(2);
        diesel::sql_query(format!(
            "UPDATE payouts SET updated_at = '{}' WHERE id = {id}",
            long_ago.format("%Y-%m-%d %H:%M:%S")
        ))
        .execute(&mut **app.conn())
        .unwrap();
        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;
        let dashboard = viewer.get("/").await;
        assert!(dashboard.body.contains(&format!("Payout #{id}</a> has been in progress since")), "[{backend:?}]");
    }
}
