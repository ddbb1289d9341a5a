//! The API's payee book, address approvals, `payee_id` on payout items, pay days and schedules —
//! on every backend: the same change control as the pages (no self-approval, cooling-off
//! enforced), with each refusal naming its field.

mod common;

use actix_web::http::StatusCode;
use common::{TRON_ADDRESS, TestApp, api_key as key, api_request as req, backends, demo_org, json_of as body};
use serde_json::{Value, json};

const SECOND_TRON: &str = "TJRyWwFs9wTFGZg3JbrVriFbNfCug5tDeC";

fn fields(res: &common::Response) -> Vec<String> {
    body(res)["errors"]
        .as_array()
        .map_or_else(Vec::new, |e| e.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect())
}

#[actix_web::test]
async fn payees_are_kept_through_the_api_under_the_same_change_control() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let mut c = app.client().await;
        let accountant = key(&app, "accountant@demo.local", "read,create");
        let manager = key(&app, "manager@demo.local", "read,approve");
        payouts::service::payouts::bootstrap::add_user_from_cli(
            &mut app.conn(),
            "clerk@demo.local",
            "accountant",
            "clerk-password",
            Some("Demo Company"),
        )
        .unwrap();
        let clerk = key(&app, "clerk@demo.local", "read,create");
        let viewer = key(&app, "viewer@demo.local", "read");
        let alice = json!({"name": "Alice Martin", "external_id": "E-1", "email": "Alice@Example.com",
            "tags": ["Employees", "berlin"], "addresses": [{"asset": "USDT_TRC20", "address": TRON_ADDRESS}]});

        // Without an Idempotency-Key, or with the read scope only: refused, nothing stored.
        let res = c.send(req("POST", "/api/v1/payees", &accountant, Some(alice.clone()))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
        assert_eq!(fields(&res), ["Idempotency-Key"]);
        let res = c
            .send(req("POST", "/api/v1/payees", &viewer, Some(alice.clone())).insert_header(("Idempotency-Key", "p1")))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        // Each bad field is named, the address by its place.
        let bad = json!({"name": "", "email": "not-an-email", "tags": ["ok", "<b>"],
            "addresses": [{"asset": "USDT_TRC20", "address": "TR7NHqjeKQ"}, {"asset": "NOPE", "address": "x"}]});
        let res = c
            .send(req("POST", "/api/v1/payees", &accountant, Some(bad)).insert_header(("Idempotency-Key", "p0")))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        let named = fields(&res);
        for field in ["name", "email", "tags", "addresses[0].address", "addresses[1].asset"] {
            assert!(named.iter().any(|f| f == field), "[{backend:?}] {field} in {named:?}");
        }
        assert!(payouts::db::payees::all_in_org(&mut app.conn(), demo_org(&app)).unwrap().is_empty());

        let res = c
            .send(
                req("POST", "/api/v1/payees", &accountant, Some(alice.clone()))
                    .insert_header(("Idempotency-Key", "p1")),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        let created = body(&res);
        let id = created["id"].as_i64().unwrap();
        assert_eq!(created["email"], "alice@example.com");
        assert_eq!(created["tags"], json!(["employees", "berlin"]));
        assert_eq!(created["addresses"][0]["state"], "pending", "[{backend:?}] an entered address waits for a manager");
        let address_id = created["addresses"][0]["id"].as_i64().unwrap();
        // The same key again: the first answer, no second payee; another body: refused.
        let again = c
            .send(
                req("POST", "/api/v1/payees", &accountant, Some(alice.clone()))
                    .insert_header(("Idempotency-Key", "p1")),
            )
            .await;
        assert_eq!((again.status, body(&again)["id"].as_i64()), (StatusCode::CREATED, Some(id)), "[{backend:?}]");
        let other = json!({"name": "Bob"});
        let res = c
            .send(req("POST", "/api/v1/payees", &accountant, Some(other)).insert_header(("Idempotency-Key", "p1")))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        // A taken external id names the field.
        let twin = json!({"name": "Alice Twin", "external_id": "E-1"});
        let res = c
            .send(req("POST", "/api/v1/payees", &accountant, Some(twin)).insert_header(("Idempotency-Key", "p2")))
            .await;
        assert_eq!((res.status, fields(&res)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["external_id".to_owned()]));
        assert_eq!(payouts::db::payees::all_in_org(&mut app.conn(), demo_org(&app)).unwrap().len(), 1);

        // Pending: listed for managers; a payout to it (by payee_id or by address) is refused.
        let pending = body(&c.send(req("GET", "/api/v1/payee-addresses/pending", &manager, None)).await);
        assert_eq!(pending[0]["payee_name"], "Alice Martin", "[{backend:?}]");
        assert_eq!(pending[0]["entered_by"], "accountant@demo.local");
        let pay =
            |item: Value| json!({"asset": "USDT_TRC20", "kind": "single", "description": "Salary", "items": [item]});
        let res = c
            .send(
                req("POST", "/api/v1/payouts", &accountant, Some(pay(json!({"payee_id": id, "amount": "10"}))))
                    .insert_header(("Idempotency-Key", "o1")),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {}", res.body);
        assert!(
            body(&res)["detail"].as_str().unwrap().contains("awaiting a manager's approval"),
            "[{backend:?}] {}",
            res.body
        );
        let res = c
            .send(
                req(
                    "POST",
                    "/api/v1/payouts",
                    &accountant,
                    Some(pay(json!({"address": TRON_ADDRESS, "amount": "10"}))),
                )
                .insert_header(("Idempotency-Key", "o2")),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(body(&res)["detail"].as_str().unwrap().contains("payee Alice Martin"), "[{backend:?}] {}", res.body);

        // Nobody approves what they entered, not even once promoted to manager; the accountant's
        // key cannot approve at all; a rejection needs a reason.
        let mine = c
            .send(req(
                "POST",
                &format!("/api/v1/payees/{id}/addresses"),
                &clerk,
                Some(json!({"asset": "USDT_TRC20", "address": SECOND_TRON})),
            ))
            .await;
        assert_eq!(mine.status, StatusCode::OK, "[{backend:?}] {}", mine.body);
        let second = body(&mine)["id"].as_i64().unwrap();
        let clerk_id = payouts::db::users::find_by_email(&mut app.conn(), "clerk@demo.local").unwrap().unwrap().id;
        payouts::db::users::set_role(&mut app.conn(), clerk_id, "manager").unwrap();
        let promoted = key(&app, "clerk@demo.local", "read,approve");
        let res = c.send(req("POST", &format!("/api/v1/payee-addresses/{second}/approve"), &promoted, None)).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}] {}", res.body);
        assert!(body(&res)["detail"].as_str().unwrap().contains("a manager other than you"));
        let res = c.send(req("POST", &format!("/api/v1/payee-addresses/{second}/approve"), &accountant, None)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        let res = c
            .send(req(
                "POST",
                &format!("/api/v1/payee-addresses/{second}/reject"),
                &manager,
                Some(json!({"reason": " "})),
            ))
            .await;
        assert_eq!((res.status, fields(&res)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_owned()]));
        let res = c
            .send(req(
                "POST",
                &format!("/api/v1/payee-addresses/{second}/reject"),
                &manager,
                Some(json!({"reason": "Not hers"})),
            ))
            .await;
        assert_eq!(body(&res)["state"], "rejected", "[{backend:?}]");
        // The first address was superseded by the second, so approve it afresh.
        let res = c
            .send(req(
                "POST",
                &format!("/api/v1/payees/{id}/addresses"),
                &accountant,
                Some(json!({"asset": "USDT_TRC20", "address": TRON_ADDRESS})),
            ))
            .await;
        let entered = body(&res)["id"].as_i64().unwrap();
        assert_ne!(entered, address_id, "[{backend:?}] a new entry, pending again");
        let res = c.send(req("POST", &format!("/api/v1/payee-addresses/{entered}/approve"), &manager, None)).await;
        assert_eq!(res.status, StatusCode::OK, "[{backend:?}] {}", res.body);
        assert_eq!(body(&res)["state"], "cooling_off", "[{backend:?}] 24 hours by default");
        let again = c.send(req("POST", &format!("/api/v1/payee-addresses/{entered}/approve"), &manager, None)).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "[{backend:?}] decided once");
        let res = c
            .send(
                req("POST", "/api/v1/payouts", &accountant, Some(pay(json!({"payee_id": id, "amount": "10"}))))
                    .insert_header(("Idempotency-Key", "o3")),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(body(&res)["detail"].as_str().unwrap().contains("becomes payable at"), "[{backend:?}] {}", res.body);

        // Payable: paid by payee_id alone, the row linked to her.
        common::end_cooling_off(&app);
        let res = c
            .send(
                req("POST", "/api/v1/payouts", &accountant, Some(pay(json!({"payee_id": id, "amount": "10"}))))
                    .insert_header(("Idempotency-Key", "o4")),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        let item = &body(&res)["items"][0];
        assert_eq!(
            (item["address"].as_str(), item["payee_id"].as_i64()),
            (Some(TRON_ADDRESS), Some(id)),
            "[{backend:?}]"
        );
        // An address that is not hers, a payee that does not exist or one of another
        // organization: named at the item.
        let other_org = {
            let admin = common::actor(&app, "other-admin@example.com");
            let form = payouts::service::payees::PayeeForm { name: "Elsewhere".into(), ..Default::default() };
            payouts::service::payees::create(&mut app.conn(), &admin, &form).unwrap().id
        };
        for (n, item) in [
            json!({"payee_id": id, "address": SECOND_TRON, "amount": "10"}),
            json!({"payee_id": 999_999, "amount": "10"}),
            json!({"payee_id": other_org, "amount": "10"}),
        ]
        .into_iter()
        .enumerate()
        {
            let res = c
                .send(
                    req("POST", "/api/v1/payouts", &accountant, Some(pay(item)))
                        .insert_header(("Idempotency-Key", format!("bad-{n}"))),
                )
                .await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] {n}: {}", res.body);
            assert!(fields(&res).contains(&"items[0].payee_id".to_owned()), "[{backend:?}] {n}: {}", res.body);
        }

        // Edited, found by tag, archived (then not payable by id), restored.
        let res = c
            .send(req(
                "PUT",
                &format!("/api/v1/payees/{id}"),
                &accountant,
                Some(json!({"name": "Alice Martin-Weber", "tags": ["employees"]})),
            ))
            .await;
        assert_eq!(body(&res)["name"], "Alice Martin-Weber", "[{backend:?}] {}", res.body);
        let res = c
            .send(req(
                "PUT",
                &format!("/api/v1/payees/{id}"),
                &accountant,
                Some(json!({"name": "A", "addresses": [{"asset": "BTC", "address": "x"}]})),
            ))
            .await;
        assert_eq!(fields(&res), ["addresses"], "[{backend:?}] addresses change only under change control");
        let found = body(&c.send(req("GET", "/api/v1/payees?search=employees", &viewer, None)).await);
        assert_eq!(found["data"].as_array().unwrap().len(), 1, "[{backend:?}]");
        let archived = body(&c.send(req("POST", &format!("/api/v1/payees/{id}/archive"), &accountant, None)).await);
        assert_eq!(archived["archived"], true);
        assert!(
            body(&c.send(req("GET", "/api/v1/payees", &viewer, None)).await)["data"].as_array().unwrap().is_empty()
        );
        let res = c
            .send(
                req("POST", "/api/v1/payouts", &accountant, Some(pay(json!({"payee_id": id, "amount": "1"}))))
                    .insert_header(("Idempotency-Key", "o5")),
            )
            .await;
        assert!(body(&res)["detail"].as_str().unwrap().contains("archived"), "[{backend:?}] {}", res.body);
        c.send(req("POST", &format!("/api/v1/payees/{id}/restore"), &accountant, None)).await;
        let one = body(&c.send(req("GET", &format!("/api/v1/payees/{id}"), &viewer, None)).await);
        assert_eq!((one["archived"].as_bool(), one["addresses"].as_array().unwrap().len()), (Some(false), 3));
        // Another organization's key sees none of it.
        let outsider = key(&app, "other-admin@example.com", "read");
        assert_eq!(
            c.send(req("GET", &format!("/api/v1/payees/{id}"), &outsider, None)).await.status,
            StatusCode::NOT_FOUND
        );
        // A body far larger than a payee is refused before it is parsed.
        let huge = json!({"name": "x".repeat(300 * 1024)});
        let res = c
            .send(req("POST", "/api/v1/payees", &accountant, Some(huge)).insert_header(("Idempotency-Key", "big")))
            .await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "[{backend:?}]");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
    }
}

