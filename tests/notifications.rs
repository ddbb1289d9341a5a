//! People are told: the right people get the right message once for each event — in their
//! inbox always, by email through a real SMTP server process (aiosmtpd) as they chose, in the
//! organization's chat channels — and nobody else does; on every backend.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use common::smtp::{MailServer, link};
use common::{TRON_ADDRESS, TestApp, actor, at_once, backends, demo_org};
use diesel::prelude::*;
use payouts::clock::Clock;
use payouts::db;
use payouts::domain::outbound::OutboundPolicy;
use payouts::service::outbound::sender::{self, Delivery};
use payouts::service::payouts::{self as payout_service, SinglePayoutForm, approvals};
use payouts::{Config, config::ServeArgs};

fn config(smtp: Option<&MailServer>) -> Config {
    let args = ServeArgs {
        smtp_url: smtp.map(MailServer::url),
        webhook_allow_http: true,
        webhook_allow_private: true,
        ..ServeArgs::default()
    };
    Config::from_args(&args).unwrap()
}

async fn start(backend: payouts::db::Backend, smtp: Option<&MailServer>) -> TestApp {
    let app = TestApp::start_with(backend, config(smtp)).await;
    db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), true).unwrap();
    app
}

fn delivery(app: &TestApp) -> Delivery {
    app.state.delivery()
}

fn agent() -> ureq::Agent {
    payouts::service::outbound::net::agent(std::time::Duration::from_secs(5), OutboundPolicy::permissive())
}

/// What the server's notifier does each second: read the stream, then send what is due.
fn run(app: &TestApp, d: &Delivery) -> usize {
    let mut conn = app.conn();
    sender::take_new(&mut conn, d).unwrap();
    sender::send_due(&mut conn, d, &agent()).unwrap()
}

fn create(app: &TestApp, description: &str) -> i64 {
    let a = actor(app, "accountant@demo.local");
    let mut conn = app.conn();
    let form = SinglePayoutForm {
        asset: "USDT_TRC20".into(),
        amount: "20".into(),
        description: description.into(),
        address: TRON_ADDRESS.into(),
        ..Default::default()
    };
    let draft = payout_service::check_single(&mut conn, &a, &form).unwrap();
    payout_service::create(&mut conn, &a, &draft, description).unwrap().payout.id
}

fn unread(app: &TestApp, email: &str) -> i64 {
    let id = actor(app, email).user_id;
    db::notices::unread_count(&mut app.conn(), id).unwrap()
}

fn inbox(app: &TestApp, email: &str) -> Vec<db::notices::NotificationRow> {
    let id = actor(app, email).user_id;
    db::notices::inbox(&mut app.conn(), id, None, 100).unwrap()
}

