//! Recurring pay days — on every backend: a schedule makes one draft ahead of each pay day
//! (however many processes run the scheduler), the review proposes the pay day in the
//! organization's time zone, and the processor sends the confirmed run then and not before, by a
//! clock the test moves.

mod common;

use actix_web::http::StatusCode;
use chrono::{Datelike, NaiveDate};
use common::{TestApp, backends, demo_org, payout_id_of, tron_address};
use diesel::prelude::*;
use payouts::clock::Clock;
use payouts::db::schedules::ScheduleRow;
use payouts::domain::zone::Zone;
use payouts::service::payouts::schedules;

/// A completed mass payout of `rows` rows of 100 USDT_TRC20, through the pages.
async fn finished_run<S, B>(app: &TestApp, client: &mut common::Client<S>, rows: u32, first: u32) -> i64
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let draft = client.start_draft("USDT_TRC20", "November salaries").await;
    let mut run = String::from("address,amount,reference\n");
    for n in first..first + rows {
        run.push_str(&format!("{},100,W-{n}\n", tron_address(n)));
    }
    client.upload(&format!("/payouts/drafts/{draft}/upload"), "run.csv", run.as_bytes()).await;
    let id = payout_id_of(&client.confirm_draft(draft, &[]).await);
    common::process_all(app, &common::instant_rail(app, &[]));
    assert_eq!(payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned(), "completed");
    id
}

fn schedules_of(app: &TestApp) -> Vec<ScheduleRow> {
    let mut all = payouts::db::schedules::list_in_org(&mut app.conn(), demo_org(app)).unwrap();
    all.reverse();
    all
}

