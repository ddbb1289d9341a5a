//! Fiat values recorded per row as money moves: the rate and value at confirmation, the rate,
//! value and service fee value at payment, shown on the reviews, the details page and the
//! results file — and nothing at a moment without a current rate. On every backend.

mod common;

use actix_web::http::StatusCode;
use common::{TRON_ADDRESS, TestApp, actor, backends, instant_rail, payout_id_of, process_all, process_all_at};
use payouts::service::valuation::rates::{self, RateForm, ReportingForm};

fn eur_rate(app: &TestApp, rate: &str) {
    let admin = actor(app, "admin@demo.local");
    let form = ReportingForm { currency: "EUR".into(), stale_minutes: "15".into(), ..Default::default() };
    rates::set_reporting(&mut app.conn(), &admin, &form).unwrap();
    record(app, rate);
}

/// A rate of the organization's own, valid for the next quarter of an hour (to the minute):
/// these tests pay rows after it lapsed, 16 or 20 minutes later.
fn record(app: &TestApp, rate: &str) {
    let admin = actor(app, "admin@demo.local");
    let zone = payouts::service::access::org_settings::time_zone(&mut app.conn(), admin.org_id).unwrap();
    let until = zone.local(payouts::clock::now() + chrono::Duration::minutes(15));
    let form = RateForm {
        asset: "USDT_TRC20".into(),
        rate: rate.into(),
        source: "ECB reference rate".into(),
        valid_until: until.format("%Y-%m-%d %H:%M").to_string(),
    };
    rates::record(&mut app.conn(), &admin, &form).unwrap();
}

/// The results file's records by column name.
fn results(app: &TestApp, id: i64) -> Vec<std::collections::HashMap<String, String>> {
    let accountant = actor(app, "accountant@demo.local");
    let csv = payouts::service::payouts::results_csv(&mut app.conn(), &accountant, id).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect()
}

