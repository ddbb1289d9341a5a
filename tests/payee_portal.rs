//! The payee's own side (issue 43), on every backend: an invitation link opens the payee's page
//! once; the payee's session reaches nothing of the staff side (every staff route answers 404,
//! route by route from the route table); the payee gives an address and proves it with a
//! signature made by an independent library; a manager approves it; expired, reused and
//! another payee's challenges are refused; sign-in links work once, for 15 minutes.

mod common;

use actix_web::http::StatusCode;
use common::signers::Signers;
use common::{TestApp, actor, backends};
use payouts::db;
use payouts::service::outbound::links;
use payouts::service::payees::book::{self, PayeeForm};
use payouts::service::portal::proofs::{self, AddressForm, ProofForm};

fn notifier(app: &TestApp) -> payouts::service::outbound::tell::Notifier {
    app.state.notifier()
}

/// A payee of the demo organization with an email, and the path of their invitation link.
fn invited(app: &TestApp, name: &str, email: &str) -> (i64, String) {
    let accountant = actor(app, "accountant@demo.local");
    let form = PayeeForm { name: name.into(), email: email.into(), ..Default::default() };
    let payee = book::create(&mut app.conn(), &accountant, &form).unwrap();
    let linked = links::invite_payee(&mut app.conn(), &notifier(app), &accountant, payee.id).unwrap();
    let path = url::Url::parse(&linked.link).unwrap().path().to_owned();
    (payee.id, path)
}

/// Every route of the table (`src/web/mod.rs`) with its method, ids filled in.
fn staff_routes() -> Vec<(String, String)> {
    let table = include_str!("../src/web/mod.rs");
    let mut out = Vec::new();
    let fill = |p: &str| {
        let mut s = String::new();
        let mut inside = false;
        for c in p.chars() {
            match c {
                '{' => inside = true,
                '}' => {
                    inside = false;
                    s.push('1');
                }
                c if !inside => s.push(c),
                _ => {}
            }
        }
        s
    };
    for (i, _) in table.match_indices(".route(\"") {
        let rest = &table[i + 8..];
        let path = &rest[..rest.find('"').unwrap()];
        let method = rest.split("web::").nth(1).and_then(|m| m.split('(').next()).unwrap_or("get");
        out.push((method.to_uppercase(), fill(path)));
    }
    for (i, _) in table.match_indices("api::resource(\"") {
        let rest = &table[i + 15..];
        let path = &rest[..rest.find('"').unwrap()];
        for method in ["GET", "POST", "PUT"] {
            out.push((method.to_owned(), format!("/api/v1{}", fill(path))));
        }
    }
    out.retain(|(_, p)| !(p == "/payee" || p.starts_with("/payee/") || p.starts_with("/static/") || p == "/healthz"));
    out.retain(|(_, p)| p != "/favicon.ico");
    out
}

