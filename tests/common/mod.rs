//! The test application, built exactly as `main` builds it (same `configure`), against a fresh
//! database: a temporary SQLite file, and a new PostgreSQL database when
//! PAYOUTS_TEST_DATABASE_URL names a server (dropped afterwards).
#![allow(dead_code)]

pub mod signers;
pub mod smtp;

use std::collections::HashMap;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode, header::HeaderMap};
use actix_web::{App, test, web};
use diesel::prelude::*;
use payouts::db::{Backend, DatabaseUrl};
use payouts::service::payouts::bootstrap;
use payouts::{AppState, Config, configure};

pub const PG_ENV: &str = "PAYOUTS_TEST_DATABASE_URL";

/// The backends to run every database test on. In CI (`CI=true`) PostgreSQL is required.
pub fn backends() -> Vec<Backend> {
    let mut list = vec![Backend::Sqlite];
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match std::env::var(PG_ENV) {
        Ok(url) if !url.trim().is_empty() => match PgConnection::establish(&url) {
            Ok(_) => list.push(Backend::Postgres),
            Err(e) if in_ci => panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"),
            Err(e) => eprintln!("skipping PostgreSQL: {e}"),
        },
        _ if in_ci => panic!("CI=true but {PG_ENV} is not set: PostgreSQL would go untested"),
        _ => {}
    }
    list
}

/// A database that exists for one test and is removed afterwards.
pub enum TestDb {
    Sqlite { dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub fn create(backend: Backend) -> (TestDb, DatabaseUrl) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = DatabaseUrl::sqlite_path(&dir.path().join("test.sqlite3"));
                (TestDb::Sqlite { dir }, url)
            }
            Backend::Postgres => {
                let admin_url = std::env::var(PG_ENV).expect("PostgreSQL URL");
                let name = format!("payouts_test_{}", payouts::crypto::random_hex(6));
                let mut admin = PgConnection::establish(&admin_url).expect("PostgreSQL reachable");
                diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).expect("create database");
                let url = DatabaseUrl::parse(&replace_db_name(&admin_url, &name)).expect("valid URL");
                (TestDb::Postgres { admin_url, name }, url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin);
        }
    }
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

pub struct TestApp {
    pub state: AppState,
    pub backend: Backend,
    pub url: DatabaseUrl,
    /// Set by the tests that break the books on purpose.
    pub books_broken_on_purpose: std::sync::atomic::AtomicBool,
    // Dropped last: the database outlives the pool that uses it.
    _db: TestDb,
}

/// Every test's database ends with its books whole: the ledger verifier runs on it when the
/// test is done, whatever the test did to money.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() || self.books_broken_on_purpose.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let Ok(mut conn) = self.state.pool.get() else { return };
        let report = payouts::service::payouts::verify::verify(&mut conn).expect("the ledger verifier runs");
        assert!(
            report.is_whole(),
            "[{:?}] the books are not whole at the end of the test:\n{}",
            self.backend,
            report.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
        );
    }
}

impl TestApp {
    /// A fresh database seeded with the demo organization (every demo password is `demo`) and a
    /// second organization, "Other Org", with its own admin `other-admin@example.com` and its
    /// second-factor policy off.
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(backend, Config::default()).await
    }

    pub async fn start_with(backend: Backend, config: Config) -> TestApp {
        let (db, url) = TestDb::create(backend);
        let state = AppState::open(&url, 4, config, None).expect("open test database");
        let mut conn = state.pool.get().expect("connection");
        bootstrap::initialize(&mut conn, true, "", "").expect("seed demo");
        bootstrap::add_user_from_cli(
            &mut conn,
            "other-admin@example.com",
            "admin",
            "other-password",
            Some("Other Org"),
        )
        .expect("second organization");
        // A new organization requires a second factor of its admins; the tests that sign in as
        // this admin are about other things (tests/second_factor.rs covers the policy).
        let other = payouts::db::orgs::find_by_name(&mut conn, "Other Org").unwrap().unwrap();
        payouts::db::factors::set_org_policy(&mut conn, other.id, false, false, false).unwrap();
        drop(conn);
        TestApp { state, backend, url, books_broken_on_purpose: Default::default(), _db: db }
    }

    pub fn conn(&self) -> payouts::db::PooledConn {
        self.state.pool.get().expect("connection")
    }

    /// Turns the event stream's new events into webhook deliveries now, as the server's worker
    /// does every second. Returns how many events it took.
    pub fn fan_out(&self) -> usize {
        payouts::service::outbound::fan_out::fan_out(&mut self.conn(), payouts::clock::now()).expect("fan-out")
    }

    pub async fn client(
        &self,
    ) -> Client<impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error>> {
        let svc =
            test::init_service(App::new().app_data(web::Data::new(self.state.clone())).configure(configure)).await;
        Client { svc, cookies: HashMap::new(), csrf: None, backend: self.backend }
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").filter_map(|v| v.to_str().ok().map(str::to_owned)).collect()
    }
}

