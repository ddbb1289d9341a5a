//! Holes a black-box attack found, each reproduced as the attack was made, on every backend
//! (PostgreSQL with two server processes where the attack is concurrent): reset rate limits
//! racing, secret tokens in the log, reset links outliving a password change, metrics labels
//! from made-up methods, a lookalike laundered through the payee book, chat formatting from
//! users' text; and the emailed link that forgot its page, and the lookalike shown shortened.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Barrier;

use actix_web::http::{Method, StatusCode};

use common::{Process, TestApp, actor, api_key, api_request, backends, demo_org, instant_rail, json_of, process_all};
use diesel::prelude::*;
use payouts::db;
use payouts::db::schema::reset_requests;
use payouts::domain::second_factor::code_at;
use payouts::service::access::password_reset;
use payouts::{Config, config::ServeArgs};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Raw HTTP from a chosen source address, to server processes.

/// One request over a new connection from `source` (any 127.x.y.z works on loopback); the whole
/// response as text.
fn http_from(source: Ipv4Addr, port: u16, request: &str) -> String {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
    socket.connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn get_request(path: &str, cookie: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n")
}

fn post_request(path: &str, cookie: &str, fields: &[(&str, &str)]) -> String {
    let body = serde_urlencoded::to_string(fields).unwrap();
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The sign-in CSRF cookie a response set, as `name=value`.
fn csrf_cookie(response: &str) -> String {
    response
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            (name.eq_ignore_ascii_case("set-cookie") && value.trim().starts_with("payouts_csrf="))
                .then(|| value.trim().split(';').next().unwrap().to_owned())
        })
        .expect("the page sets its CSRF cookie")
}

fn status_of(response: &str) -> u16 {
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn header_of<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

/// The real server binary on `app`'s database, listening on `port`, its output (at the default
/// log level) in `log`.
fn server(app: &TestApp, port: u16, dir: &std::path::Path, log: &std::path::Path) -> Process {
    let out = std::fs::File::create(log).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--no-processor"])
        .env("DATABASE_URL", common::url_string(app.backend, &app.url))
        .env("PAYOUTS_DATA_DIR", dir)
        // Mail configured (nothing listens there): the reset form is offered.
        .env("PAYOUTS_SMTP_URL", format!("smtp://127.0.0.1:{}?tls=none", common::free_port()))
        .env_remove("RUST_LOG")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("the server starts");
    common::wait_listening(port, "the server", &mut child);
    Process(child)
}

fn recorded(app: &TestApp, email: Option<&str>, ip: Option<&str>) -> i64 {
    let mut q = reset_requests::table.into_boxed();
    if let Some(e) = email {
        q = q.filter(reset_requests::email.eq(e.to_owned()));
    }
    if let Some(i) = ip {
        q = q.filter(reset_requests::ip.eq(i.to_owned()));
    }
    q.count().get_result(&mut **app.conn()).unwrap()
}

/// 20 clients each load the form and then, all at the same instant, ask for a reset, spread
/// over two server processes: (source address, email) per client.
fn forgot_at_once(ports: [u16; 2], clients: &[(Ipv4Addr, String)]) {
    let barrier = Barrier::new(clients.len());
    std::thread::scope(|scope| {
        for (n, (source, email)) in clients.iter().enumerate() {
            let barrier = &barrier;
            let port = ports[n % 2];
            scope.spawn(move || {
                let page = http_from(*source, port, &get_request("/password/forgot", ""));
                let cookie = csrf_cookie(&page);
                let token = common::csrf_in(&page).expect("the form's token");
                barrier.wait();
                let answer = http_from(
                    *source,
                    port,
                    &post_request("/password/forgot", &cookie, &[("csrf_token", &token), ("email", email)]),
                );
                assert_eq!(status_of(&answer), 200, "{answer}");
            });
        }
    });
}

#[actix_web::test]
async fn reset_requests_at_the_same_instant_over_two_processes_are_counted_in_turn() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let dir = tempfile::tempdir().unwrap();
        let ports = [common::free_port(), common::free_port()];
        let _one = server(&app, ports[0], dir.path(), &dir.path().join("one.log"));
        let _two = server(&app, ports[1], dir.path(), &dir.path().join("two.log"));
        for run in 0..2u8 {
            // One address, twenty senders: at most three an hour for the address.
            let email = format!("accountant+{run}@demo.local");
            let clients: Vec<(Ipv4Addr, String)> =
                (0..20u8).map(|n| (Ipv4Addr::new(127, 0, 10 + run, n + 1), email.clone())).collect();
            forgot_at_once(ports, &clients);
            assert_eq!(recorded(&app, Some(&email), None), 3, "[{backend:?}] run {run}: three for one address");

            // One sender, twenty addresses: at most ten an hour from one address.
            let source = Ipv4Addr::new(127, 0, 20, run + 1);
            let clients: Vec<(Ipv4Addr, String)> =
                (0..20).map(|n| (source, format!("someone{n}-{run}@demo.local"))).collect();
            forgot_at_once(ports, &clients);
            assert_eq!(recorded(&app, None, Some(&source.to_string())), 10, "[{backend:?}] run {run}: ten per sender");
        }
    }
}