#[actix_web::test]
async fn pay_days_and_schedules_through_the_api() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        payouts::db::orgs::set_approval_required(&mut app.conn(), demo_org(&app), false).unwrap();
        let mut c = app.client().await;
        let accountant = key(&app, "accountant@demo.local", "read,create");
        let viewer = key(&app, "viewer@demo.local", "read");
        let items: Vec<Value> = (0..2).map(|n| json!({"address": common::tron_address(n), "amount": "5"})).collect();
        let mass = |scheduled_for: Option<&str>| {
            let mut b = json!({"asset": "USDT_TRC20", "kind": "mass", "purpose": "Rewards", "items": items.clone()});
            if let Some(t) = scheduled_for {
                b["scheduled_for"] = t.into();
            }
            b
        };
        // A pay day that is not a time, is past or is too far ahead: named, nothing created.
        for (n, bad) in ["25.12.2026", "2020-01-01T09:00:00Z", "2999-01-01T09:00:00Z"].into_iter().enumerate() {
            let res = c
                .send(
                    req("POST", "/api/v1/payouts", &accountant, Some(mass(Some(bad))))
                        .insert_header(("Idempotency-Key", format!("s{n}"))),
                )
                .await;
            assert_eq!(
                (res.status, fields(&res)),
                (StatusCode::UNPROCESSABLE_ENTITY, vec!["scheduled_for".to_owned()]),
                "[{backend:?}] {bad}"
            );
        }
        // With an offset: stored in UTC, sent then and not before.
        let day = (payouts::clock::now() + chrono::Duration::days(2)).date().and_hms_opt(9, 0, 0).unwrap();
        let typed = format!("{}+02:00", day.format("%Y-%m-%dT%H:%M:%S"));
        let res = c
            .send(
                req("POST", "/api/v1/payouts", &accountant, Some(mass(Some(&typed))))
                    .insert_header(("Idempotency-Key", "s-ok")),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        let utc = day - chrono::Duration::hours(2);
        assert_eq!(body(&res)["scheduled_for"], format!("{}Z", utc.format("%Y-%m-%dT%H:%M:%S")), "[{backend:?}]");
        let id = body(&res)["id"].as_i64().unwrap();
        let rail = common::instant_rail(&app, &[]);
        let clock = payouts::clock::Clock::fixed(utc - chrono::Duration::seconds(1));
        common::process_all_at(&app, &rail, clock.clone());
        assert_eq!(
            payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned(),
            "in_progress",
            "[{backend:?}]"
        );
        clock.advance(chrono::Duration::seconds(1));
        common::process_all_at(&app, &rail, clock);
        assert_eq!(
            payouts::db::payouts::find(&mut app.conn(), id).unwrap().status.as_str().to_owned(),
            "completed",
            "[{backend:?}]"
        );

        // A schedule repeating it: read scope cannot make one; fields are named; then made.
        let schedule = json!({"name": "Monthly rewards", "template_payout_id": id, "day_of_month": 31, "time_of_day": "18:00", "days_before": 2});
        assert_eq!(
            c.send(req("POST", "/api/v1/schedules", &viewer, Some(schedule.clone()))).await.status,
            StatusCode::FORBIDDEN
        );
        let bad = json!({"name": "", "template_payout_id": 999_999, "day_of_month": 0, "time_of_day": "25:00", "days_before": 30});
        let res = c.send(req("POST", "/api/v1/schedules", &accountant, Some(bad))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        let named = fields(&res);
        for field in ["name", "day_of_month", "time_of_day", "days_before"] {
            assert!(named.iter().any(|f| f == field), "[{backend:?}] {field} in {named:?}");
        }
        let res = c
            .send(req(
                "POST",
                "/api/v1/schedules",
                &accountant,
                Some(json!({"name": "X", "template_payout_id": 999_999, "day_of_month": 1, "time_of_day": "09:00"})),
            ))
            .await;
        assert_eq!(fields(&res), ["template_payout_id"], "[{backend:?}]");
        let res = c.send(req("POST", "/api/v1/schedules", &accountant, Some(schedule))).await;
        assert_eq!(res.status, StatusCode::CREATED, "[{backend:?}] {}", res.body);
        let made = body(&res);
        assert_eq!((made["time_zone"].as_str(), made["active"].as_bool()), (Some("UTC"), Some(true)));
        let sid = made["id"].as_i64().unwrap();
        let paused = body(&c.send(req("POST", &format!("/api/v1/schedules/{sid}/pause"), &accountant, None)).await);
        assert_eq!(paused["active"], false, "[{backend:?}]");
        let listed = body(&c.send(req("GET", "/api/v1/schedules", &viewer, None)).await);
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let resumed = body(&c.send(req("POST", &format!("/api/v1/schedules/{sid}/resume"), &accountant, None)).await);
        assert_eq!(resumed["active"], true, "[{backend:?}]");
        let res = c.send(req("GET", "/api/v1/schedules", &viewer, None).method(actix_web::http::Method::DELETE)).await;
        assert_eq!((res.status, res.header("allow")), (StatusCode::METHOD_NOT_ALLOWED, Some("GET, POST")));
    }
}
