//! A corpus of bad input — registry files, form fields and API bodies — each answered with a
//! clear message, shown escaped, and changing nothing — on every backend.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{TRON_ADDRESS, TestApp, backends, demo_org, tron_address};
use serde_json::json;

const EVM: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

/// Files refused whole: (name, content, what the message says).
fn whole_file_cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut gzip = vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3];
    gzip.extend_from_slice(b"address,amount\n");
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("address,amount\n".bytes().flat_map(|b| [b, 0])).collect();
    let rows_10001 = format!("address,amount\n{}", format!("{TRON_ADDRESS},1\n").repeat(10_001)).into_bytes();
    let fifty_mib = {
        let mut v = b"address,amount,comment\n".to_vec();
        let line = format!("{TRON_ADDRESS},1,{}\n", "x".repeat(1000));
        while v.len() < 50 * 1024 * 1024 {
            v.extend_from_slice(line.as_bytes());
        }
        v
    };
    vec![
        ("empty.csv", vec![], "choose a CSV file"),
        ("header-only.csv", b"address,amount\n".to_vec(), "no recipients"),
        ("blank-rows.csv", b"address,amount\n,,\n\n".to_vec(), "no recipients"),
        ("no-header.csv", format!("{TRON_ADDRESS},10\n").into_bytes(), "must name the columns address and amount"),
        ("wrong-columns.csv", b"wallet;sum\nx;1\n".to_vec(), "must name the columns address and amount"),
        ("twice.csv", b"address,amount,Address\nx,1,y\n".to_vec(), "names the column address twice"),
        ("registry.csv", gzip, "compressed (gzip)"),
        ("utf16.csv", utf16, "UTF-16"),
        ("book.csv", b"PK\x03\x04\x14\x00\x06\x00".to_vec(), "Excel workbook"),
        ("scan.csv", b"%PDF-1.7\n".to_vec(), "PDF"),
        ("binary.csv", vec![b'a', 0, 1, 2, 3, 0, 9], "binary data"),
        ("latin1.csv", b"address,amount,comment\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,1,Jos\xe9\n".to_vec(), "not UTF-8"),
        ("rows-10001.csv", rows_10001, "more than 10000 recipients"),
        ("fifty-mib.csv", fifty_mib, "larger than 5 MiB"),
    ]
}

/// Rows kept for correction: (address, amount, comment, reference, what the message says).
fn row_cases() -> Vec<(String, &'static str, &'static str, &'static str, &'static str)> {
    let t = |n| tron_address(n);
    vec![
        (t(1), "99999999999999999999", "", "", "too large"),
        (t(2), "-5", "", "", "minus sign"),
        (t(3), "0", "", "", "greater than zero"),
        (t(4), "0.000", "", "", "greater than zero"),
        (t(5), "1e3", "", "", "scientific notation"),
        (t(6), "1E-2", "", "", "scientific notation"),
        (t(7), "12,5", "", "", "decimal mark"),
        (t(8), "1 000", "", "", "spaces"),
        (t(9), "$10", "", "", "only digits"),
        (t(10), "NaN", "", "", "only digits"),
        (t(11), "1.1234567", "", "", "at most 6 decimal places"),
        (t(12), "0.5", "", "", "smallest USDT_TRC20 payout"),
        (t(13), "١٠", "", "", "only digits"),
        (t(14), "", "", "", "Enter an amount"),
        ("\u{0422}R7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t".into(), "10", "", "", "only looks like"),
        ("TR7NHqjeKQxGTC\u{200B}i8q8ZY4pL8otSzgjLj6t".into(), "10", "", "", "invisible"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u".into(), "10", "", "", "checksum"),
        (EVM.into(), "10", "", "", "EVM address"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".into(), "10", "", "", "Bitcoin address"),
        ("".into(), "10", "", "", "Enter an address"),
        ("TR7N HqjeKQxGTCi8q8ZY4pL8otSzgjLj6t".into(), "10", "", "", "spaces"),
        (t(15), "10", "pay \u{202E}gnp.exe", "", "U+202E"),
        (t(16), "10", "long comment ", "", ""),
        (t(17), "10", "", "REF-1", ""),
        (t(18), "10", "", "REF-1", "already used on line"),
    ]
}

#[actix_web::test]
async fn bad_registry_files_change_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let id = client.start_draft("USDT_TRC20", "Corpus").await;
        for (name, content, message) in whole_file_cases() {
            let res = client.upload(&format!("/payouts/drafts/{id}/upload"), name, &content).await;
            assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {name}");
            let page = client.get(res.location().unwrap()).await;
            let flash: String = page.body[page.body.find("class=\"flash").unwrap_or(0)..].chars().take(600).collect();
            assert!(flash.to_lowercase().contains(&message.to_lowercase()), "[{backend:?}] {name}: {flash}");
            assert_eq!(
                payouts::db::drafts::lines(&mut app.conn(), id).unwrap().len(),
                0,
                "[{backend:?}] {name} added nothing"
            );
        }
    }
}