/// A browser in miniature: keeps cookies, remembers the last CSRF token a page carried, and
/// sends forms the way a browser does.
pub struct Client<S> {
    svc: S,
    pub cookies: HashMap<String, String>,
    pub csrf: Option<String>,
    pub backend: Backend,
}

impl<S, B> Client<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    pub async fn send(&mut self, req: test::TestRequest) -> Response {
        let mut req = req.peer_addr("127.0.0.1:40000".parse().unwrap());
        if !self.cookies.is_empty() {
            let header: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.insert_header(("Cookie", header.join("; ")));
        }
        let res = test::call_service(&self.svc, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = test::read_body(res).await;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        for value in headers.get_all("set-cookie") {
            let cookie = actix_web::cookie::Cookie::parse(value.to_str().unwrap().to_owned()).unwrap();
            let removed = cookie.max_age().is_some_and(|a| a.is_zero() || a.is_negative());
            if removed {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        if let Some(token) = csrf_in(&body) {
            self.csrf = Some(token);
        }
        Response { status, headers, body }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        self.send(test::TestRequest::get().uri(path)).await
    }

    /// Posts a form with the CSRF token of the last page seen, as a browser would.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf.clone().expect("a page with a CSRF token was loaded first");
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts a form as htmx does (`HX-Request`), with the CSRF token of the last page seen.
    pub async fn post_htmx(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let token = self.csrf.clone().expect("a page with a CSRF token was loaded first");
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        let body = serde_urlencoded::to_string(&all).unwrap();
        self.send(
            test::TestRequest::default()
                .method(Method::POST)
                .uri(path)
                .insert_header(("HX-Request", "true"))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(body),
        )
        .await
    }

    /// Posts exactly these fields, CSRF token or not.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(
            test::TestRequest::default()
                .method(Method::POST)
                .uri(path)
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(body),
        )
        .await
    }

    /// Posts nothing but the CSRF header of the last page seen, as a page's script does.
    pub async fn post_script(&mut self, path: &str) -> Response {
        let token = self.csrf.clone().expect("a page with a CSRF token was loaded first");
        self.send(test::TestRequest::post().uri(path).insert_header(("X-CSRF-Token", token))).await
    }