#[actix_web::test]
async fn the_rate_at_confirmation_and_the_rate_at_payment_are_both_kept() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur_rate(&app, "0.92");
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        let fields =
            [("asset", "USDT_TRC20"), ("amount", "1250.5"), ("address", TRON_ADDRESS), ("description", "Invoice 7")];
        let review = client.post_form("/payouts/new/single", &fields).await;
        // 1250.5 × 0.92 = 1150.46; the fee 6.2525 × 0.92 = 5.7523 → 5.75.
        assert!(review.body.contains("Value in EUR"), "[{backend:?}] {}", review.body);
        assert!(
            review.body.contains("1,150.46 EUR <span class=\"muted\">+ service fee 5.75 EUR</span> = 1,156.21 EUR"),
            "[{backend:?}] what the value includes is said"
        );
        assert!(review.body.contains("at 0.92 EUR per USDT_TRC20 — ECB reference rate"), "[{backend:?}]");

        let id = payout_id_of(&client.single_payout("USDT_TRC20", "1250.5", TRON_ADDRESS, "Invoice 7").await);
        // The rate moves before the row is paid: both are kept.
        record(&app, "0.95");
        process_all(&app, &instant_rail(&app, &[]));
        let page = client.get(&format!("/payouts/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("1,150.46 EUR") && page.body.contains("service fee 5.75 EUR"), "[{backend:?}]");
        // 1250.5 × 0.95 = 1187.975 → 1,187.98 (half away from zero).
        assert!(page.body.contains("Value when paid</dt><dd class=\"amount\">1,187.98 EUR"), "[{backend:?}]");
        let rows = results(&app, id);
        let row = &rows[0];
        assert_eq!(row["fiat_currency"], "EUR", "[{backend:?}]");
        assert_eq!(row["value_at_confirmation"], "1150.46", "[{backend:?}]");
        assert_eq!(row["rate_at_payment"], "0.95", "[{backend:?}]");
        assert_eq!(row["rate_source"], "ECB reference rate", "[{backend:?}]");
        assert_eq!(row["value_at_payment"], "1187.98", "[{backend:?}]");
        assert_eq!(row["fee_value"], "5.94", "[{backend:?}] 6.2525 × 0.95 = 5.939875");
        assert_eq!(row["network_fee"], "", "[{backend:?}] the simulated network charges nothing it could say");

        // Recorded, not recomputed: a later rate changes nothing already paid.
        record(&app, "2");
        assert_eq!(results(&app, id)[0]["value_at_payment"], "1187.98", "[{backend:?}]");
        // The API carries the same values, as strings.
        let key = common::api_key(&app, "accountant@demo.local", "read");
        let res = client.send(common::api_request("GET", &format!("/api/v1/payouts/{id}"), &key, None)).await;
        let json = common::json_of(&res);
        assert_eq!(json["fiat"]["amount_total"], "1150.46", "[{backend:?}] {json}");
        assert_eq!(json["fiat"]["rate"], "0.92", "[{backend:?}]");
        let item = &json["items"][0]["fiat"];
        assert_eq!((&item["value_at_payment"], &item["rate_at_payment"]), (&"1187.98".into(), &"0.95".into()));
        assert_eq!(item["fee_value"], "5.94", "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_moment_without_a_current_rate_records_no_value() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        client.get("/payouts/new/single").await;
        let fields = [("asset", "USDT_TRC20"), ("amount", "10"), ("address", TRON_ADDRESS), ("description", "")];
        let review = client.post_form("/payouts/new/single", &fields).await;
        let value = &review.body[review.body.find("Value in USD").expect("the value line")..];
        assert!(value[..80].contains("no current rate"), "[{backend:?}] {value:.200}");
        let id = payout_id_of(&client.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "").await);
        let page = client.get(&format!("/payouts/{id}")).await;
        assert!(page.body.contains("no current rate when it was confirmed"), "[{backend:?}]");

        // A rate recorded now is stale by the time the row is paid, twenty minutes later.
        eur_rate(&app, "0.92");
        let id2 = payout_id_of(&client.single_payout("USDT_TRC20", "10", TRON_ADDRESS, "").await);
        let later = payouts::clock::Clock::fixed(payouts::clock::now() + chrono::Duration::minutes(20));
        process_all_at(&app, &instant_rail(&app, &[]), later);
        for (id, confirmed) in [(id, ""), (id2, "9.20")] {
            let row = &results(&app, id)[0];
            assert_eq!(row["status"], "completed", "[{backend:?}]");
            assert_eq!(row["value_at_confirmation"], confirmed, "[{backend:?}]");
            assert_eq!((row["rate_at_payment"].as_str(), row["value_at_payment"].as_str()), ("", ""), "[{backend:?}]");
        }
        let page = client.get(&format!("/payouts/{id2}")).await;
        assert!(page.body.contains("9.20 EUR") && page.body.contains("no current rate"), "[{backend:?}]");
        assert!(
            !page.body.contains("Value when paid</dt>"),
            "[{backend:?}] no total of values that were never recorded"
        );
    }
}

/// The single form with the amount typed in `amount_in`.
fn typed(amount: &str, amount_in: &str) -> Vec<(&'static str, String)> {
    vec![
        ("asset", "USDT_TRC20".into()),
        ("amount", amount.into()),
        ("amount_in", amount_in.into()),
        ("address", TRON_ADDRESS.into()),
        ("description", "November salary".into()),
    ]
}

