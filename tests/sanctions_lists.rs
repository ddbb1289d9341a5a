//! Keeping sanctions lists current (issue 42) — on every backend: Settings → Compliance uploads a
//! list (admins, audited, all or nothing) and shows each list's age; a list older than the
//! organization allows is named on the dashboard, by a notice once per version and in the
//! metrics; a list named by `--sanctions-url` is fetched once a day by one process, from a local
//! server serving files of OFAC's shape, and a broken file changes nothing.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::test;
use chrono::{Duration, NaiveDateTime, Utc};
use common::{TestApp, backends, tron_address};
use diesel::prelude::*;
use payouts::Config;
use payouts::config::ServeArgs;
use payouts::service::compliance::freshness;
use payouts::service::compliance::refresh::{self, Source};
use payouts::service::compliance::{self, Importer};

const TOKEN: &str = "metrics-token-for-the-tests-0123456789";

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/sanctions/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = bs58::decode(tron_address(777)).with_check(None).into_vec().unwrap();
    std::fs::read_to_string(path).unwrap().replace("TRON_PLACEHOLDER", &hex::encode(raw)).into_bytes()
}

fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    use payouts::db::schema::audit_log::dsl as l;
    l::audit_log.filter(l::action.eq(action)).select(l::detail).load(&mut **app.conn()).unwrap()
}

fn topics(app: &TestApp, topic: &str) -> usize {
    use payouts::db::schema::events::dsl as e;
    e::events.filter(e::topic.eq(topic)).count().get_result::<i64>(&mut **app.conn()).unwrap() as usize
}

/// The compliance page's upload: the list's name and the file, as the browser sends them.
fn upload_request(token: &str, list: &str, file: &[u8]) -> test::TestRequest {
    upload_with_code(token, list, file, None)
}

/// The upload with the step-up field filled in (`otp`), as the form asks when a code is due.
fn upload_with_code(token: &str, list: &str, file: &[u8], otp: Option<&str>) -> test::TestRequest {
    let boundary = "----payouts-test-boundary-c0mp";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"list\"\r\n\r\n{list}\r\n").as_bytes(),
    );
    if let Some(otp) = otp {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"otp\"\r\n\r\n{otp}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"list.txt\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    test::TestRequest::post()
        .uri(&format!("/settings/compliance/lists?csrf_token={token}"))
        .insert_header(("Content-Type", format!("multipart/form-data; boundary={boundary}")))
        .set_payload(body)
}

