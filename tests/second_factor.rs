//! Second factors on every backend: enrolling an authenticator, signing in with a code or a
//! recovery code, replays refused, wrong codes locking the account, the organization's policy,
//! step-up on approvals (pages and API) and settings, and resets by an admin or the CLI.

mod common;

use actix_web::http::StatusCode;
use common::{TRON_ADDRESS, TestApp, api_key, api_request, backends, json_of, payout_id_of};
use diesel::prelude::*;
use payouts::db::schema::users;
use payouts::domain::second_factor::code_at;

/// The code an authenticator shows `steps` time steps from now.
fn code(secret: &[u8], steps: i64) -> String {
    let now = chrono::Utc::now().timestamp() + steps * 30;
    code_at(secret, now as u64)
}

/// The secret a setup page shows for typing, decoded as an authenticator app decodes it.
fn secret_on(page: &str) -> Vec<u8> {
    let marker = "<code class=\"mono secret\">";
    let start = page.find(marker).expect("the setup shows the secret") + marker.len();
    let end = page[start..].find('<').unwrap() + start;
    totp_rs::Secret::try_from_base32(&page[start..end]).expect("base32").as_ref().to_vec()
}

fn recovery_codes_on(page: &str) -> Vec<String> {
    let list = &page[page.find("<ol class=\"recovery-codes mono\">").expect("codes are shown")..];
    let list = &list[..list.find("</ol>").unwrap()];
    list.split("<li>").skip(1).map(|li| li[..li.find("</li>").unwrap()].to_owned()).collect()
}

/// Lets the next code be of any step again, as if time had passed since the last one.
fn forget_last_code(app: &TestApp, email: &str) {
    diesel::update(users::table.filter(users::email.eq(email)))
        .set(users::totp_last_step.eq(None::<i64>))
        .execute(&mut **app.conn())
        .unwrap();
}

fn user_row(app: &TestApp, email: &str) -> payouts::db::models::UserRow {
    payouts::db::users::find_by_email(&mut app.conn(), email).unwrap().unwrap()
}

macro_rules! enrol {
    ($client:expr, $backend:expr) => {{
        $client.get("/account/security").await;
        let setup = $client.post_form("/account/security/totp", &[]).await;
        assert_eq!(setup.status, StatusCode::OK, "[{:?}] {}", $backend, setup.body);
        assert!(setup.body.contains("<svg"), "[{:?}] the QR code is drawn inline", $backend);
        let secret = secret_on(&setup.body);
        let done = $client.post_form("/account/security/totp/confirm", &[("code", &code(&secret, -1))]).await;
        assert_eq!(done.status, StatusCode::OK, "[{:?}] {}", $backend, done.body);
        (secret, recovery_codes_on(&done.body))
    }};
}

