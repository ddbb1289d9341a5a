//! Lookalike addresses (address poisoning), on every backend: a row whose address shares its
//! first and last four characters with a known address (or differs from one in a character or
//! two) is flagged on the editor, the reviews, the approval page, the API quote and
//! `check-registry`; it cannot be confirmed without naming its line, and it needs one approval
//! more. The pairs are real addresses with valid checksums, made here for EVM, TRON and Bitcoin.

mod common;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use common::{TestApp, actor, api_key, api_request, backends, end_cooling_off, instant_rail, json_of, process_all};
use diesel::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Deterministic bytes: the SHA-256 of a counter.
fn bytes(seed: &str, n: u64) -> [u8; 32] {
    Sha256::digest(format!("{seed}/{n}").as_bytes()).into()
}

/// What a person compares: the four characters after the network prefix and the last four.
fn ends(address: &str, prefix: usize) -> (String, String) {
    let lower = address.to_ascii_lowercase();
    (lower[prefix..prefix + 4].to_owned(), lower[lower.len() - 4..].to_owned())
}

/// Two different valid addresses with the same ends, found as a birthday collision among
/// addresses made by `make` from a seed (each checksum is the chain's own, so the ends cannot
/// be chosen directly).
fn collision(seed: &str, prefix: usize, make: impl Fn([u8; 32]) -> String) -> (String, String) {
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for n in 0..2_000_000u64 {
        let address = make(bytes(seed, n));
        match seen.get(&ends(&address, prefix)) {
            Some(first) if *first != address => return (first.clone(), address),
            _ => {
                seen.insert(ends(&address, prefix), address);
            }
        }
    }
    panic!("no collision found");
}

/// TRON: base58check of 0x41 and 20 bytes, the first three fixed so the leading characters agree.
fn tron_pair() -> (String, String) {
    collision("tron", 1, |b| {
        let mut payload = vec![0x41u8, 0x5a, 0x17, 0xc3];
        payload.extend_from_slice(&b[..17]);
        bs58::encode(payload).with_check().into_string()
    })
}

/// Bitcoin: bech32 P2WPKH (`bc1q…`), the program's first two bytes fixed.
fn bitcoin_pair() -> (String, String) {
    collision("btc", 3, |b| {
        let mut program = vec![0x3c, 0x91];
        program.extend_from_slice(&b[..18]);
        bech32::segwit::encode_v0(bech32::hrp::BC, &program).unwrap()
    })
}

/// EVM: any 20 bytes are an address; the EIP-55 case is the checksum.
fn evm(hex: &str) -> String {
    payouts::domain::address::eip55(hex)
}

fn evm_pair() -> (String, String) {
    let middle = |seed: &str| bytes(seed, 0)[..16].iter().map(|b| format!("{b:02x}")).collect::<String>();
    (evm(&format!("a7c4{}93e1", middle("one"))), evm(&format!("a7c4{}93e1", middle("two"))))
}

/// A small amount every demo balance of `asset` can pay many times.
fn amount_of(asset: &str) -> &'static str {
    if asset == "BTC" { "0.01" } else { "1" }
}

fn set_policy(app: &TestApp, required: bool, needed: i32) {
    let admin = actor(app, "admin@demo.local");
    let mut fields = vec![("needed".to_string(), needed.to_string())];
    if required {
        fields.push(("required".to_string(), "yes".to_string()));
    }
    payouts::service::payouts::approvals::set_policy(&mut app.conn(), &admin, &fields).unwrap();
}

fn payout_count(app: &TestApp) -> i64 {
    use payouts::db::schema::payouts::dsl as p;
    p::payouts.count().get_result(&mut **app.conn()).unwrap()
}

fn acknowledged_events(app: &TestApp) -> Vec<Value> {
    use payouts::db::schema::events::dsl as e;
    e::events
        .filter(e::topic.eq("payout.lookalike_acknowledged"))
        .select(e::data)
        .load::<String>(&mut **app.conn())
        .unwrap()
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Pays `address` once through the API with approval off, to the end: the address is then one
/// the organization paid.
async fn pay<S, B>(app: &TestApp, client: &mut common::Client<S>, key: &str, asset: &str, address: &str) -> i64
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let body = json!({"asset": asset, "kind": "single", "description": "first",
                      "items": [{"address": address, "amount": amount_of(asset)}]});
    let req = api_request("POST", "/api/v1/payouts", key, Some(body)).insert_header(("Idempotency-Key", address));
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    process_all(app, &instant_rail(app, &[]));
    json_of(&res)["id"].as_i64().unwrap()
}