#[actix_web::test]
async fn bad_rows_are_explained_escaped_and_block_confirm() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let id = client.start_draft("USDT_TRC20", "Corpus rows").await;
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.write_record(["address", "amount", "comment", "reference"]).unwrap();
        let cases = row_cases();
        for (address, amount, comment, reference, _) in &cases {
            let comment = if comment.starts_with("long") { "x".repeat(201) } else { comment.to_string() };
            csv.write_record([address.as_str(), amount, &comment, reference]).unwrap();
        }
        csv.write_record([tron_address(30).as_str(), "10", "<script>alert(1)</script>", "=HYPERLINK(\"x\")"]).unwrap();
        let res = client.upload(&format!("/payouts/drafts/{id}/upload"), "rows.csv", &csv.into_inner().unwrap()).await;
        let editor = client.get(&res.location().unwrap().replace("?problems=1", "")).await;
        for (n, (_, _, _, _, message)) in cases.iter().enumerate() {
            if message.is_empty() {
                continue;
            }
            assert!(editor.body.contains(message), "[{backend:?}] row {} should say {message:?}", n + 1);
        }
        assert!(editor.body.contains("At most 200 characters; this has 201."));
        assert!(!editor.body.contains("<script>alert(1)</script>"), "[{backend:?}] never rendered as markup");
        assert!(
            editor.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || editor.body.contains("&lt;script&gt;"),
            "[{backend:?}] shown escaped"
        );
        let res = client.confirm_draft(id, &[]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert_eq!(payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(), 0);
    }
}

#[actix_web::test]
async fn bad_form_and_api_inputs_change_nothing() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let forms: [(&str, &str, &str, &str); 6] = [
            ("USDT_TRC20", "1e9", TRON_ADDRESS, "scientific notation"),
            ("USDT_TRC20", "100", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "checksum"),
            ("XRP", "100", TRON_ADDRESS, "payout currencies"),
            ("USDT_TRC20", "100", TRON_ADDRESS, "U+202E"),
            ("USDT_TRC20", "-100", TRON_ADDRESS, "minus sign"),
            ("USDT_TRC20", "", "", "Enter an amount"),
        ];
        for (n, (asset, amount, address, message)) in forms.into_iter().enumerate() {
            client.get("/payouts/new/single").await;
            let description = if n == 3 { "refund \u{202E}txt.exe" } else { "<img src=x onerror=alert(1)>" };
            let res = client
                .post_form(
                    "/payouts/new/single",
                    &[("asset", asset), ("amount", amount), ("address", address), ("description", description)],
                )
                .await;
            assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}] form {n}");
            assert!(res.body.contains(message), "[{backend:?}] form {n}: {message}");
            assert!(!res.body.contains("<img src=x"), "[{backend:?}] escaped");
        }
        // HTML in a description is stored as text and shown escaped on every page.
        let res = client.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "<b>bold</b> & \"quotes\"").await;
        let id = common::payout_id_of(&res);
        for page in [format!("/payouts/{id}"), "/payouts".to_string(), "/".to_string()] {
            let body = client.get(&page).await.body;
            assert!(
                !body.contains("<b>bold</b>") && body.contains("&#60;b&#62;bold&#60;/b&#62;"),
                "[{backend:?}] {page}"
            );
        }
        let key = payouts::service::access::api_keys::create_from_cli(
            &mut app.conn(),
            "accountant@demo.local",
            "read,create",
            "x",
        )
        .unwrap();
        let bodies: [(&str, &str); 7] = [
            ("{not json", "not valid JSON"),
            ("[]", "enabled assets"),
            (
                r#"{"asset":"USDT_TRC20","kind":"single","items":[{"address":"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t","amount":1e400}]}"#,
                "not valid JSON",
            ),
            (
                r#"{"asset":"USDT_TRC20","kind":"single","items":[{"address":"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t","amount":"100000000000000000000000000000000"}]}"#,
                "too large",
            ),
            (r#"{"asset":"USDT_TRC20","kind":"wire","items":[]}"#, "single"),
            (r#"{"asset":"USDT_TRC20","kind":"single","items":[]}"#, "exactly one item"),
            (
                r#"{"asset":"USDT_TRC20","kind":"mass","purpose":"x","items":[{"address":"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t","amount":"0"}]}"#,
                "greater than zero",
            ),
        ];
        for (n, (body, message)) in bodies.into_iter().enumerate() {
            let res = client
                .send(
                    TestRequest::post()
                        .uri("/api/v1/payouts")
                        .insert_header(("Authorization", format!("Bearer {key}")))
                        .insert_header(("Idempotency-Key", format!("bad-{n}")))
                        .insert_header(("Content-Type", "application/json"))
                        .set_payload(body),
                )
                .await;
            assert!(res.status.is_client_error(), "[{backend:?}] api {n}: {}", res.status);
            assert_eq!(res.header("content-type"), Some("application/problem+json"));
            assert!(res.body.contains(message), "[{backend:?}] api {n}: {}", res.body);
        }
        let quote = json!({"asset": "USDT_TRC20", "kind": "single", "items": [{"address": "<script>", "amount": "1"}]});
        let res = client
            .send(
                TestRequest::post()
                    .uri("/api/v1/payouts/quote")
                    .insert_header(("Authorization", format!("Bearer {key}")))
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(quote.to_string()),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(
            payouts::db::payouts::count(&mut app.conn(), demo_org(&app), &Default::default()).unwrap(),
            1,
            "[{backend:?}] only the one good payout"
        );
    }
}