#[actix_web::test]
async fn reset_requests_from_one_ipv6_network_count_together() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let at = payouts::clock::now();
        for n in 0..15 {
            let ip = format!("2001:db8:1:2::{n:x}");
            password_reset::request(&mut app.conn(), &format!("v6-{n}@example.com"), Some(&ip), at).unwrap();
        }
        assert_eq!(recorded(&app, None, Some("2001:db8:1:2::/64")), 10, "[{backend:?}] one /64 is one sender");
        password_reset::request(&mut app.conn(), "other@example.com", Some("2001:db8:1:3::1"), at).unwrap();
        assert_eq!(recorded(&app, Some("other@example.com"), None), 1, "[{backend:?}] another /64 is another");
    }
}

// ---------------------------------------------------------------------------------------------
// Secret tokens never reach the log.

#[actix_web::test]
async fn reset_and_invitation_tokens_never_reach_the_log_and_their_pages_send_no_referrer() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let at = payouts::clock::now();
        let accountant = actor(&app, "accountant@demo.local");
        let reset = payouts::crypto::random_hex(32);
        let hash = payouts::crypto::sha256_hex(reset.as_bytes());
        db::invitations::insert_reset(&mut app.conn(), accountant.user_id, &hash, at, at + chrono::Duration::hours(1))
            .unwrap();
        let form = payouts::service::access::invitations::InviteForm {
            email: "newcomer@demo.local".into(),
            role: "viewer".into(),
        };
        let invitation = db::write_tx(&mut app.conn(), |c| {
            payouts::service::access::invitations::invite_in_tx(c, demo_org(&app), None, &form, at)
        })
        .unwrap()
        .token;

        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let port = common::free_port();
        let running = server(&app, port, dir.path(), &log);
        let me = Ipv4Addr::LOCALHOST;
        let mut answers = Vec::new();
        for token in [&reset, &invitation] {
            for path in [format!("/password/reset/{token}"), format!("/invitation/{token}")] {
                let page = http_from(me, port, &get_request(&format!("{path}?again={token}"), ""));
                let cookie = csrf_cookie(&page);
                let csrf = common::csrf_in(&page).unwrap_or_default();
                // Without the CSRF token, with two passwords that differ, and with a bad token.
                let fields = [("password", "a brand new one"), ("password_again", "another one")];
                answers.push(page.clone());
                answers.push(http_from(me, port, &post_request(&path, &cookie, &fields)));
                let mut with = vec![("csrf_token", csrf.as_str())];
                with.extend(fields);
                answers.push(http_from(me, port, &post_request(&path, &cookie, &with)));
            }
        }
        let unknown = payouts::crypto::random_hex(32);
        answers.push(http_from(me, port, &get_request(&format!("/password/reset/{unknown}"), "")));
        answers.push(http_from(me, port, &get_request(&format!("/nowhere/{unknown}?token={unknown}"), "")));
        drop(running);

        let printed = std::fs::read_to_string(&log).unwrap();
        assert!(printed.contains("/password/reset/{token}"), "[{backend:?}] the route is logged: {printed}");
        for secret in [&reset, &invitation, &unknown] {
            assert!(!printed.contains(&secret[..16]), "[{backend:?}] a token reached the log:\n{printed}");
        }
        for answer in &answers[..answers.len() - 1] {
            assert_eq!(header_of(answer, "referrer-policy"), Some("no-referrer"), "[{backend:?}] {answer}");
        }
        assert!(answers.iter().any(|a| status_of(a) == 403), "[{backend:?}] the CSRF refusal was tried");
        assert!(answers.iter().any(|a| status_of(a) == 422), "[{backend:?}] a refused password was tried");
    }
}

