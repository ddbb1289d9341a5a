//! The admin's users page: add, change role, disable, and the audit trail they leave.

mod common;

use actix_web::http::StatusCode;
use common::{TestApp, backends, user_id_in};

#[actix_web::test]
async fn admin_adds_a_user_who_can_then_sign_in() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/users").await;
        let res = admin
            .post_form(
                "/settings/users",
                &[("email", "New.Person@Demo.Local"), ("role", "accountant"), ("password", "a long password")],
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let page = admin.get("/settings/users").await;
        assert!(page.body.contains("Added new.person@demo.local as Accountant."), "flash shown");
        assert!(page.body.contains("<td>new.person@demo.local</td>"));
        assert!(!admin.get("/settings/users").await.body.contains("Added new.person"), "flash shown once");

        let mut newcomer = app.client().await;
        newcomer.login("new.person@demo.local", "a long password").await;
        assert!(newcomer.get("/").await.body.contains("signed in as Accountant"));

        let audit = admin.get("/settings/audit").await;
        assert!(audit.body.contains("user.added") && audit.body.contains("new.person@demo.local as accountant"));
        assert!(audit.body.contains("127.0.0.1"), "the admin's IP is recorded");
    }
}

#[actix_web::test]
async fn invalid_new_user_is_explained_field_by_field_and_keeps_what_was_typed() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        admin.get("/settings/users").await;
        let res = admin
            .post_form("/settings/users", &[("email", "viewer@demo.local"), ("role", "manager"), ("password", "short")])
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("Use at least 10 characters."), "{}", res.body);
        assert!(res.body.contains("<option value=\"manager\" selected>"), "role kept");

        let res = admin
            .post_form(
                "/settings/users",
                &[("email", "viewer@demo.local"), ("role", "manager"), ("password", "long enough pass")],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("A user with this email already exists."), "{}", res.body);
        assert!(res.body.contains("value=\"viewer@demo.local\""), "email kept");

        let res = admin
            .post_form(
                "/settings/users",
                &[("email", "x@demo.local"), ("role", "owner"), ("password", "long enough pass")],
            )
            .await;
        assert!(res.body.contains("Choose a role"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn admin_changes_a_role_and_the_change_is_audited() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/users").await;
        let id = user_id_in(&page.body, "viewer@demo.local");
        let res = admin.post_form(&format!("/settings/users/{id}/role"), &[("role", "accountant")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}]");

        let mut former_viewer = app.client().await;
        former_viewer.login("viewer@demo.local", "demo").await;
        assert!(former_viewer.get("/").await.body.contains("signed in as Accountant"));

        let audit = admin.get("/settings/audit").await;
        assert!(audit.body.contains("user.role_changed"), "[{backend:?}]");
        assert!(audit.body.contains("viewer@demo.local: viewer → accountant"));
    }
}

#[actix_web::test]
async fn admin_cannot_demote_or_disable_themself() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/users").await;
        assert!(page.body.contains("(you)"));
        let own_id = {
            let mut conn = app.conn();
            payouts::db::users::find_by_email(&mut conn, "admin@demo.local").unwrap().unwrap().id
        };
        let res = admin.post_form(&format!("/settings/users/{own_id}/role"), &[("role", "viewer")]).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}]");
        assert!(res.body.contains("ask another admin"));
        let res = admin.post_form(&format!("/settings/users/{own_id}/disable"), &[]).await;
        assert_eq!(res.status, StatusCode::CONFLICT);
        assert_eq!(admin.get("/settings/users").await.status, StatusCode::OK, "still an admin");
    }
}

#[actix_web::test]
async fn sign_ins_and_failures_are_in_the_audit_log() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut someone = app.client().await;
        someone.get("/login").await;
        someone.post_form("/login", &[("email", "accountant@demo.local"), ("password", "wrong")]).await;
        someone.login("accountant@demo.local", "demo").await;
        someone.post_form("/logout", &[]).await;

        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let audit = admin.get("/settings/audit").await;
        assert!(
            audit.body.contains("login.failed") && audit.body.contains("wrong password, 1 in a row"),
            "[{backend:?}]"
        );
        assert!(audit.body.contains("<code>login</code>") && audit.body.contains("<code>logout</code>"));
        assert!(audit.body.contains("accountant@demo.local"));
    }
}
