//! The JSON API v1 — on every backend.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{
    TRON_ADDRESS, TestApp, api_key as key, api_request as req, backends, instant_rail, json_of as body, process_all,
    tron_address,
};
use payouts::service::access::api_keys;
use serde_json::json;

#[actix_web::test]
async fn keys_scopes_and_problem_json() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        let res = c.send(TestRequest::get().uri("/api/v1/balances")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "[{backend:?}]");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        assert_eq!(body(&res)["status"], 401);
        assert_eq!(c.send(req("GET", "/api/v1/balances", "pk_wrong", None)).await.status, StatusCode::UNAUTHORIZED);

        let read = key(&app, "viewer@demo.local", "read");
        let res = c.send(req("GET", "/api/v1/balances", &read, None)).await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}]");
        let balances = body(&res);
        let usdt = balances.as_array().unwrap().iter().find(|b| b["asset"] == "USDT_TRC20").unwrap();
        assert_eq!(usdt["available"], "50000", "amounts are strings");
        let assets = body(&c.send(req("GET", "/api/v1/assets", &read, None)).await);
        assert!(assets.as_array().unwrap().iter().any(|a| a["code"] == "BTC" && a["decimals"] == 8));

        let item = json!({"asset": "USDT_TRC20", "kind": "single", "description": "x", "items": [{"address": TRON_ADDRESS, "amount": "10"}]});
        let res = c
            .send(req("POST", "/api/v1/payouts", &read, Some(item.clone())).insert_header(("Idempotency-Key", "k1")))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] read scope cannot create");
        assert!(body(&res)["detail"].as_str().unwrap().contains("`create` scope"));
        // Scopes the user's role does not allow are refused when the key is made.
        assert!(api_keys::create_from_cli(&mut app.conn(), "viewer@demo.local", "approve", "x").is_err());
        assert!(api_keys::create_from_cli(&mut app.conn(), "accountant@demo.local", "read,teleport", "x").is_err());

        let res = c.send(req("GET", "/api/v1/payouts/999999", &read, None)).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        assert_eq!(c.send(req("GET", "/api/v1/payouts/abc", &read, None)).await.status, StatusCode::NOT_FOUND);
    }
}

#[actix_web::test]
async fn validate_and_quote() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        let read = key(&app, "viewer@demo.local", "read");
        let res = c
            .send(req(
                "POST",
                "/api/v1/addresses/validate",
                &read,
                Some(json!({"asset": "USDT_ERC20", "address": TRON_ADDRESS})),
            ))
            .await;
        let v = body(&res);
        assert_eq!(v["valid"], false, "[{backend:?}]");
        assert_eq!(v["errors"][0], "This is a TRON address, but USDT_ERC20 pays on Ethereum.");

        let quote = json!({"asset": "USDT_TRC20", "kind": "mass", "purpose": "p", "items": [
            {"address": tron_address(1), "amount": "100"},
            {"address": "nope", "amount": "1e5"}
        ]});
        let v = body(&c.send(req("POST", "/api/v1/payouts/quote", &read, Some(quote))).await);
        assert_eq!(
            (v["count"].as_u64(), v["amount_total"].as_str(), v["fee"].as_str()),
            (Some(1), Some("100"), Some("0.3")),
            "[{backend:?}] {v}"
        );
        assert_eq!(v["items"][1]["errors"][0]["field"], "items[1].address");
        assert_eq!(v["items"][1]["errors"][1]["field"], "items[1].amount");
        assert_eq!(v["sufficient"], true);
    }
}