/// The next 25th at 09:00 in `zone` after `now`, worked out here independently.
fn next_25th_at_nine(zone: Zone, now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    let local = zone.local(now);
    let (mut y, mut m) = (local.year(), local.month());
    loop {
        let at = zone.to_utc(NaiveDate::from_ymd_opt(y, m, 25).unwrap().and_hms_opt(9, 0, 0).unwrap()).unwrap();
        if at > now {
            return at;
        }
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
}

#[actix_web::test]
async fn a_schedule_makes_the_draft_ahead_of_the_pay_day_and_the_confirmed_run_is_sent_on_it() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let run = finished_run(&app, &mut client, 3, 0).await;

        // The admin sets the organization's time zone; a name that is none is refused.
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/schedules").await;
        let res = admin.post_form("/settings/time-zone", &[("time_zone", "Mars/Olympus")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("is not a time zone name"), "[{backend:?}]");
        assert_eq!(
            admin.post_form("/settings/time-zone", &[("time_zone", "Europe/Berlin")]).await.status,
            StatusCode::SEE_OTHER
        );
        let berlin = Zone::parse("Europe/Berlin").unwrap();

        // The accountant schedules the run for the 25th at 09:00, its draft three days ahead.
        let page = client.get(&format!("/payouts/{run}")).await;
        assert!(page.body.contains(&format!("/schedules/new?from={run}")), "[{backend:?}]");
        let form = client.get(&format!("/schedules/new?from={run}")).await;
        assert!(form.body.contains("Times are in <strong>Europe/Berlin</strong>"), "[{backend:?}]");
        let mut fields = vec![
            ("from", run.to_string()),
            ("name", "Monthly salaries".into()),
            ("day_of_month", "32".into()),
            ("time_of_day", "09:00".into()),
            ("days_before", "3".into()),
        ];
        let send =
            |fields: &Vec<(&'static str, String)>| fields.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
        let typed = send(&fields);
        let refs: Vec<(&str, &str)> = typed.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = client.post_form("/schedules", &refs).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("Enter a day from 1 to 31"), "[{backend:?}]");
        assert!(res.body.contains("value=\"Monthly salaries\""), "[{backend:?}] what was typed is kept");
        assert!(schedules_of(&app).is_empty());
        fields[2].1 = "25".into();
        let typed = send(&fields);
        let refs: Vec<(&str, &str)> = typed.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let before = payouts::clock::now();
        let res = client.post_form("/schedules", &refs).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let s = schedules_of(&app).remove(0);
        let pay_day = s.next_pay_at;
        assert_eq!(pay_day, next_25th_at_nine(berlin, before), "[{backend:?}] 09:00 in Berlin, in UTC");
        assert_eq!(s.next_draft_at, pay_day - chrono::Duration::days(3), "[{backend:?}]");
        let list = client.get("/schedules").await;
        assert!(
            list.body.contains("Every month on the 25th at 09:00; the draft is made 3 days before"),
            "[{backend:?}]"
        );
        assert!(list.body.contains(&berlin.describe(pay_day)), "[{backend:?}]");

        let admin_actor = common::actor(&app, "admin@demo.local");
        let events = vec![payouts::service::outbound::webhooks::DRAFT_READY.to_owned()];
        let policy = payouts::domain::outbound::OutboundPolicy::permissive();
        payouts::service::outbound::webhooks::add_endpoint(
            &mut app.conn(),
            &admin_actor,
            "http://127.0.0.1:9/hook",
            &events,
            &policy,
        )
        .unwrap();

        // A minute before the draft is due nothing happens; then it is made, once.
        let due = s.next_draft_at;
        let run_at = |t| schedules::run_due(&mut app.conn(), t).unwrap();
        assert_eq!(run_at(due - chrono::Duration::minutes(1)).made, 0, "[{backend:?}]");
        assert_eq!(run_at(due).made, 1, "[{backend:?}]");
        assert_eq!(run_at(due).made, 0, "[{backend:?}] once per pay day");
        let s = schedules_of(&app).remove(0);
        let draft = s.last_draft_id.expect("the draft is recorded");
        assert_eq!(s.next_pay_at, next_25th_at_nine(berlin, pay_day), "[{backend:?}] on to the next month");
        let lines = payouts::db::drafts::lines(&mut app.conn(), draft).unwrap();
        let addresses: Vec<String> = lines.iter().map(|l| l.address.clone()).collect();
        assert_eq!(addresses, (0..3).map(tron_address).collect::<Vec<_>>(), "[{backend:?}] the run's rows");
        let local_day = berlin.local(pay_day);
        let row = payouts::db::drafts::find_in_org(&mut app.conn(), demo_org(&app), draft).unwrap().unwrap();
        assert_eq!(row.purpose, format!("Monthly salaries — pay day {}", local_day.format("%Y-%m-%d")));
        assert_eq!((row.schedule_id, row.send_on), (Some(s.id), Some(pay_day)), "[{backend:?}]");
        app.fan_out();
        let hook = payouts::db::webhooks::recent(&mut app.conn(), demo_org(&app), 1).unwrap().remove(0);
        assert_eq!(hook.event_type, "payout.draft_ready", "[{backend:?}]");
        let body: serde_json::Value = serde_json::from_str(&hook.payload).unwrap();
        assert_eq!(body["data"]["draft_id"], draft);
        assert_eq!(body["data"]["rows"], 3);
        assert_eq!(body["data"]["schedule"]["name"], "Monthly salaries");

        // The dashboard says it is ready; its review proposes the pay day in Berlin time.
        let dashboard = client.get("/").await;
        assert!(dashboard.body.contains("Ready for review"), "[{backend:?}]");
        assert!(dashboard.body.contains(&format!("href=\"/payouts/drafts/{draft}\"")), "[{backend:?}]");
        let local = local_day.format("%Y-%m-%dT%H:%M").to_string();
        let review = client.get(&format!("/payouts/drafts/{draft}/review")).await;
        assert!(review.body.contains("Pay day (Europe/Berlin, optional)"), "[{backend:?}]");
        assert!(review.body.contains(&format!("value=\"{local}\"")), "[{backend:?}]");
        let confirmed = payout_id_of(&client.confirm_draft(draft, &[("send_on", &local)]).await);
        let payout = payouts::db::payouts::find(&mut app.conn(), confirmed).unwrap();
        assert_eq!(payout.scheduled_for, Some(pay_day), "[{backend:?}] Berlin wall-clock time, stored in UTC");
        assert_eq!(schedules_of(&app)[0].template_payout_id, confirmed, "[{backend:?}] next month repeats this run");
        assert!(!client.get("/").await.body.contains("Ready for review"), "[{backend:?}]");
        let details = client.get(&format!("/payouts/{confirmed}")).await;
        assert!(details.body.contains(&berlin.describe(pay_day)), "[{backend:?}]");

        // Sent on the pay day by the processor's clock, not a minute before.
        let rail = common::instant_rail(&app, &[]);
        let sent_before = rail.sent().unwrap().len();
        let clock = Clock::fixed(pay_day - chrono::Duration::minutes(1));
        common::process_all_at(&app, &rail, clock.clone());
        assert_eq!(rail.sent().unwrap().len(), sent_before, "[{backend:?}] nothing before the pay day");
        clock.advance(chrono::Duration::minutes(1));
        common::process_all_at(&app, &rail, clock);
        assert_eq!(
            payouts::db::payouts::find(&mut app.conn(), confirmed).unwrap().status.as_str().to_owned(),
            "completed"
        );
        assert_eq!(rail.sent().unwrap().len(), sent_before + 3, "[{backend:?}]");

        // The zone changes: the next pay day keeps its day and time of day, now in Tokyo, and the
        // month already drafted is not drafted again.
        let before = schedules_of(&app).remove(0);
        admin.get("/schedules").await;
        let res = admin.post_form("/settings/time-zone", &[("time_zone", "Asia/Tokyo")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let after = schedules_of(&app).remove(0);
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        let day = berlin.local(before.next_pay_at).date().and_hms_opt(9, 0, 0).unwrap();
        assert_eq!(after.next_pay_at, tokyo.to_utc(day).unwrap(), "[{backend:?}]");
        assert_eq!(schedules::run_due(&mut app.conn(), due).unwrap().made, 0, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn each_pay_day_gets_one_draft_across_processes_and_a_broken_schedule_holds_up_no_other() {
    use payouts::db::schema::payouts as p;
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let good = finished_run(&app, &mut client, 2, 0).await;
        let broken = finished_run(&app, &mut client, 1, 5).await;
        let accountant = common::actor(&app, "accountant@demo.local");
        let form = |name: &str| schedules::ScheduleForm {
            name: name.into(),
            day_of_month: "31".into(),
            time_of_day: "18:00".into(),
            days_before: "2".into(),
        };
        let a = schedules::create(&mut app.conn(), &accountant, good, &form("Rewards")).unwrap();
        let b = schedules::create(&mut app.conn(), &accountant, broken, &form("Broken")).unwrap();
        assert_eq!(a.next_pay_at, b.next_pay_at);
        // Its template can no longer be read as a payout (an asset the product stopped knowing).
        app.books_broken_on_purpose.store(true, std::sync::atomic::Ordering::SeqCst);
        diesel::update(p::table.filter(p::id.eq(broken))).set(p::asset.eq("GONE")).execute(&mut **app.conn()).unwrap();

        // Two processes run the scheduler at the same instant.
        let due = a.next_draft_at;
        let reports: Vec<schedules::RunReport> =
            common::at_once(&app, 2, |conn| schedules::run_due(conn, due).unwrap());
        assert_eq!(reports.iter().map(|r| r.made).sum::<usize>(), 1, "[{backend:?}] {reports:?}");
        let drafts = payouts::db::drafts::open_in_org(&mut app.conn(), demo_org(&app)).unwrap();
        let made: Vec<_> = drafts.iter().filter(|d| d.schedule_id.is_some()).collect();
        assert_eq!(made.len(), 1, "[{backend:?}] one draft for the pay day");
        assert_eq!(made[0].schedule_id, Some(a.id));
        let rows = schedules_of(&app);
        let (a_now, b_now) = (&rows[0], &rows[1]);
        assert_eq!(a_now.last_draft_id, Some(made[0].id));
        assert!(b_now.last_error.contains("could not be made"), "[{backend:?}] {:?}", b_now.last_error);
        assert!(b_now.next_draft_at > due, "[{backend:?}] the broken one moved on and is not retried every round");
        let page = client.get("/schedules").await;
        assert!(page.body.contains("could not be made"), "[{backend:?}] the reason is shown");

        // Paused, a schedule makes nothing; resumed, it starts from its next pay day after now.
        client.get("/schedules").await;
        let res = client.post_form(&format!("/schedules/{}/pause", a.id), &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let far = due + chrono::Duration::days(400);
        assert_eq!(schedules::run_due(&mut app.conn(), far).unwrap().made, 0, "[{backend:?}]");
        let viewer = common::actor(&app, "viewer@demo.local");
        assert!(schedules::set_active(&mut app.conn(), &viewer, a.id, true).is_err(), "[{backend:?}] viewers cannot");
        client.post_form(&format!("/schedules/{}/resume", a.id), &[]).await;
        let resumed = &schedules_of(&app)[0];
        assert!(resumed.active && resumed.next_pay_at > payouts::clock::now(), "[{backend:?}]");
        let audit: Vec<String> =
            payouts::db::audit::list_in_org(&mut app.conn(), demo_org(&app), &Default::default(), None, 100)
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect();
        for action in ["schedule.created", "schedule.draft_made", "schedule.paused", "schedule.resumed"] {
            assert!(audit.iter().any(|a| a == action), "[{backend:?}] {action} audited");
        }
    }
}