    /// Loads the sign-in page and signs in; panics unless it worked.
    pub async fn login(&mut self, email: &str, password: &str) {
        self.get("/login").await;
        let res = self.post_form("/login", &[("email", email), ("password", password)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{:?}] sign-in as {email} failed: {}", self.backend, res.body);
        self.get("/").await;
    }
}

/// Runs `f` on `n` threads, each with its own pooled connection, released together: what `n`
/// requests or server processes doing the same thing at the same instant would do.
pub fn at_once<T: Send>(app: &TestApp, n: usize, f: impl Fn(&mut payouts::db::DbConnection) -> T + Sync) -> Vec<T> {
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..n)
            .map(|_| {
                let (barrier, f) = (&barrier, &f);
                scope.spawn(move || {
                    let mut conn = app.state.pool.get().unwrap();
                    barrier.wait();
                    f(&mut conn)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// Moves the last step-up of every session of `email` ten minutes back: no longer fresh.
pub fn age_step_up(app: &TestApp, email: &str) {
    use diesel::prelude::*;
    let user_id: i64 = payouts::db::schema::users::table
        .filter(payouts::db::schema::users::email.eq(email))
        .select(payouts::db::schema::users::id)
        .first(&mut **app.conn())
        .unwrap();
    let old = payouts::clock::now() - chrono::Duration::minutes(10);
    diesel::update(payouts::db::schema::sessions::table.filter(payouts::db::schema::sessions::user_id.eq(user_id)))
        .set(payouts::db::schema::sessions::step_up_at.eq(Some(old)))
        .execute(&mut **app.conn())
        .unwrap();
}

/// The value of the first hidden `csrf_token` field in a page.
pub fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

/// The id in `/settings/users/{id}/…` of the users-page row showing `email`.
pub fn user_id_in(page: &str, email: &str) -> i64 {
    let row_start = page.find(&format!("<td>{email}</td>")).expect("user listed");
    let rest = &page[row_start..];
    let start = rest.find("/settings/users/").expect("row has actions") + "/settings/users/".len();
    let end = rest[start..].find('/').unwrap() + start;
    rest[start..end].parse().unwrap()
}

pub const TRON_ADDRESS: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
pub const EVM_ADDRESS: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

/// The signed-in user `email` as the services see them.
pub fn actor(app: &TestApp, email: &str) -> payouts::service::access::Actor {
    let u = payouts::db::users::find_by_email(&mut app.conn(), email).unwrap().unwrap();
    payouts::service::access::Actor {
        user_id: u.id,
        org_id: u.org_id,
        email: u.email,
        role: payouts::domain::account::Role::parse(&u.role).unwrap(),
        ip: None,
        stepped_up_at: None,
        via_api: false,
        clock: app.state.clock.clone(),
    }
}

/// The demo organization's id.
pub fn demo_org(app: &TestApp) -> i64 {
    payouts::db::orgs::find_by_name(&mut app.conn(), "Demo Company").unwrap().unwrap().id
}

/// A simulated network that confirms at once, failing transfers to `fail_addresses`.
pub fn instant_rail(app: &TestApp, fail_addresses: &[&str]) -> payouts::rails::simulated::SimulatedRail {
    payouts::rails::simulated::SimulatedRail::new(
        app.state.pool.clone(),
        payouts::rails::simulated::SimConfig {
            confirm_after: std::time::Duration::ZERO,
            fail_addresses: fail_addresses.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    )
}

/// Runs processor rounds until nothing moves.
pub fn process_all(app: &TestApp, rail: &dyn payouts::rails::Rail) {
    process_all_at(app, rail, payouts::clock::Clock::real());
}

/// [`process_all`] with pay days due by `clock`.
pub fn process_all_at(app: &TestApp, rail: &dyn payouts::rails::Rail, clock: payouts::clock::Clock) {
    let config = payouts::service::payouts::processor::ProcessorConfig { clock, ..Default::default() };
    let mut conn = app.conn();
    for _ in 0..200 {
        let report = payouts::service::payouts::processor::tick(&mut conn, rail, "test-processor", &config).unwrap();
        if report == payouts::service::payouts::processor::TickReport::default() {
            return;
        }
    }
}

impl<S, B> Client<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Form → review → confirm, as a person would; returns the confirm response.
    pub async fn single_payout(&mut self, asset: &str, amount: &str, address: &str, description: &str) -> Response {
        self.get("/payouts/new/single").await;
        let fields = [("asset", asset), ("amount", amount), ("address", address), ("description", description)];
        let review = self.post_form("/payouts/new/single", &fields).await;
        assert_eq!(review.status, StatusCode::OK, "[{:?}] review: {}", self.backend, review.body);
        let token = hidden_field(&review.body, "token").expect("the review carries a one-time token");
        let digest = hidden_field(&review.body, "digest").expect("the review carries its digest");
        let mut confirm = vec![("token", token.as_str()), ("digest", digest.as_str())];
        confirm.extend_from_slice(&fields);
        self.post_form("/payouts/new/single/confirm", &confirm).await
    }
}

/// The value of the hidden field `name` in a page.
pub fn hidden_field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

/// The payout id a confirm redirected to.
pub fn payout_id_of(res: &Response) -> i64 {
    let location = res.location().expect("a redirect to the payout");
    location.trim_start_matches("/payouts/").parse().unwrap()
}

impl<S, B> Client<S>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Posts a file as `multipart/form-data` field `file`, the CSRF token in the query string as
    /// the upload form does.
    pub async fn upload(&mut self, path: &str, file_name: &str, content: &[u8]) -> Response {
        let token = self.csrf.clone().expect("a page with a CSRF token was loaded first");
        let boundary = "----payouts-test-boundary-7f3a";
        let mut body = Vec::new();
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send(
            test::TestRequest::default()
                .method(Method::POST)
                .uri(&format!("{path}?csrf_token={token}"))
                .insert_header(("Content-Type", format!("multipart/form-data; boundary={boundary}")))
                .set_payload(body),
        )
        .await
    }

    /// Review → Confirm of a mass payout draft, as a person would: the review page's digest goes
    /// with the confirm (none when the review offers no Confirm).
    pub async fn confirm_draft(&mut self, id: i64, fields: &[(&str, &str)]) -> Response {
        let review = self.get(&format!("/payouts/drafts/{id}/review")).await;
        let digest = hidden_field(&review.body, "digest").unwrap_or_default();
        let rate = hidden_field(&review.body, "rate").unwrap_or_default();
        let mut all = vec![("digest", digest.as_str()), ("rate", rate.as_str())];
        all.extend_from_slice(fields);
        self.post_form(&format!("/payouts/drafts/{id}/confirm"), &all).await
    }

    /// Starts a mass payout draft and returns its id.
    pub async fn start_draft(&mut self, asset: &str, purpose: &str) -> i64 {
        self.get("/payouts/new/mass").await;
        let res = self.post_form("/payouts/drafts", &[("asset", asset), ("purpose", purpose)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let id = res.location().unwrap().trim_start_matches("/payouts/drafts/").parse().unwrap();
        self.get(&format!("/payouts/drafts/{id}")).await;
        id
    }
}

/// A valid TRON address made from `n`.
pub fn tron_address(n: u32) -> String {
    let mut payload = vec![0x41u8];
    payload.extend_from_slice(&[0u8; 16]);
    payload.extend_from_slice(&n.to_be_bytes());
    bs58::encode(payload).with_check().into_string()
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// Waits until `child` (named `what` in failures) listens on `port`.
pub fn wait_listening(port: u16, what: &str, child: &mut std::process::Child) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{what} is not listening on port {port}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A child process (a server, a browser driver, a chain) killed when the test ends, however it
/// ends.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real server on database `url` paying through `--chain-config FAMILY=FILE`, processing
/// every 100 ms with 2 s leases; its log shown with `PAYOUTS_SERVER_LOG`.
pub fn serve_on_chain(url: &str, family: &str, config: &std::path::Path, dir: &std::path::Path) -> Process {
    use std::process::Stdio;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .args(["--processor-interval-ms", "100", "--processor-lease-seconds", "2"])
        .arg("--chain-config")
        .arg(format!("{family}={}", config.display()))
        .env("DATABASE_URL", url)
        .env("PAYOUTS_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdout(if std::env::var_os("PAYOUTS_SERVER_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    Process(child)
}

/// The rail of `family` as a server connects it from `config`, in this process: what its pages
/// ask of it.
pub fn connect_rail(
    pool: &payouts::db::Pool,
    family: &str,
    config: &std::path::Path,
) -> std::sync::Arc<dyn payouts::rails::Rail> {
    let setup = payouts::rails::family::Setup { pool: pool.clone(), clock: Default::default() };
    let chain = payouts::rails::family::ChainConfig { family: family.into(), file: config.to_owned() };
    payouts::rails::family::connect_all(&[chain], &setup).unwrap().remove(0).rail
}

/// The URL a server process is given for a test database.
pub fn url_string(backend: Backend, url: &DatabaseUrl) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", url.target()),
        Backend::Postgres => url.target().to_owned(),
    }
}

/// The real server binary on `url`, processing every 20 ms with 1 s leases, listening nowhere
/// useful: for tests where several processes share one database.
pub fn start_server(url: &str, dir: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["serve", "--bind", "127.0.0.1:0", "--sim-confirm-seconds", "1", "--processor-interval-ms", "20"])
        .args(["--processor-lease-seconds", "1"])
        .env("DATABASE_URL", url)
        .env("PAYOUTS_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server starts")
}

/// An API key for the demo user `email` with `scopes` (comma-separated), made as the CLI makes it.
pub fn api_key(app: &TestApp, email: &str, scopes: &str) -> String {
    payouts::service::access::api_keys::create_from_cli(&mut app.conn(), email, scopes, "test").unwrap()
}

/// An API request with the bearer key and, when given, a JSON body.
pub fn api_request(method: &str, path: &str, key: &str, body: Option<serde_json::Value>) -> test::TestRequest {
    let mut r = match method {
        "GET" => test::TestRequest::get(),
        "PUT" => test::TestRequest::put(),
        _ => test::TestRequest::post(),
    }
    .uri(path)
    .insert_header(("Authorization", format!("Bearer {key}")));
    if let Some(b) = body {
        r = r.insert_header(("Content-Type", "application/json")).set_payload(b.to_string());
    }
    r
}

/// A response's JSON body.
pub fn json_of(res: &Response) -> serde_json::Value {
    serde_json::from_str(&res.body).unwrap_or_else(|e| panic!("{e}: {}", res.body))
}

/// Moves the end of every approved payee address's cooling-off into the past, as if the period
/// passed.
pub fn end_cooling_off(app: &TestApp) {
    use diesel::prelude::*;
    use payouts::db::schema::payee_addresses as a;
    let past = payouts::clock::now() - chrono::Duration::minutes(1);
    diesel::update(a::table.filter(a::status.eq("approved")))
        .set(a::payable_from.eq(past))
        .execute(&mut **app.conn())
        .unwrap();
}

/// How many payout rows, across every organization, are in one of `statuses`.
pub fn count_items(state: &AppState, statuses: &[&str]) -> i64 {
    use payouts::db::schema::payout_items;
    payout_items::table
        .filter(payout_items::status.eq_any(statuses))
        .count()
        .get_result(&mut **state.pool.get().unwrap())
        .unwrap()
}

/// What a chat receiver got: (path, body) of each request.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A chat receiver (Slack's webhook, Telegram's Bot API): records each request's path and body,
/// answers 200.
pub fn chat_receiver() -> (Received, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let got: Received = Default::default();
    let mine = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let path = request.split_whitespace().nth(1).unwrap_or_default().to_owned();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((n, v)) = line.split_once(':')
                    && n.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            mine.lock().unwrap().push((path, String::from_utf8(body).unwrap()));
            let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (got, base)
}

/// The demo organization with approval required, its chat channels (Slack at `/slack` and a
/// Telegram bot `123456:ABC-def_ghi`, chat `-100200300`) on a local receiver, for the topic
/// `approval_needed`: the app and what the receiver got.
pub async fn app_with_chat(backend: Backend) -> (TestApp, Received) {
    let (got, base) = chat_receiver();
    let args = payouts::config::ServeArgs {
        webhook_allow_http: true,
        webhook_allow_private: true,
        telegram_api_url: base.clone(),
        ..Default::default()
    };
    let app = TestApp::start_with(backend, Config::from_args(&args).unwrap()).await;
    payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), true).unwrap();
    let admin = actor(&app, "admin@demo.local");
    let form = payouts::service::outbound::inbox::ChannelsForm {
        slack_url: format!("{base}/slack"),
        telegram_token: "123456:ABC-def_ghi".into(),
        telegram_chat_id: "-100200300".into(),
        remove_telegram: None,
        topics: vec!["approval_needed".into()],
        reminder_hours: "24".into(),
    };
    let policy = app.state.config.webhooks;
    payouts::service::outbound::inbox::save_channels(&mut app.conn(), &admin, &form, &policy, &app.state.secret)
        .unwrap();
    (app, got)
}