#[actix_web::test]
async fn a_payout_emails_each_eligible_manager_once_and_approving_tells_the_accountant() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let d = delivery(&app);
        let before = mail.messages().len();
        let m2_before = mail.to("manager2@demo.local").len();
        let id = create(&app, "December salaries");
        assert_eq!(run(&app, &d), 2, "[{backend:?}] one email per manager");
        let new: Vec<_> = mail.messages().into_iter().skip(before).collect();
        let mut to: Vec<&str> = new.iter().map(|m| m.to.as_str()).collect();
        to.sort_unstable();
        assert_eq!(to, ["manager2@demo.local", "manager@demo.local"], "[{backend:?}] managers only, not the creator");
        for m in &new {
            assert_eq!(m.subject, "Approve: 20 USDT_TRC20, 1 row, December salaries", "[{backend:?}]");
            assert_eq!(link(m, "/payouts/"), format!("http://localhost:8080/payouts/{id}"), "[{backend:?}]");
            assert!(m.text.contains(TRON_ADDRESS), "[{backend:?}] the address whole in email");
            assert!(m.text.contains("first payments to an address: 1"), "[{backend:?}] {}", m.text);
            assert!(m.reply_to.contains("accountant@demo.local"), "[{backend:?}] replies go to the creator");
            assert!(m.message_id.starts_with("<payouts-approval_needed-"), "[{backend:?}] {}", m.message_id);
            assert!(m.text.contains("/account/notifications"), "[{backend:?}] the footer says where to change it");
        }
        assert_eq!(unread(&app, "manager@demo.local"), 1, "[{backend:?}] and in the inbox");
        assert_eq!(unread(&app, "accountant@demo.local"), 0, "[{backend:?}]");
        assert_eq!(unread(&app, "admin@demo.local"), 0, "[{backend:?}]");
        assert_eq!(unread(&app, "viewer@demo.local"), 0, "[{backend:?}]");
        assert_eq!(run(&app, &d), 0, "[{backend:?}] told once");

        let manager = actor(&app, "manager@demo.local");
        approvals::approve(&mut app.conn(), &manager, id, "").unwrap();
        assert_eq!(run(&app, &d), 1, "[{backend:?}] the accountant is told");
        let told = mail.to("accountant@demo.local");
        let last = told.last().unwrap();
        assert_eq!(last.subject, "Approved: 20 USDT_TRC20, December salaries", "[{backend:?}]");
        assert!(last.text.contains("Approved by manager@demo.local"), "[{backend:?}]");
        assert!(last.reply_to.contains("manager@demo.local"), "[{backend:?}]");
        assert_eq!(mail.to("manager2@demo.local").len(), m2_before + 1, "[{backend:?}] no one else");
        // Nobody needs to decide any more: the approval requests leave both inboxes' unread
        // count (issue 44, item 1), the accountant's news stays unread.
        for manager in ["manager@demo.local", "manager2@demo.local"] {
            assert_eq!(unread(&app, manager), 0, "[{backend:?}] {manager}");
            let asked = inbox(&app, manager);
            assert!(asked.iter().any(|n| n.kind == "approval_needed" && n.read_at.is_some()), "[{backend:?}]");
        }
        assert_eq!(unread(&app, "accountant@demo.local"), 1, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_rejection_tells_the_creator_why_and_followers_too() {
    for backend in backends() {
        let app = start(backend, None).await;
        let d = delivery(&app);
        let viewer = actor(&app, "viewer@demo.local");
        let prefs = payouts::service::outbound::inbox::PrefsForm {
            approvals: "immediate".into(),
            outcomes: "immediate".into(),
            operations: "immediate".into(),
            follow_payouts: Some("on".into()),
            digest_hour: "8".into(),
        };
        payouts::service::outbound::inbox::save_prefs(&mut app.conn(), &viewer, &prefs).unwrap();
        let id = create(&app, "Bonus");
        run(&app, &d);
        let manager = actor(&app, "manager@demo.local");
        approvals::reject(&mut app.conn(), &manager, id, "Wrong amount").unwrap();
        run(&app, &d);
        for who in ["accountant@demo.local", "viewer@demo.local"] {
            let n = inbox(&app, who);
            assert_eq!(n[0].subject, "Rejected: 20 USDT_TRC20, Bonus", "[{backend:?}] {who}");
            assert!(n[0].body.contains("manager@demo.local rejected it: Wrong amount"), "[{backend:?}] {who}");
            assert_eq!(n[0].link, format!("/payouts/{id}"), "[{backend:?}]");
        }
        assert!(inbox(&app, "admin@demo.local").is_empty(), "[{backend:?}] admins do not follow by default");
        assert!(
            db::outbox::to_recipient(&mut app.conn(), "accountant@demo.local").unwrap().is_empty(),
            "[{backend:?}] without SMTP nothing is queued for email, and nothing is lost: it is in the inbox"
        );
    }
}

#[actix_web::test]
async fn the_bell_counts_unread_notices_and_opening_one_marks_it_read() {
    for backend in backends() {
        let app = start(backend, None).await;
        let d = delivery(&app);
        let id = create(&app, "Bell");
        run(&app, &d);
        let mut client = app.client().await;
        client.login("manager@demo.local", "demo").await;
        let page = client.get("/").await;
        assert!(page.body.contains("Inbox, 1 unread"), "[{backend:?}] the bell");
        let list = client.get("/inbox").await;
        assert!(list.body.contains("Approve: 20 USDT_TRC20, 1 row, Bell"), "[{backend:?}]");
        let notice = inbox(&app, "manager@demo.local")[0].id;
        let opened = client.get(&format!("/inbox/{notice}")).await;
        assert_eq!(opened.location(), Some(format!("/payouts/{id}").as_str()), "[{backend:?}] to the thing");
        assert!(client.get("/").await.body.contains("Inbox, nothing unread"), "[{backend:?}]");
        // Someone else's notice is not found.
        let mut other = app.client().await;
        other.login("manager2@demo.local", "demo").await;
        assert_eq!(other.get(&format!("/inbox/{notice}")).await.status, StatusCode::NOT_FOUND, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn an_smtp_server_that_was_down_gets_the_message_on_a_retry() {
    let Some(probe) = MailServer::start() else { return };
    drop(probe);
    for backend in backends() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let args = ServeArgs { smtp_url: Some(format!("smtp://127.0.0.1:{port}?tls=none")), ..ServeArgs::default() };
        let app = TestApp::start_with(backend, Config::from_args(&args).unwrap()).await;
        db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), true).unwrap();
        let clock = Clock::fixed(payouts::clock::now());
        let d = Delivery { clock: clock.clone(), ..delivery(&app) };
        create(&app, "Down");
        assert_eq!(run(&app, &d), 0, "[{backend:?}] nothing listens");
        let queued = db::outbox::to_recipient(&mut app.conn(), "manager@demo.local").unwrap();
        assert_eq!(queued[0].attempts, 1, "[{backend:?}]");
        assert!(!queued[0].last_error.is_empty(), "[{backend:?}] the reason is kept");
        let mail = MailServer::start_on(port).unwrap();
        // The failed one waits for its retry; the turn stopped before the other, which goes now.
        assert_eq!(run(&app, &d), 1, "[{backend:?}] the one not tried yet");
        assert_eq!(run(&app, &d), 0, "[{backend:?}] the failed one not before its retry time");
        clock.advance(chrono::Duration::minutes(2));
        assert_eq!(run(&app, &d), 1, "[{backend:?}] then the retry");
        let mut to: Vec<String> = mail.messages().into_iter().map(|m| m.to).collect();
        to.sort_unstable();
        assert_eq!(to, ["manager2@demo.local", "manager@demo.local"], "[{backend:?}] each once");
    }
}

#[actix_web::test]
async fn a_crashed_senders_message_is_sent_again_once_its_lease_ends_with_the_same_message_id() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let clock = Clock::fixed(payouts::clock::now());
        let d = Delivery { clock: clock.clone(), ..delivery(&app) };
        create(&app, "Crash");
        sender::take_new(&mut app.conn(), &d).unwrap();
        // A sender took the first message and died before recording anything.
        let row = db::outbox::to_recipient(&mut app.conn(), "manager@demo.local").unwrap().remove(0);
        let at = clock.now();
        assert!(db::outbox::claim(&mut app.conn(), &row, at, at + chrono::Duration::seconds(120)).unwrap());
        let before = mail.to("manager@demo.local").len();
        run(&app, &d);
        assert_eq!(mail.to("manager@demo.local").len(), before, "[{backend:?}] leased: nobody else sends it");
        clock.advance(chrono::Duration::seconds(121));
        run(&app, &d);
        let got = mail.to("manager@demo.local");
        assert_eq!(got.len(), before + 1, "[{backend:?}] sent once the lease ended");
        assert_eq!(got.last().unwrap().message_id, format!("<payouts-approval_needed-{}@localhost>", row.id));
        run(&app, &d);
        assert_eq!(mail.to("manager@demo.local").len(), before + 1, "[{backend:?}] and only once");
    }
}

