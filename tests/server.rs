//! The server as a whole: health, headers, static files, migrations, configuration errors.

mod common;

use std::process::Command;

use actix_web::http::StatusCode;
use common::{TestApp, TestDb, backends};
use payouts::db::{self, DatabaseUrl};

#[actix_web::test]
async fn healthz_reports_the_database() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        let res = client.get("/healthz").await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}]");
        let json: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        assert_eq!(json["database"], "reachable");
        assert!(res.header("x-request-id").is_some_and(|id| id.len() == 16), "request id header");
    }
}

#[actix_web::test]
async fn pages_carry_security_headers() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        for path in ["/login", "/does-not-exist"] {
            let res = client.get(path).await;
            let csp = res.header("content-security-policy").unwrap_or_default();
            assert!(
                csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
                "[{backend:?}] {path}: {csp}"
            );
            assert!(!csp.contains("unsafe-inline"));
            assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(res.header("referrer-policy"), Some("strict-origin-when-cross-origin"));
        }
        let page = client.get("/login").await;
        assert!(!page.body.contains("<script>") && !page.body.contains("style="), "no inline scripts or styles");
        assert_eq!(client.get("/does-not-exist").await.status, StatusCode::NOT_FOUND);
    }
}

#[actix_web::test]
async fn vendored_htmx_is_served_with_a_long_cache() {
    let app = TestApp::start(db::Backend::Sqlite).await;
    let mut client = app.client().await;
    let page = client.get("/login").await;
    assert!(page.body.contains("src=\"/static/htmx-2.0.11.min.js\""));
    let res = client.get("/static/htmx-2.0.11.min.js").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("version:\"2.0.11\""), "the pinned htmx build");
    assert_eq!(res.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert!(res.header("content-type").unwrap().starts_with("text/javascript"));
    let css = client.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    let etag = css.header("etag").unwrap().to_owned();
    let again = client
        .send(actix_web::test::TestRequest::get().uri("/static/app.css").insert_header(("If-None-Match", etag)))
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(client.get("/static/../Cargo.toml").await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn demo_mode_offers_one_click_demo_sign_in() {
    let config = payouts::Config { demo: true, ..payouts::Config::default() };
    let app = TestApp::start_with(db::Backend::Sqlite, config).await;
    let mut client = app.client().await;
    let page = client.get("/login").await;
    for email in
        ["admin@demo.local", "manager@demo.local", "manager2@demo.local", "accountant@demo.local", "viewer@demo.local"]
    {
        assert!(page.body.contains(&format!("name=\"email\" value=\"{email}\"")), "{email} button");
    }
    let res = client.post_form("/login", &[("email", "manager2@demo.local"), ("password", "demo")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    let plain = TestApp::start(db::Backend::Sqlite).await;
    let page = plain.client().await.get("/login").await;
    assert!(!page.body.contains("Demo accounts"), "no demo buttons outside demo mode");
}

#[test]
fn migrations_apply_cleanly_and_only_once() {
    for backend in backends() {
        let (_db, url) = TestDb::create(backend);
        payouts::config::prepare_sqlite_dir(&url).unwrap();
        let pool = db::connect(&url, 2).unwrap();
        let mut conn = pool.get().unwrap();
        assert!(db::migrate(&mut conn).unwrap() >= 1, "[{backend:?}] first run applies");
        assert_eq!(db::migrate(&mut conn).unwrap(), 0, "[{backend:?}] second run has nothing to do");
        assert_eq!(db::orgs::count(&mut conn).unwrap(), 0);
        let outcome =
            payouts::service::payouts::bootstrap::initialize(&mut conn, false, "Acme", "boss@acme.test").unwrap();
        match outcome {
            payouts::service::payouts::bootstrap::Initialized::AdminCreated { email, password } => {
                assert_eq!(email, "boss@acme.test");
                assert_eq!(password.len(), 20);
                let user = db::users::find_by_email(&mut conn, &email).unwrap().unwrap();
                assert_eq!(user.role, "admin");
                assert!(!user.password_hash.contains(&password), "stored as a hash only");
            }
            other => panic!("[{backend:?}] {other:?}"),
        }
        let again =
            payouts::service::payouts::bootstrap::initialize(&mut conn, true, "Acme", "boss@acme.test").unwrap();
        assert_eq!(
            again,
            payouts::service::payouts::bootstrap::Initialized::Existing,
            "a used database is never seeded"
        );
    }
}

#[test]
fn database_urls_choose_the_backend_by_scheme() {
    assert_eq!(DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(), db::Backend::Postgres);
    assert_eq!(DatabaseUrl::parse("postgresql://u@h/db").unwrap().backend(), db::Backend::Postgres);
    assert_eq!(DatabaseUrl::parse("sqlite://data/x.db").unwrap().target(), "data/x.db");
    for bad in ["mysql://root@localhost/x", "data/payouts.sqlite3", "sqlite://:memory:", "http://x"] {
        assert!(DatabaseUrl::parse(bad).is_err(), "{bad} accepted");
    }
    let url = DatabaseUrl::parse("postgres://app:s3cret@db.internal:5432/payouts").unwrap();
    assert_eq!(url.redacted(), "postgres://app:***@db.internal:5432/payouts");
}

#[test]
fn unknown_database_scheme_exits_non_zero_without_creating_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_payouts"))
        .current_dir(dir.path())
        .env("DATABASE_URL", "mysql://root@localhost/payouts")
        .env("PAYOUTS_DATA_DIR", dir.path().join("data"))
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported database URL scheme `mysql`"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no SQLite file or data dir was created");
}

#[test]
fn cli_adds_a_user_and_prints_a_generated_password() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_payouts"))
            .env_remove("DATABASE_URL")
            .env("PAYOUTS_DATA_DIR", dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["user", "add", "--email", "Ops@Example.com", "--role", "manager", "--org", "Acme"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("added ops@example.com as manager to Acme"), "{stdout}");
    let password = stdout.lines().find_map(|l| l.strip_prefix("password: ")).unwrap();
    assert_eq!(password.len(), 20);

    let out = run(&["user", "add", "--email", "ops@example.com", "--role", "viewer"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = run(&["user", "add", "--email", "x@example.com", "--role", "owner"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role"));

    let url = DatabaseUrl::sqlite_path(&dir.path().join("payouts.sqlite3"));
    let pool = db::connect(&url, 1).unwrap();
    let user = db::users::find_by_email(&mut pool.get().unwrap(), "ops@example.com").unwrap().unwrap();
    assert!(payouts::crypto::verify_password(password, &user.password_hash));
}

#[actix_web::test]
async fn demo_seeds_payouts_in_every_status_and_the_ledger_adds_up() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let rail = common::instant_rail(&app, &[payouts::service::payouts::demo::DEMO_FAIL_ADDRESS]);
        payouts::service::payouts::demo::seed_payouts(&mut app.conn(), &rail).unwrap();
        let org = common::demo_org(&app);
        let mut conn = app.conn();
        let mut statuses: Vec<String> = db::payouts::list(&mut conn, org, &Default::default(), None, 100)
            .unwrap()
            .into_iter()
            .map(|p| p.status.as_str().to_owned())
            .collect();
        statuses.sort();
        assert_eq!(
            statuses,
            ["cancelled", "completed", "completed", "failed", "in_progress", "pending"],
            "[{backend:?}]"
        );
        for (code, deposited) in payouts::service::payouts::bootstrap::DEMO_BALANCES {
            let asset = payouts::domain::asset::find(code).unwrap();
            let b = payouts::service::payouts::ledger::balance_of(&mut conn, org, asset).unwrap();
            assert_eq!(
                b.funded().unwrap(),
                payouts::domain::Amount::parse(asset, deposited).unwrap(),
                "[{backend:?}] {code}"
            );
        }
        let mut client = app.client().await;
        client.login("viewer@demo.local", "demo").await;
        let dashboard = client.get("/").await;
        assert!(dashboard.body.contains("<span class=\"tile-number\">1</span> awaiting approval"), "[{backend:?}]");
        assert!(dashboard.body.contains("Paid out, last 30 days") && dashboard.body.contains("<svg"));
        assert!(
            dashboard.body.contains("USDT_TRC20: <span class=\"amount\">1,250.5 USDT_TRC20</span>"),
            "{}",
            dashboard.body
        );
    }
}