#[actix_web::test]
async fn create_is_idempotent_and_validated_and_honours_approval() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        let create = key(&app, "accountant@demo.local", "read,create");
        let body_ok = json!({"asset": "USDT_TRC20", "kind": "single", "description": "Invoice 9", "items": [{"address": TRON_ADDRESS, "amount": "250", "reference": "INV-9"}]});

        let res = c.send(req("POST", "/api/v1/payouts", &create, Some(body_ok.clone()))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] Idempotency-Key is required");
        assert_eq!(body(&res)["errors"][0]["field"], "Idempotency-Key");

        let bad = json!({"asset": "USDT_TRC20", "kind": "mass", "purpose": "p", "items": [{"address": TRON_ADDRESS, "amount": "5"}, {"address": TRON_ADDRESS, "amount": "-3"}]});
        let res = c
            .send(req("POST", "/api/v1/payouts", &create, Some(bad)).insert_header(("Idempotency-Key", "bad-1")))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert_eq!(body(&res)["errors"][0]["field"], "items[1].amount");
        assert_eq!(
            payouts::db::payouts::count(&mut app.conn(), common::demo_org(&app), &Default::default()).unwrap(),
            0,
            "nothing stored"
        );

        let first = c
            .send(
                req("POST", "/api/v1/payouts", &create, Some(body_ok.clone()))
                    .insert_header(("Idempotency-Key", "inv-9")),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "[{backend:?}] {}", first.body);
        let p = body(&first);
        assert_eq!(
            (p["status"].as_str(), p["total_debit"].as_str(), p["kind"].as_str()),
            (Some("in_progress"), Some("251.25"), Some("single"))
        );
        assert_eq!(p["items"][0]["reference"], "INV-9");
        let again = c
            .send(
                req("POST", "/api/v1/payouts", &create, Some(body_ok.clone()))
                    .insert_header(("Idempotency-Key", "inv-9")),
            )
            .await;
        assert_eq!(
            (again.status, again.body.clone()),
            (StatusCode::CREATED, first.body.clone()),
            "[{backend:?}] same key, same body: same answer"
        );
        let other = json!({"asset": "USDT_TRC20", "kind": "single", "description": "Invoice 9", "items": [{"address": TRON_ADDRESS, "amount": "2500"}]});
        let res = c
            .send(req("POST", "/api/v1/payouts", &create, Some(other)).insert_header(("Idempotency-Key", "inv-9")))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] same key, other body");
        assert_eq!(
            payouts::db::payouts::count(&mut app.conn(), common::demo_org(&app), &Default::default()).unwrap(),
            1
        );

        // With approval on, an API create waits for a manager, and the four-eyes rule holds.
        payouts::db::orgs::set_approval_required(&mut app.conn(), common::demo_org(&app), true).unwrap();
        let res = c.send(req("POST", "/api/v1/payouts", &create, Some(json!({"asset": "USDT_TRC20", "kind": "single", "description": "", "items": [{"address": TRON_ADDRESS, "amount": "10"}]}))).insert_header(("Idempotency-Key", "needs-ok"))).await;
        let pending = body(&res);
        assert_eq!(pending["status"], "pending", "[{backend:?}]");
        let id = pending["id"].as_i64().unwrap();
        let manager = key(&app, "manager@demo.local", "read,approve");
        let res =
            c.send(req("POST", &format!("/api/v1/payouts/{id}/reject"), &manager, Some(json!({"reason": ""})))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        let res = c.send(req("POST", &format!("/api/v1/payouts/{id}/approve"), &manager, None)).await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}] {}", res.body);
        assert_eq!(body(&res)["status"], "in_progress");
        assert_eq!(body(&res)["approvals"][0]["user"], "manager@demo.local");
        let res = c.send(req("POST", &format!("/api/v1/payouts/{id}/approve"), &create, None)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}] no approve scope");

        process_all(&app, &instant_rail(&app, &[]));
        let read = key(&app, "viewer@demo.local", "read");
        let got = body(&c.send(req("GET", &format!("/api/v1/payouts/{id}"), &read, None)).await);
        assert_eq!(got["status"], "completed", "[{backend:?}]");
        assert!(got["items"][0]["tx_hash"].as_str().is_some_and(|h| !h.is_empty()));
    }
}

#[actix_web::test]
async fn four_eyes_over_the_api() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), common::demo_org(&app), true).unwrap();
        // A manager who is also the creator: here, a manager key cannot create, so create as
        // the accountant and try to approve with a key of the same accountant's user.
        let mut c = app.client().await;
        let create = key(&app, "accountant@demo.local", "create");
        let res = c.send(req("POST", "/api/v1/payouts", &create, Some(json!({"asset": "USDT_TRC20", "kind": "single", "description": "", "items": [{"address": TRON_ADDRESS, "amount": "10"}]}))).insert_header(("Idempotency-Key", "fe"))).await;
        let id = body(&res)["id"].as_i64().unwrap();
        let user = payouts::db::users::find_by_email(&mut app.conn(), "accountant@demo.local").unwrap().unwrap();
        payouts::db::users::set_role(&mut app.conn(), user.id, "manager").unwrap();
        let self_approve = key(&app, "accountant@demo.local", "approve");
        let res = c.send(req("POST", &format!("/api/v1/payouts/{id}/approve"), &self_approve, None)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        assert!(body(&res)["detail"].as_str().unwrap().contains("four-eyes"));
        assert_eq!(payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned(), "pending");
    }
}

