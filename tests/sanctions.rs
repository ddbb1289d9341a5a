//! Sanctions screening (issue 42, first part) — on every backend: OFAC's two file shapes and the
//! plain and CSV lists imported all or nothing, one version standing when two imports race, and
//! a listed address refused wherever money could go to it: the API's quote and create, the
//! single payout's review, a payee's address, and the create transaction itself when the list
//! changed after the review.

mod common;

use actix_web::http::StatusCode;
use common::{EVM_ADDRESS, TestApp, api_key, api_request, backends, demo_org, json_of, tron_address};
use payouts::service::compliance::{self, Importer};
use serde_json::json;

/// OFAC's file shapes from tests/data/sanctions, the TRON entry made `tron` (written in hex, as
/// a list may carry it).
fn fixture(name: &str, tron: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/sanctions/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = bs58::decode(tron).with_check(None).into_vec().unwrap();
    std::fs::read_to_string(path).unwrap().replace("TRON_PLACEHOLDER", &hex::encode(raw)).into_bytes()
}

fn import(app: &TestApp, list: &str, bytes: &[u8]) -> Result<compliance::Imported, payouts::error::AppError> {
    let at = chrono::Utc::now().naive_utc();
    compliance::import(&mut app.conn(), Importer::System("tests"), list, "tests", bytes, at)
}

fn listed(app: &TestApp, address: &str) -> Option<(String, String)> {
    compliance::listed(&mut app.conn(), &[address]).unwrap().remove(0).map(|l| (l.list, l.entity))
}

const TORNADO: &str = "0x8589427373D6D84E98730D7795D8f6f8731FDA16";
const LAZARUS: &str = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96";