fn as_refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[actix_web::test]
async fn a_salary_typed_in_eur_is_paid_in_usdt_at_the_reviewed_rate_or_reviewed_again() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur_rate(&app, "0.92");
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let page = client.get("/payouts/new/single").await;
        // The form says which assets have no rate to convert at, before anyone reaches the
        // review (issue 44, item 7); the live check refuses EUR for them.
        let hint = &page.body[page.body.find("No current rate in EUR now for").expect("said on the form")..];
        let hint = &hint[..hint.find("</p>").unwrap()];
        assert!(hint.contains("USDT_ERC20") && !hint.contains("USDT_TRC20"), "[{backend:?}] {hint}");
        let check = |asset: &'static str| {
            vec![
                ("field", "amount"),
                ("asset", asset),
                ("amount", "1000"),
                ("amount_in", "EUR"),
                ("address", ""),
                ("description", ""),
            ]
        };
        let said = client.post_form("/payouts/new/single/check", &check("USDT_ERC20")).await;
        assert!(said.body.contains("There is no current USDT_ERC20 rate in EUR"), "[{backend:?}] {}", said.body);
        let said = client.post_form("/payouts/new/single/check", &check("USDT_TRC20")).await;
        assert!(!said.body.contains("no current") && said.body.contains("1,000.00 EUR"), "[{backend:?}] {}", said.body);
        let form = typed("1000", "EUR");
        let review = client.post_form("/payouts/new/single", &as_refs(&form)).await;
        assert_eq!(review.status, StatusCode::OK, "[{backend:?}] {}", review.body);
        // 1000 / 0.92 = 1086.9565217…, rounded up to the token's 6 decimals.
        assert!(review.body.contains("1,086.956522 USDT_TRC20"), "[{backend:?}] {}", review.body);
        assert!(review.body.contains("Typed as</dt><dd class=\"amount\">1,000.00 EUR"), "[{backend:?}]");
        assert!(review.body.contains("at 0.92 EUR per USDT_TRC20 — ECB reference rate"), "[{backend:?}]");
        assert!(review.body.contains("rounded up"), "[{backend:?}] the rounding rule is said");

        // Confirmed after the rate moved 0.5 %, within the 1 % tolerance: the reviewed amount is sent.
        let confirm = |body: &str, form: &[(&'static str, String)]| {
            let mut fields = as_refs(form).into_iter().map(|(k, v)| (k, v.to_owned())).collect::<Vec<_>>();
            for name in ["token", "digest", "rate"] {
                fields.push((name, common::hidden_field(body, name).unwrap_or_default()));
            }
            fields
        };
        let fields = confirm(&review.body, &form);
        record(&app, "0.9246");
        let res = client.post_form("/payouts/new/single/confirm", &as_refs(&fields)).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let id = payout_id_of(&res);
        process_all(&app, &instant_rail(&app, &[]));
        let row = &results(&app, id)[0];
        assert_eq!(row["amount"], "1086.956522", "[{backend:?}] what was reviewed is what was sent");
        assert_eq!(row["value_at_confirmation"], "1000.00", "[{backend:?}] 1086.956522 × 0.92");
        let key = common::api_key(&app, "accountant@demo.local", "read");
        let json = common::json_of(
            &client.send(common::api_request("GET", &format!("/api/v1/payouts/{id}"), &key, None)).await,
        );
        assert_eq!(json["fiat"]["rate"], "0.92", "[{backend:?}] {json}");
        assert_eq!(json["fiat"]["entered_in_fiat"], true, "[{backend:?}]");
        assert!(json["fiat"]["rate_source"].as_str().unwrap().contains("0.9246 when confirmed"), "[{backend:?}]");
        assert_eq!(json["items"][0]["fiat"]["entered_amount"], "1000.00", "[{backend:?}]");

        // Moved 2 % since the review: nothing is created; the review comes back at the new rate.
        client.get("/payouts/new/single").await;
        let review = client.post_form("/payouts/new/single", &as_refs(&form)).await;
        let fields = confirm(&review.body, &form);
        record(&app, "0.94");
        let count = |app: &TestApp| {
            payouts::db::payouts::list(&mut app.conn(), common::demo_org(app), &Default::default(), None, 10)
                .unwrap()
                .len()
        };
        let before = count(&app);
        let res = client.post_form("/payouts/new/single/confirm", &as_refs(&fields)).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("The exchange rate moved since you reviewed"), "[{backend:?}]");
        // 1000 / 0.94 = 1063.8297872…
        assert!(res.body.contains("1,063.829788 USDT_TRC20"), "[{backend:?}] the new figures");
        assert_eq!(count(&app), before, "[{backend:?}] nothing created");
        // Confirming what is shown now works.
        let fields = confirm(&res.body, &form);
        let res = client.post_form("/payouts/new/single/confirm", &as_refs(&fields)).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);

        // Gone stale between review and Confirm: refused too.
        let accountant = actor(&app, "accountant@demo.local");
        let service_form = payouts::service::payouts::SinglePayoutForm {
            asset: "USDT_TRC20".into(),
            amount: "50".into(),
            amount_in: "EUR".into(),
            address: TRON_ADDRESS.into(),
            ..Default::default()
        };
        let draft = payouts::service::payouts::check_single(&mut app.conn(), &accountant, &service_form).unwrap();
        let later = payouts::service::access::Actor {
            clock: payouts::clock::Clock::fixed(payouts::clock::now() + chrono::Duration::minutes(16)),
            ..accountant
        };
        let err = payouts::service::payouts::create_reviewed(
            &mut app.conn(),
            &later,
            &draft,
            &"a".repeat(64),
            &draft.digest(),
        )
        .err()
        .expect("refused");
        assert!(err.to_string().contains("exchange rate moved"), "[{backend:?}] {err}");

        // Typed amounts are checked like any: a bad one is named, nothing is converted with no rate.
        let res = client.post_form("/payouts/new/single", &as_refs(&typed("12.345", "EUR"))).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(res.body.contains("EUR allows at most 2 decimal places"), "[{backend:?}]");
        let res = client.post_form("/payouts/new/single", &as_refs(&typed("12", "GBP"))).await;
        assert!(res.body.contains("Type the amount in USDT_TRC20 or in EUR"), "[{backend:?}]");
        let mut btc = typed("12", "EUR");
        btc[0].1 = "BTC".into();
        btc[3].1 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq".into();
        let res = client.post_form("/payouts/new/single", &as_refs(&btc)).await;
        assert!(res.body.contains("There is no current BTC rate in EUR"), "[{backend:?}] {}", res.body);
    }
}