#[actix_web::test]
async fn four_processes_tell_each_event_once_and_send_each_message_once() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let d = delivery(&app);
        for n in 0..5 {
            create(&app, &format!("Race {n}"));
        }
        let before = mail.messages().len();
        at_once(&app, 4, |conn| sender::take_new(conn, &d).unwrap());
        assert_eq!(inbox(&app, "manager@demo.local").len(), 5, "[{backend:?}] each event told once");
        let sent: usize = at_once(&app, 4, |conn| sender::send_due(conn, &d, &agent()).unwrap()).into_iter().sum();
        assert_eq!(sent, 10, "[{backend:?}]");
        assert_eq!(mail.messages().len() - before, 10, "[{backend:?}] no message twice");
    }
}

#[actix_web::test]
async fn a_daily_digest_groups_notices_into_one_email() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let d = delivery(&app);
        let manager = actor(&app, "manager@demo.local");
        let prefs = payouts::service::outbound::inbox::PrefsForm {
            approvals: "digest".into(),
            outcomes: "immediate".into(),
            operations: "inbox".into(),
            follow_payouts: None,
            digest_hour: "0".into(),
        };
        payouts::service::outbound::inbox::save_prefs(&mut app.conn(), &manager, &prefs).unwrap();
        let before = mail.to("manager@demo.local").len();
        let m2_before = mail.to("manager2@demo.local").len();
        create(&app, "First");
        create(&app, "Second");
        run(&app, &d);
        assert_eq!(mail.to("manager@demo.local").len(), before, "[{backend:?}] not at once");
        assert_eq!(inbox(&app, "manager@demo.local").len(), 2, "[{backend:?}] but in the inbox");
        sender::run_periodic(&mut app.conn(), &d).unwrap();
        run(&app, &d);
        let got = mail.to("manager@demo.local");
        assert_eq!(got.len(), before + 1, "[{backend:?}] one digest");
        let digest = got.last().unwrap();
        assert_eq!(digest.subject, "Your daily digest: 2 notices", "[{backend:?}]");
        assert!(digest.text.contains("Approve: 20 USDT_TRC20, 1 row, First"), "[{backend:?}]");
        assert!(digest.text.contains("Approve: 20 USDT_TRC20, 1 row, Second"), "[{backend:?}]");
        create(&app, "Third");
        run(&app, &d);
        sender::run_periodic(&mut app.conn(), &d).unwrap();
        run(&app, &d);
        assert_eq!(mail.to("manager@demo.local").len(), before + 1, "[{backend:?}] one digest a day");
        assert_eq!(
            mail.to("manager2@demo.local").len(),
            m2_before + 3,
            "[{backend:?}] the other manager kept email at once"
        );
    }
}