#[actix_web::test]
async fn official_lists_are_read_and_a_listed_address_is_refused_everywhere_money_could_go() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (sdn_tron, advanced_tron, later_tron) = (tron_address(901), tron_address(902), tron_address(903));

        let sdn = import(&app, "OFAC SDN", &fixture("SDN.XML", &sdn_tron)).unwrap();
        assert_eq!((sdn.shape, sdn.entries, sdn.version, sdn.stood), ("SDN.XML", 5, 1, true), "[{backend:?}]");
        assert_eq!(sdn.published, chrono::NaiveDate::from_ymd_opt(2026, 11, 28));
        let advanced = import(&app, "OFAC SDN advanced", &fixture("SDN_ADVANCED.XML", &advanced_tron)).unwrap();
        assert_eq!((advanced.shape, advanced.entries), ("SDN_ADVANCED.XML", 2), "[{backend:?}]");
        assert_eq!(advanced.published, chrono::NaiveDate::from_ymd_opt(2026, 11, 30));

        // By family: an EVM address in any case, base58 exactly, a TRON address listed in hex.
        let tornado = Some(("OFAC SDN".to_owned(), "TORNADO CASH".to_owned()));
        assert_eq!(listed(&app, &TORNADO.to_ascii_lowercase()), tornado, "[{backend:?}]");
        assert_eq!(listed(&app, TORNADO), tornado);
        assert_eq!(listed(&app, "1AjZPMsnmpdK2Rv9KQNfMurTXinscVro9V").unwrap().1, "Ali Khorashadizadeh GHORBANIYAN");
        assert_eq!(listed(&app, "1ajzpmsnmpdk2rv9kqnfmurtxinscvro9v"), None, "base58 is compared exactly");
        assert_eq!(listed(&app, "K12345678"), None, "a passport number is not an address");
        assert_eq!(listed(&app, &sdn_tron).unwrap().1, "EXAMPLE TRADING & CO");
        assert_eq!(listed(&app, LAZARUS).unwrap(), ("OFAC SDN advanced".to_owned(), "LAZARUS GROUP".to_owned()));
        assert_eq!(listed(&app, &advanced_tron).unwrap().1, "Ivan EXAMPLEV", "the primary alias names the party");
        assert_eq!(listed(&app, EVM_ADDRESS), None);

        // The API's quote marks the row; its create refuses it, naming the item, and stores nothing.
        let mut c = app.client().await;
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let quote = json!({"asset": "USDT_ERC20", "kind": "mass", "purpose": "p", "items": [
            {"address": EVM_ADDRESS, "amount": "10"},
            {"address": TORNADO.to_ascii_lowercase(), "amount": "10"}
        ]});
        let v = json_of(&c.send(api_request("POST", "/api/v1/payouts/quote", &key, Some(quote))).await);
        assert_eq!(
            (v["valid"].as_bool(), v["items"][0]["valid"].as_bool()),
            (Some(false), Some(true)),
            "[{backend:?}] {v}"
        );
        assert_eq!(v["items"][1]["valid"], false, "[{backend:?}]");
        assert_eq!(v["items"][1]["errors"][0]["field"], "items[1].address");
        assert_eq!(v["items"][1]["errors"][0]["code"], "sanctioned", "[{backend:?}] a code a program may act on");
        assert!(v["items"][0]["errors"].as_array().unwrap().is_empty(), "[{backend:?}]");
        let message = v["items"][1]["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("OFAC SDN") && message.contains("TORNADO CASH"), "[{backend:?}] {message}");

        let create = json!({"asset": "USDT_TRC20", "kind": "mass", "purpose": "p", "items": [
            {"address": tron_address(1), "amount": "10"},
            {"address": advanced_tron, "amount": "10"}
        ]});
        let req = api_request("POST", "/api/v1/payouts", &key, Some(create)).insert_header(("Idempotency-Key", "s-1"));
        let res = c.send(req).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
        assert_eq!(json_of(&res)["errors"][0]["field"], "items[1].address");
        assert_eq!(json_of(&res)["errors"][0]["code"], "sanctioned", "[{backend:?}] {}", res.body);
        let count = || payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap();
        assert_eq!(count(), 0, "[{backend:?}] nothing stored");

        // The single payout's review refuses it on the address field.
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        accountant.get("/payouts/new/single").await;
        let fields = [("asset", "USDT_TRC20"), ("amount", "10"), ("address", sdn_tron.as_str()), ("description", "x")];
        let review = accountant.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(review.body.contains("sanctions list"), "[{backend:?}] {}", review.body);

        // A payee's address: refused, nothing stored.
        accountant.get("/payees").await;
        let res = accountant.post_form("/payees", &[("name", "Ivan"), ("external_id", "S-1"), ("email", "")]).await;
        let payee: i64 = res.location().unwrap().trim_start_matches("/payees/").parse().unwrap();
        accountant.get(&format!("/payees/{payee}")).await;
        let res = accountant
            .post_form(&format!("/payees/{payee}/addresses"), &[("asset", "USDT_TRC20"), ("address", &advanced_tron)])
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("id=\"address-error\"") && res.body.contains("sanctions list"), "[{backend:?}]");
        assert!(payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap().is_empty());

        // Reviewed before the address was listed, confirmed after: the create decides again.
        accountant.get("/payouts/new/single").await;
        let fields =
            [("asset", "USDT_TRC20"), ("amount", "10"), ("address", later_tron.as_str()), ("description", "x")];
        let review = accountant.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::OK, "[{backend:?}] {}", review.body);
        let denylist = format!("address,reason\n{later_tron},chargeback fraud\n");
        let ours = import(&app, "our denylist", denylist.as_bytes()).unwrap();
        assert_eq!((ours.shape, ours.entries), ("CSV", 1));
        let token = common::hidden_field(&review.body, "token").unwrap();
        let digest = common::hidden_field(&review.body, "digest").unwrap();
        let mut confirm = vec![("token", token.as_str()), ("digest", digest.as_str())];
        confirm.extend_from_slice(&fields);
        let res = accountant.post_form("/payouts/new/single/confirm", &confirm).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("our denylist") && res.body.contains("chargeback fraud"), "[{backend:?}]");
        assert_eq!(count(), 0, "[{backend:?}] nothing stored");
    }
}