/// Journal lines by entry: (entry key, account, signed amount in cents).
fn parse_journal(
    csv_bytes: &[u8],
    key_col: &str,
    signed: impl Fn(&csv::StringRecord, &[String]) -> i128,
) -> Vec<(String, String, i128)> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let col =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name} in {header:?}"));
    let (k, a) =
        (col(key_col), col(if header.iter().any(|h| h == "*AccountCode") { "*AccountCode" } else { "Account Name" }));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[k].to_owned(), r[a].to_owned(), signed(&r, &header))
        })
        .collect()
}

fn cents(text: &str) -> i128 {
    if text.is_empty() {
        return 0;
    }
    let d: rust_decimal::Decimal = text.parse().unwrap();
    (d * rust_decimal::Decimal::from(100)).trunc().try_into().unwrap()
}

#[actix_web::test]
async fn the_month_exports_as_balanced_xero_and_quickbooks_journals() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur_rate(&app, "0.92");
        let mut admin = app.client().await;
        admin.login("admin@demo.local", "demo").await;
        let page = admin.get("/settings/accounting").await;
        assert_eq!(page.status, StatusCode::OK, "[{backend:?}]");
        let bad = admin.post_form("/settings/accounting", &[("expense", ""), ("service_fee", "6100")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        assert!(bad.body.contains("id=\"acc-expense-error\""), "[{backend:?}] the empty account is named");
        let mut fields: Vec<(String, String)> =
            [("expense", "6000"), ("service_fee", "6100"), ("network_fee", "6200"), ("tax_rate", "Tax Exempt")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .to_vec();
        for (n, a) in payouts::domain::asset::ASSETS.iter().enumerate() {
            fields.push((format!("asset:{}", a.code), format!("12{n:02}")));
        }
        let mut refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        refs.push(("purposes", "no equals sign"));
        let bad = admin.post_form("/settings/accounting", &refs).await;
        assert!(bad.body.contains("Line 1: write it as text = account"), "[{backend:?}]");
        refs.pop();
        refs.push(("purposes", "\ninvoice 8 = 6010\n"));
        let saved = admin.post_form("/settings/accounting", &refs).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", saved.body);

        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let paid = payout_id_of(&client.single_payout("USDT_TRC20", "1250.5", TRON_ADDRESS, "Invoice 7").await);
        let second = payout_id_of(&client.single_payout("USDT_TRC20", "99.99", TRON_ADDRESS, "Invoice 8").await);
        process_all(&app, &instant_rail(&app, &[]));
        // Paid when its rate had gone stale: it cannot be valued, so it is named, not booked.
        let stale = payout_id_of(&client.single_payout("USDT_TRC20", "5", TRON_ADDRESS, "Invoice 9").await);
        let later = payouts::clock::Clock::fixed(payouts::clock::now() + chrono::Duration::minutes(20));
        process_all_at(&app, &instant_rail(&app, &[]), later);
        let paid_at = payouts::db::values::items_of(&mut app.conn(), paid).unwrap()[0].paid_at.unwrap();
        let month = paid_at.format("%Y-%m").to_string();

        let page = client.get(&format!("/payouts/accounting?month={month}")).await;
        assert_eq!(page.status, StatusCode::OK, "[{backend:?}]");
        assert!(page.body.contains("2 entries"), "[{backend:?}] {}", page.body);
        assert!(
            page.body.contains(&format!("Payout #{stale}</a>: line 1 was paid without a current USDT_TRC20 rate")),
            "[{backend:?}]"
        );
        let bad = client.get("/payouts/accounting?month=2026-13").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "[{backend:?}]");
        // Opened without a month: the latest month with paid rows, not an empty previous one;
        // accounts are set, so nothing warns (issue 44, item 11).
        let opened = client.get("/payouts/accounting").await;
        assert!(opened.body.contains(&format!("value=\"{month}\"")), "[{backend:?}]");
        assert!(opened.body.contains("2 entries") && !opened.body.contains("No accounts are set"), "[{backend:?}]");
        // Without any account set the page warns before the download.
        let kept = payouts::db::values::accounts(&mut app.conn(), common::demo_org(&app)).unwrap();
        payouts::db::values::save_accounts(&mut app.conn(), common::demo_org(&app), &[]).unwrap();
        let warned = client.get(&format!("/payouts/accounting?month={month}")).await;
        assert!(warned.body.contains("No accounts are set under"), "[{backend:?}]");
        payouts::db::values::save_accounts(&mut app.conn(), common::demo_org(&app), &kept).unwrap();

        let file = |format: &str| {
            let path = format!("/payouts/accounting/journal.csv?month={month}&format={format}");
            async move { path }
        };
        let xero = client.get(&file("xero").await).await;
        assert_eq!(xero.status, StatusCode::OK, "[{backend:?}]");
        let lines = parse_journal(xero.body.as_bytes(), "*Narration", |r, h| {
            cents(&r[h.iter().position(|x| x == "*Amount").unwrap()])
        });
        let qbo = client.get(&file("quickbooks").await).await;
        let qlines = parse_journal(qbo.body.as_bytes(), "Journal No.", |r, h| {
            let at = |n: &str| h.iter().position(|x| x == n).unwrap();
            cents(&r[at("Debits")]) - cents(&r[at("Credits")])
        });
        for lines in [&lines, &qlines] {
            let mut by_entry: std::collections::BTreeMap<&str, i128> = Default::default();
            for (k, _, amount) in lines.iter() {
                *by_entry.entry(k.as_str()).or_default() += amount;
            }
            assert_eq!(by_entry.len(), 2, "[{backend:?}] one entry per payout paid with values: {lines:?}");
            assert!(by_entry.values().all(|sum| *sum == 0), "[{backend:?}] every entry balances: {by_entry:?}");
            // The expense debits are the rows' values at payment, as the results file says.
            let expense: i128 =
                lines.iter().filter(|(_, a, v)| (a == "6000" || a == "6010") && *v > 0).map(|(_, _, v)| v).sum();
            // "Invoice 8" matches the purpose rule: its rows go to 6010.
            let purpose: i128 = lines.iter().filter(|(_, a, _)| a == "6010").map(|(_, _, v)| v).sum();
            assert_eq!(purpose, 9_199, "[{backend:?}] {lines:?}");
            let recorded: i128 =
                [paid, second].iter().map(|id| cents(&results(&app, *id)[0]["value_at_payment"])).sum();
            assert_eq!(expense, recorded, "[{backend:?}]");
            // 1250.5 × 0.92 + 99.99 × 0.92 (1150.46 + 91.99) and fees credited from the asset account.
            assert_eq!(expense, 115_046 + 9_199, "[{backend:?}]");
            assert!(lines.iter().any(|(_, a, v)| a == "1207" && *v < 0), "[{backend:?}] USDT_TRC20's account credited");
            assert!(lines.iter().any(|(_, a, v)| a == "6100" && *v > 0), "[{backend:?}] the service fee debited");
        }
        assert!(xero.body.contains(&format!("Payout #{paid} USDT_TRC20: Invoice 7,")), "[{backend:?}]");
        let per_row = client.get(&format!("{}&per_row=1", file("generic").await)).await;
        assert!(per_row.body.starts_with("entry,date,narration,account"), "[{backend:?}]");
        assert!(per_row.body.contains("1250.5,USDT_TRC20,0.92"), "[{backend:?}] the crypto side: {}", per_row.body);
    }
}