#[actix_web::test]
async fn security_notices_reach_only_that_person_and_always_by_email() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let d = delivery(&app);
        let accountant = actor(&app, "accountant@demo.local");
        let prefs = payouts::service::outbound::inbox::PrefsForm {
            approvals: "inbox".into(),
            outcomes: "inbox".into(),
            operations: "inbox".into(),
            follow_payouts: None,
            digest_hour: "8".into(),
        };
        payouts::service::outbound::inbox::save_prefs(&mut app.conn(), &accountant, &prefs).unwrap();
        let before = mail.messages().len();
        let key =
            payouts::service::access::api_keys::create_from_cli(&mut app.conn(), "accountant@demo.local", "read", "ci")
                .unwrap();
        run(&app, &d);
        let new: Vec<_> = mail.messages().into_iter().skip(before).collect();
        assert_eq!(new.len(), 1, "[{backend:?}] {new:?}");
        assert_eq!(new[0].to, "accountant@demo.local", "[{backend:?}]");
        assert!(new[0].subject.starts_with("Security: An API key"), "[{backend:?}] {}", new[0].subject);
        assert!(!new[0].text.contains(&key), "[{backend:?}] never the key itself");

        // Five wrong passwords lock the account and tell its owner.
        let mut client = app.client().await;
        client.get("/login").await;
        for _ in 0..5 {
            client.post_form("/login", &[("email", "manager@demo.local"), ("password", "wrong password")]).await;
        }
        run(&app, &d);
        let locked = mail.to("manager@demo.local");
        assert!(
            locked.iter().any(|m| m.subject.starts_with("Security: Sign-in to your account was locked")),
            "[{backend:?}] {locked:?}"
        );
    }
}

#[actix_web::test]
async fn an_invitation_link_works_once_and_not_after_it_expires() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let d = delivery(&app);
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/users").await;
        let res = admin
            .post_form("/settings/users/invite", &[("email", "new.hire@example.com"), ("role", "accountant")])
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let page = admin.get("/settings/users").await;
        assert!(page.body.contains("new.hire@example.com"), "[{backend:?}] pending invitations are listed");
        run(&app, &d);
        let invite = mail.to("new.hire@example.com").pop().expect("the invitation");
        assert_eq!(invite.subject, "You are invited to Demo Company on Payouts", "[{backend:?}]");
        assert!(invite.reply_to.contains("admin@demo.local"), "[{backend:?}]");
        let url = link(&invite, "/invitation/");
        let path = url.trim_start_matches("http://localhost:8080");
        let stored = db::outbox::to_recipient(&mut app.conn(), "new.hire@example.com").unwrap();
        assert!(!stored[0].body_text.contains(path), "[{backend:?}] the link is not kept once sent");

        let mut invited = app.client().await;
        let form = invited.get(path).await;
        assert_eq!(form.status, StatusCode::OK, "[{backend:?}]");
        let short = invited.post_form(path, &[("password", "short"), ("password_again", "short")]).await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] named field");
        let done = invited
            .post_form(path, &[("password", "a long new password"), ("password_again", "a long new password")])
            .await;
        assert_eq!(done.location(), Some("/login"), "[{backend:?}] {}", done.body);
        invited.login("new.hire@example.com", "a long new password").await;
        assert!(invited.get("/").await.body.contains("Accountant"), "[{backend:?}] with the invited role");
        let mut again = app.client().await;
        assert_eq!(again.get(path).await.status, StatusCode::CONFLICT, "[{backend:?}] once only");

        // An expired one does not open.
        admin.get("/settings/users").await;
        admin.post_form("/settings/users/invite", &[("email", "late@example.com"), ("role", "viewer")]).await;
        run(&app, &d);
        let late = link(&mail.to("late@example.com").pop().unwrap(), "/invitation/");
        diesel::update(db::schema::invitations::table.filter(db::schema::invitations::email.eq("late@example.com")))
            .set(db::schema::invitations::expires_at.eq(payouts::clock::now() - chrono::Duration::minutes(1)))
            .execute(&mut **app.conn())
            .unwrap();
        let res = again.get(late.trim_start_matches("http://localhost:8080")).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}] expired");
    }
}