/// Adds payee `name` with `address` on USDT_TRC20's network, entered by the accountant and
/// approved by the manager, payable at once.
async fn payee_with<S, B>(
    app: &TestApp,
    accountant: &mut common::Client<S>,
    manager: &mut common::Client<S>,
    name: &str,
    address: &str,
) -> i64
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    accountant.get("/payees").await;
    let res = accountant.post_form("/payees", &[("name", name), ("external_id", ""), ("email", "")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let payee: i64 = res.location().unwrap().trim_start_matches("/payees/").parse().unwrap();
    accountant.get(&format!("/payees/{payee}")).await;
    let res = accountant
        .post_form(&format!("/payees/{payee}/addresses"), &[("asset", "USDT_TRC20"), ("address", address)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let id = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
    manager.get("/approvals").await;
    let res = manager.post_form(&format!("/payee-addresses/{id}/approve"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    end_cooling_off(app);
    payee
}

#[test]
fn the_generated_pairs_are_valid_lookalikes_with_real_checksums() {
    for (asset, (known, lookalike)) in
        [("USDT_TRC20", tron_pair()), ("BTC", bitcoin_pair()), ("USDT_ERC20", evm_pair())]
    {
        let a = payouts::domain::asset::find(asset).unwrap();
        assert_eq!(payouts::domain::Address::parse(a, &known).map(|x| x.value), Ok(known.clone()));
        assert_eq!(payouts::domain::Address::parse(a, &lookalike).map(|x| x.value), Ok(lookalike.clone()));
        assert_ne!(known, lookalike);
        assert_eq!(
            payouts::domain::lookalike::resemble(&lookalike, &known),
            Some(payouts::domain::lookalike::Resemblance::SameEnds),
            "{known} {lookalike}"
        );
    }
}

#[actix_web::test]
async fn a_registry_row_like_a_payees_address_is_flagged_refused_unless_acknowledged_and_needs_one_approval_more() {
    let (known, lookalike) = tron_pair();
    let fresh = common::tron_address(7);
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_policy(&app, true, 1);
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        payee_with(&app, &mut accountant, &mut manager, "Alice Example", &known).await;

        let draft = accountant.start_draft("USDT_TRC20", "November salaries").await;
        let csv = format!("address,amount\n{fresh},10\n{lookalike},20\n{known},30\n");
        let res = accountant.upload(&format!("/payouts/drafts/{draft}/upload"), "salaries.csv", csv.as_bytes()).await;
        assert!(res.status.is_success() || res.status.is_redirection(), "[{backend:?}] {}", res.body);

        // The editor names the row's twin and whose it is; the totals bar counts it.
        let editor = accountant.get(&format!("/payouts/drafts/{draft}")).await;
        assert!(editor.body.contains("Looks like a known address"), "[{backend:?}] {}", editor.body);
        assert!(editor.body.contains(&known), "[{backend:?}]");
        assert!(editor.body.contains("payee Alice Example&#39;s address"), "[{backend:?}]");
        assert!(editor.body.contains("<strong>1</strong> lookalike address<"), "[{backend:?}]");

        // The review asks for line 2 by name; without it nothing is created.
        let review = accountant.get(&format!("/payouts/drafts/{draft}/review")).await;
        assert!(review.body.contains("name=\"acknowledge_lookalikes\" value=\"2\""), "[{backend:?}]");
        assert!(review.body.contains("I checked line 2"), "[{backend:?}]");
        assert!(review.body.contains("Lookalike addresses"), "[{backend:?}]");
        let before = payout_count(&app);
        let refused = accountant.confirm_draft(draft, &[]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", refused.body);
        assert!(refused.body.contains("acknowledge line 2 to confirm"), "[{backend:?}] {}", refused.body);
        // Acknowledging another line is not acknowledging this one.
        let refused = accountant.confirm_draft(draft, &[("acknowledge_lookalikes", "1")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert_eq!(payout_count(&app), before, "[{backend:?}] nothing stored");

        let res = accountant.confirm_draft(draft, &[("acknowledge_lookalikes", "2")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let id = common::payout_id_of(&res);
        let row = payouts::db::payouts::find(&mut app.conn(), id).unwrap();
        assert_eq!(row.status.as_str(), "pending", "[{backend:?}]");
        assert_eq!(row.approvals_required, 2, "[{backend:?}] the policy's one, and one more");

        // Told on the event stream: who acknowledged which line, and what it resembles.
        let events = acknowledged_events(&app);
        assert_eq!(events.len(), 1, "[{backend:?}]");
        assert_eq!(events[0]["payout_id"], id);
        assert_eq!(events[0]["acknowledged_by"]["email"], "accountant@demo.local");
        assert_eq!(events[0]["lines"].as_array().unwrap().len(), 1);
        assert_eq!(events[0]["lines"][0]["line"], 2);
        assert_eq!(events[0]["lines"][0]["address"], lookalike.as_str());
        assert_eq!(events[0]["lines"][0]["resembles"], known.as_str());
        assert_eq!(events[0]["lines"][0]["payee"], "Alice Example");

        // The manager's approval page shows the row and the address it resembles.
        let page = manager.get(&format!("/payouts/{id}")).await;
        assert!(page.body.contains("1 row pays a lookalike address"), "[{backend:?}] {}", page.body);
        assert!(page.body.contains(&lookalike) && page.body.contains(&known), "[{backend:?}]");
        assert!(
            page.body.contains("acknowledged the lookalike address on line 2"),
            "[{backend:?}] the timeline says who"
        );

        // Told to the managers (not to whoever acknowledged it), beside the approval request.
        let delivery = app.state.delivery();
        payouts::service::outbound::sender::take_new(&mut app.conn(), &delivery).unwrap();
        let inbox = |email: &str| {
            let id = actor(&app, email).user_id;
            payouts::db::notices::inbox(&mut app.conn(), id, None, 100).unwrap()
        };
        let told = inbox("manager@demo.local");
        let subject = format!("Lookalike address on payout #{id}, acknowledged by accountant@demo.local");
        let notice = told.iter().find(|n| n.subject == subject).unwrap_or_else(|| panic!("[{backend:?}] {told:?}"));
        assert!(notice.body.contains(&lookalike) && notice.body.contains(&known), "[{backend:?}] {}", notice.body);
        assert!(
            told.iter().any(|n| n.body.contains("1 row pays a lookalike address")),
            "[{backend:?}] the approval request counts it"
        );
        assert!(!inbox("accountant@demo.local").iter().any(|n| n.subject == subject), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn the_api_names_lookalike_rows_in_the_quote_and_refuses_them_unless_acknowledged() {
    let pairs = [("USDT_ERC20", evm_pair()), ("USDT_TRC20", tron_pair()), ("BTC", bitcoin_pair())];
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_policy(&app, false, 1);
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let mut client = app.client().await;
        for (asset, (known, lookalike)) in &pairs {
            let paid_by = pay(&app, &mut client, &key, asset, known).await;
            let body = |ack: Value| {
                json!({"asset": asset, "kind": "mass", "purpose": "bonus", "acknowledge_lookalikes": ack,
                       "items": [{"address": known, "amount": amount_of(asset)},
                                 {"address": lookalike, "amount": amount_of(asset)}]})
            };
            let quote =
                json_of(&client.send(api_request("POST", "/api/v1/payouts/quote", &key, Some(body(json!([]))))).await);
            let found = quote["lookalikes"].as_array().unwrap();
            assert_eq!(found.len(), 1, "[{backend:?}] {asset}: only the lookalike, never the known address: {quote}");
            assert_eq!(found[0]["line"], 2);
            assert_eq!(found[0]["resembles"], known.as_str());
            assert_eq!(found[0]["how"], "same_ends");
            assert_eq!(found[0]["paid_by_payout"], paid_by);
            assert_eq!(found[0]["paid_by_line"], 1);
            assert!(found[0]["last_paid_at"].is_string(), "[{backend:?}] {asset}");
            assert!(quote["items"][1]["warnings"][0]["message"].as_str().unwrap().contains(known.as_str()));

            let before = payout_count(&app);
            let req = api_request("POST", "/api/v1/payouts", &key, Some(body(json!([]))))
                .insert_header(("Idempotency-Key", format!("{asset}-plain")));
            let res = client.send(req).await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {asset}: {}", res.body);
            let problem = json_of(&res);
            assert_eq!(problem["errors"][0]["field"], "acknowledge_lookalikes", "[{backend:?}] {problem}");
            assert!(problem["errors"][0]["message"].as_str().unwrap().starts_with(&format!("Line 2: {lookalike}")));
            assert_eq!(payout_count(&app), before, "[{backend:?}] {asset}: nothing stored");

            let req = api_request("POST", "/api/v1/payouts", &key, Some(body(json!([2]))))
                .insert_header(("Idempotency-Key", format!("{asset}-acknowledged")));
            let res = client.send(req).await;
            assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {asset}: {}", res.body);
            let created = json_of(&res);
            // Approval is off, and a lookalike still needs a manager.
            assert_eq!(created["status"], "pending", "[{backend:?}] {asset}");
            assert_eq!(created["approvals_required"], 1, "[{backend:?}] {asset}");
        }

        // A near copy: one character changed near the start, where the ends no longer match.
        let (known, _) = &pairs[0].1;
        let mut chars: Vec<char> = known.to_ascii_lowercase().chars().collect();
        chars[3] = if chars[3] == '0' { '1' } else { '0' };
        let near = evm(&chars[2..].iter().collect::<String>());
        let body = json!({"asset": "USDT_ERC20", "kind": "single", "description": "x",
                          "items": [{"address": near, "amount": "1"}]});
        let quote = json_of(&client.send(api_request("POST", "/api/v1/payouts/quote", &key, Some(body))).await);
        assert_eq!(quote["lookalikes"][0]["how"], "near_copy", "[{backend:?}] {quote}");
        assert_eq!(quote["lookalikes"][0]["line"], 1);

        // An address only ever in a failed payout is not known: its twin is not flagged.
        let (failed, twin) = bitcoin_pair_from("failed");
        let body = json!({"asset": "BTC", "kind": "single", "description": "x", "items": [{"address": failed, "amount": "0.001"}]});
        let req = api_request("POST", "/api/v1/payouts", &key, Some(body)).insert_header(("Idempotency-Key", "fails"));
        assert_eq!(client.send(req).await.status, StatusCode::CREATED);
        process_all(&app, &instant_rail(&app, &[failed.as_str()]));
        let body = json!({"asset": "BTC", "kind": "single", "description": "x", "items": [{"address": twin, "amount": "0.001"}]});
        let quote = json_of(&client.send(api_request("POST", "/api/v1/payouts/quote", &key, Some(body))).await);
        assert_eq!(quote["lookalikes"], json!([]), "[{backend:?}]");
    }
}

fn bitcoin_pair_from(seed: &str) -> (String, String) {
    collision(seed, 3, |b| {
        let mut program = vec![0x52, 0x07];
        program.extend_from_slice(&b[..18]);
        bech32::segwit::encode_v0(bech32::hrp::BC, &program).unwrap()
    })
}

#[actix_web::test]
async fn a_single_payout_to_a_lookalike_shows_the_review_again_until_its_line_is_acknowledged() {
    let (known, lookalike) = tron_pair();
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_policy(&app, false, 1);
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let mut client = app.client().await;
        pay(&app, &mut client, &key, "USDT_TRC20", &known).await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        // The live check says it as the field is left, as the review will (issue 44, item 6).
        let check = |address: &str| {
            [("field", "address"), ("asset", "USDT_TRC20"), ("amount", ""), ("address", address), ("description", "")]
                .map(|(k, v)| (k, v.to_owned()))
        };
        let fields = check(&lookalike);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let said = client.post_form("/payouts/new/single/check", &fields).await;
        assert!(
            said.body.contains("looks like a known one") && said.body.contains(&known),
            "[{backend:?}] {}",
            said.body
        );
        assert!(!said.body.contains("Valid USDT_TRC20 address"), "[{backend:?}]");
        let fields = check(&known);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let said = client.post_form("/payouts/new/single/check", &fields).await;
        assert!(said.body.contains("Valid USDT_TRC20 address") && !said.body.contains("looks like"), "[{backend:?}]");
        let fields =
            [("asset", "USDT_TRC20"), ("amount", "5"), ("address", lookalike.as_str()), ("description", "Invoice 12")];
        let review = client.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::OK, "[{backend:?}] {}", review.body);
        assert!(review.body.contains("Lookalike address"), "[{backend:?}]");
        assert!(review.body.contains(&known), "[{backend:?}]");
        let token = common::hidden_field(&review.body, "token").unwrap();
        let digest = common::hidden_field(&review.body, "digest").unwrap();
        let mut confirm = vec![("token", token.as_str()), ("digest", digest.as_str())];
        confirm.extend_from_slice(&fields);
        let before = payout_count(&app);
        let again = client.post_form("/payouts/new/single/confirm", &confirm).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", again.body);
        assert!(again.body.contains("acknowledge line 1 to confirm"), "[{backend:?}]");
        assert!(again.body.contains("name=\"acknowledge_lookalikes\""), "[{backend:?}] the review, not the form");
        assert_eq!(payout_count(&app), before);
        confirm.push(("acknowledge_lookalikes", "1"));
        let res = client.post_form("/payouts/new/single/confirm", &confirm).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let row = payouts::db::payouts::find(&mut app.conn(), common::payout_id_of(&res)).unwrap();
        assert_eq!((row.status.as_str(), row.approvals_required), ("pending", 1), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn an_entered_payee_address_like_another_payees_is_flagged_on_the_approvals_page() {
    let (known, lookalike) = tron_pair();
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let mut manager = app.client().await;
        manager.login("manager@demo.local", "demo").await;
        payee_with(&app, &mut accountant, &mut manager, "Bob Known", &known).await;

        accountant.get("/payees").await;
        let res = accountant.post_form("/payees", &[("name", "Carol New"), ("external_id", ""), ("email", "")]).await;
        let carol: i64 = res.location().unwrap().trim_start_matches("/payees/").parse().unwrap();
        accountant.get(&format!("/payees/{carol}")).await;
        let res = accountant
            .post_form(&format!("/payees/{carol}/addresses"), &[("asset", "USDT_TRC20"), ("address", &lookalike)])
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);

        let queue = manager.get("/approvals").await;
        assert!(queue.body.contains("Approve address for Carol New"), "[{backend:?}]");
        assert!(queue.body.contains("Looks like a known address"), "[{backend:?}] {}", queue.body);
        assert!(queue.body.contains("payee Bob Known&#39;s address"), "[{backend:?}]");

        let key = api_key(&app, "manager@demo.local", "read");
        let mut api = app.client().await;
        let pending = json_of(&api.send(api_request("GET", "/api/v1/payee-addresses/pending", &key, None)).await);
        let entry = pending.as_array().unwrap().iter().find(|p| p["address"] == lookalike.as_str()).unwrap().clone();
        assert_eq!(entry["lookalike"]["resembles"], known.as_str(), "[{backend:?}] {pending}");
        assert_eq!(entry["lookalike"]["payee"], "Bob Known");
    }
}

#[actix_web::test]
async fn the_check_is_an_index_lookup_built_for_addresses_known_before_the_index() {
    let (known, lookalike) = evm_pair();
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_policy(&app, false, 1);
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let mut client = app.client().await;
        pay(&app, &mut client, &key, "USDT_ERC20", &known).await;
        let body = json!({"asset": "USDT_ERC20", "kind": "single", "description": "x",
                          "items": [{"address": lookalike, "amount": "1"}]});
        macro_rules! quote {
            ($client:expr) => {
                $client.send(api_request("POST", "/api/v1/payouts/quote", &key, Some(body.clone())))
            };
        }
        assert_eq!(json_of(&quote!(client).await)["lookalikes"].as_array().unwrap().len(), 1);

        // As a database from before the index: no keys, the data step pending. Without keys the
        // check finds nothing (it does not scan); migrating builds them from the book and payouts.
        {
            use payouts::db::schema::{address_keys, pending_backfills};
            let mut conn = app.conn();
            diesel::delete(address_keys::table).execute(&mut **conn).unwrap();
            diesel::insert_into(pending_backfills::table)
                .values(pending_backfills::name.eq("address_keys"))
                .execute(&mut **conn)
                .unwrap();
        }
        assert_eq!(json_of(&quote!(client).await)["lookalikes"], json!([]), "[{backend:?}]");
        payouts::db::migrate(&mut app.conn()).unwrap();
        let found = json_of(&quote!(client).await);
        assert_eq!(found["lookalikes"][0]["resembles"], known.as_str(), "[{backend:?}] {found}");
        let left: i64 = payouts::db::schema::pending_backfills::table.count().get_result(&mut **app.conn()).unwrap();
        assert_eq!(left, 0, "[{backend:?}] the data step runs once");

        // check-registry compares a file with the organization's known addresses when asked.
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, format!("address,amount\n{known},1\n{lookalike},2\n").as_bytes()).unwrap();
        let url = common::url_string(backend, &app.url);
        let run = |extra: &[&str]| {
            let mut args = vec!["check-registry", "--asset", "USDT_ERC20", "--format", "json"];
            args.extend_from_slice(extra);
            args.push(file.path().to_str().unwrap());
            std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
                .args(&args)
                .env("DATABASE_URL", &url)
                .output()
                .unwrap()
        };
        let out = run(&["--org", "Demo Company"]);
        assert_eq!(out.status.code(), Some(0), "[{backend:?}] {}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["warnings"], json!([]), "[{backend:?}] the known address is not flagged");
        let warning = lines[1]["warnings"][0]["message"].as_str().unwrap();
        assert!(
            warning.starts_with("lookalike address: Line 3:") && warning.contains(&known),
            "[{backend:?}] {warning}"
        );
        assert_eq!(lines[2]["summary"]["lookalikes"], 1);
        // Offline, as before: no database is read and no lookalike is named.
        let offline = run(&[]);
        let text = String::from_utf8_lossy(&offline.stdout);
        assert!(!text.contains("lookalike"), "[{backend:?}] {text}");
        let unknown = run(&["--org", "No Such Org"]);
        assert_eq!(unknown.status.code(), Some(2), "[{backend:?}]");
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("no organization named"));
    }
}

#[actix_web::test]
async fn two_payouts_to_the_same_new_addresses_at_once_both_land_and_each_address_is_indexed_once_paid() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let addresses: Vec<String> =
        (0..300).map(|n| evm(&bytes("race", n)[..20].iter().map(|b| format!("{b:02x}")).collect::<String>())).collect();
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_policy(&app, false, 1);
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let clock = payouts::clock::Clock::real();
        let caller = payouts::service::access::api_keys::authenticate(&mut app.conn(), &key, &clock).unwrap().unwrap();
        let turn = AtomicUsize::new(0);
        // Two assets, so the balance rows' locks do not put them in turn; the rows in opposite orders.
        let results = common::at_once(&app, 2, |conn| {
            let me = turn.fetch_add(1, Ordering::SeqCst);
            let (asset, amount) = if me == 0 { ("USDT_ERC20", "1") } else { ("ETH", "0.001") };
            let mut items: Vec<Value> = addresses.iter().map(|a| json!({"address": a, "amount": amount})).collect();
            if me == 1 {
                items.reverse();
            }
            let req: payouts::web::api::payouts_json::PayoutRequest =
                serde_json::from_value(json!({"asset": asset, "kind": "mass", "purpose": "race", "items": items}))
                    .unwrap();
            let limits = payouts::domain::registry::Limits::default();
            payouts::web::api::payouts_json::create(conn, &caller, &format!("race-{me}"), &req, &limits)
                .map(|a| a.status)
                .map_err(|e| e.to_string())
        });
        assert_eq!(results, [Ok(201), Ok(201)], "[{backend:?}]");
        use payouts::db::schema::address_keys::dsl as k;
        let indexed = || -> i64 {
            k::address_keys.filter(k::address.eq_any(&addresses)).count().get_result(&mut **app.conn()).unwrap()
        };
        assert_eq!(indexed(), 0, "[{backend:?}] not known, so not indexed, before they are paid");
        process_all(&app, &instant_rail(&app, &[]));
        assert_eq!(indexed(), 4 * 300, "[{backend:?}] each paid address indexed once under its four keys");
    }
}