#[actix_web::test]
async fn a_payees_statement_values_each_row_at_payment_and_totals_are_their_sum() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur_rate(&app, "0.92");
        let accountant = actor(&app, "accountant@demo.local");
        let form = payouts::service::payees::PayeeForm {
            name: "Gina".into(),
            external_id: "EMP-9".into(),
            ..Default::default()
        };
        let payee = payouts::service::payees::create(&mut app.conn(), &accountant, &form).unwrap().id;
        payouts::service::payees::enter_address(&mut app.conn(), &accountant, payee, "USDT_TRC20", TRON_ADDRESS)
            .unwrap();
        let address = payouts::db::payees::addresses_of(&mut app.conn(), payee).unwrap()[0].id;
        let manager = actor(&app, "manager@demo.local");
        payouts::service::payees::decide_address(&mut app.conn(), &manager, address, true, false, "").unwrap();
        common::end_cooling_off(&app);

        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        for (amount, rate) in [("100", "0.91"), ("250.5", "0.93"), ("33.33", "0.95")] {
            payout_id_of(&client.single_payout("USDT_TRC20", amount, TRON_ADDRESS, "November").await);
            record(&app, rate);
            process_all(&app, &instant_rail(&app, &[]));
        }
        // One more, paid when no rate was current: counted, not valued.
        payout_id_of(&client.single_payout("USDT_TRC20", "1", TRON_ADDRESS, "November").await);
        let later = payouts::clock::Clock::fixed(payouts::clock::now() + chrono::Duration::minutes(20));
        process_all_at(&app, &instant_rail(&app, &[]), later);

        let csv = client.get(&format!("/payees/{payee}/statement.csv")).await;
        let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        let col = |n: &str| header.iter().position(|h| h == n).unwrap();
        let values: Vec<String> = reader.records().map(|r| r.unwrap()[col("value_at_payment")].to_owned()).collect();
        let mut sorted = values.clone();
        sorted.sort();
        // 100 × 0.91, 250.5 × 0.93 = 232.965 → 232.97, 33.33 × 0.95 = 31.6635 → 31.66, and none.
        assert_eq!(sorted, ["", "232.97", "31.66", "91.00"], "[{backend:?}] {}", csv.body);
        let sum: i128 = values.iter().map(|v| cents(v)).sum();
        let page = client.get(&format!("/payees/{payee}")).await;
        let total =
            payouts::domain::fiat::Fiat { minor: sum, currency: payouts::domain::fiat::currency("EUR").unwrap() };
        assert_eq!(total.money(), "355.63 EUR", "[{backend:?}]");
        assert!(
            page.body.contains(&format!("Worth when paid: <strong class=\"amount\">{}</strong>", total.money())),
            "[{backend:?}] the total is the sum of the rows"
        );
        assert!(page.body.contains("1 row paid without a current rate has no value"), "[{backend:?}]");
    }
}