#[actix_web::test]
async fn an_invited_payee_proves_an_address_a_manager_approves_and_the_staff_side_stays_closed() {
    let Some(signers) = Signers::find() else { return };
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (payee_id, link) = invited(&app, "Ada Lovelace", "ada@example.com");
        let mut payee = app.client().await;
        let page = payee.get(&link).await;
        assert_eq!(page.status, StatusCode::OK, "[{backend:?}] {}", page.body);
        assert!(page.body.contains("Continue to my page"), "[{backend:?}] a button: a mail scanner uses nothing");
        assert_eq!(
            page.header("referrer-policy"),
            Some("no-referrer"),
            "[{backend:?}] the token never leaves in a Referer"
        );
        let res = payee.post_form(&link, &[]).await;
        assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/payee")), "[{backend:?}]");
        let home = payee.get("/payee").await;
        assert_eq!(home.status, StatusCode::OK, "[{backend:?}]");
        assert!(home.body.contains("Ada Lovelace") && home.body.contains("Paid by Demo"), "[{backend:?}]");
        // The link worked once.
        let mut other = app.client().await;
        assert_eq!(other.get(&link).await.status, StatusCode::GONE, "[{backend:?}]");
        other.get("/payee/sign-in").await;
        assert_eq!(other.post_form(&link, &[]).await.status, StatusCode::GONE, "[{backend:?}]");
        assert_eq!(other.get("/payee").await.location(), Some("/payee/sign-in"), "[{backend:?}]");

        // Every staff route, with every method, answers 404 to the payee's session.
        let routes = staff_routes();
        assert!(routes.len() > 100, "[{backend:?}] the table was read: {}", routes.len());
        for (method, path) in &routes {
            let req = actix_web::test::TestRequest::default()
                .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
                .uri(path);
            let res = payee.send(req).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "[{backend:?}] {method} {path}");
        }

        // The payee gives an ETH address and proves it with eth-account's personal_sign.
        let secret = [7u8; 32];
        let address = signers.sign("evm", "", secret, "x").address;
        payee.get("/payee/addresses/new").await;
        let res = payee.post_form("/payee/addresses", &[("asset", "ETH"), ("address", &address)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let challenge_path = res.location().unwrap().to_owned();
        let id: i64 = challenge_path.rsplit('/').next().unwrap().parse().unwrap();
        let shown = payee.get(&challenge_path).await;
        let challenge = db::portal::challenge_of(&mut app.conn(), payee_id, id).unwrap().unwrap();
        assert!(challenge.message.contains(&address) && challenge.message.contains("Demo"), "[{backend:?}]");
        assert!(shown.body.contains(&challenge.nonce), "[{backend:?}] the page shows the message");
        // A signature by another key is named and changes nothing; the challenge stays open.
        let wrong = signers.sign("evm", "", [8u8; 32], &challenge.message);
        let res = payee.post_form(&challenge_path, &[("signature", &wrong.signature)]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("proof-signature-error") && res.body.contains(&wrong.address), "[{backend:?}]");
        assert!(db::payees::addresses_of(&mut app.conn(), payee_id).unwrap().is_empty(), "[{backend:?}]");
        let signed = signers.sign("evm", "", secret, &challenge.message);
        let res = payee.post_form(&challenge_path, &[("signature", &signed.signature)]).await;
        assert_eq!((res.status, res.location()), (StatusCode::SEE_OTHER, Some("/payee")), "[{backend:?}] {}", res.body);
        let rows = db::payees::addresses_of(&mut app.conn(), payee_id).unwrap();
        assert_eq!(rows.len(), 1, "[{backend:?}]");
        let row = &rows[0];
        assert!(row.submitted_by_payee && row.entered_by.is_none(), "[{backend:?}]");
        let proof: serde_json::Value = serde_json::from_str(row.proof.as_deref().unwrap()).unwrap();
        assert_eq!(proof["method"], "eip191", "[{backend:?}]");
        assert_eq!(proof["signature"], signed.signature.as_str(), "[{backend:?}] kept as evidence");
        let home = payee.get("/payee").await;
        assert!(home.body.contains("Waiting for a manager") && home.body.contains("Ownership proven"), "[{backend:?}]");
        // The same challenge again: refused, nothing added.
        payee.get(&challenge_path).await;
        let res = payee.post_form(&challenge_path, &[("signature", &signed.signature)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        assert_eq!(db::payees::addresses_of(&mut app.conn(), payee_id).unwrap().len(), 1, "[{backend:?}]");

        // Managers see who entered it and its proof, and approve it like any address.
        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        let details = manager.get(&format!("/payees/{payee_id}")).await;
        assert!(details.body.contains("the payee, ownership proven (EIP-191"), "[{backend:?}]");
        let m = actor(&app, "manager@demo.local");
        let decided = payouts::service::payees::decide_address(&mut app.conn(), &m, row.id, true, false, "").unwrap();
        assert_eq!(decided.status, payouts::domain::payee::AddressStatus::Approved, "[{backend:?}]");
        let home = payee.get("/payee").await;
        assert!(home.body.contains("Approved; in use from") || home.body.contains("In use"), "[{backend:?}]");

        // Signing out ends the session; the staff side opens again to the browser.
        let res = payee.post_form("/payee/sign-out", &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        assert_eq!(payee.get("/payee").await.location(), Some("/payee/sign-in"), "[{backend:?}]");
        assert_eq!(payee.get("/payouts").await.location().map(|l| l.starts_with("/login")), Some(true));
    }
}

#[actix_web::test]
async fn expired_reused_and_other_payees_challenges_are_refused() {
    let Some(signers) = Signers::find() else { return };
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (ada, _) = invited(&app, "Ada Lovelace", "ada@example.com");
        let (bob, _) = invited(&app, "Bob", "bob@example.com");
        let org = common::demo_org(&app);
        let who = |payee_id: i64, clock: payouts::clock::Clock| {
            let row = db::payees::find_in_org(&mut app.conn(), org, payee_id).unwrap().unwrap();
            payouts::service::portal::PayeeActor {
                org_id: org,
                payee_id,
                payee_name: row.name,
                org_name: "Demo".into(),
                clock,
            }
        };
        let now = payouts::clock::Clock::real();
        let sol = signers.sign("solana", "", [3u8; 32], "x").address;
        let form = AddressForm { asset: "SOL".into(), address: sol.clone() };
        let view = proofs::start(&mut app.conn(), &who(ada, now.clone()), &form).unwrap();
        let signed = signers.sign("solana", "", [3u8; 32], &view.message);
        let proof = ProofForm { signature: signed.signature.clone(), ..Default::default() };

        // Another payee cannot see or use Ada's challenge.
        let err = proofs::submit(&mut app.conn(), &who(bob, now.clone()), view.id, &proof).unwrap_err();
        assert!(matches!(err, payouts::error::AppError::NotFound), "[{backend:?}] {err}");
        // After 30 minutes the challenge has expired.
        let later = payouts::clock::Clock::fixed(payouts::clock::now() + chrono::Duration::minutes(31));
        let err = proofs::submit(&mut app.conn(), &who(ada, later), view.id, &proof).unwrap_err();
        assert!(err.to_string().contains("expired"), "[{backend:?}] {err}");
        // In time, it is accepted once.
        let done = proofs::submit(&mut app.conn(), &who(ada, now.clone()), view.id, &proof).unwrap();
        assert!(done.proven, "[{backend:?}]");
        let err = proofs::submit(&mut app.conn(), &who(ada, now.clone()), view.id, &proof).unwrap_err();
        assert!(err.to_string().contains("submitted already"), "[{backend:?}] {err}");
        // Two submissions of one challenge at the same instant enter one address.
        let view = proofs::start(
            &mut app.conn(),
            &who(bob, now.clone()),
            &AddressForm { asset: "SOL".into(), address: sol.clone() },
        )
        .unwrap();
        let signed = signers.sign("solana", "", [3u8; 32], &view.message);
        let proof = ProofForm { signature: signed.signature, ..Default::default() };
        let bob_actor = who(bob, now.clone());
        let results = common::at_once(&app, 4, |conn| proofs::submit(conn, &bob_actor, view.id, &proof).is_ok());
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "[{backend:?}] {results:?}");
        assert_eq!(db::payees::addresses_of(&mut app.conn(), bob).unwrap().len(), 1, "[{backend:?}]");

        // Without a signature: refused unless the organization allows it, then "not proven".
        let eth = signers.sign("evm", "", [9u8; 32], "x").address;
        let view =
            proofs::start(&mut app.conn(), &who(ada, now.clone()), &AddressForm { asset: "ETH".into(), address: eth })
                .unwrap();
        let skip = ProofForm { unproven: "yes".into(), ..Default::default() };
        let err = proofs::submit(&mut app.conn(), &who(ada, now.clone()), view.id, &skip).unwrap_err();
        assert!(err.to_string().contains("asks for a signature"), "[{backend:?}] {err}");
        let admin = actor(&app, "admin@demo.local");
        proofs::set_skip_allowed(&mut app.conn(), &admin, true).unwrap();
        let filter = payouts::db::audit::AuditFilter::default();
        let audit = payouts::db::audit::list_in_org(&mut app.conn(), org, &filter, None, 50).unwrap();
        assert!(audit.iter().any(|e| e.action == "settings.payee_proof"), "[{backend:?}] audited");
        let done = proofs::submit(&mut app.conn(), &who(ada, now.clone()), view.id, &skip).unwrap();
        assert!(!done.proven, "[{backend:?}]");
        let rows = db::payees::addresses_of(&mut app.conn(), ada).unwrap();
        assert!(rows.iter().any(|r| r.network == "Ethereum" && r.proof.is_none()), "[{backend:?}]");

        // Bad input is named by field and changes nothing.
        for (asset, address, field) in
            [("XYZ", "abc", "asset"), ("ETH", "0x123", "address"), ("ETH", &"a".repeat(300_000), "address")]
        {
            let form = AddressForm { asset: asset.into(), address: address.into() };
            match proofs::start(&mut app.conn(), &who(ada, now.clone()), &form) {
                Err(payouts::error::AppError::Validation(e)) => {
                    assert!(e.get(field).is_some(), "[{backend:?}] {field}")
                }
                other => panic!("[{backend:?}] {field}: {:?}", other.map(|v| v.id)),
            }
        }
    }
}

#[actix_web::test]
async fn a_sign_in_link_works_once_for_fifteen_minutes_and_says_nothing_of_unknown_emails() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (payee_id, _) = invited(&app, "Ada Lovelace", "ada@example.com");
        let at = payouts::clock::now();
        let mut browser = app.client().await;
        browser.get("/payee/sign-in").await;
        for email in ["ada@example.com", "nobody@example.com"] {
            let res = browser.post_form("/payee/sign-in", &[("email", email)]).await;
            assert_eq!(res.status, StatusCode::OK, "[{backend:?}]");
            assert!(res.body.contains("a sign-in link is on its way"), "[{backend:?}] the same answer for {email}");
        }
        let res = browser.post_form("/payee/sign-in", &[("email", "not an email")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("payee-email-error"), "[{backend:?}]");

        // A link taken straight from the service (no email here): once, and not after 15 minutes.
        let issued = db::write_tx(&mut app.conn(), |conn| {
            payouts::service::portal::links::sign_in_links_in_tx(conn, "ADA@example.com", at)
        })
        .unwrap();
        assert_eq!(issued.len(), 1, "[{backend:?}]");
        assert_eq!(issued[0].payee.id, payee_id, "[{backend:?}]");
        let token = issued[0].token.clone();
        let late = at + chrono::Duration::minutes(16);
        assert!(payouts::service::portal::links::open(&mut app.conn(), &token, late).is_err(), "[{backend:?}]");
        assert!(payouts::service::portal::links::open(&mut app.conn(), &token, at).is_ok(), "[{backend:?}]");
        assert!(payouts::service::portal::links::open(&mut app.conn(), &token, at).is_err(), "[{backend:?}] once");
        // At most five links an hour per payee, however often the form is sent.
        let more = db::write_tx(&mut app.conn(), |conn| {
            let mut n = 0;
            for _ in 0..10 {
                n += payouts::service::portal::links::sign_in_links_in_tx(conn, "ada@example.com", at)?.len();
            }
            Ok::<_, payouts::error::AppError>(n)
        })
        .unwrap();
        // The invitation, the form's link and the one above count too.
        assert_eq!(more, 2, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn the_payee_is_emailed_each_change_of_their_address_once() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let accountant = actor(&app, "accountant@demo.local");
        let form = PayeeForm { name: "Ada Lovelace".into(), email: "ada@example.com".into(), ..Default::default() };
        let payee = book::create(&mut app.conn(), &accountant, &form).unwrap();
        let n = payouts::service::outbound::tell::Notifier {
            public_url: url::Url::parse("https://payouts.example.com/").unwrap(),
            mail: true,
            stuck_after: chrono::Duration::hours(1),
        };
        let notify =
            || payouts::service::outbound::notices::notify(&mut app.conn(), &n, payouts::clock::now()).unwrap();
        let mails = || db::outbox::to_recipient(&mut app.conn(), "ada@example.com").unwrap();
        let address = common::tron_address(77);
        let entered = payouts::service::payees::addresses::enter_address(
            &mut app.conn(),
            &accountant,
            payee.id,
            "USDT_TRC20",
            &address,
        )
        .unwrap();
        notify();
        let sent = mails();
        assert_eq!(sent.len(), 1, "[{backend:?}]");
        assert_eq!(sent[0].subject, "A new TRON address for your payments from Demo Company", "[{backend:?}]");
        assert!(sent[0].body_text.contains(&address), "[{backend:?}] the whole address");
        assert!(sent[0].body_text.contains("https://payouts.example.com/payee/sign-in"), "[{backend:?}]");
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, false, false, "Not on file")
            .unwrap();
        notify();
        notify();
        let sent = mails();
        assert_eq!(sent.len(), 2, "[{backend:?}] once per change");
        assert!(sent.iter().any(|m| m.body_text.contains("was not accepted: Not on file")), "[{backend:?}]");
        // Nobody at the organization gets the payee's emails.
        assert!(
            db::outbox::to_recipient(&mut app.conn(), "manager@demo.local")
                .unwrap()
                .iter()
                .all(|m| m.kind != "payee_address")
        );
    }
}