#[actix_web::test]
async fn list_pages_with_a_cursor_and_filters() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        let create = key(&app, "accountant@demo.local", "read,create");
        for n in 0..5 {
            let b = json!({"asset": "USDT_TRC20", "kind": "single", "description": format!("n{n}"), "items": [{"address": TRON_ADDRESS, "amount": "10"}]});
            c.send(
                req("POST", "/api/v1/payouts", &create, Some(b)).insert_header(("Idempotency-Key", format!("l{n}"))),
            )
            .await;
        }
        let page1 = body(&c.send(req("GET", "/api/v1/payouts?limit=3", &create, None)).await);
        assert_eq!(page1["data"].as_array().unwrap().len(), 3, "[{backend:?}]");
        let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
        let page2 = body(&c.send(req("GET", &format!("/api/v1/payouts?limit=3&cursor={cursor}"), &create, None)).await);
        assert_eq!(page2["data"].as_array().unwrap().len(), 2);
        assert!(page2["next_cursor"].is_null());
        let filtered = body(&c.send(req("GET", "/api/v1/payouts?status=completed", &create, None)).await);
        assert_eq!(filtered["data"].as_array().unwrap().len(), 0);
        let res = c.send(req("GET", "/api/v1/payouts?limit=0&created_from=yesterday", &create, None)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        let problem = body(&res);
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"limit") && fields.contains(&"created_from"), "{fields:?}");
    }
}

#[actix_web::test]
async fn an_admin_creates_a_key_shown_once_and_revokes_it() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/api-keys").await;
        assert!(page.body.contains("No keys yet"), "[{backend:?}]");
        let accountant = payouts::db::users::find_by_email(&mut app.conn(), "accountant@demo.local").unwrap().unwrap();
        let id = accountant.id.to_string();
        let res = admin
            .post_form(
                "/settings/api-keys",
                &[("name", "Rewards"), ("user_id", &id), ("scopes", "read"), ("scopes", "approve")],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] an accountant cannot approve");
        assert!(res.body.contains("cannot hold the `approve` scope"));
        let res = admin
            .post_form(
                "/settings/api-keys",
                &[("name", "Rewards"), ("user_id", &id), ("scopes", "read"), ("scopes", "create")],
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}]");
        let start =
            res.body.find("<code class=\"wrap\">pk_").expect("the key is shown") + "<code class=\"wrap\">".len();
        let secret = res.body[start..start + 51].to_owned();
        assert!(secret.starts_with("pk_") && !secret.contains('<'), "{secret}");
        let again = admin.get("/settings/api-keys").await;
        assert!(!again.body.contains(&secret), "[{backend:?}] shown once");
        assert!(again.body.contains(&secret[..11]), "the prefix stays visible");

        let mut c = app.client().await;
        assert_eq!(c.send(req("GET", "/api/v1/balances", &secret, None)).await.status, StatusCode::OK);
        assert!(admin.get("/settings/api-keys").await.body.contains("read,create"));
        let key_id = payouts::db::api::list(&mut app.conn(), accountant.org_id).unwrap()[0].id;
        admin.post_form(&format!("/settings/api-keys/{key_id}/revoke"), &[]).await;
        assert_eq!(
            c.send(req("GET", "/api/v1/balances", &secret, None)).await.status,
            StatusCode::UNAUTHORIZED,
            "[{backend:?}] revoked"
        );
        let audit = admin.get("/settings/audit").await;
        assert!(audit.body.contains("api_key.created") && audit.body.contains("api_key.revoked"));
    }
}