#[actix_web::test]
async fn a_registry_of_eur_salaries_becomes_usdt_rows_at_the_shown_rate() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur_rate(&app, "0.92");
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let (a, b) = (common::tron_address(1), common::tron_address(2));
        // Another currency than the reporting one: the whole file is refused, by its column.
        let id = client.start_draft("USDT_TRC20", "November salaries").await;
        let gbp = format!("address,fiat_amount,fiat_currency,comment\n{a},1000,GBP,Alice\n");
        client.upload(&format!("/payouts/drafts/{id}/upload"), "s.csv", gbp.as_bytes()).await;
        let editor = client.get(&format!("/payouts/drafts/{id}")).await;
        assert!(editor.body.contains("The fiat_currency column names GBP"), "[{backend:?}] {}", editor.body);
        assert!(payouts::db::drafts::lines(&mut app.conn(), id).unwrap().is_empty(), "[{backend:?}] nothing added");
        let file = format!(
            "address,fiat_amount,fiat_currency,comment\n{a},2500.00,EUR,Alice\n{b},1840.5,EUR,Bob\n{a},12.345,EUR,Carol\n"
        );
        let res = client.upload(&format!("/payouts/drafts/{id}/upload"), "s.csv", file.as_bytes()).await;
        assert!(res.status.is_redirection() || res.status.is_success(), "[{backend:?}] {}", res.body);
        let editor = client.get(&format!("/payouts/drafts/{id}")).await;
        assert!(editor.body.contains("Amounts are typed in <strong>EUR</strong>"), "[{backend:?}]");
        assert!(editor.body.contains("EUR allows at most 2 decimal places"), "[{backend:?}] line 3 named");
        let bad_row = payouts::db::drafts::lines(&mut app.conn(), id).unwrap()[2].id;
        let res = client.post_form(&format!("/payouts/drafts/{id}/rows/{bad_row}/delete"), &[]).await;
        assert!(res.status.is_success() || res.status.is_redirection(), "[{backend:?}] {}", res.status);

        let review = client.get(&format!("/payouts/drafts/{id}/review")).await;
        // 2500 / 0.92 = 2717.391304…, 1840.5 / 0.92 = 2000.543478… (each rounded up).
        assert!(review.body.contains("4,717.934784 USDT_TRC20"), "[{backend:?}] {}", review.body);
        assert!(review.body.contains("Typed as</dt><dd class=\"amount\">4,340.50 EUR"), "[{backend:?}]");
        // The rate moves 3 %: the review comes back with the new figures, nothing is created.
        let digest = common::hidden_field(&review.body, "digest").unwrap();
        let rate = common::hidden_field(&review.body, "rate").unwrap();
        assert_eq!(rate, "0.92", "[{backend:?}]");
        record(&app, "0.9476");
        let res =
            client.post_form(&format!("/payouts/drafts/{id}/confirm"), &[("digest", &digest), ("rate", &rate)]).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "[{backend:?}] {}", res.body);
        assert!(res.body.contains("The exchange rate moved"), "[{backend:?}]");
        let res = client.confirm_draft(id, &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "[{backend:?}] {}", res.body);
        let payout = payout_id_of(&res);
        // The manager deciding sees the EUR total.
        let mut m = app.client().await;
        m.login("manager@demo.local", "demo").await;
        let page = m.get(&format!("/payouts/{payout}")).await;
        assert!(page.body.contains("Value at confirmation"), "[{backend:?}]");
        assert!(page.body.contains("4,340.50 EUR"), "[{backend:?}] {}", page.body);
        let json = common::json_of(
            &client
                .send(common::api_request(
                    "GET",
                    &format!("/api/v1/payouts/{payout}"),
                    &common::api_key(&app, "accountant@demo.local", "read"),
                    None,
                ))
                .await,
        );
        assert_eq!(json["fiat"]["entered_in_fiat"], true, "[{backend:?}] {json}");
        assert_eq!(json["fiat"]["rate"], "0.9476", "[{backend:?}]");
        assert_eq!(json["items"][0]["fiat"]["entered_amount"], "2500.00", "[{backend:?}]");
        assert_eq!(
            json["items"][0]["amount"], "2638.243985",
            "[{backend:?}] 2500 / 0.9476 = 2638.2439848…, rounded up"
        );
    }
}