#[actix_web::test]
async fn the_api_invites_a_payee_and_shows_each_addresss_proof() {
    let Some(signers) = Signers::find() else { return };
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let key = common::api_key(&app, "accountant@demo.local", "read,create");
        let mut api = app.client().await;
        let created = api
            .send(
                common::api_request(
                    "POST",
                    "/api/v1/payees",
                    &key,
                    Some(serde_json::json!({"name": "Grace", "email": "grace@example.com"})),
                )
                .insert_header(("Idempotency-Key", "grace-1")),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "[{backend:?}] {}", created.body);
        let id = common::json_of(&created)["id"].as_i64().unwrap();
        let res = api.send(common::api_request("POST", &format!("/api/v1/payees/{id}/invite"), &key, None)).await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}] {}", res.body);
        let body = common::json_of(&res);
        assert_eq!((body["email"].as_str(), body["emailed"].as_bool()), (Some("grace@example.com"), Some(false)));
        let link = url::Url::parse(body["link"].as_str().unwrap()).unwrap().path().to_owned();
        // No email on file: named; unknown payee: 404.
        let bare = api
            .send(
                common::api_request("POST", "/api/v1/payees", &key, Some(serde_json::json!({"name": "Nomail"})))
                    .insert_header(("Idempotency-Key", "nomail-1")),
            )
            .await;
        let bare = common::json_of(&bare)["id"].as_i64().unwrap();
        let res = api.send(common::api_request("POST", &format!("/api/v1/payees/{bare}/invite"), &key, None)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("email"), "[{backend:?}]");
        let res = api.send(common::api_request("POST", "/api/v1/payees/999999/invite", &key, None)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "[{backend:?}]");

        // Grace proves a Litecoin address (BIP-137 P2WPKH header); the API shows the proof.
        let mut grace = app.client().await;
        grace.get(&link).await;
        grace.post_form(&link, &[]).await;
        let address = signers.sign("litecoin", "p2wpkh", [5u8; 32], "x").address;
        grace.get("/payee/addresses/new").await;
        let res = grace.post_form("/payee/addresses", &[("asset", "LTC"), ("address", &address)]).await;
        let path = res.location().expect("to the challenge").to_owned();
        let challenge_id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
        let message = db::portal::challenge_of(&mut app.conn(), id, challenge_id).unwrap().unwrap().message;
        let signed = signers.sign("litecoin", "p2wpkh", [5u8; 32], &message);
        grace.get(&path).await;
        let res = grace.post_form(&path, &[("signature", &signed.signature)]).await;
        assert_eq!(res.location(), Some("/payee"), "[{backend:?}] {}", res.body);
        let res = api.send(common::api_request("GET", &format!("/api/v1/payees/{id}"), &key, None)).await;
        let body = common::json_of(&res);
        let a = &body["addresses"][0];
        assert_eq!((a["state"].as_str(), a["submitted_by_payee"].as_bool()), (Some("pending"), Some(true)));
        assert_eq!(a["ownership_proof"]["method"], "signed_message", "[{backend:?}]");
        assert_eq!(a["ownership_proof"]["signature"], signed.signature.as_str(), "[{backend:?}]");
        // The webhook topic is written in the same transaction.
        let events = db::events::of_org(&mut app.conn(), common::demo_org(&app)).unwrap();
        let submitted = events.iter().find(|e| e.topic == "payee.address_submitted").expect("the webhook topic");
        assert!(submitted.data.contains(&address) && submitted.data.contains("signed_message"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn the_payee_reads_prints_and_downloads_what_they_were_paid_and_nothing_more() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        db::orgs::set_approval_required(&mut app.conn(), common::demo_org(&app), false).unwrap();
        let (payee_id, link) = invited(&app, "Ada Lovelace", "ada@example.com");
        let accountant = actor(&app, "accountant@demo.local");
        let address = common::tron_address(91);
        let entered = payouts::service::payees::addresses::enter_address(
            &mut app.conn(),
            &accountant,
            payee_id,
            "USDT_TRC20",
            &address,
        )
        .unwrap();
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, true, false, "").unwrap();
        common::end_cooling_off(&app);
        let mut staff = app.client().await;
        staff.login("accountant@demo.local", "demo").await;
        common::payout_id_of(&staff.single_payout("USDT_TRC20", "12.5", &address, "December salary").await);
        common::payout_id_of(&staff.single_payout("USDT_TRC20", "30", &common::tron_address(92), "Someone else").await);
        common::process_all(&app, &common::instant_rail(&app, &[]));

        let mut payee = app.client().await;
        payee.get(&link).await;
        payee.post_form(&link, &[]).await;
        let home = payee.get("/payee").await;
        assert!(home.body.contains("12.5 USDT_TRC20") && home.body.contains("December salary"), "[{backend:?}]");
        assert!(!home.body.contains("Someone else"), "[{backend:?}] only their own rows");
        let page = payee.get("/payee/statement").await;
        assert_eq!(page.status, StatusCode::OK, "[{backend:?}]");
        assert!(page.body.contains("Statement of payments") && page.body.contains("December salary"), "[{backend:?}]");
        assert!(!page.body.to_lowercase().contains("service fee"), "[{backend:?}] not the organization's fees");
        let csv = payee.get("/payee/statement.csv").await;
        assert_eq!(csv.status, StatusCode::OK, "[{backend:?}]");
        let mut lines = csv.body.lines();
        let header = lines.next().unwrap();
        assert_eq!(
            header, "paid_at_utc,asset,network,amount,tx_hash,explorer_url,description,currency,value_at_payment",
            "[{backend:?}]"
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 1, "[{backend:?}] {}", csv.body);
        assert!(rows[0].contains(",USDT_TRC20,TRON,12.5,") && rows[0].contains("December salary"), "[{backend:?}]");
        // A period that ended before the payment shows nothing; a bad day is named.
        let past = payee.get("/payee/statement?from=2020-01-01&to=2020-01-31").await;
        assert!(past.body.contains("Nothing was paid to you in this period"), "[{backend:?}]");
        let bad = payee.get("/payee/statement?from=2026-13-01").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(bad.body.contains("statement-from-error"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_paid_row_sends_its_payee_one_receipt_where_the_organization_enables_it() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let org = common::demo_org(&app);
        db::orgs::set_approval_required(&mut app.conn(), org, false).unwrap();
        let (payee_id, _) = invited(&app, "Ada Lovelace", "ada@example.com");
        let accountant = actor(&app, "accountant@demo.local");
        let address = common::tron_address(93);
        let entered = payouts::service::payees::addresses::enter_address(
            &mut app.conn(),
            &accountant,
            payee_id,
            "USDT_TRC20",
            &address,
        )
        .unwrap();
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, entered, true, false, "").unwrap();
        common::end_cooling_off(&app);
        let n = payouts::service::outbound::tell::Notifier {
            public_url: url::Url::parse("https://payouts.example.com/").unwrap(),
            mail: true,
            stuck_after: chrono::Duration::hours(1),
        };
        let notify = || {
            while payouts::service::outbound::notices::notify(&mut app.conn(), &n, payouts::clock::now()).unwrap() > 0 {
            }
        };
        let receipts = |to: &str| {
            db::outbox::to_recipient(&mut app.conn(), to)
                .unwrap()
                .into_iter()
                .filter(|m| m.kind == "payee_receipt")
                .collect::<Vec<_>>()
        };
        let mut staff = app.client().await;
        staff.login("accountant@demo.local", "demo").await;
        common::payout_id_of(&staff.single_payout("USDT_TRC20", "12.5", &address, "December salary").await);
        common::process_all(&app, &common::instant_rail(&app, &[]));
        notify();
        assert!(receipts("ada@example.com").is_empty(), "[{backend:?}] off by default");

        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/approvals").await;
        let res = admin.post_form("/settings/payees/receipts", &[("receipts", "yes")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        assert!(db::orgs::find(&mut app.conn(), org).unwrap().payee_receipts, "[{backend:?}]");
        let paid = common::payout_id_of(&staff.single_payout("USDT_TRC20", "7", &address, "Bonus").await);
        common::payout_id_of(&staff.single_payout("USDT_TRC20", "9", &common::tron_address(94), "Other").await);
        common::process_all(&app, &common::instant_rail(&app, &[]));
        notify();
        notify();
        let sent = receipts("ada@example.com");
        assert_eq!(sent.len(), 1, "[{backend:?}] one receipt, for the row paid to Ada");
        assert_eq!(sent[0].subject, "Payment received: 7 USDT_TRC20 from Demo Company", "[{backend:?}]");
        let tx = db::payouts::items(&mut app.conn(), paid).unwrap()[0].tx_hash.clone().unwrap();
        let body = &sent[0].body_text;
        assert!(
            body.contains(&tx) && body.contains(&format!("https://tronscan.org/#/transaction/{tx}")),
            "[{backend:?}]"
        );
        assert!(body.contains("Description: Bonus") && body.contains("Network: TRON"), "[{backend:?}]");
        assert!(!body.to_lowercase().contains("fee"), "[{backend:?}] nothing of the organization's fees");
        assert!(receipts("accountant@demo.local").is_empty(), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_payee_import_invites_the_lines_that_ask_for_it() {
    for backend in backends() {
        let args = payouts::config::ServeArgs {
            smtp_url: Some("smtp://127.0.0.1:2525?tls=none".into()),
            ..payouts::config::ServeArgs::default()
        };
        let app = TestApp::start_with(backend, payouts::Config::from_args(&args).unwrap()).await;
        let mut staff = app.client().await;
        staff.login("accountant@demo.local", "demo").await;
        staff.get("/payees").await;
        let invitations = |to: &str| {
            db::outbox::to_recipient(&mut app.conn(), to)
                .unwrap()
                .into_iter()
                .filter(|m| m.kind == "payee_invitation")
                .count()
        };

        // A bad value, and an invitation with nowhere to go, are named by line and column.
        let bad = "name,email,invite\nAda,ada@example.com,maybe\nGrace,,yes\n";
        let res = staff.upload("/payees/import", "payees.csv", bad.as_bytes()).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let page = staff.get("/payees").await;
        assert!(page.body.contains("Line 2, column invite: write yes or no."), "[{backend:?}] {}", page.body);
        assert!(page.body.contains("Line 3, column invite: the invitation goes to"), "[{backend:?}]");
        assert_eq!(invitations("ada@example.com"), 0, "[{backend:?}] nothing imported, nobody invited");

        let good = "name,external_id,email,invite\nAda,E1,ada@example.com,yes\nGrace,E2,grace@example.com,no\n\
                    Linus,E3,linus@example.com,\n";
        staff.upload("/payees/import", "payees.csv", good.as_bytes()).await;
        let page = staff.get("/payees").await;
        assert!(page.body.contains("1 of 1 invited to their own page by email"), "[{backend:?}] {}", page.body);
        assert_eq!(invitations("ada@example.com"), 1, "[{backend:?}]");
        assert_eq!(invitations("grace@example.com") + invitations("linus@example.com"), 0, "[{backend:?}]");
    }
}
