//! Sign-in, sign-out, session renewal and expiry, lockout — on every backend.

mod common;

use actix_web::http::StatusCode;
use common::{TestApp, backends, user_id_in};
use payouts::Config;
use payouts::clock::now;
use payouts::service::access::sessions;

#[actix_web::test]
async fn demo_accountant_signs_in_and_sees_the_dashboard() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.get("/login").await;
        let res = client.post_form("/login", &[("email", "Accountant@Demo.Local "), ("password", "demo")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        assert_eq!(res.location(), Some("/"));
        let cookie = res.set_cookies().into_iter().find(|c| c.starts_with("payouts_session=")).unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        let page = client.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Dashboard") && page.body.contains("accountant@demo.local"), "[{backend:?}]");
        assert!(page.body.contains("Demo Company"));
    }
}

#[actix_web::test]
async fn wrong_password_is_refused_with_a_message_and_no_session() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.get("/login").await;
        let res = client.post_form("/login", &[("email", "accountant@demo.local"), ("password", "nope")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("The email or password is not right"));
        assert!(res.body.contains("value=\"accountant@demo.local\""), "the typed email is kept");
        assert!(!client.cookies.contains_key("payouts_session"));
        assert_eq!(client.get("/").await.status, StatusCode::SEE_OTHER, "still signed out");
        // An unknown email gets the very same answer, so sign-in does not reveal who has an account.
        let res = client.post_form("/login", &[("email", "nobody@demo.local"), ("password", "demo")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("The email or password is not right"));
    }
}

#[actix_web::test]
async fn malformed_email_is_named_next_to_the_field() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.get("/login").await;
        let res = client.post_form("/login", &[("email", "not-an-email"), ("password", "x")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("id=\"email-error\""), "{}", res.body);
        assert!(res.body.contains("An email address needs an @"));
    }
}

#[actix_web::test]
async fn sign_in_replaces_the_session_id_the_browser_had() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let first = client.cookies["payouts_session"].clone();
        // Signing in again (say, on a shared machine) issues a new id and ends the old session.
        client.login("viewer@demo.local", "demo").await;
        let second = client.cookies["payouts_session"].clone();
        assert_ne!(first, second, "[{backend:?}] session id renewed on sign-in");
        let mut conn = app.conn();
        let old = sessions::resolve(&mut conn, &first, &Config::default(), now()).unwrap();
        assert!(old.is_none(), "the old session no longer works");
        let page = client.get("/").await;
        assert!(page.body.contains("viewer@demo.local"));
    }
}

#[actix_web::test]
async fn logout_ends_the_session_on_the_server() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("manager@demo.local", "demo").await;
        let token = client.cookies["payouts_session"].clone();
        let res = client.post_form("/logout", &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        assert_eq!(res.location(), Some("/login"));
        assert!(!client.cookies.contains_key("payouts_session"), "cookie removed");
        let login_page = client.get("/login").await;
        assert!(login_page.body.contains("You are signed out."));
        // Replaying the old cookie does not bring the session back.
        client.cookies.insert("payouts_session".into(), token);
        let res = client.get("/").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location(), Some("/login"));
    }
}

#[actix_web::test]
async fn idle_session_expires_and_active_session_is_renewed() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let hash = sessions::token_hash(&client.cookies["payouts_session"]);
        let idle = Config::default().session_idle;

        // Active a little under the idle limit ago: still signed in, and the clock restarts.
        let almost = now() - idle + chrono::Duration::minutes(1);
        payouts::db::sessions::set_times(&mut app.conn(), &hash, almost, almost).unwrap();
        assert_eq!(client.get("/").await.status, StatusCode::OK, "[{backend:?}]");
        let mut conn = app.conn();
        let renewed = sessions::resolve(
            &mut conn,
            &client.cookies["payouts_session"],
            &Config::default(),
            now() + chrono::Duration::minutes(5),
        );
        assert!(renewed.unwrap().is_some(), "last use was recorded, so five minutes later it still lives");

        // Idle longer than the limit: signed out.
        let long_ago = now() - idle - chrono::Duration::minutes(1);
        payouts::db::sessions::set_times(&mut app.conn(), &hash, long_ago, long_ago).unwrap();
        let res = client.get("/").await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(res.location(), Some("/login"));
        assert!(!client.cookies.contains_key("payouts_session"), "the dead cookie is cleared");
    }
}