#[actix_web::test]
async fn enrolment_needs_a_valid_code_and_sign_in_then_asks_for_one_code_once() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        c.login("manager@demo.local", "demo").await;
        c.get("/account/security").await;
        let setup = c.post_form("/account/security/totp", &[]).await;
        let secret = secret_on(&setup.body);
        assert_eq!(secret.len(), 20, "160-bit secret");
        let stored = user_row(&app, "manager@demo.local").totp_secret.unwrap();
        assert!(!stored.contains(&hex::encode(&secret)), "[{backend:?}] sealed at rest");

        let wrong = c.post_form("/account/security/totp/confirm", &[("code", "000000")]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(wrong.body.contains("That code is not right"));
        assert!(user_row(&app, "manager@demo.local").totp_enabled_at.is_none(), "[{backend:?}] not on yet");
        assert_eq!(secret_on(&wrong.body), secret, "the same secret is shown again");

        let first = code(&secret, -1);
        let done = c.post_form("/account/security/totp/confirm", &[("code", &first)]).await;
        let codes = recovery_codes_on(&done.body);
        assert_eq!(codes.len(), 10, "[{backend:?}]");
        assert!(codes.iter().all(|c| c.len() == 14 && c.matches('-').count() == 2), "{codes:?}");
        let page = c.get("/account/security").await;
        assert!(!page.body.contains(&codes[0]), "[{backend:?}] recovery codes are shown once");
        assert!(page.body.contains("10 unused"));

        c.post_form("/logout", &[]).await;
        c.get("/login").await;
        let res = c.post_form("/login", &[("email", "manager@demo.local"), ("password", "demo")]).await;
        assert_eq!(res.location(), Some("/login/second-factor"), "[{backend:?}]");
        for path in ["/", "/payouts", "/approvals", "/account/security"] {
            let res = c.get(path).await;
            let back = if path == "/" { String::new() } else { format!("?next={}", path.replace('/', "%2F")) };
            let expected = format!("/login/second-factor{back}");
            assert_eq!(res.location(), Some(expected.as_str()), "[{backend:?}] {path} waits for the code");
        }
        c.get("/login/second-factor").await;
        let replay = c.post_form("/login/second-factor", &[("code", &first)]).await;
        assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] a code is accepted once");
        let ok = c.post_form("/login/second-factor", &[("code", &code(&secret, 1))]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", ok.body);
        assert_eq!(c.get("/approvals").await.status, StatusCode::OK, "[{backend:?}] signed in");

        // A recovery code signs in once.
        c.post_form("/logout", &[]).await;
        c.get("/login").await;
        c.post_form("/login", &[("email", "manager@demo.local"), ("password", "demo")]).await;
        c.get("/login/second-factor").await;
        let typed = codes[3].to_uppercase().replace('-', " ");
        assert_eq!(c.post_form("/login/second-factor", &[("code", &typed)]).await.status, StatusCode::SEE_OTHER);
        assert!(c.get("/account/security").await.body.contains("9 unused"), "[{backend:?}]");
        c.post_form("/logout", &[]).await;
        c.get("/login").await;
        c.post_form("/login", &[("email", "manager@demo.local"), ("password", "demo")]).await;
        c.get("/login/second-factor").await;
        let again = c.post_form("/login/second-factor", &[("code", &codes[3])]).await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] a recovery code works once");
    }
}

#[actix_web::test]
async fn wrong_codes_count_toward_the_lockout_and_a_right_password_does_not_reset_it() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        c.login("manager@demo.local", "demo").await;
        let (secret, _) = enrol!(c, backend);
        c.post_form("/logout", &[]).await;
        for round in 0..3 {
            c.get("/login").await;
            let res = c.post_form("/login", &[("email", "manager@demo.local"), ("password", "demo")]).await;
            assert_eq!(res.location(), Some("/login/second-factor"), "[{backend:?}] round {round}");
            c.get("/login/second-factor").await;
            if round < 2 {
                let res = c.post_form("/login/second-factor", &[("code", "123456")]).await;
                assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
            }
        }
        // Three right passwords and two wrong codes: five attempts in a row, and the fifth locks.
        let user = user_row(&app, "manager@demo.local");
        assert_eq!(user.failed_logins, 5, "[{backend:?}]");
        assert!(user.locked_until.is_some(), "[{backend:?}] locked");
        let right = c.post_form("/login/second-factor", &[("code", &code(&secret, 0))]).await;
        assert_eq!(
            right.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "[{backend:?}] even a right code waits out the lock"
        );
        let audit: i64 = payouts::db::schema::audit_log::table
            .filter(payouts::db::schema::audit_log::detail.like("wrong second-factor code%"))
            .count()
            .get_result(&mut **app.conn())
            .unwrap();
        assert_eq!(audit, 2, "[{backend:?}] each wrong code is in the audit log");
    }
}