#[actix_web::test]
async fn an_admin_uploads_a_list_sees_its_age_and_a_stale_list_is_named_once_to_admins() {
    for backend in backends() {
        let args = ServeArgs { metrics_token: Some(TOKEN.into()), ..Default::default() };
        let app = TestApp::start_with(backend, Config::from_args(&args).unwrap()).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/compliance").await;
        assert_eq!(page.status, StatusCode::OK, "[{backend:?}]");
        assert!(page.body.contains("No list is in force"), "[{backend:?}]");
        let mut accountant = app.client().await;
        accountant.login("accountant@demo.local", "demo").await;
        let refused = accountant.get("/settings/compliance").await;
        assert_ne!(refused.status, StatusCode::OK, "[{backend:?}] admins only");

        // Uploaded: in force at once, audited as the admin.
        let token = common::csrf_in(&page.body).unwrap();
        let listed = tron_address(5);
        let res =
            admin.send(upload_request(&token, "Company denylist", format!("# ours\n{listed}\n").as_bytes())).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let page = admin.get("/settings/compliance").await;
        assert!(page.body.contains("Company denylist: 1 addresses from plain"), "[{backend:?}] {}", page.body);
        assert!(page.body.contains("admin@demo.local"), "[{backend:?}] who imported it");
        assert!(compliance::listed(&mut app.conn(), &[listed.as_str()]).unwrap()[0].is_some(), "[{backend:?}]");
        let audited = audit_details(&app, "sanctions.imported");
        assert_eq!(audited, ["Company denylist: 1 addresses (plain), version 1"], "[{backend:?}]");

        // A file that cannot be read whole, or no name: refused on the page, nothing changed.
        let res = admin.send(upload_request(&token, "Company denylist", b"TXYZ\nnot an address\n")).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("The list cannot be read"), "[{backend:?}] {}", res.body);
        assert!(res.body.contains("value=\"Company denylist\""), "[{backend:?}] the name typed is kept");
        let res = admin.send(upload_request(&token, "", format!("{listed}\n").as_bytes())).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("A list&#39;s name"), "[{backend:?}] {}", res.body);
        let lists = payouts::db::sanctions::lists(&mut app.conn()).unwrap();
        assert_eq!(lists.iter().map(|l| (l.name.as_str(), l.version)).collect::<Vec<_>>(), [("Company denylist", 1)]);
        // Through the form, not just the page: an accountant's upload is refused.
        let accountant_token = common::csrf_in(&accountant.get("/").await.body).unwrap();
        let res = accountant.send(upload_request(&accountant_token, "Company denylist", b"# emptied\n")).await;
        assert_ne!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        assert_eq!(payouts::db::sanctions::lists(&mut app.conn()).unwrap()[0].entries, 1, "[{backend:?}]");

        // A list imported ten days ago is out of date against the default of seven days.
        let old = now() - Duration::days(10);
        compliance::import(&mut app.conn(), Importer::System("tests"), "Old list", "tests", b"# none yet\n", old)
            .unwrap();
        let dashboard = admin.get("/").await;
        assert!(
            dashboard.body.contains("The sanctions list \"Old list\" is out of date:"),
            "[{backend:?}] {}",
            dashboard.body
        );
        assert!(!dashboard.body.contains("Company denylist\" is out"), "[{backend:?}]");
        assert!(!accountant.get("/").await.body.contains("is out of date:"), "[{backend:?}] told to admins");
        let page = admin.get("/settings/compliance").await;
        assert!(page.body.contains("10 days <span class=\"badge badge-failed\">Out of date</span>"), "[{backend:?}]");

        // Told to each organization once per version, across processes.
        let orgs = payouts::db::orgs::count(&mut app.conn()).unwrap() as usize;
        let told = common::at_once(&app, 2, |conn| freshness::announce_stale(conn, now()).unwrap());
        assert_eq!(told.iter().sum::<usize>(), orgs, "[{backend:?}] {told:?}");
        assert_eq!(freshness::announce_stale(&mut app.conn(), now()).unwrap(), 0, "[{backend:?}]");
        assert_eq!(topics(&app, "compliance.list_stale"), orgs, "[{backend:?}]");
        payouts::service::outbound::sender::take_new(&mut app.conn(), &app.state.delivery()).unwrap();
        let inbox_of = |email: &str| {
            let id = common::actor(&app, email).user_id;
            payouts::db::notices::inbox(&mut app.conn(), id, None, 50).unwrap()
        };
        let notices = inbox_of("admin@demo.local");
        assert!(notices.iter().any(|n| n.subject == "Sanctions list out of date: Old list"), "[{backend:?}]");
        assert!(inbox_of("accountant@demo.local").iter().all(|n| n.kind != "list_stale"), "[{backend:?}]");

        // The metrics say each list's age.
        let mut c = app.client().await;
        let scraped = c
            .send(test::TestRequest::get().uri("/metrics").insert_header(("Authorization", format!("Bearer {TOKEN}"))))
            .await;
        let line = scraped
            .body
            .lines()
            .find(|l| l.starts_with("payouts_sanctions_list_age_seconds{list=\"Old list\"}"))
            .unwrap_or_else(|| panic!("[{backend:?}] {}", scraped.body));
        let age: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
        assert!(age >= 10.0 * 86_400.0, "[{backend:?}] {line}");
        assert!(scraped.body.contains("payouts_rows_held_for_compliance 0"), "[{backend:?}]");

        // The organization allows 30 days: no longer out of date. A bad value is named.
        let page = admin.get("/settings/compliance").await;
        let bad = admin.post_form("/settings/compliance/max-age", &[("max_age_days", "0")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(bad.body.contains("from 1 to 90"), "[{backend:?}]");
        drop(page);
        let res = admin.post_form("/settings/compliance/max-age", &[("max_age_days", "30")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        assert!(!admin.get("/").await.body.contains("is out of date:"), "[{backend:?}]");
        assert_eq!(audit_details(&app, "compliance.max_age_changed"), ["7 → 30 days"], "[{backend:?}]");
    }
}

/// A file server: answers every GET with the status and body set now, counting requests.
struct FileServer {
    url: String,
    file: Arc<Mutex<(u16, Vec<u8>)>>,
    requests: Arc<Mutex<usize>>,
}

impl FileServer {
    fn start() -> FileServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/SDN.XML", listener.local_addr().unwrap());
        let file: Arc<Mutex<(u16, Vec<u8>)>> = Arc::new(Mutex::new((404, Vec::new())));
        let requests = Arc::new(Mutex::new(0));
        let (served, counted) = (file.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                *counted.lock().unwrap() += 1;
                let (status, body) = served.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        FileServer { url, file, requests }
    }

    fn serve(&self, status: u16, body: Vec<u8>) {
        *self.file.lock().unwrap() = (status, body);
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

#[actix_web::test]
async fn a_list_named_by_url_is_fetched_once_a_day_by_one_process_and_a_broken_file_changes_nothing() {
    assert!(Source::parse("OFAC SDN https://example.org/SDN.XML").unwrap_err().contains("NAME=URL"));
    assert!(Source::parse("OFAC=ftp://example.org/SDN.XML").unwrap_err().contains("http"));
    assert!(
        Config::from_args(&ServeArgs { sanctions_url: vec!["nonsense".into()], ..Default::default() }).is_err(),
        "a bad flag stops the server at start"
    );
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let server = FileServer::start();
        let sources = vec![Source::parse(&format!("OFAC SDN={}?token=secret", server.url)).unwrap()];
        server.serve(200, fixture("SDN.XML"));
        let start = now();

        // Two processes at the same moment: one fetches and imports.
        let rounds = common::at_once(&app, 2, |conn| refresh::round(conn, &refresh::agent(), &sources, start));
        let imported: Vec<_> = rounds.into_iter().flatten().collect();
        assert_eq!(imported.len(), 1, "[{backend:?}] {imported:?}");
        let done = imported[0].1.as_ref().unwrap();
        assert_eq!((done.entries, done.shape, done.version), (5, "SDN.XML", 1), "[{backend:?}]");
        assert_eq!(server.requests(), 1, "[{backend:?}]");
        let list = || payouts::db::sanctions::lists(&mut app.conn()).unwrap().remove(0);
        assert_eq!(list().source, server.url, "[{backend:?}] recorded without its query");
        assert_eq!(list().imported_by, "daily refresh", "[{backend:?}]");

        // Not due again within the day.
        assert!(refresh::round(&mut app.conn(), &refresh::agent(), &sources, start + Duration::hours(23)).is_empty());
        assert_eq!(server.requests(), 1, "[{backend:?}]");

        // A day later the file is broken, then missing: the list in force stays whole, retried in an hour.
        server.serve(200, b"<sdnList><sdnEntry><lastName>X</sdnEntry>".to_vec());
        let later = start + Duration::hours(25);
        let failed = refresh::round(&mut app.conn(), &refresh::agent(), &sources, later);
        assert!(failed[0].1.as_ref().unwrap_err().to_string().contains("cannot be read"), "[{backend:?}]");
        assert_eq!((list().version, list().entries), (1, 5), "[{backend:?}]");
        assert!(refresh::round(&mut app.conn(), &refresh::agent(), &sources, later + Duration::minutes(30)).is_empty());
        server.serve(503, b"down for maintenance".to_vec());
        let failed = refresh::round(&mut app.conn(), &refresh::agent(), &sources, later + Duration::minutes(61));
        assert!(failed[0].1.as_ref().unwrap_err().to_string().contains("HTTP 503"), "[{backend:?}] {failed:?}");
        assert_eq!((list().version, list().entries), (1, 5), "[{backend:?}]");

        // Served again, in the other official shape: the next try replaces the list.
        server.serve(200, fixture("SDN_ADVANCED.XML"));
        let fixed = refresh::round(&mut app.conn(), &refresh::agent(), &sources, later + Duration::minutes(122));
        let done = fixed[0].1.as_ref().unwrap();
        assert_eq!((done.entries, done.shape), (2, "SDN_ADVANCED.XML"), "[{backend:?}]");
        assert_eq!(list().entries, 2, "[{backend:?}]");
        assert_eq!(server.requests(), 4, "[{backend:?}]");
    }
}

/// The code an authenticator shows `steps` time steps from now.
fn code(secret: &[u8], steps: i64) -> String {
    let now = chrono::Utc::now().timestamp() + steps * 30;
    payouts::domain::second_factor::code_at(secret, now as u64)
}

#[actix_web::test]
async fn an_admin_with_an_authenticator_uploads_a_list_only_with_a_fresh_code() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/account/security").await;
        let setup = admin.post_form("/account/security/totp", &[]).await;
        let marker = "<code class=\"mono secret\">";
        let start = setup.body.find(marker).unwrap() + marker.len();
        let text = &setup.body[start..start + setup.body[start..].find('<').unwrap()];
        let secret = totp_rs::Secret::try_from_base32(text).unwrap().as_ref().to_vec();
        let done = admin.post_form("/account/security/totp/confirm", &[("code", &code(&secret, -1))]).await;
        assert_eq!(done.status, StatusCode::OK, "[{backend:?}] {}", done.body);
        common::age_step_up(&app, "admin@demo.local");

        let page = admin.get("/settings/compliance").await;
        assert!(page.body.contains("name=\"otp\""), "[{backend:?}] the form asks for a code");
        let token = common::csrf_in(&page.body).unwrap();
        let file = format!("{}\n", tron_address(9));
        let refused = admin.send(upload_request(&token, "ours", file.as_bytes())).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}] {}", refused.body);
        assert!(refused.body.contains("fresh second factor"), "[{backend:?}]");
        assert!(payouts::db::sanctions::lists(&mut app.conn()).unwrap().is_empty(), "[{backend:?}] nothing imported");
        let wrong = admin.send(upload_with_code(&token, "ours", file.as_bytes(), Some("000000"))).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", wrong.body);
        assert!(payouts::db::sanctions::lists(&mut app.conn()).unwrap().is_empty(), "[{backend:?}]");
        let fresh = code(&secret, 0);
        let res = admin.send(upload_with_code(&token, "ours", file.as_bytes(), Some(&fresh))).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let lists = payouts::db::sanctions::lists(&mut app.conn()).unwrap();
        assert_eq!((lists[0].name.as_str(), lists[0].version, lists[0].entries), ("ours", 1, 1), "[{backend:?}]");
    }
}
