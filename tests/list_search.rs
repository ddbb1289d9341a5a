//! The payouts list's search and date filter, answered from indexes (a trigram index of
//! descriptions, the items' address and reference indexes, the creation-time index): the same
//! answers as reading every payout, on every backend.

mod common;

use common::{TRON_ADDRESS, TestApp, backends};
use payouts::clock::now;
use payouts::db::payouts::NewPayoutRow;
use payouts::domain::account::Role;
use payouts::domain::payout::PayoutStatus;
use payouts::service::access::Actor;
use payouts::service::payouts::{self as payout_service, ListQuery, SinglePayoutForm};

fn actor_of(app: &TestApp, email: &str, role: Role) -> Actor {
    let user = payouts::db::users::find_by_email(&mut app.conn(), email).unwrap().unwrap();
    Actor::of_user(user, role)
}

fn create(app: &TestApp, actor: &Actor, description: &str, n: usize) -> i64 {
    let mut conn = app.conn();
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: "1".into(),
        description: description.into(),
        address: TRON_ADDRESS.into(),
        ..Default::default()
    };
    let draft = payout_service::check_single(&mut conn, actor, &form).unwrap();
    payout_service::create(&mut conn, actor, &draft, &format!("{n:064}")).unwrap().payout.id
}

/// (ids found, the "All" tab's count, the sum of the status tabs) for a search.
fn search(app: &TestApp, actor: &Actor, q: &str) -> (Vec<i64>, i64, i64) {
    let page = payout_service::list(&mut app.conn(), actor, &ListQuery { q: q.into(), ..Default::default() }).unwrap();
    let all = page.counts.iter().find(|(s, _)| s.is_none()).unwrap().1;
    let tabs = page.counts.iter().filter(|(s, _)| s.is_some()).map(|(_, n)| n).sum();
    (page.payouts.iter().map(|p| p.id).collect(), all, tabs)
}

#[actix_web::test]
async fn search_finds_descriptions_references_and_addresses_and_nothing_of_another_organization() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = actor_of(&app, "accountant@demo.local", Role::Accountant);
        let refund = create(&app, &actor, "Refund of order 77", 1);
        let quoted = create(&app, &actor, "Bonus \"Q4\" 50% _net_", 2);
        let salary = create(&app, &actor, "SALARY November", 3);
        let ours = [refund, quoted, salary];
        // Another organization's payout with the same words must never be found here.
        let other = actor_of(&app, "other-admin@example.com", Role::Admin);
        let at = now();
        // A bare payout row written straight into another organization: not booked on purpose.
        app.books_broken_on_purpose.store(true, std::sync::atomic::Ordering::SeqCst);
        let foreign = payouts::db::payouts::insert(
            &mut app.conn(),
            &NewPayoutRow {
                org_id: other.org_id,
                kind: payouts::domain::payout::PayoutKind::Single,
                asset: "USDT_TRC20",
                status: payouts::domain::payout::PayoutStatus::Completed,
                description: "Refund of order 77 salary november",
                amount_total: "1",
                fee: "0",
                total_debit: "1",
                item_count: 0,
                approvals_required: 0,
                idempotency_key: None,
                created_by: other.user_id,
                created_at: at,
                updated_at: at,
                scheduled_for: None,
            },
        )
        .unwrap()
        .id;

        let found = |q: &str| search(&app, &actor, q).0;
        assert_eq!(found("order 77"), vec![refund], "[{backend:?}] part of a description");
        assert_eq!(found("salary nov"), vec![salary], "[{backend:?}] any case");
        assert_eq!(found("\"Q4\""), vec![quoted], "[{backend:?}] quotes are text");
        assert_eq!(found("50%"), vec![quoted], "[{backend:?}] % is text");
        assert_eq!(found("_net_"), vec![quoted], "[{backend:?}] _ is text");
        assert_eq!(found("0%"), vec![quoted], "[{backend:?}] two characters, read without the index");
        assert_eq!(found("Re"), vec![refund], "[{backend:?}] two characters, any case");
        assert!(found("order 78").is_empty(), "[{backend:?}]");
        assert_eq!(found("%"), vec![quoted], "[{backend:?}] a wildcard alone is text too");
        assert_eq!(found("_"), vec![quoted], "[{backend:?}]");
        let mut every = found(TRON_ADDRESS);
        every.sort();
        assert_eq!(every, ours, "[{backend:?}] an item's exact address");
        assert!(!found("refund").contains(&foreign), "[{backend:?}] never another organization's payout");
        let long = ListQuery { q: "a\"%".repeat(100_000), ..Default::default() };
        match payout_service::list(&mut app.conn(), &actor, &long) {
            Err(payouts::AppError::Validation(errors)) => {
                assert!(format!("{errors:?}").contains("at most 200 characters"), "{errors:?}")
            }
            other => {
                panic!("[{backend:?}] a 300 KB search must be refused by name: {:?}", other.map(|p| p.payouts.len()))
            }
        }

        // An item's exact reference (the form sets none; the API and registries do).
        {
            use diesel::prelude::*;
            use payouts::db::schema::payout_items::dsl as i;
            diesel::update(i::payout_items.filter(i::payout_id.eq(refund)))
                .set(i::reference.eq("INV-2026-001"))
                .execute(&mut **app.conn())
                .unwrap();
        }
        assert_eq!(found("INV-2026-001"), vec![refund], "[{backend:?}] an item's reference");
        assert!(found("INV-2026").is_empty(), "[{backend:?}] references match whole");
        let (ids, all, tabs) = search(&app, &actor, "November");
        assert_eq!((ids, all, tabs), (vec![salary], 1, 1), "[{backend:?}] the tabs count what the search found");
    }
}

#[actix_web::test]
async fn a_days_filter_lists_and_exports_exactly_that_day() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let actor = actor_of(&app, "accountant@demo.local", Role::Accountant);
        let today = create(&app, &actor, "Today", 1);
        // Move the demo's payouts and one of ours to other days.
        let yesterday = create(&app, &actor, "Yesterday", 2);
        let shift = |id: i64, days: i64| {
            use diesel::prelude::*;
            use payouts::db::schema::payouts::dsl as p;
            diesel::update(p::payouts.filter(p::id.eq(id)))
                .set(p::created_at.eq(now() - chrono::Duration::days(days)))
                .execute(&mut **app.conn())
                .unwrap();
        };
        shift(yesterday, 1);
        let day = |d: i64| (now() - chrono::Duration::days(d)).date().format("%Y-%m-%d").to_string();
        let on = |d: i64| ListQuery { from: day(d), to: day(d), ..Default::default() };
        let listed = |q: &ListQuery| -> Vec<i64> {
            payout_service::list(&mut app.conn(), &actor, q).unwrap().payouts.iter().map(|p| p.id).collect()
        };
        assert!(listed(&on(0)).contains(&today) && !listed(&on(0)).contains(&yesterday), "[{backend:?}]");
        assert_eq!(listed(&on(1)), vec![yesterday], "[{backend:?}]");
        assert!(listed(&on(2)).is_empty(), "[{backend:?}] a day without payouts");
        let failed = ListQuery { status: PayoutStatus::Failed.as_str().into(), ..on(1) };
        assert!(listed(&failed).is_empty(), "[{backend:?}] the day and the tab together");
        let csv = payout_service::export_csv(&mut app.conn(), &actor, &on(1)).unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(text.lines().count(), 2, "[{backend:?}] header and yesterday's payout: {text}");
        assert!(text.lines().nth(1).unwrap().starts_with(&format!("{yesterday},")));
    }
}