#[actix_web::test]
async fn a_mass_payouts_value_on_the_review_is_the_value_recorded_to_the_cent() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        eur_rate(&app, "0.92");
        let mut client = app.client().await;
        client.login("accountant@demo.local", "demo").await;
        let id = client.start_draft("USDT_TRC20", "Cents").await;
        // Each row 1.005 × 0.92 = 0.9246 → 0.92, the total 3.015 × 0.92 = 2.7738 → 2.77: valued
        // row by row as the payout records them, the review says 2.76 (issue 44, item 5). The
        // fee 0.3 a row: 0.276 → 0.28 each, 0.84 (the total 0.9 would give 0.83).
        let csv = format!(
            "address,amount\n{},1.005\n{},1.005\n{},1.005\n",
            common::tron_address(1),
            common::tron_address(2),
            common::tron_address(3)
        );
        client.upload(&format!("/payouts/drafts/{id}/upload"), "cents.csv", csv.as_bytes()).await;
        let review = client.get(&format!("/payouts/drafts/{id}/review")).await;
        assert!(
            review.body.contains("2.76 EUR <span class=\"muted\">+ service fee 0.84 EUR</span> = 3.60 EUR"),
            "[{backend:?}] {}",
            review.body
        );
        let res = client.confirm_draft(id, &[]).await;
        let payout = payout_id_of(&res);
        let page = client.get(&format!("/payouts/{payout}")).await;
        assert!(
            page.body.contains("2.76 EUR <span class=\"muted\">+ service fee 0.84 EUR"),
            "[{backend:?}] the same figures recorded"
        );
    }
}

