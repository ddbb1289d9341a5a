//! Every state-changing request needs the CSRF token: without it, 403 and nothing changes.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{TestApp, backends};

#[actix_web::test]
async fn sign_in_without_a_valid_token_is_refused() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.get("/login").await;
        let fields = [("email", "accountant@demo.local"), ("password", "demo")];
        let res = client.post_raw("/login", &fields).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] no token");
        let res = client.post_raw("/login", &[("csrf_token", "0".repeat(64).as_str()), fields[0], fields[1]]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] forged token");
        assert!(!client.cookies.contains_key("payouts_session"), "no session was opened");
        // A token minted for another browser's cookie does not fit this one.
        let mut other = app.client().await;
        other.get("/login").await;
        let foreign = other.csrf.clone().unwrap();
        let res = client.post_raw("/login", &[("csrf_token", foreign.as_str()), fields[0], fields[1]]).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] another browser's token");
    }
}

#[actix_web::test]
async fn admin_form_without_token_changes_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let before = admin.get("/settings/audit").await.body.matches("<tr>").count();

        let fields = [("email", "csrf-victim@demo.local"), ("role", "admin"), ("password", "long enough password")];
        let res = admin.post_raw("/settings/users", &fields).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        assert!(res.body.contains("Form expired"));

        let users = admin.get("/settings/users").await;
        assert!(!users.body.contains("csrf-victim@demo.local"), "[{backend:?}] no user added");
        let after = admin.get("/settings/audit").await.body.matches("<tr>").count();
        assert_eq!(before, after, "[{backend:?}] nothing audited, nothing changed");
    }
}

#[actix_web::test]
async fn htmx_requests_carry_the_token_in_a_header() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("manager@demo.local", "demo").await;
        let token = client.csrf.clone().unwrap();
        let page = client.get("/").await;
        assert!(page.body.contains(&format!("\"X-CSRF-Token\": \"{token}\"")), "the page hands htmx the token");

        let res = client.send(TestRequest::post().uri("/logout").insert_header(("HX-Request", "true"))).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] header missing");
        assert_eq!(client.get("/").await.status, StatusCode::OK, "still signed in");

        let res = client
            .send(
                TestRequest::post()
                    .uri("/logout")
                    .insert_header(("HX-Request", "true"))
                    .insert_header(("X-CSRF-Token", token)),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] header accepted");
        assert_eq!(client.get("/").await.status, StatusCode::SEE_OTHER, "signed out");
    }
}