#[actix_web::test]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.get("/login").await;
        for _ in 0..payouts::domain::account::FREE_LOGIN_ATTEMPTS {
            client.post_form("/login", &[("email", "manager@demo.local"), ("password", "guess")]).await;
        }
        let res = client.post_form("/login", &[("email", "manager@demo.local"), ("password", "demo")]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(!client.cookies.contains_key("payouts_session"));
        // The locked account answers exactly as an unknown one: nothing tells which emails exist.
        let unknown = client.post_form("/login", &[("email", "nobody@demo.local"), ("password", "demo")]).await;
        let message = |body: &str| {
            let start = body.find("flash-error").expect("an error message");
            body[start..].split('<').next().unwrap().to_owned()
        };
        assert_eq!(message(&res.body), message(&unknown.body), "[{backend:?}]");
        assert_eq!(res.status, unknown.status);
        // Other accounts are unaffected.
        client.login("manager2@demo.local", "demo").await;
    }
}

#[actix_web::test]
async fn disabled_user_is_signed_out_and_cannot_sign_in() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut viewer = app.client().await;
        viewer.login("viewer@demo.local", "demo").await;

        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/users").await;
        let id = user_id_in(&page.body, "viewer@demo.local");
        let res = admin.post_form(&format!("/settings/users/{id}/disable"), &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);

        assert_eq!(viewer.get("/").await.status, StatusCode::SEE_OTHER, "signed out at once");
        viewer.get("/login").await;
        let res = viewer.post_form("/login", &[("email", "viewer@demo.local"), ("password", "demo")]).await;
        assert!(res.body.contains("This account is disabled"), "{}", res.body);
    }
}

#[test]
fn parallel_guesses_get_no_more_password_checks_than_the_limit() {
    use diesel::prelude::*;
    use payouts::db::schema::audit_log;
    for backend in backends() {
        let app = actix_web::rt::System::new().block_on(TestApp::start(backend));
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(40));
        let signed_in: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..40)
                .map(|n| {
                    let (barrier, pool) = (barrier.clone(), app.state.pool.clone());
                    s.spawn(move || {
                        // All wrong: a right password among them would rightly clear the count
                        // and give the rest a fresh allowance, whatever order they ran in.
                        let password = format!("guess-{n}");
                        barrier.wait();
                        let mut conn = pool.get().unwrap();
                        sessions::login(&mut conn, "manager@demo.local", &password, None, None, now()).is_ok()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).filter(|ok| *ok).count()
        });
        let checked: Vec<String> = audit_log::table
            .filter(audit_log::action.eq_any(["login", "login.failed"]))
            .select(audit_log::detail)
            .load(&mut **app.conn())
            .unwrap();
        let passed_the_lock = checked.iter().filter(|d| d.as_str() != "attempt while locked").count();
        assert!(checked.iter().any(|d| d == "attempt while locked"), "[{backend:?}] the lock held some back");
        assert_eq!(checked.len(), 40, "[{backend:?}] every attempt is recorded");
        assert!(
            passed_the_lock <= payouts::domain::account::FREE_LOGIN_ATTEMPTS as usize,
            "[{backend:?}] {passed_the_lock} attempts got a password check"
        );
        assert_eq!(signed_in, 0, "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_session_used_every_twenty_seconds_outlives_a_one_minute_idle_limit() {
    for backend in backends() {
        let config = Config { session_idle: chrono::Duration::minutes(1), ..Config::default() };
        let app = TestApp::start_with(backend, config).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let hash = sessions::token_hash(&client.cookies["payouts_session"]);
        let created = now() - chrono::Duration::seconds(90);
        // Used 20 s (and more) after the last recorded use: the use must be recorded, or three
        // such uses later the stored time would be over a minute old and the session would end.
        for seen_ago in [20, 30, 45] {
            let last_seen = now() - chrono::Duration::seconds(seen_ago);
            payouts::db::sessions::set_times(&mut app.conn(), &hash, created, last_seen).unwrap();
            assert_eq!(client.get("/").await.status, StatusCode::OK, "[{backend:?}] last seen {seen_ago} s ago");
            let (session, _, _, _, _) = payouts::db::sessions::find_with_user(&mut app.conn(), &hash).unwrap().unwrap();
            assert!(now() - session.last_seen_at < chrono::Duration::seconds(5), "[{backend:?}] use recorded");
        }
    }
}