// ---------------------------------------------------------------------------------------------
// Reset links end with every password change and with disabling.

/// Asks for a reset of `email` and issues its link at once, as the notifier does: the token.
fn reset_link(app: &TestApp, email: &str) -> Option<String> {
    let at = payouts::clock::now();
    password_reset::request(&mut app.conn(), email, Some("192.0.2.1"), at).unwrap();
    take_requests(app)
}

/// Issues links for the waiting requests, as the notifier does; the last token issued.
fn take_requests(app: &TestApp) -> Option<String> {
    let at = payouts::clock::now();
    let mut conn = app.conn();
    let mut token = None;
    for (id, email) in db::invitations::open_reset_requests(&mut conn, 100).unwrap() {
        if let Some((_, t)) = db::write_tx(&mut conn, |c| password_reset::issue_in_tx(c, id, &email, at)).unwrap() {
            token = Some(t);
        }
    }
    token
}

#[actix_web::test]
async fn a_password_change_or_disabling_ends_every_open_reset_link() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        // The person changes their password on Account → Security after asking for a link.
        let link = reset_link(&app, "accountant@demo.local").expect("a link");
        password_reset::request(&mut app.conn(), "accountant@demo.local", Some("192.0.2.1"), payouts::clock::now())
            .unwrap();
        let mut me = app.client().await;
        me.login("accountant@demo.local", "demo").await;
        me.get("/account/security").await;
        let changed = me
            .post_form(
                "/account/security/password",
                &[("current_password", "demo"), ("password", "changed by me 1"), ("password_again", "changed by me 1")],
            )
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", changed.body);
        assert_eq!(take_requests(&app), None, "[{backend:?}] a request made before the change issues nothing");
        let mut thief = app.client().await;
        let page = thief.get(&format!("/password/reset/{link}")).await;
        assert_eq!(page.status, StatusCode::CONFLICT, "[{backend:?}] the link ended: {}", page.body);
        thief.get("/login").await;
        let used = thief
            .post_form(
                &format!("/password/reset/{link}"),
                &[("password", "thief's own 12"), ("password_again", "thief's own 12")],
            )
            .await;
        assert_eq!(used.status, StatusCode::CONFLICT, "[{backend:?}] {}", used.body);
        thief.get("/login").await;
        let sign_in =
            thief.post_form("/login", &[("email", "accountant@demo.local"), ("password", "thief's own 12")]).await;
        assert_eq!(sign_in.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] the thief's password is not set");

        // Using one link ends the others, and the requests still waiting.
        let first = reset_link(&app, "viewer@demo.local").unwrap();
        let second = reset_link(&app, "viewer@demo.local").unwrap();
        password_reset::request(&mut app.conn(), "viewer@demo.local", Some("192.0.2.1"), payouts::clock::now())
            .unwrap();
        let form =
            password_reset::ResetForm { password: "viewer's new 12".into(), password_again: "viewer's new 12".into() };
        password_reset::complete(&mut app.conn(), &second, &form, None, payouts::clock::now()).unwrap();
        assert_eq!(take_requests(&app), None, "[{backend:?}]");
        assert!(password_reset::open(&mut app.conn(), &first, payouts::clock::now()).is_err(), "[{backend:?}]");

        // Disabling the account ends its links.
        let link = reset_link(&app, "manager2@demo.local").unwrap();
        let admin = actor(&app, "admin@demo.local");
        let manager2 = actor(&app, "manager2@demo.local");
        payouts::service::access::users::set_disabled(&mut app.conn(), &admin, manager2.user_id, true).unwrap();
        payouts::service::access::users::set_disabled(&mut app.conn(), &admin, manager2.user_id, false).unwrap();
        let err = password_reset::complete(&mut app.conn(), &link, &form, None, payouts::clock::now()).unwrap_err();
        assert!(err.to_string().contains("ended when the password was changed"), "[{backend:?}] {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// /metrics: a closed set of labels, a token of 32 characters, the scheme in any case.

const TOKEN: &str = "metrics-token-of-thirty-two-chars!!";

#[actix_web::test]
async fn made_up_methods_become_one_label_and_the_token_is_counted_in_characters() {
    for backend in backends() {
        let config = Config::from_args(&ServeArgs { metrics_token: Some(TOKEN.into()), ..Default::default() }).unwrap();
        let app = TestApp::start_with(backend, config).await;
        let mut client = app.client().await;
        let scrape = |scheme: &str| {
            actix_web::test::TestRequest::get()
                .uri("/metrics")
                .insert_header(("Authorization", format!("{scheme} {TOKEN}")))
        };
        // Every series the attack could touch exists once before it is measured.
        client
            .send(actix_web::test::TestRequest::default().method(Method::from_bytes(b"WARMUP").unwrap()).uri("/"))
            .await;
        client.send(scrape("Bearer")).await;
        let before = client.send(scrape("Bearer")).await.body.len();
        for n in 0..200 {
            let method = Method::from_bytes(format!("PROBE{n:03}X").as_bytes()).unwrap();
            client.send(actix_web::test::TestRequest::default().method(method).uri("/")).await;
        }
        for n in 0..50 {
            let method = Method::from_bytes(format!("{n:02}{}", "M".repeat(1919)).as_bytes()).unwrap();
            client.send(actix_web::test::TestRequest::default().method(method).uri("/")).await;
        }
        let text = client.send(scrape("bearer")).await;
        assert_eq!(text.status, StatusCode::OK, "[{backend:?}] the scheme is case-insensitive");
        assert!(!text.body.contains("PROBE") && !text.body.contains("MMMM"), "[{backend:?}] no made-up label");
        assert!(text.body.contains("method=\"other\""), "[{backend:?}]");
        assert!(text.body.len() < before + 200, "[{backend:?}] {} → {} bytes", before, text.body.len());
        assert_eq!(client.send(scrape("BEARER")).await.status, StatusCode::OK, "[{backend:?}]");
    }
    // 32 bytes but 16 characters is too short; 32 characters of any width is enough.
    let short = "é".repeat(16);
    assert!(Config::from_args(&ServeArgs { metrics_token: Some(short), ..Default::default() }).is_err());
    let long = "é".repeat(32);
    assert!(Config::from_args(&ServeArgs { metrics_token: Some(long), ..Default::default() }).is_ok());
}

// ---------------------------------------------------------------------------------------------
// A lookalike is not laundered through the payee book; approving one takes two managers.

fn evm(hex: &str) -> String {
    payouts::domain::address::eip55(hex)
}

/// A known EVM address and one with the same first and last four characters (their own for each
/// seed) and every character between them different.
fn evm_pair(seed: u8) -> (String, String) {
    let middle = |b: u8| format!("{b:02x}").repeat(16);
    let (head, tail) = (format!("{seed:02x}c2"), format!("d3{seed:02x}"));
    (evm(&format!("{head}{}{tail}", middle(seed))), evm(&format!("{head}{}{tail}", middle(seed ^ 0xff))))
}

fn set_approval(app: &TestApp, required: bool) {
    let admin = actor(app, "admin@demo.local");
    let mut fields = vec![("needed".to_string(), "1".to_string())];
    if required {
        fields.push(("required".to_string(), "yes".to_string()));
    }
    payouts::service::payouts::approvals::set_policy(&mut app.conn(), &admin, &fields).unwrap();
}

fn new_payee(app: &TestApp, name: &str) -> i64 {
    let accountant = actor(app, "accountant@demo.local");
    let form = payouts::service::payees::PayeeForm { name: name.into(), ..Default::default() };
    payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id
}

fn enter(app: &TestApp, payee: i64, address: &str) -> i64 {
    let accountant = actor(app, "accountant@demo.local");
    payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_ERC20", address).unwrap()
}

fn audit_actions(app: &TestApp, action: &str) -> Vec<String> {
    use payouts::db::schema::audit_log::dsl as l;
    l::audit_log.filter(l::action.eq(action)).select(l::detail).load(&mut **app.conn()).unwrap()
}

#[actix_web::test]
async fn an_address_entered_then_replaced_stays_unknown_and_a_lookalike_payee_address_needs_two_managers() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_approval(&app, false);
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let mut api = app.client().await;
        let (paid, lookalike) = evm_pair(0x11);
        let body = json!({"asset": "USDT_ERC20", "kind": "single", "description": "first",
                          "items": [{"address": paid, "amount": "1"}]});
        let res = api
            .send(api_request("POST", "/api/v1/payouts", &key, Some(body)).insert_header(("Idempotency-Key", "p")))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        process_all(&app, &instant_rail(&app, &[]));

        // The poisoned address goes into the book, and is superseded before anyone approves it.
        let mallory = new_payee(&app, "Mallory");
        enter(&app, mallory, &lookalike);
        enter(&app, mallory, &evm(&"77".repeat(20)));
        let quote_body = json!({"asset": "USDT_ERC20", "kind": "single", "description": "x",
                                "items": [{"address": lookalike, "amount": "1"}]});
        let quote =
            json_of(&api.send(api_request("POST", "/api/v1/payouts/quote", &key, Some(quote_body.clone()))).await);
        assert_eq!(quote["lookalikes"][0]["resembles"], paid.as_str(), "[{backend:?}] still a lookalike: {quote}");
        let res = api
            .send(
                api_request("POST", "/api/v1/payouts", &key, Some(quote_body)).insert_header(("Idempotency-Key", "l")),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "[{backend:?}] not without acknowledging: {}",
            res.body
        );
        assert_eq!(json_of(&res)["errors"][0]["field"], "acknowledge_lookalikes", "[{backend:?}]");

        // A rejected entry is not known either.
        let (_, twin) = evm_pair(0x33);
        let trudy = new_payee(&app, "Trudy");
        let entered = enter(&app, trudy, &twin);
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, false, false, "no").unwrap();
        let (known_twin, _) = evm_pair(0x33);
        let q = json!({"asset": "USDT_ERC20", "kind": "single", "description": "x",
                       "items": [{"address": known_twin, "amount": "1"}]});
        let quote = json_of(&api.send(api_request("POST", "/api/v1/payouts/quote", &key, Some(q))).await);
        assert_eq!(quote["lookalikes"], json!([]), "[{backend:?}] a rejected address makes nothing a lookalike");

        // Approving a lookalike payee address: ticked, and by two different managers.
        let eve = new_payee(&app, "Eve");
        let pending = enter(&app, eve, &lookalike);
        let mut m1 = app.client().await;
        m1.login("manager@demo.local", "demo").await;
        let queue = m1.get("/approvals").await;
        assert!(queue.body.contains("name=\"acknowledge_lookalike\""), "[{backend:?}] the box to tick");
        let res = m1.post_form(&format!("/payee-addresses/{pending}/approve"), &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let row = payouts::service::payees::find_address(&mut app.conn(), &manager, pending).unwrap();
        assert_eq!(row.status.as_str(), "pending", "[{backend:?}] one careless click approves nothing");
        let res =
            m1.post_form(&format!("/payee-addresses/{pending}/approve"), &[("acknowledge_lookalike", "yes")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let row = payouts::service::payees::find_address(&mut app.conn(), &manager, pending).unwrap();
        assert_eq!((row.status.as_str(), row.lookalike_ack_by), ("pending", Some(manager.user_id)), "[{backend:?}]");
        let again = payouts::service::payees::decide_address(&mut app.conn(), &manager, pending, true, true, "");
        assert!(matches!(again, Err(payouts::error::AppError::Conflict(_))), "[{backend:?}] not twice by one manager");
        let queue = m1.get("/approvals").await;
        assert!(queue.body.contains("Approved once by manager@demo.local"), "[{backend:?}]");

        let m2_key = api_key(&app, "manager2@demo.local", "read,approve");
        let path = format!("/api/v1/payee-addresses/{pending}/approve");
        let res = api.send(api_request("POST", &path, &m2_key, Some(json!({})))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
        assert_eq!(json_of(&res)["errors"][0]["field"], "acknowledge_lookalike", "[{backend:?}]");
        let res = api.send(api_request("POST", &path, &m2_key, Some(json!({"acknowledge_lookalike": true})))).await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}] {}", res.body);
        let state = json_of(&res)["state"].clone();
        assert!(state == "cooling_off" || state == "payable", "[{backend:?}] approved: {state}");
        assert_eq!(audit_actions(&app, "payee.address_lookalike_acknowledged").len(), 1, "[{backend:?}]");
        let approved = audit_actions(&app, "payee.address_approved");
        assert!(
            approved.iter().any(|d| d.contains(&lookalike) && d.contains("approved by manager@demo.local first")),
            "[{backend:?}] {approved:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Chat shows what people typed as they typed it.

#[actix_web::test]
async fn chat_messages_show_typed_text_literally() {
    for backend in backends() {
        let (app, got) = common::app_with_chat(backend).await;
        let typed = "*Bonus* `rm -rf` https://evil.example/claim @channel _x_ ~y~";
        let accountant = actor(&app, "accountant@demo.local");
        let single = payouts::service::payouts::SinglePayoutForm {
            asset: "USDT_TRC20".into(),
            amount: "3".into(),
            description: typed.into(),
            address: common::TRON_ADDRESS.into(),
            ..Default::default()
        };
        let draft = payouts::service::payouts::check_single(&mut app.conn(), &accountant, &single).unwrap();
        payouts::service::payouts::create(&mut app.conn(), &accountant, &draft, typed).unwrap();
        let d = app.state.delivery();
        let agent = payouts::service::outbound::net::agent(
            std::time::Duration::from_secs(5),
            payouts::domain::outbound::OutboundPolicy::permissive(),
        );
        payouts::service::outbound::sender::take_new(&mut app.conn(), &d).unwrap();
        payouts::service::outbound::sender::send_due(&mut app.conn(), &d, &agent).unwrap();
        let got = got.lock().unwrap().clone();
        let slack: serde_json::Value =
            serde_json::from_str(&got.iter().find(|(p, _)| p == "/slack").expect("slack").1).unwrap();
        assert_eq!(slack["mrkdwn"], false, "[{backend:?}] {slack}");
        assert_eq!(slack["link_names"], false, "[{backend:?}]");
        assert_eq!(slack["unfurl_links"], false, "[{backend:?}]");
        assert_eq!(slack["blocks"][0]["text"]["type"], "plain_text", "[{backend:?}] {slack}");
        assert!(slack["blocks"][0]["text"]["text"].as_str().unwrap().contains(typed), "[{backend:?}] {slack}");
        let telegram: serde_json::Value =
            serde_json::from_str(&got.iter().find(|(p, _)| p.ends_with("/sendMessage")).expect("telegram").1).unwrap();
        assert!(telegram.get("parse_mode").is_none(), "[{backend:?}] {telegram}");
        assert!(telegram["text"].as_str().unwrap().contains(typed), "[{backend:?}]");
        assert_eq!(telegram["link_preview_options"]["is_disabled"], true, "[{backend:?}]");
    }
}

// ---------------------------------------------------------------------------------------------
// An emailed link survives signing in and the second factor; only to this site.

fn totp_code(secret: &[u8]) -> String {
    code_at(secret, (chrono::Utc::now().timestamp() - 30) as u64)
}

fn secret_on(page: &str) -> Vec<u8> {
    let marker = "<code class=\"mono secret\">";
    let start = page.find(marker).expect("the setup shows the secret") + marker.len();
    let end = page[start..].find('<').unwrap() + start;
    totp_rs::Secret::try_from_base32(&page[start..end]).expect("base32").as_ref().to_vec()
}

#[actix_web::test]
async fn a_link_opened_signed_out_lands_on_its_page_after_sign_in_and_the_second_factor() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        // The manager has an authenticator.
        let mut setup = app.client().await;
        setup.login("manager@demo.local", "demo").await;
        setup.get("/account/security").await;
        let page = setup.post_form("/account/security/totp", &[]).await;
        let secret = secret_on(&page.body);
        let done = setup.post_form("/account/security/totp/confirm", &[("code", &totp_code(&secret))]).await;
        assert_eq!(done.status, StatusCode::OK, "[{backend:?}] {}", done.body);

        let mut c = app.client().await;
        let asked = c.get("/payouts/7?tab=items").await;
        assert_eq!(asked.location(), Some("/login?next=%2Fpayouts%2F7%3Ftab%3Ditems"), "[{backend:?}]");
        let login = c.get(asked.location().unwrap()).await;
        assert!(login.body.contains("action=\"/login?next=%2Fpayouts%2F7%3Ftab%3Ditems\""), "[{backend:?}]");
        let res = c
            .post_form(
                "/login?next=%2Fpayouts%2F7%3Ftab%3Ditems",
                &[("email", "manager@demo.local"), ("password", "demo")],
            )
            .await;
        assert_eq!(res.location(), Some("/login/second-factor?next=%2Fpayouts%2F7%3Ftab%3Ditems"), "[{backend:?}]");
        let factor = c.get(res.location().unwrap()).await;
        assert!(factor.body.contains("/login/second-factor?next=%2Fpayouts%2F7%3Ftab%3Ditems"), "[{backend:?}]");
        diesel::update(db::schema::users::table.filter(db::schema::users::email.eq("manager@demo.local")))
            .set(db::schema::users::totp_last_step.eq(None::<i64>))
            .execute(&mut **app.conn())
            .unwrap();
        let res = c
            .post_form("/login/second-factor?next=%2Fpayouts%2F7%3Ftab%3Ditems", &[("code", &totp_code(&secret))])
            .await;
        assert_eq!(res.location(), Some("/payouts/7?tab=items"), "[{backend:?}] {}", res.body);

        // Without a second factor, straight there; signed in already, the sign-in page sends on.
        let mut a = app.client().await;
        a.get("/approvals").await;
        a.get("/login?next=%2Fpayouts").await;
        let res =
            a.post_form("/login?next=%2Fpayouts", &[("email", "accountant@demo.local"), ("password", "demo")]).await;
        assert_eq!(res.location(), Some("/payouts"), "[{backend:?}]");
        assert_eq!(a.get("/login?next=%2Fpayees").await.location(), Some("/payees"), "[{backend:?}]");

        // Another site, in any spelling, is refused: the dashboard instead.
        for evil in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/x",
            "/%2F%2Fevil.example",
            "/%5Cevil.example",
            "%2F%2Fevil.example",
            "/%252F%252Fevil.example",
            "/\t/evil.example",
            "javascript:alert(1)",
        ] {
            let next: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
            let mut v = app.client().await;
            let page = v.get(&format!("/login?next={next}")).await;
            assert!(!page.body.contains("evil"), "[{backend:?}] {evil}: not carried in the form");
            let res = v
                .post_form(&format!("/login?next={next}"), &[("email", "accountant@demo.local"), ("password", "demo")])
                .await;
            assert_eq!(res.location(), Some("/"), "[{backend:?}] {evil}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A lookalike is shown whole, with what differs marked.

#[actix_web::test]
async fn the_lookalike_box_shows_both_addresses_whole_with_the_differences_marked() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_approval(&app, false);
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let mut api = app.client().await;
        let (known, lookalike) = evm_pair(0x51);
        let body = json!({"asset": "USDT_ERC20", "kind": "single", "description": "first",
                          "items": [{"address": known, "amount": "1"}]});
        api.send(api_request("POST", "/api/v1/payouts", &key, Some(body)).insert_header(("Idempotency-Key", "k")))
            .await;
        process_all(&app, &instant_rail(&app, &[]));

        let mut c = app.client().await;
        c.login("accountant@demo.local", "demo").await;
        c.get("/payouts/new/single").await;
        let fields = [("asset", "USDT_ERC20"), ("amount", "2"), ("address", lookalike.as_str()), ("description", "x")];
        let review = c.post_form("/payouts/new/single", &fields).await;
        let label_start = review.body.find("I checked line 1").expect("the box");
        let label = &review.body[label_start..label_start + review.body[label_start..].find("</label>").unwrap()];
        assert!(!label.contains('…'), "[{backend:?}] never shortened beside a tick-box: {label}");
        for address in [&known, &lookalike] {
            assert!(label.contains(&format!("title=\"{address}\"")), "[{backend:?}] {address} whole: {label}");
        }
        // The middle (32 characters) differs; the ends do not.
        let marked: Vec<&str> = label.split("<mark>").skip(1).map(|s| &s[..s.find("</mark>").unwrap()]).collect();
        assert_eq!(marked.len(), 2, "[{backend:?}] {label}");
        assert!(marked.iter().all(|m| m.len() == 32), "[{backend:?}] {marked:?}");
        assert!(review.body.contains("characters 7–38"), "[{backend:?}]");
    }
}

#[test]
fn a_lookalike_sentence_for_email_and_chat_names_both_whole_and_where_they_differ() {
    let (known, lookalike) = evm_pair(0x61);
    let l = payouts::service::payees::Lookalike {
        line: 3,
        address: lookalike.clone(),
        resembles: known.clone(),
        how: payouts::domain::lookalike::Resemblance::SameEnds,
        whose: payouts::service::payees::Whose::Paid { payout_id: 9, line: 1 },
        last_paid_at: None,
    };
    let s = l.sentence();
    assert!(s.contains(&lookalike) && s.contains(&known), "{s}");
    assert!(s.ends_with("they differ at characters 7–38."), "{s}");
}