#[actix_web::test]
async fn a_new_organization_sends_its_admin_to_set_up_a_factor_before_anything_else() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut conn = app.conn();
        payouts::service::payouts::bootstrap::add_user_from_cli(
            &mut conn,
            "boss@new.example",
            "admin",
            "long password 1",
            Some("New Org"),
        )
        .unwrap();
        let org = payouts::db::orgs::find_by_name(&mut conn, "New Org").unwrap().unwrap();
        assert!(org.second_factor_staff, "[{backend:?}] on for new organizations");
        let demo = payouts::db::orgs::find_by_name(&mut conn, "Demo Company").unwrap().unwrap();
        assert!(!demo.second_factor_staff, "[{backend:?}] off in demo mode");
        drop(conn);

        let mut c = app.client().await;
        c.login("boss@new.example", "long password 1").await;
        for path in ["/", "/payouts", "/settings/users", "/settings/security"] {
            assert_eq!(c.get(path).await.location(), Some("/account/security"), "[{backend:?}] {path}");
        }
        let page = c.get("/account/security").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("requires a second factor"), "[{backend:?}]");
        assert!(!page.body.contains("href=\"/payouts\""), "[{backend:?}] no navigation until enrolled");
        // What must be done comes first; changing the password waits below it (issue 44, item 13).
        let (factor, password) =
            (page.body.find("Authenticator app").unwrap(), page.body.find("Change password").unwrap());
        assert!(factor < password, "[{backend:?}] the required set-up first");
        let setup = c.post_form("/account/security/totp", &[]).await;
        assert!(setup.body.contains("href=\"otpauth://totp/"), "[{backend:?}] a phone opens its app from a link");
        assert_eq!(secret_on(&setup.body).len(), 20, "[{backend:?}] the secret as text beside it");
        enrol!(c, backend);
        assert_eq!(c.get("/settings/users").await.status, StatusCode::OK, "[{backend:?}] enrolled, everything opens");

        // The policy in Settings reaches accountants too once ticked.
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/security").await;
        let saved = admin.post_form("/settings/security", &[("staff", "yes"), ("accountants", "yes")]).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", saved.body);
        let mut accountant = app.client().await;
        accountant.get("/login").await;
        accountant.post_form("/login", &[("email", "accountant@demo.local"), ("password", "demo")]).await;
        assert_eq!(accountant.get("/payouts/new").await.location(), Some("/account/security"), "[{backend:?}]");
        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;
        assert_eq!(viewer.get("/payouts").await.status, StatusCode::OK, "[{backend:?}] viewers are not required");
        // The admin who saved it has none: sent to set one up too.
        assert_eq!(admin.get("/").await.location(), Some("/account/security"), "[{backend:?}]");
        // Who has which factor is listed for the admin once enrolled.
        enrol!(admin, backend);
        let list = admin.get("/settings/security").await.body;
        let row = &list[list.find("<td>accountant@demo.local").unwrap()..];
        assert!(row[..row.find("</tr>").unwrap()].contains("Must set one up"), "[{backend:?}]");
    }
}

/// A pending payout of `amount` USDT_TRC20 created by the demo accountant.
async fn pending_payout(app: &TestApp, amount: &str) -> i64 {
    let mut c = app.client().await;
    c.login("accountant@demo.local", "demo").await;
    let res = c.single_payout("USDT_TRC20", amount, TRON_ADDRESS, "step-up test").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    payout_id_of(&res)
}

fn status_of(app: &TestApp, id: i64) -> String {
    payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned()
}

fn set_policy(app: &TestApp, fields: &[(&str, &str)]) {
    let admin = common::actor(app, "admin@demo.local");
    let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    payouts::service::access::second_factor::set_policy(&mut app.conn(), &admin, &fields).unwrap();
}

