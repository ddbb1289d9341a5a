//! Roles and organizations: 403 for a role that may not, 404 for another organization's objects.

mod common;

use actix_web::http::StatusCode;
use common::{TestApp, backends, user_id_in};

#[actix_web::test]
async fn signed_out_visitor_is_sent_to_sign_in() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        for path in ["/", "/settings/users", "/settings/audit"] {
            let res = client.get(path).await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {path}");
            // The page asked for comes back after signing in; the dashboard is where one lands anyway.
            let expected =
                if path == "/" { "/login".to_owned() } else { format!("/login?next={}", path.replace('/', "%2F")) };
            assert_eq!(res.location(), Some(expected.as_str()));
        }
    }
}

#[actix_web::test]
async fn only_admins_reach_settings() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        for email in ["manager@demo.local", "accountant@demo.local", "viewer@demo.local"] {
            let mut client = app.client().await;
            client.login(email, "demo").await;
            let dashboard = client.get("/").await;
            assert!(!dashboard.body.contains("href=\"/settings\""), "{email} is not offered Settings");
            for path in ["/settings", "/settings/users", "/settings/audit"] {
                assert_eq!(client.get(path).await.status, StatusCode::FORBIDDEN, "[{backend:?}] {email} {path}");
            }
            let res = client
                .post_form(
                    "/settings/users",
                    &[("email", "sneaky@demo.local"), ("role", "admin"), ("password", "long enough password")],
                )
                .await;
            assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] {email} adds a user");
        }
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/users").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("sneaky@demo.local"), "[{backend:?}] nothing was added");
        assert!(page.body.contains("href=\"/settings\""), "admins are offered Settings");
    }
}

#[actix_web::test]
async fn another_organizations_user_is_not_found() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut other = app.client().await;
        other.login("other-admin@example.com", "other-password").await;
        let other_page = other.get("/settings/users").await;
        assert!(!other_page.body.contains("demo.local"), "[{backend:?}] organizations see only their own users");

        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/users").await;
        let viewer_id = user_id_in(&page.body, "viewer@demo.local");

        for path in [format!("/settings/users/{viewer_id}/disable"), format!("/settings/users/{viewer_id}/role")] {
            let res = other.post_form(&path, &[("role", "admin")]).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "[{backend:?}] {path}");
        }
        let page = admin.get("/settings/users").await;
        let row = &page.body[page.body.find("<td>viewer@demo.local</td>").unwrap()..];
        assert!(row[..row.find("</tr>").unwrap()].contains("Active"), "[{backend:?}] the viewer is untouched");
        assert!(row.contains("<option value=\"viewer\" selected>"), "[{backend:?}] role unchanged");
    }
}