#[actix_web::test]
async fn a_reset_answers_the_same_for_any_address_and_its_link_works_once() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let d = delivery(&app);
        let mut session = app.client().await;
        session.login("accountant@demo.local", "demo").await;

        let mut anon = app.client().await;
        anon.get("/password/forgot").await;
        let known = anon.post_form("/password/forgot", &[("email", "accountant@demo.local")]).await;
        let unknown = anon.post_form("/password/forgot", &[("email", "nobody@demo.local")]).await;
        assert_eq!((known.status, unknown.status), (StatusCode::OK, StatusCode::OK), "[{backend:?}]");
        let strip = |b: &str, e: &str| match common::csrf_in(b) {
            Some(t) => b.replace(e, "EMAIL").replace(&t, "T"),
            None => b.replace(e, "EMAIL"),
        };
        assert_eq!(
            strip(&known.body, "accountant@demo.local"),
            strip(&unknown.body, "nobody@demo.local"),
            "[{backend:?}] the same page either way"
        );
        run(&app, &d);
        assert!(mail.to("nobody@demo.local").is_empty(), "[{backend:?}] nothing to an unknown address");
        let reset = mail.to("accountant@demo.local").pop().expect("the reset link");
        assert_eq!(reset.subject, "Reset your Payouts password", "[{backend:?}]");
        let path = link(&reset, "/password/reset/").trim_start_matches("http://localhost:8080").to_owned();

        let mut browser = app.client().await;
        assert_eq!(browser.get(&path).await.status, StatusCode::OK, "[{backend:?}]");
        let done = browser
            .post_form(&path, &[("password", "brand new password"), ("password_again", "brand new password")])
            .await;
        assert_eq!(done.location(), Some("/login"), "[{backend:?}] {}", done.body);
        assert_eq!(browser.get(&path).await.status, StatusCode::CONFLICT, "[{backend:?}] used once");
        let old_session = session.get("/payouts").await;
        assert_eq!(old_session.status, StatusCode::SEE_OTHER, "[{backend:?}] every session ended");
        let mut again = app.client().await;
        again.get("/login").await;
        let old = again.post_form("/login", &[("email", "accountant@demo.local"), ("password", "demo")]).await;
        assert_eq!(old.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] the old password is gone");
        again.login("accountant@demo.local", "brand new password").await;
        run(&app, &d);
        let notice = mail.to("accountant@demo.local").pop().unwrap();
        assert!(notice.subject.starts_with("Security: Your password was changed"), "[{backend:?}] {}", notice.subject);

        // More than three requests an hour for one address send nothing more.
        let resets =
            |mail: &MailServer| mail.to("manager@demo.local").iter().filter(|m| m.subject.starts_with("Reset")).count();
        let before = resets(&mail);
        for _ in 0..5 {
            anon.post_form("/password/forgot", &[("email", "manager@demo.local")]).await;
        }
        run(&app, &d);
        assert_eq!(resets(&mail) - before, 3, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn chat_channels_get_the_topics_an_admin_picked_with_addresses_shortened() {
    for backend in backends() {
        let (app, got) = common::app_with_chat(backend).await;
        let stored = db::notices::org_notify(&mut app.conn(), demo_org(&app)).unwrap().unwrap();
        assert!(!stored.telegram_token.unwrap().contains("ABC-def"), "[{backend:?}] sealed at rest");
        let d = delivery(&app);
        let id = create(&app, "Chat");
        run(&app, &d);
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 2, "[{backend:?}] one message per channel: {got:?}");
        let slack = got.iter().find(|(p, _)| p == "/slack").expect("slack");
        let body: serde_json::Value = serde_json::from_str(&slack.1).unwrap();
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("Approve: 20 USDT_TRC20, 1 row, Chat"), "[{backend:?}] {text}");
        assert!(text.contains("TR7NHqje…Lj6t") && !text.contains(TRON_ADDRESS), "[{backend:?}] shortened: {text}");
        assert!(text.contains(&format!("/payouts/{id}")), "[{backend:?}]");
        let telegram = got.iter().find(|(p, _)| p == "/bot123456:ABC-def_ghi/sendMessage").expect("telegram");
        let body: serde_json::Value = serde_json::from_str(&telegram.1).unwrap();
        assert_eq!(body["chat_id"], "-100200300", "[{backend:?}]");

        // A topic not picked goes to no channel.
        let manager = actor(&app, "manager@demo.local");
        approvals::approve(&mut app.conn(), &manager, id, "").unwrap();
        run(&app, &d);
        assert_eq!(got.len(), 2, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_chat_url_inside_the_network_is_refused_without_the_allowance() {
    for backend in backends() {
        let app = start(backend, None).await;
        let admin = actor(&app, "admin@demo.local");
        let form = payouts::service::outbound::inbox::ChannelsForm {
            slack_url: "https://127.0.0.1/hook".into(),
            reminder_hours: "24".into(),
            ..Default::default()
        };
        let strict = OutboundPolicy { allow_http: false, allow_private: false };
        let err = payouts::service::outbound::inbox::save_channels(&mut app.conn(), &admin, &form, &strict, b"k")
            .unwrap_err();
        assert!(err.to_string().contains("private network"), "[{backend:?}] {err}");
        assert!(db::notices::org_notify(&mut app.conn(), demo_org(&app)).unwrap().is_none(), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn the_api_lists_the_key_owners_inbox() {
    for backend in backends() {
        let app = start(backend, None).await;
        let d = delivery(&app);
        create(&app, "Api");
        run(&app, &d);
        let key =
            payouts::service::access::api_keys::create_from_cli(&mut app.conn(), "manager@demo.local", "read", "t")
                .unwrap();
        let mut client = app.client().await;
        let res = client
            .send(
                actix_web::test::TestRequest::get()
                    .uri("/api/v1/notifications")
                    .insert_header(("Authorization", format!("Bearer {key}"))),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}] {}", res.body);
        let body: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        assert_eq!(body["notifications"][0]["kind"], "approval_needed", "[{backend:?}] {body}");
        assert_eq!(body["notifications"][0]["subject"], "Approve: 20 USDT_TRC20, 1 row, Api", "[{backend:?}]");
        assert_eq!(body["unread"], 1, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn beyond_twenty_emails_an_hour_notices_wait_for_an_hourly_digest() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        let app = start(backend, Some(&mail)).await;
        let clock = Clock::fixed(payouts::clock::now());
        let d = Delivery { clock: clock.clone(), ..delivery(&app) };
        let before = mail.to("manager@demo.local").len();
        for n in 0..22 {
            create(&app, &format!("Bound {n}"));
        }
        run(&app, &d);
        assert_eq!(mail.to("manager@demo.local").len() - before, 20, "[{backend:?}] twenty at once");
        assert_eq!(inbox(&app, "manager@demo.local").len(), 22, "[{backend:?}] every one in the inbox");
        sender::run_periodic(&mut app.conn(), &d).unwrap();
        run(&app, &d);
        assert_eq!(mail.to("manager@demo.local").len() - before, 20, "[{backend:?}] the rest wait an hour");
        clock.advance(chrono::Duration::minutes(61));
        sender::run_periodic(&mut app.conn(), &d).unwrap();
        run(&app, &d);
        let got = mail.to("manager@demo.local");
        assert_eq!(got.len() - before, 21, "[{backend:?}] then one digest");
        assert_eq!(got.last().unwrap().subject, "2 more notices from the last hour", "[{backend:?}]");
    }
}

#[actix_web::test]
async fn changing_ones_password_ends_other_sessions_and_tells_the_person() {
    for backend in backends() {
        let app = start(backend, None).await;
        let d = delivery(&app);
        let mut other = app.client().await;
        other.login("viewer@demo.local", "demo").await;
        let mut me = app.client().await;
        me.login("viewer@demo.local", "demo").await;
        me.get("/account/security").await;
        let wrong = me
            .post_form(
                "/account/security/password",
                &[
                    ("current_password", "nope"),
                    ("password", "a new long password"),
                    ("password_again", "a new long password"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(wrong.body.contains("This is not your current password."), "[{backend:?}]");
        let done = me
            .post_form(
                "/account/security/password",
                &[
                    ("current_password", "demo"),
                    ("password", "a new long password"),
                    ("password_again", "a new long password"),
                ],
            )
            .await;
        assert_eq!(done.location(), Some("/account/security"), "[{backend:?}] {}", done.body);
        assert_eq!(me.get("/payouts").await.status, StatusCode::OK, "[{backend:?}] this session goes on");
        assert_eq!(other.get("/payouts").await.status, StatusCode::SEE_OTHER, "[{backend:?}] the other ended");
        run(&app, &d);
        let n = inbox(&app, "viewer@demo.local");
        assert_eq!(n[0].subject, "Security: Your password was changed, and your other sessions were ended");
        assert_eq!(n[0].kind, "security", "[{backend:?}]");
    }
}

#[actix_web::test]
async fn reminders_stuck_payouts_and_failing_endpoints_are_said_once_to_the_right_people() {
    for backend in backends() {
        let app = start(backend, None).await;
        let org = demo_org(&app);
        let now = payouts::clock::now();
        let admin = actor(&app, "admin@demo.local");
        let form = payouts::service::outbound::inbox::ChannelsForm { reminder_hours: "1".into(), ..Default::default() };
        let policy = app.state.config.webhooks;
        payouts::service::outbound::inbox::save_channels(&mut app.conn(), &admin, &form, &policy, b"k").unwrap();
        let waiting = create(&app, "Waiting");
        let started = create(&app, "Started");
        approvals::approve(&mut app.conn(), &actor(&app, "manager@demo.local"), started, "").unwrap();
        let endpoint =
            db::webhooks::insert_endpoint(&mut app.conn(), org, "https://hooks.example/x", "payout.created", "s", now)
                .unwrap();
        let failing = db::webhooks::NewDelivery {
            org_id: org,
            endpoint_id: endpoint.id,
            event_id: "evt_1".into(),
            event_type: "payout.created".into(),
            payload: "{}".into(),
            status: payouts::domain::outbound::DeliveryStatus::Pending,
            next_attempt_at: now,
            created_at: now - chrono::Duration::hours(2),
        };
        db::webhooks::insert_deliveries(&mut app.conn(), &[failing]).unwrap();
        diesel::update(db::schema::webhook_deliveries::table)
            .set(db::schema::webhook_deliveries::attempts.eq(3))
            .execute(&mut **app.conn())
            .unwrap();

        // Two hours later, as the server's once-a-minute check sees it, twice.
        let later = Delivery { clock: Clock::fixed(now + chrono::Duration::hours(2)), ..delivery(&app) };
        run(&app, &later);
        for _ in 0..2 {
            sender::run_periodic(&mut app.conn(), &later).unwrap();
            run(&app, &later);
        }
        let subjects = |who: &str| -> Vec<String> { inbox(&app, who).into_iter().map(|n| n.subject).collect() };
        let reminder = "Still waiting — Approve: 20 USDT_TRC20, 1 row, Waiting".to_owned();
        assert_eq!(subjects("manager2@demo.local").iter().filter(|s| **s == reminder).count(), 1, "[{backend:?}]");
        assert_eq!(
            subjects("manager@demo.local").iter().filter(|s| s.starts_with("Still waiting")).count(),
            1,
            "[{backend:?}] only the payout still waiting: {:?}",
            subjects("manager@demo.local")
        );
        let admin_sees = subjects("admin@demo.local");
        let stuck = format!("Stuck: payout #{started} unchanged for");
        assert_eq!(admin_sees.iter().filter(|s| s.starts_with(&stuck)).count(), 1, "[{backend:?}] {admin_sees:?}");
        assert!(
            !admin_sees.iter().any(|s| s.contains(&format!("#{waiting} "))),
            "[{backend:?}] a pending one is not stuck"
        );
        let hook = "Webhook endpoint failing for an hour: https://hooks.example/x";
        assert_eq!(admin_sees.iter().filter(|s| *s == hook).count(), 1, "[{backend:?}] {admin_sees:?}");
        for who in ["accountant@demo.local", "viewer@demo.local"] {
            assert!(
                subjects(who).iter().all(|s| !s.starts_with("Stuck") && !s.starts_with("Webhook")),
                "[{backend:?}] {who}"
            );
        }
    }
}

#[actix_web::test]
async fn a_slow_chat_endpoint_delays_no_email() {
    let Some(mail) = MailServer::start() else { return };
    for backend in backends() {
        // A Slack receiver that takes ten seconds to answer.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let slack = format!("http://{}/slow", listener.local_addr().unwrap());
        let answered = Arc::new(Mutex::new(false));
        let flag = answered.clone();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                std::thread::sleep(std::time::Duration::from_secs(10));
                *flag.lock().unwrap() = true;
                let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        let app = start(backend, Some(&mail)).await;
        let admin = actor(&app, "admin@demo.local");
        let form = payouts::service::outbound::inbox::ChannelsForm {
            slack_url: slack,
            topics: vec!["approval_needed".into()],
            reminder_hours: "0".into(),
            ..Default::default()
        };
        let policy = app.state.config.webhooks;
        payouts::service::outbound::inbox::save_channels(&mut app.conn(), &admin, &form, &policy, b"k").unwrap();
        let before = mail.to("manager@demo.local").len();
        let worker = sender::spawn(app.state.pool.clone(), delivery(&app), std::time::Duration::from_millis(100));
        let wait_for = |n: usize| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
            while mail.to("manager@demo.local").len() < before + n && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            mail.to("manager@demo.local").len() >= before + n
        };
        // The first payout's Slack message hangs on the receiver; the next payout, made while it
        // hangs, is emailed all the same.
        create(&app, "Slow chat 1");
        let first = wait_for(1);
        create(&app, "Slow chat 2");
        let second = wait_for(2);
        let slack_done = *answered.lock().unwrap();
        worker.stop();
        assert!(first && second, "[{backend:?}] both emails went out ({first}, {second})");
        assert!(!slack_done, "[{backend:?}] while the slow chat endpoint was still answering");
    }
}

#[actix_web::test]
async fn an_invitation_for_an_address_added_meanwhile_says_to_sign_in() {
    for backend in backends() {
        let app = start(backend, None).await;
        let admin = actor(&app, "admin@demo.local");
        let form = payouts::service::access::invitations::InviteForm {
            email: "twice@example.com".into(),
            role: "viewer".into(),
        };
        let invited =
            payouts::service::outbound::links::invite(&mut app.conn(), &app.state.notifier(), &admin, &form).unwrap();
        assert!(!invited.emailed, "[{backend:?}] no SMTP: the admin is given the link");
        let add = payouts::service::access::users::NewUserForm {
            email: "twice@example.com".into(),
            role: "viewer".into(),
            password: "a password of the admin's".into(),
        };
        payouts::service::access::users::add(&mut app.conn(), &admin, &add).unwrap();
        let mut client = app.client().await;
        let path = invited.link.trim_start_matches("http://localhost:8080").to_owned();
        client.get(&path).await;
        let res = client
            .post_form(&path, &[("password", "my own long password"), ("password_again", "my own long password")])
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("exists already; sign in instead"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn paid_and_failed_payouts_and_a_pending_payee_address_reach_their_people() {
    for backend in backends() {
        let app = start(backend, None).await;
        db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let d = delivery(&app);
        let bad = common::tron_address(4_242);
        let paid = create(&app, "Paid one");
        let a = actor(&app, "accountant@demo.local");
        let form = SinglePayoutForm {
            asset: "USDT_TRC20".into(),
            amount: "5".into(),
            description: "Refused one".into(),
            address: bad.clone(),
            ..Default::default()
        };
        let draft = payout_service::check_single(&mut app.conn(), &a, &form).unwrap();
        let failed = payout_service::create(&mut app.conn(), &a, &draft, "refused").unwrap().payout.id;
        common::process_all(&app, &common::instant_rail(&app, &[bad.as_str()]));
        run(&app, &d);
        let told: Vec<(String, String)> =
            inbox(&app, "accountant@demo.local").into_iter().map(|n| (n.kind, n.subject)).collect();
        assert!(told.contains(&("completed".into(), "Paid: 20 USDT_TRC20, Paid one".into())), "[{backend:?}] {told:?}");
        assert!(
            told.contains(&("failed".into(), "Failed: 5 USDT_TRC20, Refused one".into())),
            "[{backend:?}] {told:?}"
        );
        assert!(
            inbox(&app, "manager@demo.local").iter().all(|n| n.kind != "completed" && n.kind != "failed"),
            "[{backend:?}] managers do not follow by default"
        );
        assert!(paid != failed);

        let payee = payouts::service::payees::book::create(
            &mut app.conn(),
            &a,
            &payouts::service::payees::book::PayeeForm { name: "Ada Lovelace".into(), ..Default::default() },
        )
        .unwrap();
        let entered = payouts::service::payees::addresses::enter_address(
            &mut app.conn(),
            &a,
            payee.id,
            "USDT_TRC20",
            TRON_ADDRESS,
        )
        .unwrap();
        run(&app, &d);
        for manager in ["manager@demo.local", "manager2@demo.local"] {
            let n = inbox(&app, manager);
            assert_eq!(n[0].subject, "Approve address: Ada Lovelace, TRON", "[{backend:?}] {manager}");
            assert!(n[0].body.contains(TRON_ADDRESS), "[{backend:?}]");
            assert_eq!(n[0].link, format!("/payees/{}", payee.id), "[{backend:?}]");
        }
        assert!(inbox(&app, "admin@demo.local").iter().all(|n| n.kind != "address_pending"), "[{backend:?}]");

        // Decided: nobody needs to decide any more, and the request leaves every manager's
        // unread count (issue 44, item 1).
        let before = unread(&app, "manager2@demo.local");
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, false, false, "not theirs")
            .unwrap();
        run(&app, &d);
        for manager in ["manager@demo.local", "manager2@demo.local"] {
            let n = inbox(&app, manager);
            let asked = n.iter().find(|n| n.kind == "address_pending").expect("asked");
            assert!(asked.read_at.is_some(), "[{backend:?}] {manager}: settled");
        }
        assert_eq!(unread(&app, "manager2@demo.local"), before - 1, "[{backend:?}]");
    }
}