#[actix_web::test]
async fn approving_over_the_threshold_asks_a_fresh_code_in_the_page() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = common::actor(&app, "admin@demo.local");
        let required = [("required", "yes"), ("needed", "1")].map(|(k, v)| (k.to_string(), v.to_string()));
        payouts::service::payouts::approvals::set_policy(&mut app.conn(), &admin, &required).unwrap();
        let big = pending_payout(&app, "500").await;
        let small = pending_payout(&app, "50").await;
        set_policy(&app, &[("threshold_USDT_TRC20", "100")]);

        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        let (secret, _) = enrol!(m, backend);
        common::age_step_up(&app, "manager@demo.local");
        let page = m.get(&format!("/payouts/{big}")).await;
        assert!(page.body.contains("name=\"otp\""), "[{backend:?}] the approve form asks for a code");

        let refused = m.post_form(&format!("/payouts/{big}/approve"), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}] {}", refused.body);
        assert!(refused.body.contains("needs a fresh second factor"), "[{backend:?}]");
        assert!(refused.body.contains("href=\"/step-up\""));
        assert_eq!(status_of(&app, big), "pending");
        let wrong = m.post_form(&format!("/payouts/{big}/approve"), &[("otp", "000000")]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert_eq!(status_of(&app, big), "pending", "[{backend:?}] a wrong code changes nothing");

        // Under the threshold no code is asked.
        m.get(&format!("/payouts/{small}")).await;
        assert_eq!(m.post_form(&format!("/payouts/{small}/approve"), &[]).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status_of(&app, small), "in_progress", "[{backend:?}]");

        m.get(&format!("/payouts/{big}")).await;
        let ok = m.post_form(&format!("/payouts/{big}/approve"), &[("otp", &code(&secret, 0))]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", ok.body);
        assert_eq!(status_of(&app, big), "in_progress", "[{backend:?}]");

        // With "every approval", even a small one asks, and the step-up page gives five minutes.
        set_policy(&app, &[("every_approval", "yes")]);
        let another = pending_payout(&app, "5").await;
        common::age_step_up(&app, "manager@demo.local");
        m.get(&format!("/payouts/{another}")).await;
        assert_eq!(
            m.post_form(&format!("/payouts/{another}/reject"), &[("reason", "no")]).await.status,
            StatusCode::FORBIDDEN
        );
        forget_last_code(&app, "manager@demo.local");
        m.get("/step-up?next=/approvals").await;
        let stepped = m.post_form("/step-up?next=/approvals", &[("otp", &code(&secret, 0))]).await;
        assert_eq!(stepped.location(), Some("/approvals"), "[{backend:?}] {}", stepped.body);
        m.get(&format!("/payouts/{another}")).await;
        assert_eq!(
            m.post_form(&format!("/payouts/{another}/reject"), &[("reason", "no")]).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(status_of(&app, another), "cancelled", "[{backend:?}]");
    }
}

#[actix_web::test]
async fn confirming_over_the_threshold_without_a_factor_is_refused_and_nothing_is_reserved() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        set_policy(&app, &[("threshold_USDT_TRC20", "100")]);
        let before =
            payouts::db::ledger::balance(&mut app.conn(), common::demo_org(&app), "USDT_TRC20").unwrap().unwrap();
        let mut c = app.client().await;
        c.login("accountant@demo.local", "demo").await;
        let res = c.single_payout("USDT_TRC20", "150", TRON_ADDRESS, "too big without a code").await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("you have none"), "[{backend:?}]");
        let after =
            payouts::db::ledger::balance(&mut app.conn(), common::demo_org(&app), "USDT_TRC20").unwrap().unwrap();
        assert_eq!(
            (before.available, before.reserved),
            (after.available, after.reserved),
            "[{backend:?}] nothing reserved"
        );
        let small = c.single_payout("USDT_TRC20", "99", TRON_ADDRESS, "under the threshold").await;
        assert_eq!(small.status, StatusCode::SEE_OTHER, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn the_api_approves_over_the_threshold_only_with_a_current_x_otp() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let admin = common::actor(&app, "admin@demo.local");
        let required = [("required", "yes"), ("needed", "1")].map(|(k, v)| (k.to_string(), v.to_string()));
        payouts::service::payouts::approvals::set_policy(&mut app.conn(), &admin, &required).unwrap();
        let first = pending_payout(&app, "500").await;
        let second = pending_payout(&app, "600").await;
        set_policy(&app, &[("threshold_USDT_TRC20", "100")]);
        let key = api_key(&app, "manager@demo.local", "read,approve");
        let mut c = app.client().await;

        let path = format!("/api/v1/payouts/{first}/approve");
        let none = c.send(api_request("POST", &path, &key, None)).await;
        assert_eq!(none.status, StatusCode::FORBIDDEN, "[{backend:?}] {}", none.body);
        assert!(
            json_of(&none)["detail"].as_str().unwrap().contains("have none"),
            "[{backend:?}] no TOTP: {}",
            none.body
        );

        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        let (secret, _) = enrol!(m, backend);
        forget_last_code(&app, "manager@demo.local");

        let without = c.send(api_request("POST", &path, &key, None)).await;
        assert_eq!(without.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        assert_eq!(json_of(&without)["type"], "/problems/step-up-required");
        assert!(json_of(&without)["detail"].as_str().unwrap().contains("X-OTP"));
        let wrong = c.send(api_request("POST", &path, &key, None).insert_header(("X-OTP", "111111"))).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", wrong.body);
        assert_eq!(json_of(&wrong)["errors"][0]["field"], "X-OTP");
        assert_eq!(status_of(&app, first), "pending");

        let otp = code(&secret, 0);
        let ok = c.send(api_request("POST", &path, &key, None).insert_header(("X-OTP", otp.as_str()))).await;
        assert_eq!(ok.status, StatusCode::OK, "[{backend:?}] {}", ok.body);
        assert_eq!(json_of(&ok)["status"], "in_progress");
        let replay = c
            .send(
                api_request("POST", &format!("/api/v1/payouts/{second}/approve"), &key, None)
                    .insert_header(("X-OTP", otp.as_str())),
            )
            .await;
        assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] the same code twice");
        assert_eq!(status_of(&app, second), "pending");
    }
}