/// The API answers a creation with the payout as its transaction wrote it (not read back), and
/// tells the event stream the same: it must be exactly what reading the payout shows, values
/// and rate included, with and without a current rate.
#[actix_web::test]
async fn a_created_payouts_answer_is_the_payout_as_read_back() {
    for backend in backends() {
        let app = TestApp::start(backend).await;
        let mut client = app.client().await;
        let key = common::api_key(&app, "accountant@demo.local", "read,create");
        for (n, rate) in [None, Some("0.92")].into_iter().enumerate() {
            if let Some(rate) = rate {
                eur_rate(&app, rate);
            }
            let items: Vec<serde_json::Value> = (0..3)
                .map(|i| serde_json::json!({"address": common::tron_address(i + 1), "amount": format!("1{i}.5"), "reference": format!("R{i}")}))
                .collect();
            let body = serde_json::json!({"asset": "USDT_TRC20", "kind": "mass", "purpose": "p", "items": items});
            let created = client
                .send(
                    common::api_request("POST", "/api/v1/payouts", &key, Some(body))
                        .insert_header(("Idempotency-Key", format!("read-back-{n}"))),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "[{backend:?}] {}", created.body);
            let answer = common::json_of(&created);
            assert_eq!(answer["fiat"].is_null(), rate.is_none(), "[{backend:?}] {answer}");
            if rate.is_some() {
                assert_eq!(answer["items"][1]["fiat"]["value_at_confirmation"], "10.58", "[{backend:?}] 11.5 × 0.92");
            }
            let id = answer["id"].as_i64().unwrap();
            let read = client.send(common::api_request("GET", &format!("/api/v1/payouts/{id}"), &key, None)).await;
            assert_eq!(common::json_of(&read), answer, "[{backend:?}] rate {rate:?}");
            let told = payouts::db::events::of_org(&mut app.conn(), common::demo_org(&app)).unwrap();
            let told = told.iter().rev().find(|e| e.topic == "payout.created").expect("told");
            let told: serde_json::Value = serde_json::from_str(&told.data).unwrap();
            assert_eq!(told, answer, "[{backend:?}] the event stream is told the same");
        }
    }
}