#[actix_web::test]
async fn a_broken_file_changes_no_list_and_two_imports_at_once_leave_one_version() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let first = tron_address(1);
        assert_eq!(import(&app, "ours", format!("# ours\n{first}\n").as_bytes()).unwrap().version, 1);

        // Broken XML, a line that is not an address, a CSV row of three columns: refused whole.
        let broken: [&[u8]; 3] =
            [b"<sdnList><sdnEntry><lastName>X</sdnEntry>", b"TXYZ\nnot an address at all\n", b"a,b,c\n"];
        for bytes in broken {
            let e = import(&app, "ours", bytes).unwrap_err();
            assert!(e.to_string().contains("The list cannot be read"), "[{backend:?}] {e}");
        }
        let lists = payouts::db::sanctions::lists(&mut app.conn()).unwrap();
        assert_eq!(lists.iter().map(|l| (l.name.as_str(), l.version, l.entries)).collect::<Vec<_>>(), [("ours", 1, 1)]);
        assert!(listed(&app, &first).is_some(), "[{backend:?}] the list in force still screens");

        // Two imports of 3,000 addresses each at the same moment: one version stands, whole.
        let files: Vec<String> =
            (0..2u32).map(|k| (0..3_000u32).map(|n| tron_address(10_000 * (k + 1) + n) + "\n").collect()).collect();
        let start = std::sync::Barrier::new(2);
        let outcomes: Vec<compliance::Imported> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .map(|file| {
                    let (app, start) = (&app, &start);
                    s.spawn(move || {
                        start.wait();
                        import(app, "ours", file.as_bytes()).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let lists = payouts::db::sanctions::lists(&mut app.conn()).unwrap();
        let in_force = lists[0].version;
        assert!(outcomes.iter().any(|o| o.stood && o.version == in_force), "[{backend:?}] {outcomes:?}");
        assert_eq!(lists[0].entries, 3_000, "[{backend:?}]");
        assert!(listed(&app, &first).is_none(), "[{backend:?}] the replaced version no longer screens");
        let winner = outcomes.iter().position(|o| o.version == in_force).unwrap() as u32;
        let loser = 1 - winner;
        assert!(listed(&app, &tron_address(10_000 * (winner + 1) + 2_999)).is_some(), "[{backend:?}]");
        assert!(listed(&app, &tron_address(10_000 * (loser + 1))).is_none(), "[{backend:?}] never half of each");
        use diesel::prelude::*;
        use payouts::db::schema::sanctioned_addresses::dsl as s;
        let stored: i64 = s::sanctioned_addresses.count().get_result(&mut **app.conn()).unwrap();
        assert_eq!(stored, 3_000, "[{backend:?}] the other versions' rows are gone");
    }
}

#[test]
fn the_command_line_imports_a_list_and_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("SDN.XML");
    std::fs::write(&file, fixture("SDN.XML", &tron_address(5))).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
            .args(args)
            .env("PAYOUTS_DATA_DIR", dir.path())
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let out = run(&["sanctions", "import", "--list", "OFAC SDN", "--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("OFAC SDN: 5 addresses from SDN.XML (published 2026-11-28), version 1"), "{said}");
    let broken = dir.path().join("broken.xml");
    std::fs::write(&broken, "<sdnList><sdnEntry>").unwrap();
    let out = run(&["sanctions", "import", "--list", "OFAC SDN", "--file", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("The list cannot be read"));
    let out = run(&["sanctions", "list"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("OFAC SDN\tversion 1\t5 addresses\tpublished 2026-11-28"), "{said}");
}

#[actix_web::test]
async fn the_demo_list_names_one_address_and_its_review_is_refused() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let demo = payouts::service::payouts::demo::DEMO_SANCTIONED_ADDRESS;
        payouts::service::payouts::demo::seed_sanctions(&mut app.conn(), chrono::Utc::now().naive_utc()).unwrap();
        assert_eq!(listed(&app, demo).map(|l| l.0).as_deref(), Some("Demo sample list"), "[{backend:?}]");
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        accountant.get("/payouts/new/single").await;
        let fields = [("asset", "USDT_TRC20"), ("amount", "10"), ("address", demo), ("description", "x")];
        let review = accountant.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(review.body.contains("Demo sample list"), "[{backend:?}]");
    }
}

/// Creates a mass payout of 10 USDT (TRC-20) to each of `to` through the API; its id.
async fn pay<S, B>(c: &mut common::Client<S>, key: &str, to: &[String], idempotency: &str) -> i64
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let items: Vec<_> = to.iter().map(|a| json!({"address": a, "amount": "10"})).collect();
    let body = json!({"asset": "USDT_TRC20", "kind": "mass", "purpose": "p", "items": items});
    let req = api_request("POST", "/api/v1/payouts", key, Some(body)).insert_header(("Idempotency-Key", idempotency));
    let res = c.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let p = json_of(&res);
    assert_eq!(p["status"], "in_progress", "{p}");
    p["id"].as_i64().unwrap()
}

fn rows(app: &TestApp, payout: i64) -> Vec<(String, Option<String>)> {
    payouts::db::payouts::items(&mut app.conn(), payout)
        .unwrap()
        .into_iter()
        .map(|i| (i.status.as_str().to_owned(), i.compliance_hold))
        .collect()
}

#[actix_web::test]
async fn a_row_listed_after_confirmation_is_held_at_sending_and_is_failed_or_released_only_once_delisted() {
    use payouts::rails::Rail;
    use payouts::service::payouts::holds;
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let to: Vec<String> = (71..=73).map(tron_address).collect();
        let first = pay(&mut c, &key, &to, "held-1").await;
        let single = pay(&mut c, &key, &[tron_address(74)], "held-2").await;

        // Listed after both were confirmed, before the processor sends them.
        import(&app, "late list", format!("{}\n{}\n", to[1], tron_address(74)).as_bytes()).unwrap();
        let rail = common::instant_rail(&app, &[]);
        common::process_all(&app, &rail);
        common::process_all(&app, &rail);
        let now = rows(&app, first);
        assert_eq!((now[0].0.as_str(), now[2].0.as_str()), ("completed", "completed"), "[{backend:?}] {now:?}");
        assert_eq!(now[1].0, "queued", "[{backend:?}] held, never claimed again");
        assert!(now[1].1.as_deref().unwrap_or_default().contains("late list"), "[{backend:?}] {now:?}");
        let items = payouts::db::payouts::items(&mut app.conn(), first).unwrap();
        assert!(rail.lookup(&items[1].idempotency_key).unwrap().is_none(), "[{backend:?}] the network never saw it");
        let status = |id| payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned();
        assert_eq!(status(first), "in_progress", "[{backend:?}]");
        let page = {
            let mut admin = app.client().await;
            admin.login("admin@demo.local", "demo").await;
            admin.get(&format!("/payouts/{first}")).await
        };
        assert!(page.body.contains("Held for compliance") && page.body.contains("late list"), "[{backend:?}]");
        assert!(page.body.contains("Before sending:") && page.body.contains("late list v1"), "[{backend:?}] evidence");

        // Evidence on every row: screened at confirmation (no list then), and before sending.
        let confirmed = items[0].screened_at_confirmation.clone().unwrap();
        let v: serde_json::Value = serde_json::from_str(&confirmed).unwrap();
        assert_eq!(v["lists"], json!([]), "[{backend:?}] {confirmed}");
        for item in &items {
            let sent: serde_json::Value = serde_json::from_str(item.screened_at_sending.as_deref().unwrap()).unwrap();
            assert_eq!(sent["lists"], json!([{"name": "late list", "version": 1}]), "[{backend:?}] {sent}");
        }

        // Admins are told (a webhook topic and a notice), and so is the creator.
        let held_events: Vec<serde_json::Value> = {
            use diesel::prelude::*;
            use payouts::db::schema::events::dsl as e;
            e::events
                .filter(e::topic.eq("payout.item_held"))
                .select(e::data)
                .load::<String>(&mut **app.conn())
                .unwrap()
                .iter()
                .map(|d| serde_json::from_str(d).unwrap())
                .collect()
        };
        assert_eq!(held_events.len(), 2, "[{backend:?}] {held_events:?}");
        assert_eq!(held_events[0]["hold"]["list"], "late list", "[{backend:?}]");
        payouts::service::outbound::sender::take_new(&mut app.conn(), &app.state.delivery()).unwrap();
        for who in ["admin@demo.local", "accountant@demo.local"] {
            let id = common::actor(&app, who).user_id;
            let inbox = payouts::db::notices::inbox(&mut app.conn(), id, None, 50).unwrap();
            let held: Vec<_> = inbox.iter().filter(|n| n.kind == "item_held").collect();
            assert_eq!(
                held.len(),
                2,
                "[{backend:?}] {who}: {:?}",
                inbox.iter().map(|n| &n.subject).collect::<Vec<_>>()
            );
            assert!(held.iter().any(|n| n.subject == format!("Held for compliance: row 2 of payout #{first}")));
        }

        // Nobody sends it while it is listed; a manager may not release it at all.
        let (admin, manager) = (common::actor(&app, "admin@demo.local"), common::actor(&app, "manager@demo.local"));
        let item = items[1].id;
        let refused = holds::release_held(&mut app.conn(), &admin, first, item).unwrap_err();
        assert!(refused.to_string().contains("late list"), "[{backend:?}] {refused}");
        assert!(holds::release_held(&mut app.conn(), &manager, first, item).is_err(), "[{backend:?}]");

        // Off the list, an admin releases it; it is screened again and paid.
        import(&app, "late list", format!("# emptied\n{}\n", tron_address(74)).as_bytes()).unwrap();
        holds::release_held(&mut app.conn(), &admin, first, item).unwrap();
        common::process_all(&app, &rail);
        assert_eq!(rows(&app, first)[1], ("completed".to_owned(), None), "[{backend:?}]");
        assert_eq!(status(first), "completed", "[{backend:?}]");

        // The other, still listed: a manager fails it, and its funds come back.
        let held = payouts::db::payouts::items(&mut app.conn(), single).unwrap()[0].id;
        holds::fail_held(&mut app.conn(), &manager, single, held).unwrap();
        assert_eq!(rows(&app, single)[0].0, "failed", "[{backend:?}]");
        assert_eq!(status(single), "failed", "[{backend:?}]");
        let asset = payouts::domain::asset::find("USDT_TRC20").unwrap();
        let balance = payouts::service::payouts::ledger::balance_of(&mut app.conn(), demo_org(&app), asset).unwrap();
        assert_eq!(balance.reserved.to_string(), "0", "[{backend:?}]");
        assert!(holds::fail_held(&mut app.conn(), &manager, single, held).is_err(), "[{backend:?}] once");
    }
}

#[actix_web::test]
async fn the_live_check_the_mass_editor_payee_import_check_registry_and_approval_refuse_a_listed_address() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let (listed_now, listed_later, clean) = (tron_address(801), tron_address(802), tron_address(803));
        import(&app, "ours", format!("{listed_now}\n").as_bytes()).unwrap();
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;

        // The single form's live check says it as the person leaves the field.
        accountant.get("/payouts/new/single").await;
        let check = |address: String| {
            [
                ("field", "address".to_owned()),
                ("asset", "USDT_TRC20".into()),
                ("amount", String::new()),
                ("address", address),
                ("description", String::new()),
            ]
        };
        let fields = check(listed_now.clone());
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let said = accountant.post_form("/payouts/new/single/check", &fields).await;
        assert!(said.body.contains("sanctions list") && said.body.contains("ours"), "[{backend:?}] {}", said.body);
        let fields = check(clean.clone());
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let said = accountant.post_form("/payouts/new/single/check", &fields).await;
        assert!(said.body.contains("Valid USDT_TRC20 address") && !said.body.contains("sanctions"), "[{backend:?}]");

        // A CSV uploaded to the mass editor: the row says it, and the payout cannot be confirmed.
        let id = accountant.start_draft("USDT_TRC20", "December").await;
        let csv = format!("address,amount\n{clean},1\n{listed_now},2\n");
        let res = accountant.upload(&format!("/payouts/drafts/{id}/upload"), "rows.csv", csv.as_bytes()).await;
        let editor = accountant.get(res.location().unwrap()).await;
        assert!(editor.body.contains("sanctions list &#34;ours&#34;"), "[{backend:?}] {}", editor.body);
        let res = accountant.confirm_draft(id, &[]).await;
        assert_ne!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let count = || payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap();
        assert_eq!(count(), 0, "[{backend:?}]");

        // The payee import refuses the whole file, naming the line.
        accountant.get("/payees").await;
        let file = format!(
            "name,external_id,email,asset,address\nAnn,E-1,,USDT_TRC20,{clean}\nIvan,E-2,,USDT_TRC20,{listed_now}\n"
        );
        accountant.upload("/payees/import", "payees.csv", file.as_bytes()).await;
        let page = accountant.get("/payees").await;
        assert!(
            page.body.contains("Nothing was imported.") && page.body.contains("Line 3, column address:"),
            "[{backend:?}] {}",
            page.body
        );
        assert!(payouts::db::payees::all_in_org(&mut app.conn(), demo_org(&app)).unwrap().is_empty(), "[{backend:?}]");

        // check-registry against the organization's database: an error on the row, exit 1.
        let mut registry = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut registry, format!("address,amount\n{clean},1\n{listed_now},2\n").as_bytes())
            .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
            .args(["check-registry", "--asset", "USDT_TRC20", "--format", "json", "--org", "Demo Company"])
            .arg(registry.path())
            .env("DATABASE_URL", common::url_string(backend, &app.url))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "[{backend:?}] {}", String::from_utf8_lossy(&out.stderr));
        let lines: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["ok"], true, "[{backend:?}]");
        assert_eq!(
            (lines[1]["ok"].as_bool(), lines[1]["errors"][0]["code"].as_str()),
            (Some(false), Some("sanctioned"))
        );
        assert_eq!(lines[2]["summary"]["sanctioned"], 1, "[{backend:?}]");

        // A payout waiting for a manager when its address is listed cannot be approved.
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), true).unwrap();
        let key = api_key(&app, "accountant@demo.local", "read,create");
        let mut c = app.client().await;
        let body = json!({"asset": "USDT_TRC20", "kind": "single", "purpose": "p", "items": [{"address": listed_later, "amount": "10"}]});
        let req = api_request("POST", "/api/v1/payouts", &key, Some(body)).insert_header(("Idempotency-Key", "ap-1"));
        let created = json_of(&c.send(req).await);
        assert_eq!(created["status"], "pending", "[{backend:?}] {created}");
        let payout = created["id"].as_i64().unwrap();
        import(&app, "ours", format!("{listed_now}\n{listed_later}\n").as_bytes()).unwrap();
        let manager = common::actor(&app, "manager@demo.local");
        let refused = payouts::service::payouts::approvals::approve(&mut app.conn(), &manager, payout, "").unwrap_err();
        assert!(
            refused.to_string().contains("ours") && refused.to_string().contains("reject"),
            "[{backend:?}] {refused}"
        );
        let p = payouts::db::payouts::find(&mut app.conn(), payout).unwrap();
        assert_eq!(p.status.as_str(), "pending", "[{backend:?}] nothing approved, nothing recorded");
        assert!(payouts::db::approvals::of_payout(&mut app.conn(), payout).unwrap().is_empty(), "[{backend:?}]");
    }
}