#[actix_web::test]
async fn changing_fees_asks_an_admin_with_a_factor_for_a_fresh_code() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut a = app.client().await;
        a.login("admin@demo.local", "demo").await;
        let (secret, _) = enrol!(a, backend);
        common::age_step_up(&app, "admin@demo.local");
        a.get("/settings/fees").await;
        let fields = [("percent", "2"), ("fixed", "0"), ("min", "0"), ("max", "")];
        let refused = a.post_form("/settings/fees/USDT_TRC20/single", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}] {}", refused.body);
        assert!(refused.body.contains("Changing fees needs a fresh second factor"));
        let mut with_code = fields.to_vec();
        let otp = code(&secret, 0);
        with_code.push(("otp", &otp));
        let saved = a.post_form("/settings/fees/USDT_TRC20/single", &with_code).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", saved.body);
        let rule =
            payouts::service::access::org_settings::fee_schedule(&mut app.conn(), common::demo_org(&app)).unwrap();
        let usdt = payouts::domain::asset::find("USDT_TRC20").unwrap();
        let op = payouts::domain::fee::Operation::parse("single").unwrap();
        assert_eq!(rule.rule(usdt, op).percent.to_string(), "2", "[{backend:?}]");

        // Turning a webhook off asks the same, and is audited.
        let admin = common::actor(&app, "admin@demo.local");
        let hook = payouts::db::webhooks::insert_endpoint(
            &mut app.conn(),
            admin.org_id,
            "https://hooks.example/x",
            "payout.created",
            "s",
            payouts::clock::now(),
        )
        .unwrap();
        common::age_step_up(&app, "admin@demo.local");
        a.get("/settings/webhooks").await;
        let refused = a.post_form(&format!("/settings/webhooks/{}/disable", hook.id), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}] {}", refused.body);
        forget_last_code(&app, "admin@demo.local");
        let otp = code(&secret, 0);
        let done = a.post_form(&format!("/settings/webhooks/{}/disable", hook.id), &[("otp", &otp)]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", done.body);
        let enabled = payouts::db::webhooks::endpoints(&mut app.conn(), admin.org_id).unwrap()[0].enabled;
        assert!(!enabled, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn the_same_code_at_the_same_instant_is_accepted_once() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        let (secret, _) = enrol!(m, backend);
        forget_last_code(&app, "manager@demo.local");
        let user = user_row(&app, "manager@demo.local");
        let otp = code(&secret, 0);
        let key = app.state.secret.clone();
        let results = common::at_once(&app, 4, |conn| {
            payouts::service::access::second_factor::step_up_with_code(
                conn,
                user.id,
                None,
                &key,
                &otp,
                payouts::clock::now(),
            )
            .is_ok()
        });
        let accepted = results.into_iter().filter(|ok| *ok).count();
        assert_eq!(accepted, 1, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn an_admin_or_the_cli_resets_a_users_factors_and_ends_their_sessions() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        enrol!(m, backend);
        let manager = user_row(&app, "manager@demo.local");

        let mut a = app.client().await;
        a.login("admin@demo.local", "demo").await;
        let page = a.get("/settings/security").await;
        assert!(page.body.contains(&format!("/settings/users/{}/reset-factors", manager.id)), "[{backend:?}]");
        let res = a.post_form(&format!("/settings/users/{}/reset-factors", manager.id), &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let after = user_row(&app, "manager@demo.local");
        assert!(after.totp_secret.is_none() && after.totp_enabled_at.is_none(), "[{backend:?}]");
        assert_eq!(m.get("/").await.location(), Some("/login"), "[{backend:?}] the manager's session ended");
        let audited: i64 = payouts::db::schema::audit_log::table
            .filter(payouts::db::schema::audit_log::action.eq("second_factor.reset"))
            .count()
            .get_result(&mut **app.conn())
            .unwrap();
        assert_eq!(audited, 1, "[{backend:?}]");
        // Another organization's admin cannot reset this manager.
        let mut other = app.client().await;
        other.login("other-admin@example.com", "other-password").await;
        other.get("/settings/security").await;
        let res = other.post_form(&format!("/settings/users/{}/reset-factors", manager.id), &[]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "[{backend:?}]");

        // The CLI, for the last admin locked out.
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        enrol!(admin, backend);
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
            .args(["user", "reset-2fa", "--email", "Admin@Demo.Local"])
            .env("DATABASE_URL", common::url_string(backend, &app.url))
            .env("PAYOUTS_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "[{backend:?}] {}", String::from_utf8_lossy(&out.stderr));
        assert!(user_row(&app, "admin@demo.local").totp_enabled_at.is_none(), "[{backend:?}]");
        let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
            .args(["user", "reset-2fa", "--email", "nobody@demo.local"])
            .env("DATABASE_URL", common::url_string(backend, &app.url))
            .env("PAYOUTS_DATA_DIR", dir.path())
            .output()
            .unwrap();
        assert!(!unknown.status.success(), "[{backend:?}]");
        assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user has the email"));
    }
}

#[actix_web::test]
async fn a_password_reset_leaves_the_second_factor_in_place() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        c.login("manager@demo.local", "demo").await;
        let (secret, _) = enrol!(c, backend);

        // The reset link, as the notifier would email it (taken from the outbox here).
        let at = payouts::clock::now();
        payouts::service::access::password_reset::request(&mut app.conn(), "manager@demo.local", None, at).unwrap();
        let notifier = payouts::service::outbound::tell::Notifier { mail: true, ..app.state.notifier() };
        payouts::service::outbound::links::handle_reset_requests(&mut app.conn(), &notifier, at).unwrap();
        let queued = payouts::db::outbox::to_recipient(&mut app.conn(), "manager@demo.local").unwrap();
        let body = &queued.last().expect("the reset email").body_text;
        let start = body.find("/password/reset/").expect("a link");
        let path: String = body[start..].chars().take_while(|c| !c.is_whitespace()).collect();

        let mut anon = app.client().await;
        anon.get(&path).await;
        let done = anon
            .post_form(&path, &[("password", "a reset long password"), ("password_again", "a reset long password")])
            .await;
        assert_eq!(done.location(), Some("/login"), "[{backend:?}] {}", done.body);
        anon.get("/login").await;
        let res =
            anon.post_form("/login", &[("email", "manager@demo.local"), ("password", "a reset long password")]).await;
        assert_eq!(res.location(), Some("/login/second-factor"), "[{backend:?}] the factor is still asked");
        let waits = anon.get("/approvals").await;
        assert_eq!(waits.location(), Some("/login/second-factor?next=%2Fapprovals"), "[{backend:?}]");
        anon.get("/login/second-factor").await;
        let ok = anon.post_form("/login/second-factor", &[("code", &code(&secret, 1))]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", ok.body);
        assert_eq!(anon.get("/approvals").await.status, StatusCode::OK, "[{backend:?}]");
    }
}