#[test]
fn cli_creates_a_key_and_prints_only_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_payouts"))
            .env_remove("DATABASE_URL")
            .env("PAYOUTS_DATA_DIR", dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(
        run(&["user", "add", "--email", "bot@acme.test", "--role", "accountant", "--org", "Acme"]).status.success()
    );
    let out = run(&["api-key", "create", "--email", "bot@acme.test", "--scopes", "read,create", "--name", "shop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.trim().starts_with("pk_") && stdout.trim().len() == 51);
    let out = run(&["api-key", "create", "--email", "bot@acme.test", "--scopes", "approve"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot hold the `approve` scope"));
}

#[actix_web::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = TestApp::start(payouts::db::Backend::Sqlite).await;
    let mut c = app.client().await;
    let res = c.send(TestRequest::get().uri("/api/openapi.json")).await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = body(&res);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for (path, method) in [
        ("/api/v1/assets", "get"),
        ("/api/v1/balances", "get"),
        ("/api/v1/addresses/validate", "post"),
        ("/api/v1/payouts/quote", "post"),
        ("/api/v1/payouts", "post"),
        ("/api/v1/payouts", "get"),
        ("/api/v1/payouts/{id}", "get"),
        ("/api/v1/payouts/{id}/approve", "post"),
        ("/api/v1/payouts/{id}/reject", "post"),
        ("/api/v1/payouts/{id}/cancel", "post"),
        ("/api/v1/payees", "get"),
        ("/api/v1/payees", "post"),
        ("/api/v1/payees/{id}", "get"),
        ("/api/v1/payees/{id}", "put"),
        ("/api/v1/payees/{id}/archive", "post"),
        ("/api/v1/payees/{id}/restore", "post"),
        ("/api/v1/payees/{id}/addresses", "post"),
        ("/api/v1/payee-addresses/pending", "get"),
        ("/api/v1/payee-addresses/{id}/approve", "post"),
        ("/api/v1/payee-addresses/{id}/reject", "post"),
        ("/api/v1/schedules", "get"),
        ("/api/v1/schedules", "post"),
        ("/api/v1/schedules/{id}/pause", "post"),
        ("/api/v1/schedules/{id}/resume", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is documented");
        // The shared error answers are named once (components/responses) and referenced by each operation.
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["401", "403"] {
            let named =
                responses[status]["$ref"].as_str().unwrap_or_else(|| panic!("{method} {path} {status} is a $ref"));
            let response = doc.pointer(named.trim_start_matches('#')).expect("the named response exists");
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
    assert!(doc["paths"]["/api/v1/payouts"]["post"]["responses"]["422"].is_object());
    assert!(doc["components"]["schemas"]["ItemRequest"]["properties"]["payee_id"].is_object());
    assert!(doc["components"]["schemas"]["PayoutRequest"]["properties"]["scheduled_for"].is_object());
    assert!(doc["components"]["schemas"]["PayoutRequest"]["properties"]["acknowledge_lookalikes"].is_object());
    // The quote's lookalike rows refer to a schema the document defines.
    let lookalikes = &doc["components"]["schemas"]["QuoteResponse"]["properties"]["lookalikes"]["items"]["$ref"];
    let named = lookalikes.as_str().unwrap_or_else(|| panic!("{lookalikes}"));
    assert!(doc.pointer(named.trim_start_matches('#')).unwrap()["properties"]["resembles"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["PayoutJson"]["properties"]["amount_total"]["type"], "string",
        "amounts are strings"
    );
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // The list's filters are optional query parameters, not required path parameters.
    for p in doc["paths"]["/api/v1/payouts"]["get"]["parameters"].as_array().unwrap() {
        assert_eq!((p["in"].as_str(), p["required"].as_bool()), (Some("query"), Some(false)), "{p}");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["PayoutRequest"]["required"], serde_json::json!(["asset", "kind", "items"]));
    assert_eq!(schemas["ItemRequest"]["required"], serde_json::json!(["address", "amount"]));
    assert_eq!(schemas["PayoutRequest"]["properties"]["kind"]["enum"], serde_json::json!(["single", "mass"]));
    assert_eq!(schemas["PayoutJson"]["properties"]["status"]["enum"].as_array().unwrap().len(), 6);
    assert!(schemas["PayoutRequest"]["properties"]["asset"]["enum"].as_array().unwrap().contains(&"USDT_TRC20".into()));
    let links = &doc["paths"]["/api/v1/payouts"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["GetPayout"]["parameters"]["id"], "$response.body#/id", "stateful clients follow the new id");
    let docs = c.send(TestRequest::get().uri("/api/docs")).await;
    assert!(docs.body.contains("<code>POST /api/v1/payouts</code>"), "{}", docs.body);
    // Inside the dashboard's layout (issue 44, item 12), with only the vendored scripts.
    assert!(docs.body.contains(r#"<a class="brand" href="/">Payouts</a>"#) && docs.body.contains("favicon.svg"));
    assert!(!docs.body.contains(r#"<script src="http"#), "nothing from elsewhere");
}

#[actix_web::test]
async fn cancel_over_the_api_releases_the_funds() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut c = app.client().await;
        let create = key(&app, "accountant@demo.local", "read,create");
        let b = json!({"asset": "USDT_TRC20", "kind": "single", "description": "oops", "items": [{"address": TRON_ADDRESS, "amount": "100"}]});
        let id = body(
            &c.send(req("POST", "/api/v1/payouts", &create, Some(b)).insert_header(("Idempotency-Key", "c1"))).await,
        )["id"]
            .as_i64()
            .unwrap();
        let res =
            c.send(req("POST", &format!("/api/v1/payouts/{id}/cancel"), &create, Some(json!({"reason": ""})))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert_eq!(body(&res)["errors"][0]["field"], "reason");
        let res = c
            .send(req(
                "POST",
                &format!("/api/v1/payouts/{id}/cancel"),
                &create,
                Some(json!({"reason": "duplicate order"})),
            ))
            .await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}] {}", res.body);
        assert_eq!(body(&res)["status"], "cancelled");
        let res = c
            .send(req("POST", &format!("/api/v1/payouts/{id}/cancel"), &create, Some(json!({"reason": "again"}))))
            .await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}]");
        let balances = body(&c.send(req("GET", "/api/v1/balances", &create, None)).await);
        let usdt = balances.as_array().unwrap().iter().find(|b| b["asset"] == "USDT_TRC20").unwrap().clone();
        assert_eq!(
            (usdt["available"].as_str(), usdt["reserved"].as_str()),
            (Some("50000"), Some("0")),
            "[{backend:?}]"
        );
    }
}
