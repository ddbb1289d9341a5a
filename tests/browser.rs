//! The user stories in a real browser: headless Chromium driven over WebDriver (chromedriver +
//! fantoccini) against the real server binary, on a free port with a fresh database, by visible
//! labels and buttons. On a failure each story's last page is saved as a PNG (and its HTML) under
//! `target/tmp/browser-screenshots/`.
//!
//! Without Chromium and chromedriver the stories are skipped with a notice, except with
//! `CI=true`, where a missing browser fails the run. `PAYOUTS_CHROMIUM` and
//! `PAYOUTS_CHROMEDRIVER` point at other binaries; `PAYOUTS_STORY=7-security` runs only the
//! stories whose name contains that text.

mod common;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::smtp::{MailServer, link};
use common::{Process, TestDb, backends, free_port, tron_address, wait_listening};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use payouts::db::Backend;
use serde_json::{Value, json};

/// axe-core 4.14.1, the `axe.min.js` of the npm package (MPL-2.0, licence beside it).
const AXE: &str = include_str!("browser/axe.min.js");
const WAIT: Duration = Duration::from_secs(20);

type Outcome<T = ()> = Result<T, String>;

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n))).find(|p| p.is_file())
}

fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let pick = |var: &str, names: &[&str]| std::env::var_os(var).map(PathBuf::from).or_else(|| on_path(names));
    let chromium = pick("PAYOUTS_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"])?;
    let driver = pick("PAYOUTS_CHROMEDRIVER", &["chromedriver"])?;
    Some((chromium, driver))
}

/// The address the simulated network rejects in these stories.
fn failing_address() -> String {
    tron_address(9_001)
}

fn start_server(
    backend: Backend,
    url: &payouts::db::DatabaseUrl,
    dir: &Path,
    mail: Option<&MailServer>,
) -> (Process, String) {
    let port = free_port();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", url.target()),
        Backend::Postgres => url.target().to_owned(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_payouts"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--sim-confirm-seconds", "2", "--processor-interval-ms", "200"])
        .args(["--sim-fail-addresses", &failing_address()])
        .args(mail.map(|m| ["--smtp-url".to_owned(), m.url()]).into_iter().flatten())
        .env("DATABASE_URL", url)
        .env("PAYOUTS_DATA_DIR", dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    wait_listening(port, "the server", &mut child);
    (Process(child), format!("http://127.0.0.1:{port}"))
}

struct Driver {
    _process: Process,
    url: String,
    chromium: PathBuf,
}

impl Driver {
    fn start(chromium: PathBuf, driver: &Path) -> Driver {
        let port = free_port();
        let mut child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        wait_listening(port, "chromedriver", &mut child);
        Driver { _process: Process(child), url: format!("http://127.0.0.1:{port}"), chromium }
    }

    /// A new browser with its own profile: no cookies, downloads saved to `downloads`; with
    /// `phone`, a 390 × 844 touch screen (Chromium's device emulation) instead of a desktop.
    async fn open(&self, profile: &Path, downloads: &Path, phone: bool) -> Client {
        let mut options = json!({
            "binary": self.chromium,
            // The network here is closed: without these Chromium keeps trying to reach Google.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000", format!("--user-data-dir={}", profile.display())],
            "prefs": {"download.default_directory": downloads, "download.prompt_for_download": false},
        });
        if phone {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": PHONE.0, "height": PHONE.1, "pixelRatio": 2}});
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        // The console, read after each story: a page that breaks its own CSP or an htmx swap
        // that finds no target fails the story (issue 44, item 14).
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session");
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(30)),
                None,
            ))
            .await
            .expect("timeouts");
        client
    }
}

/// One story's browser, with the helpers that find things the way a person does: by the text of
/// labels, buttons and links.
struct Page {
    client: Client,
    base: String,
    downloads: PathBuf,
}

fn literal(text: &str) -> String {
    assert!(!text.contains('\''), "XPath literal with a quote: {text}");
    format!("'{text}'")
}

impl Page {
    /// The first CSV file the browser finished downloading, once it has.
    async fn downloaded_csv(&self, what: &str) -> Outcome<String> {
        let started = Instant::now();
        loop {
            let done = std::fs::read_dir(&self.downloads)
                .map_err(|e| e.to_string())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "csv"));
            if let Some(path) = done {
                return std::fs::read_to_string(path).map_err(|e| e.to_string());
            }
            if started.elapsed() > WAIT {
                return Err(format!("{what} never downloaded"));
            }
            tokio_sleep(100).await;
        }
    }

    async fn goto(&self, path: &str) -> Outcome {
        self.client.goto(&format!("{}{path}", self.base)).await.map_err(|e| format!("open {path}: {e}"))
    }

    async fn path(&self) -> Outcome<String> {
        let url = self.client.current_url().await.map_err(|e| e.to_string())?;
        Ok(url.path().to_owned())
    }

    async fn body_text(&self) -> String {
        match self.client.execute("return document.body ? document.body.innerText : ''", vec![]).await {
            Ok(Value::String(s)) => s,
            _ => String::new(),
        }
    }

    /// Waits until the browser is at `path` (after a form the page's script submits).
    async fn wait_path(&self, path: &str) -> Outcome {
        let started = Instant::now();
        loop {
            let now = self.path().await?;
            if now == path {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                let shown: String = self.body_text().await.chars().take(1500).collect();
                return Err(format!("at {now}, never at {path}; it shows:\n{shown}"));
            }
            tokio_sleep(100).await;
        }
    }

    async fn has_text(&self, text: &str) -> bool {
        self.body_text().await.contains(text)
    }

    /// Waits until the page shows `text` (htmx swaps and polling included).
    async fn wait_text(&self, text: &str) -> Outcome {
        let started = Instant::now();
        loop {
            let body = self.body_text().await;
            if body.contains(text) {
                return Ok(());
            }
            if started.elapsed() > WAIT {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                let shown: String = body.chars().take(1500).collect();
                return Err(format!("{url} never showed {text:?}; it shows:\n{shown}"));
            }
            tokio_sleep(100).await;
        }
    }

    async fn wait_find(&self, xpath: &str, what: &str) -> Outcome<Element> {
        let started = Instant::now();
        loop {
            if let Ok(found) = self.client.find_all(Locator::XPath(xpath)).await {
                for el in found {
                    if el.is_displayed().await.unwrap_or(false) || el.tag_name().await.is_ok_and(|t| t == "input") {
                        return Ok(el);
                    }
                }
            }
            if started.elapsed() > WAIT {
                let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                return Err(format!("{url}: no {what}"));
            }
            tokio_sleep(100).await;
        }
    }

    async fn absent(&self, xpath: &str) -> bool {
        self.client.find_all(Locator::XPath(xpath)).await.map(|f| f.is_empty()).unwrap_or(false)
    }

    /// The input, select or file field that the label with this exact text names.
    async fn field(&self, label: &str) -> Outcome<Element> {
        self.field_in("", label).await
    }

    /// Like [`Page::field`], within the form holding the button that starts with `button`.
    async fn field_in(&self, button: &str, label: &str) -> Outcome<Element> {
        let scope = if button.is_empty() {
            String::new()
        } else {
            format!("//form[.//button[starts-with(normalize-space(.), {})]]", literal(button))
        };
        let xpath = format!("{scope}//label[normalize-space(.)={}]", literal(label));
        let label_el = self.wait_find(&xpath, &format!("label {label:?}")).await?;
        let id = label_el.attr("for").await.map_err(|e| e.to_string())?.ok_or(format!("label {label:?} has no for"))?;
        self.client.find(Locator::Id(&id)).await.map_err(|e| format!("field {label:?}: {e}"))
    }

    /// Types into the labelled field, replacing what it held, then leaves it (Tab), which fires
    /// the change event the htmx checks listen to.
    async fn fill(&self, label: &str, value: &str) -> Outcome {
        let field = self.field(label).await?;
        type_into(&field, value).await.map_err(|e| format!("type into {label:?}: {e}"))
    }

    async fn choose(&self, label: &str, option_starts_with: &str) -> Outcome {
        let select = self.field(label).await?;
        let option = format!(".//option[starts-with(normalize-space(.), {})]", literal(option_starts_with));
        select.select_by(Locator::XPath(&option)).await.map_err(|e| format!("choose {option_starts_with:?}: {e}"))
    }

    /// Clicks the button or link whose visible text starts with `text`.
    async fn click(&self, text: &str) -> Outcome {
        let t = literal(text);
        let xpath = format!(
            "//button[starts-with(normalize-space(.), {t})] | //a[starts-with(normalize-space(.), {t})] \
             | //button[@aria-label={t}]"
        );
        self.click_xpath(&xpath, &format!("button or link {text:?}")).await
    }

    /// Clicks a link of the main menu and waits until its page is the one shown: the page before
    /// may hold the very text the story looks for next.
    async fn nav(&self, label: &str) -> Outcome {
        let xpath = format!("//nav[@aria-label='Main']//a[starts-with(normalize-space(.), {})]", literal(label));
        let link = self.wait_find(&xpath, &format!("menu item {label:?}")).await?;
        let href = link.attr("href").await.map_err(|e| e.to_string())?.unwrap_or_default();
        self.click_xpath(&xpath, &format!("menu item {label:?}")).await?;
        let current = format!("//nav[@aria-label='Main']//a[@aria-current='page' and @href={}]", literal(&href));
        self.wait_find(&current, &format!("{href} as the current page")).await?;
        Ok(())
    }

    /// Finds and clicks, finding again when an htmx swap replaced the element in between.
    async fn click_xpath(&self, xpath: &str, what: &str) -> Outcome {
        let started = Instant::now();
        loop {
            let el = self.wait_find(xpath, what).await?;
            // Centred first, as a person scrolls to what they tap: at the bottom of a phone's
            // screen the sticky totals bar would be the one to receive it.
            let centre = "arguments[0].scrollIntoView({block: 'center'})";
            if let Ok(arg) = serde_json::to_value(&el) {
                let _ = self.client.execute(centre, vec![arg]).await;
            }
            match el.click().await {
                Ok(()) => return Ok(()),
                Err(e) if e.to_string().contains("stale") && started.elapsed() < WAIT => tokio_sleep(100).await,
                Err(e) => return Err(format!("click {what}: {e}")),
            }
        }
    }

    async fn sign_in(&self, email: &str) -> Outcome {
        self.goto("/login").await?;
        self.click(&format!("Sign in as {}", role_of(email))).await?;
        self.wait_text(email).await?;
        self.wait_text("Sign out").await
    }

    async fn sign_out(&self) -> Outcome {
        self.click("Sign out").await?;
        self.wait_text("Demo accounts").await
    }

    async fn progress(&self) -> Option<(i64, i64)> {
        let script = "const p = document.getElementById('progress'); return p ? [p.value, p.max] : null";
        match self.client.execute(script, vec![]).await.ok()? {
            Value::Array(v) => Some((v[0].as_f64()? as i64, v[1].as_f64()? as i64)),
            _ => None,
        }
    }

    /// Serious and critical accessibility violations that axe-core finds on the current page.
    async fn axe_violations(&self) -> Outcome<Vec<String>> {
        self.client.execute(AXE, vec![]).await.map_err(|e| format!("inject axe-core: {e}"))?;
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document).then(r => done({passes: r.passes.length, violations: r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))}))
              .catch(e => done({error: String(e)}));";
        let found = self.client.execute_async(script, vec![]).await.map_err(|e| format!("run axe-core: {e}"))?;
        let passes = found["passes"].as_u64().unwrap_or(0);
        let Some(violations) = found["violations"].as_array() else {
            return Err(format!("axe-core answered {found}"));
        };
        if passes == 0 {
            return Err("axe-core checked nothing on the page".into());
        }
        Ok(violations.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    }

    /// With PAYOUTS_SCREENSHOTS=<dir>, saves what the window shows as `<dir>/<name>.png` (the
    /// README's pictures); otherwise nothing.
    async fn shot(&self, name: &str) -> Outcome {
        let Some(dir) = std::env::var_os("PAYOUTS_SCREENSHOTS").map(PathBuf::from) else { return Ok(()) };
        let png = self.client.screenshot().await.map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("{name}.png")), png).map_err(|e| e.to_string())
    }

    async fn save_evidence(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
        if let Ok(html) = self.client.source().await {
            let _ = std::fs::write(dir.join(format!("{name}.html")), html);
        }
        dir.join(format!("{name}.png"))
    }
}

/// Selects what the field holds and types over it, as a person does: WebDriver's own clear()
/// fires a change event of its own, which makes htmx replace the row being typed into.
async fn type_into(field: &Element, value: &str) -> Result<(), fantoccini::error::CmdError> {
    let select_all: String = [char::from(Key::Control), 'a', char::from(Key::Null)].iter().collect();
    field.send_keys(&select_all).await?;
    field.send_keys(value).await?;
    field.send_keys(&char::from(Key::Tab).to_string()).await
}

fn role_of(email: &str) -> &'static str {
    match email.split('@').next() {
        Some("admin") => "Admin",
        Some("manager") => "Manager",
        Some("accountant") => "Accountant",
        _ => "Viewer",
    }
}

async fn tokio_sleep(ms: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}

/// Reads a displayed amount such as "1,250.50" as hundredths of a unit (USDT has 6 decimals;
/// these stories use at most 2).
fn cents(text: &str) -> Outcome<i64> {
    let clean: String = text.chars().filter(|c| *c != ',').collect();
    let (whole, frac) = clean.split_once('.').unwrap_or((&clean, ""));
    let frac = format!("{frac:0<2}");
    if frac[2..].chars().any(|c| c != '0') {
        return Err(format!("{text} has more than two decimals"));
    }
    let whole: i64 = whole.trim().parse().map_err(|_| format!("{text:?} is not an amount"))?;
    let frac: i64 = frac[..2].parse().map_err(|_| format!("{text:?} is not an amount"))?;
    Ok(whole * 100 + frac)
}

/// The text of the `<dd>` after the `<dt>` with this label.
async fn summary_value(page: &Page, term: &str) -> Outcome<String> {
    let xpath = format!("//dt[normalize-space(.)={}]/following-sibling::dd[1]", literal(term));
    let el = page.wait_find(&xpath, &format!("summary {term:?}")).await?;
    let text = el.text().await.map_err(|e| e.to_string())?;
    Ok(text.split_whitespace().next().unwrap_or("").to_owned())
}

// ---------------------------------------------------------------------------------------------
// The stories

/// An accountant types a mistyped address, is told at once, corrects it in place, checks the fee
/// on the review page and confirms; a manager approves (the demo organization requires it) and the
/// payout reaches Completed.
async fn single_payout(page: Page) -> Outcome {
    page.sign_in("accountant@demo.local").await?;
    page.nav("Payouts").await?;
    page.wait_text("Invoice 2026-114").await?;
    page.click("New payout").await?;
    page.click("Single payout").await?;
    page.wait_text("Destination address").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout amount", "125.50").await?;
    page.fill("Payout description", "Story 1: invoice 77").await?;
    let good = tron_address(77);
    let mistyped = format!("{}{}", &good[..good.len() - 1], if good.ends_with('A') { 'B' } else { 'A' });
    page.fill("Destination address", &mistyped).await?;
    page.wait_text("checksum does not match").await?;
    page.click("Review payout").await?;
    page.wait_text("Please correct the following").await?;
    page.fill("Destination address", &good).await?;
    page.wait_find("//div[@id='address-feedback' and not(.//p[@class='field-error'])]", "cleared address message")
        .await?;
    page.click("Review payout").await?;
    page.wait_text("Review payout").await?;
    page.wait_text(&good).await?;
    page.shot("desktop-single-payout-review").await?;
    let amount = cents(&summary_value(&page, "Payout amount").await?)?;
    let fee = cents(&summary_value(&page, "Service fee").await?)?;
    let debit = cents(&summary_value(&page, "Total debit").await?)?;
    if amount != 12_550 || fee <= 0 || amount + fee != debit {
        return Err(format!("review shows amount {amount}, fee {fee}, debit {debit} (hundredths)"));
    }
    let details = confirm(&page).await?;
    approve_as_manager(&page, &details).await?;
    page.wait_text("Completed").await?;
    page.wait_text("Paid").await?;
    page.wait_text("Story 1: invoice 77").await
}

/// An accountant uploads a registry with two broken rows, fixes them in the table, adds and
/// deletes rows by hand, checks the totals and confirms; after approval the progress bar moves and
/// the results file downloads.
async fn mass_payout(page: Page) -> Outcome {
    let csv_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let registry = csv_dir.path().join("november-bonuses.csv");
    let bad_address = {
        let a = tron_address(2);
        format!("{}{}", &a[..a.len() - 1], if a.ends_with('A') { 'B' } else { 'A' })
    };
    let csv = format!(
        "address,amount,comment,reference\n{},10.00,Alice,R-1\n{},12.5,Bob,R-2\n{bad_address},7,Carol,R-3\n{},abc,Dave,R-4\n{},3,Eve,R-5\n",
        tron_address(1),
        failing_address(),
        tron_address(4),
        tron_address(5)
    );
    std::fs::write(&registry, csv).map_err(|e| e.to_string())?;

    page.sign_in("accountant@demo.local").await?;
    page.nav("Payouts").await?;
    page.click("New payout").await?;
    page.click("Mass payout").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout description", "Story 2: November bonuses").await?;
    page.click("Continue to recipients").await?;
    page.wait_text("Upload a registry").await?;
    let file = page.field("Registry file (CSV)").await?;
    file.send_keys(&registry.display().to_string()).await.map_err(|e| e.to_string())?;
    page.click("Upload and check").await?;
    page.wait_text("5 rows").await?;
    page.wait_text("2 with errors").await?;
    page.wait_text("Correct the rows with errors to review").await?;

    page.fill("Address, row 3", &tron_address(3)).await?;
    page.wait_text("1 with errors").await?;
    page.fill("Amount, row 4", "20").await?;
    page.wait_text("0 with errors").await?;
    // After an upload with errors the draft opens on the rows with problems.
    page.click("Show all rows").await?;
    page.wait_text("(CSV 6)").await?;

    page.fill("Address", &tron_address(6)).await?;
    page.fill("Amount", "8").await?;
    page.fill("Comment", "Frank, typed by hand").await?;
    page.click("Add row").await?;
    page.wait_text("6 rows").await?;
    page.wait_find("//input[@value='Frank, typed by hand']", "the added row").await?;
    page.click("Delete row 5").await?;
    page.wait_text("5 rows").await?;

    // 10 + 12.5 + 7 + 20 + 8 once row 5 (3) is gone.
    let totals = page.wait_find("//div[@id='totals']", "totals bar").await?;
    let text = totals.text().await.map_err(|e| e.to_string())?;
    let after = |label: &str| -> Outcome<i64> {
        let rest = text.split(label).nth(1).ok_or(format!("totals bar has no {label:?}: {text}"))?;
        cents(rest.split_whitespace().next().unwrap_or(""))
    };
    let (total, fee, debit) = (after("Total ")?, after("Service fee ")?, after("Total debit ")?);
    if total != 5_750 || fee <= 0 || total + fee != debit {
        return Err(format!("totals bar: {text}"));
    }

    page.click("Review 5 rows").await?;
    page.wait_text("Review mass payout").await?;
    page.shot("desktop-mass-payout-review").await?;
    let details = confirm(&page).await?;
    approve_as_manager(&page, &details).await?;
    page.wait_text("Approved").await?;
    let mut seen = Vec::new();
    let started = Instant::now();
    while !page.has_text("Partially completed").await {
        if let Some(p) = page.progress().await
            && seen.last() != Some(&p)
        {
            seen.push(p);
        }
        if started.elapsed() > WAIT {
            return Err(format!("the payout did not finish; progress seen {seen:?}"));
        }
        tokio_sleep(100).await;
    }
    let last = page.progress().await;
    if seen.first().is_none_or(|(v, max)| v >= max) || last != Some((5, 5)) {
        return Err(format!("the progress bar did not move to the end: seen {seen:?}, last {last:?}"));
    }
    page.wait_text("4 of 5 paid, 1 failed").await?;

    page.click("Download results").await?;
    let results = page.downloaded_csv("the results file").await?;
    let mut lines = results.lines();
    let header = "line,address,amount,comment,reference,status,tx_hash,fee,error,log_index,fiat_currency,\
                  value_at_confirmation,rate_at_payment,rate_source,rate_observed_at,value_at_payment,fee_value,\
                  network_fee,network_fee_asset,network_fee_value,vout,instruction_index";
    if lines.next() != Some(header) {
        return Err(format!("results file header: {results}"));
    }
    let rows: Vec<&str> = lines.collect();
    let failed: Vec<&&str> = rows.iter().filter(|r| r.contains(",failed,")).collect();
    let paid = rows.iter().filter(|r| r.contains(",completed,")).count();
    if rows.len() != 5 || paid != 4 || failed.len() != 1 || !failed[0].contains(&failing_address()) {
        return Err(format!("results file:\n{results}"));
    }
    Ok(())
}

/// An admin sets EUR as the reporting currency and records the bank's rate; an accountant
/// uploads a registry of EUR salaries, which become USDT_TRC20 rows at the rate shown; a manager
/// sees the EUR total and approves; the rows are paid; the month's Xero journal downloads and
/// balances.
async fn payroll_in_eur(page: Page) -> Outcome {
    page.sign_in("admin@demo.local").await?;
    page.goto("/settings/rates").await?;
    page.choose("Reporting currency", "EUR").await?;
    page.click("Save reporting currency").await?;
    page.wait_text("Values are now shown in EUR").await?;
    page.choose("Asset", "USDT_TRC20").await?;
    page.fill("Rate: one whole unit in EUR", "0.92").await?;
    page.fill("Source", "ECB reference rate").await?;
    page.click("Record rate").await?;
    page.wait_text("rate recorded").await?;
    page.sign_out().await?;

    let csv_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let registry = csv_dir.path().join("november-salaries-eur.csv");
    let csv = format!(
        "address,fiat_amount,fiat_currency,comment\n{},2500.00,EUR,Alice\n{},1840.50,EUR,Bob\n",
        tron_address(71),
        tron_address(72)
    );
    std::fs::write(&registry, csv).map_err(|e| e.to_string())?;
    page.sign_in("accountant@demo.local").await?;
    page.goto("/payouts/new/mass").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout description", "Story 10: November salaries").await?;
    page.click("Continue to recipients").await?;
    page.wait_text("Upload a registry").await?;
    let file = page.field("Registry file (CSV)").await?;
    file.send_keys(&registry.display().to_string()).await.map_err(|e| e.to_string())?;
    page.click("Upload and check").await?;
    page.wait_text("Amounts are typed in EUR").await?;
    page.click("Review 2 rows").await?;
    page.wait_text("Review mass payout").await?;
    // 2500 / 0.92 and 1840.50 / 0.92, each rounded up to the token's 6 decimals.
    page.wait_text("4,717.934784 USDT_TRC20").await?;
    page.wait_text("4,340.50 EUR").await?;
    let details = confirm(&page).await?;
    page.sign_out().await?;
    page.sign_in("manager@demo.local").await?;
    page.goto(&details).await?;
    page.wait_text("Value at confirmation").await?;
    page.wait_text("4,340.50 EUR").await?;
    page.click("Approve payout of").await?;
    page.wait_text("All 2 paid").await?;

    // The month it was paid in (the one before, should midnight have passed since).
    use chrono::Datelike;
    let now = chrono::Utc::now().date_naive();
    let before = now - chrono::Duration::days(now.day0() as i64 + 1);
    let mut shown = false;
    for month in [now.format("%Y-%m").to_string(), before.format("%Y-%m").to_string()] {
        page.goto(&format!("/payouts/accounting?month={month}")).await?;
        page.wait_text("Export for accounting").await?;
        if page.has_text("Story 10: November salaries").await {
            shown = true;
            break;
        }
    }
    if !shown {
        return Err("the month's journal does not list the payout".into());
    }
    page.click("Xero manual journal CSV").await?;
    let journal = page.downloaded_csv("the journal").await?;
    let mut reader = csv::Reader::from_reader(journal.as_bytes());
    let (mut balance, mut expense, mut lines) = (0i64, 0i64, 0);
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        if !record[0].contains("Story 10") {
            continue;
        }
        let amount = match record[5].strip_prefix('-') {
            Some(credit) => -cents(credit)?,
            None => cents(&record[5])?,
        };
        balance += amount;
        if amount > 0 && (record[2].contains(" rows paid: ") || record[2].contains(" row paid: ")) {
            expense += amount;
        }
        lines += 1;
    }
    // Each row's value at payment: 2717.391305 × 0.92 = 2500.00, 2000.543479 × 0.92 = 1840.50.
    if lines < 3 || balance != 0 || expense != 434_050 {
        return Err(format!("journal entry: {lines} lines, balance {balance}, expense {expense}:\n{journal}"));
    }
    Ok(())
}

/// Confirms the payout under review; it waits for a manager (the demo organization requires
/// approval). Returns the path of its details page.
async fn confirm(page: &Page) -> Outcome<String> {
    page.click("Confirm and pay").await?;
    page.wait_text("Payout #").await?;
    page.wait_text("Pending").await?;
    page.path().await
}

async fn approve_as_manager(page: &Page, details: &str) -> Outcome {
    page.sign_out().await?;
    page.sign_in("manager@demo.local").await?;
    page.goto(details).await?;
    page.click("Approve payout of").await
}

async fn create_single(page: &Page, amount: &str, description: &str) -> Outcome<String> {
    page.goto("/payouts/new/single").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout amount", amount).await?;
    page.fill("Payout description", description).await?;
    page.fill("Destination address", &tron_address(33)).await?;
    page.click("Review payout").await?;
    confirm(page).await
}

/// A manager approves one payout and rejects another with a reason; the accountant who created
/// them cannot approve them.
async fn approvals(page: Page) -> Outcome {
    page.sign_in("accountant@demo.local").await?;
    let approve = create_single(&page, "40", "Story 3: approve me").await?;
    let reject = create_single(&page, "41", "Story 3: reject me").await?;
    if !page.absent("//button[starts-with(normalize-space(.), 'Approve')]").await {
        return Err("the creator is offered an Approve button on their own payout".into());
    }
    page.wait_text("Needs 1 manager approval").await?;
    if !page.absent("//nav//a[starts-with(normalize-space(.), 'Approvals')]").await {
        return Err("an accountant sees the Approvals page in the menu".into());
    }
    page.goto("/approvals").await?;
    page.wait_text("Error 403").await?;
    page.goto(&approve).await?;
    page.sign_out().await?;

    page.sign_in("manager@demo.local").await?;
    page.nav("Approvals").await?;
    page.wait_text("Story 3: approve me").await?;
    page.wait_text("Story 3: reject me").await?;
    page.shot("desktop-approvals").await?;
    let row_link = |d: &str| format!("//tr[contains(., {})]//a", literal(d));
    page.wait_find(&row_link("Story 3: approve me"), "approve-me row")
        .await?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    page.wait_text("Story 3: approve me").await?;
    page.shot("desktop-pending-payout").await?;
    page.click("Approve payout of").await?;
    page.wait_text("Approved").await?;
    page.wait_text("Completed").await?;
    if page.path().await? != approve {
        return Err(format!("approved the wrong payout: {}", page.path().await?));
    }

    page.nav("Approvals").await?;
    page.wait_find(&row_link("Story 3: reject me"), "reject-me row").await?.click().await.map_err(|e| e.to_string())?;
    page.wait_text("Story 3: reject me").await?;
    let reason = page.field_in("Reject", "Reason").await?;
    type_into(&reason, "Wrong invoice number").await.map_err(|e| e.to_string())?;
    page.click("Reject").await?;
    page.wait_text("Rejected by manager@demo.local").await?;
    page.wait_text("Wrong invoice number").await?;
    page.wait_text("Cancelled").await?;
    if page.path().await? != reject {
        return Err(format!("rejected the wrong payout: {}", page.path().await?));
    }
    page.nav("Approvals").await?;
    if page.has_text("Story 3: approve me").await || page.has_text("Story 3: reject me").await {
        return Err("decided payouts are still in the approval queue".into());
    }
    Ok(())
}

/// A viewer sees the payouts but is offered no way to create one and is refused when trying; a
/// signed-out visitor is sent to the sign-in page.
async fn viewer_and_visitor(page: Page) -> Outcome {
    page.goto("/payouts").await?;
    page.wait_text("Sign in").await?;
    if page.path().await? != "/login" {
        return Err(format!("a signed-out visitor stays on {}", page.path().await?));
    }
    page.sign_in("viewer@demo.local").await?;
    page.nav("Payouts").await?;
    page.wait_text("Invoice 2026-114, design work").await?;
    page.wait_text("Community reward").await?;
    if !page.absent("//a[normalize-space(.)='New payout']").await {
        return Err("a viewer is offered New payout".into());
    }
    page.goto("/payouts/new/single").await?;
    page.wait_text("Error 403").await?;
    if page.has_text("Destination address").await {
        return Err("a viewer was shown the payout form".into());
    }
    Ok(())
}

/// axe-core finds no serious or critical accessibility violation on the pages people use.
/// Story 6: payroll from the payee book. An accountant imports employees, a manager approves
/// their addresses, October is paid, one employee's address changes, November repeats October
/// and the manager sees the changed address on the approval page; a statement downloads.
async fn payroll(page: Page) -> Outcome {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let book = dir.path().join("employees.csv");
    let mut csv = String::from("name,external_id,email,asset,address\n");
    for n in 0..3u32 {
        csv.push_str(&format!("Employee {n},EMP-{n},e{n}@example.com,USDT_TRC20,{}\n", tron_address(60 + n)));
    }
    std::fs::write(&book, csv).map_err(|e| e.to_string())?;
    let run = dir.path().join("october.csv");
    let mut rows = String::from("address,amount,comment,reference\n");
    for n in 0..3u32 {
        rows.push_str(&format!("{},{},Salary,EMP-{n}\n", tron_address(60 + n), 1000 + n));
    }
    std::fs::write(&run, rows).map_err(|e| e.to_string())?;

    page.sign_in("accountant@demo.local").await?;
    page.nav("Payees").await?;
    let file = page.field("CSV file").await?;
    file.send_keys(&book.display().to_string()).await.map_err(|e| e.to_string())?;
    page.click("Import payees").await?;
    page.wait_text("Imported: 3 added").await?;
    page.wait_text("Employee 2").await?;
    page.sign_out().await?;

    page.sign_in("manager@demo.local").await?;
    for n in 0..3 {
        page.nav("Approvals").await?;
        page.click(&format!("Approve address for Employee {n}")).await?;
        page.wait_text("Approved").await?;
    }
    page.sign_out().await?;

    page.sign_in("accountant@demo.local").await?;
    page.goto("/payouts/new/mass").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout description", "Story 6: October salaries").await?;
    page.click("Continue to recipients").await?;
    page.wait_text("Upload a registry").await?;
    let file = page.field("Registry file (CSV)").await?;
    file.send_keys(&run.display().to_string()).await.map_err(|e| e.to_string())?;
    page.click("Upload and check").await?;
    page.wait_text("3 rows").await?;
    page.click("Review 3 rows").await?;
    page.wait_text("3 first payments").await?;
    let october = confirm(&page).await?;
    approve_as_manager(&page, &october).await?;
    page.wait_text("Completed").await?;
    page.sign_out().await?;

    // Employee 1 has a new wallet.
    page.sign_in("accountant@demo.local").await?;
    page.nav("Payees").await?;
    page.click("Employee 1").await?;
    page.choose("Asset (its network)", "USDT_TRC20").await?;
    page.fill("New address", &tron_address(70)).await?;
    page.click("Enter address for approval").await?;
    page.wait_text("Awaiting approval").await?;
    page.sign_out().await?;
    page.sign_in("manager@demo.local").await?;
    page.nav("Approvals").await?;
    page.wait_text(&tron_address(60 + 1)).await?;
    let found = page.axe_violations().await?;
    if !found.is_empty() {
        return Err(format!("accessibility violations on the approvals page with an address:\n{}", found.join("\n")));
    }
    page.click("Approve address for Employee 1").await?;
    page.wait_text("Approved").await?;
    page.sign_out().await?;

    page.sign_in("accountant@demo.local").await?;
    page.goto(&october).await?;
    page.click("Repeat this run").await?;
    page.wait_text("Changes since payout").await?;
    page.wait_text(&format!("Address changed: {} → {}", tron_address(61), tron_address(70))).await?;
    page.click("Review 3 rows").await?;
    page.wait_text("1 payee address changed").await?;
    let november = confirm(&page).await?;
    page.sign_out().await?;
    page.sign_in("manager@demo.local").await?;
    page.goto(&november).await?;
    page.wait_text("Addresses to check").await?;
    page.wait_text(&format!("Address changed since the last payout: {} → {}", tron_address(61), tron_address(70)))
        .await?;
    page.click("Approve payout of").await?;
    page.wait_text("Completed").await?;
    page.sign_out().await?;

    // From now on, every month on the 25th: the schedule makes each month's draft for review.
    page.sign_in("accountant@demo.local").await?;
    page.goto(&november).await?;
    page.click("Repeat every month").await?;
    page.fill("Name", "Monthly salaries").await?;
    page.fill("Day of the month", "25").await?;
    page.click("Save schedule").await?;
    page.wait_text("Every month on the 25th at 09:00; the draft is made 3 days before").await?;
    let found = page.axe_violations().await?;
    if !found.is_empty() {
        return Err(format!("accessibility violations on the schedules page:\n{}", found.join("\n")));
    }
    // A year-end bonus for the same people, picked from the book.
    page.goto("/payouts/new/mass").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout description", "Story 6: year-end bonus").await?;
    page.click("Continue to recipients").await?;
    page.wait_text("Add payees from the book").await?;
    page.fill("Name, external id or tag", "Employee").await?;
    page.click("Find payees").await?;
    page.wait_text("Add the ticked payees").await?;
    let found = page.axe_violations().await?;
    if !found.is_empty() {
        return Err(format!("accessibility violations on the payee picker:\n{}", found.join("\n")));
    }
    page.fill("Amount for each (USDT_TRC20, optional)", "50").await?;
    page.click("Add the ticked payees").await?;
    page.wait_text("Added 3 rows from the payee book").await?;
    page.wait_text("Review 3 rows").await?;

    page.nav("Payees").await?;
    page.click("Employee 1").await?;
    page.wait_text("2,002 USDT_TRC20 paid").await?;
    let found = page.axe_violations().await?;
    if !found.is_empty() {
        return Err(format!("accessibility violations on a payee's page:\n{}", found.join("\n")));
    }
    page.click("Download the statement (CSV)").await?;
    let statement = page.downloaded_csv("the statement").await?;
    let lines: Vec<&str> = statement.lines().collect();
    if lines.len() != 3 || !lines.iter().skip(1).all(|l| l.contains(",Employee 1,EMP-1,") && l.contains(",1001,")) {
        return Err(format!("statement:\n{statement}"));
    }
    Ok(())
}

/// Every page of Settings, which only admins open.
/// Waits for an email to `to` whose subject contains `subject`; returns the path of its first
/// link containing `path_part` (the server builds links from its public URL, localhost).
async fn emailed_link(mail: &MailServer, to: &str, subject: &str, path_part: &str) -> Outcome<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(m) = mail.to(to).into_iter().rev().find(|m| m.subject.contains(subject)) {
            let url = link(&m, path_part);
            let path = url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()));
            return path.ok_or_else(|| format!("no path in {url}"));
        }
        if Instant::now() > deadline {
            return Err(format!("no email to {to} about {subject:?} arrived"));
        }
        tokio_sleep(200).await;
    }
}

/// An admin invites an accountant by email; the accountant opens the emailed link, chooses a
/// password, signs in and creates a payout; each manager is emailed, and one follows the email's
/// link and approves it. The new accountant is told of the approval.
async fn invitation(page: Page, mail: &MailServer, who: String) -> Outcome {
    page.sign_in("admin@demo.local").await?;
    page.goto("/settings/users").await?;
    let email = page.field_in("Invite", "Email").await?;
    type_into(&email, &who).await.map_err(|e| e.to_string())?;
    let role = page.field_in("Invite", "Role").await?;
    role.select_by(Locator::XPath(".//option[starts-with(normalize-space(.), 'Accountant')]"))
        .await
        .map_err(|e| e.to_string())?;
    page.click("Invite").await?;
    page.wait_text(&format!("Invited {who}")).await?;
    page.wait_text("Pending invitations").await?;
    page.sign_out().await?;

    let invited = emailed_link(mail, &who, "You are invited", "/invitation/").await?;
    page.goto(&invited).await?;
    page.wait_text("Join Payouts").await?;
    page.fill("New password", "story nine password").await?;
    page.fill("The same password again", "story nine password").await?;
    page.click("Create my account").await?;
    page.wait_text("sign in with your new password").await?;
    page.fill("Email", &who).await?;
    page.fill("Password", "story nine password").await?;
    page.click_xpath("//form[@action='/login']//button[normalize-space(.)='Sign in']", "Sign in").await?;
    // The flash already names the new account: wait for what only a signed-in page has.
    page.wait_text("Sign out").await?;
    page.wait_text("Accountant").await?;
    let details = create_single(&page, "42", "Story 9 invited").await?;
    page.sign_out().await?;

    let approve = emailed_link(mail, "manager@demo.local", "Story 9 invited", "/payouts/").await?;
    if approve != details {
        return Err(format!("the approval email links {approve}, not the payout {details}"));
    }
    // Each manager's email is its own delivery: the second may land a moment after the first.
    emailed_link(mail, "manager2@demo.local", "Story 9 invited", "/payouts/")
        .await
        .map_err(|e| format!("the second manager was not emailed: {e}"))?;
    page.sign_in("manager@demo.local").await?;
    page.goto(&approve).await?;
    page.click("Approve payout of").await?;
    page.wait_text("Approved").await?;
    emailed_link(mail, &who, "Approved: 42 USDT_TRC20, Story 9 invited", "/payouts/").await?;
    Ok(())
}

/// Story 11, on a phone: an accountant adds a payee with an email and invites them to their own
/// page; the payee opens the emailed link, gives an ETH address and pastes the signature their
/// wallet made (eth-account's `personal_sign`); a manager sees the address is proven and
/// approves it (an admin having turned receipts on); a payout to the address is approved and paid;
/// the payee reads the emailed receipt, signs in from it and sees the payment on their page.
async fn payee_proves_address(page: Page, mail: &MailServer, who: String) -> Outcome {
    let signers = common::signers::Signers::find().ok_or("the independent signers are missing")?;
    page.sign_in("accountant@demo.local").await?;
    page.goto("/payees").await?;
    page.fill("Name", "Story Eleven").await?;
    page.fill("Email (optional)", &who).await?;
    page.click("Add payee").await?;
    page.wait_text("Invite to their own page").await?;
    page.click("Invite to their own page").await?;
    page.wait_text(&format!("Invited {who} to their page")).await?;
    page.sign_out().await?;

    let link = emailed_link(mail, &who, "invites you to your payments page", "/payee/link/").await?;
    page.goto(&link).await?;
    page.click("Continue to my page").await?;
    page.wait_text("Welcome, Story Eleven").await?;
    page.click("Give a new address").await?;
    page.choose("What you are paid in (its network)", "Ether · Ethereum").await?;
    let address = signers.sign("evm", "", [11u8; 32], "x").address;
    page.fill("Your address", &address).await?;
    page.click("Next: prove it is yours").await?;
    page.wait_text("Prove the address is yours").await?;
    let mut found = page.axe_violations().await?;
    let message = page
        .client
        .execute("return document.getElementById('proof-message').value", vec![])
        .await
        .map_err(|e| e.to_string())?;
    let message = message.as_str().ok_or("no message to sign")?.to_owned();
    let signed = signers.sign("evm", "", [11u8; 32], &message);
    page.fill("Signature", &signed.signature).await?;
    page.click("Submit the address with its signature").await?;
    page.wait_text("is submitted with its proof of ownership").await?;
    page.wait_text("Ownership proven").await?;
    found.extend(page.axe_violations().await?);
    if !found.is_empty() {
        return Err(format!("axe-core on the payee's pages: {}", found.join("; ")));
    }
    page.shot("payee-page").await?;
    page.click("Sign out").await?;
    page.wait_text("You are signed out").await?;

    // An admin turns receipts on and lets approved addresses be paid at once (no cooling-off).
    page.sign_in("admin@demo.local").await?;
    page.goto("/settings/approvals").await?;
    page.fill("Cooling-off period after approval (hours)", "0").await?;
    page.click("Save cooling-off period").await?;
    page.wait_text("Approved payee addresses now wait").await?;
    page.click_xpath("//label[contains(normalize-space(.), 'Email payees a receipt')]", "the receipts box").await?;
    page.click("Save receipts").await?;
    page.wait_text("Payees with an email now get a receipt").await?;
    page.sign_out().await?;

    page.sign_in("manager@demo.local").await?;
    page.goto("/approvals").await?;
    page.wait_text("the payee, ownership proven (EIP-191 signature)").await?;
    page.click("Approve address for Story Eleven").await?;
    page.wait_text(&format!("Approved {address}")).await?;
    page.sign_out().await?;

    // The accountant pays the proven address; a manager approves; the network pays it.
    page.sign_in("accountant@demo.local").await?;
    page.goto("/payouts/new/single").await?;
    page.choose("Payout currency", "ETH").await?;
    page.fill("Payout amount", "0.01").await?;
    page.fill("Payout description", "Story 11 fee").await?;
    page.fill("Destination address", &address).await?;
    page.click("Review payout").await?;
    let details = confirm(&page).await?;
    approve_as_manager(&page, &details).await?;
    page.wait_text("Completed").await?;
    page.sign_out().await?;

    // The payee reads the receipt, follows it to their page and sees the payment there.
    let sign_in = emailed_link(mail, &who, "Payment received: 0.01 ETH from Demo Company", "/payee/sign-in").await?;
    let receipt =
        mail.to(&who).into_iter().rev().find(|m| m.subject.starts_with("Payment received")).ok_or("no receipt")?;
    for part in ["Story 11 fee", &address, "See it on the network: https://etherscan.io/tx/0x"] {
        if !receipt.text.contains(part) {
            return Err(format!("the receipt does not say {part:?}: {}", receipt.text));
        }
    }
    if receipt.text.contains("service fee") || receipt.text.contains("Service fee") {
        return Err("the receipt shows the organization's fee".into());
    }
    page.goto(&sign_in).await?;
    page.fill("Email", &who).await?;
    page.click("Email me a sign-in link").await?;
    let link = emailed_link(mail, &who, "Your sign-in link", "/payee/link/").await?;
    page.goto(&link).await?;
    page.click("Continue to my page").await?;
    page.wait_text("Payments received").await?;
    page.wait_text("Story 11 fee").await?;
    page.wait_text("0.01 ETH").await?;
    Ok(())
}

const SETTINGS_PAGES: [&str; 13] = [
    "/settings/users",
    "/settings/compliance",
    "/settings/assets",
    "/settings/fees",
    "/settings/security",
    "/settings/approvals",
    "/settings/balances",
    "/settings/api-keys",
    "/settings/webhooks",
    "/settings/rates",
    "/settings/accounting",
    "/settings/notifications",
    "/settings/audit",
];

async fn accessibility(page: Page) -> Outcome {
    let mut found = Vec::new();
    let mut check = async |page: &Page, what: &str| -> Outcome {
        for v in page.axe_violations().await? {
            found.push(format!("{what}: {v}"));
        }
        Ok(())
    };
    page.goto("/login").await?;
    page.wait_text("Demo accounts").await?;
    check(&page, "sign-in").await?;

    page.sign_in("accountant@demo.local").await?;
    check(&page, "dashboard").await?;
    page.goto("/payouts").await?;
    page.wait_text("Invoice 2026-114").await?;
    check(&page, "payouts list").await?;
    page.goto("/payouts/new/single").await?;
    page.fill("Payout amount", "-5").await?;
    page.click("Review payout").await?;
    page.wait_text("Please correct the following").await?;
    check(&page, "single payout form with errors").await?;
    let details = create_single(&page, "12", "Story 5").await?;
    check(&page, "payout details").await?;
    page.goto("/payouts/new/mass").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout description", "Story 5").await?;
    page.click("Continue to recipients").await?;
    page.wait_text("Upload a registry").await?;
    page.fill("Address", "not an address").await?;
    page.fill("Amount", "1").await?;
    page.click("Add row").await?;
    page.wait_text("1 with errors").await?;
    check(&page, "mass payout draft with an error").await?;
    page.sign_out().await?;

    page.sign_in("manager@demo.local").await?;
    page.goto("/approvals").await?;
    page.wait_text("Story 5").await?;
    check(&page, "approvals").await?;
    page.goto(&details).await?;
    page.wait_text("Approve payout of").await?;
    check(&page, "payout details for a manager").await?;
    page.goto("/payees").await?;
    page.wait_text("Payees").await?;
    check(&page, "payees").await?;
    page.goto("/inbox").await?;
    page.wait_text("Inbox").await?;
    check(&page, "inbox").await?;
    page.goto("/account/notifications").await?;
    page.wait_text("Daily digest at").await?;
    check(&page, "notification preferences").await?;
    page.goto("/payouts/accounting").await?;
    page.wait_text("Export for accounting").await?;
    check(&page, "export for accounting").await?;
    page.sign_out().await?;
    page.goto("/password/forgot").await?;
    page.wait_text("Forgot your password?").await?;
    check(&page, "forgot password").await?;

    page.sign_in("admin@demo.local").await?;
    for path in SETTINGS_PAGES {
        page.goto(path).await?;
        page.wait_text("Settings").await?;
        check(&page, path).await?;
    }
    if found.is_empty() { Ok(()) } else { Err(format!("accessibility violations:\n{}", found.join("\n"))) }
}

/// The phone's screen: an iPhone 12–15 in CSS pixels.
const PHONE: (u32, u32) = (390, 844);

impl Page {
    /// What is wrong with the current page on a phone: the document wider than the screen, a
    /// header link or primary button outside it (or with no box at all), a primary button under
    /// 44 px tall, or a sticky totals bar taller than a fifth of the screen.
    async fn phone_problems(&self) -> Outcome<Vec<String>> {
        // A phone lays out a page that overflows at a wider width and zooms it out: the width
        // the page got is itself a finding.
        let script = "const w = arguments[0], h = window.innerHeight, out = [];
            const doc = Math.max(document.documentElement.scrollWidth, window.innerWidth);
            if (doc > w) out.push('the document is ' + doc + ' px wide on a ' + w + ' px screen');
            for (const el of document.querySelectorAll('header a, header button, button.primary, a.button.primary')) {
              const r = el.getBoundingClientRect(), name = el.textContent.trim().replace(/\\s+/g, ' ');
              if (r.width === 0 || r.height === 0) out.push(name + ' has no box: it cannot be reached');
              else if (r.left < 0 || r.right > w + 0.5) out.push(name + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' px');
              if ((el.matches('.primary') || el.closest('header')) && r.height > 0 && r.height < 44) out.push(name + ' is ' + Math.round(r.height) + ' px tall');
            }
            for (const td of document.querySelectorAll('table.data td[data-label]')) {
              if (td.getBoundingClientRect().height > 0 && td.scrollHeight > td.clientHeight + 1) out.push('the label ' + td.dataset.label + ' runs out of its cell');
            }
            for (const s of document.querySelectorAll('select')) {
              const box = s.closest('.card, section'), r = s.getBoundingClientRect();
              if (box && r.width > 0 && r.right > box.getBoundingClientRect().right + 0.5) out.push('the select ' + (s.name || s.id) + ' sticks out of its card');
            }
            const bar = document.querySelector('.totals-bar');
            if (bar && bar.getBoundingClientRect().height > h / 5) out.push('the totals bar covers ' + Math.round(bar.getBoundingClientRect().height) + ' px of ' + h);
            return out;";
        let found = self.client.execute(script, vec![json!(PHONE.0)]).await.map_err(|e| format!("phone check: {e}"))?;
        Ok(found.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    }
}

/// Story 8: every kind of page the other stories visit, for every role, on a phone. Each page
/// fits the screen with its header links and primary buttons inside it, and axe-core finds
/// nothing serious at that width. With PAYOUTS_SCREENSHOTS=<dir> it saves the README's
/// screenshots there.
async fn phone(page: Page) -> Outcome {
    let shots = std::env::var_os("PAYOUTS_SCREENSHOTS").map(PathBuf::from);
    // The first page with a finding ends the story: later steps may depend on what it broke.
    let check = async |page: &Page, what: &str| -> Outcome {
        if let Some(dir) = &shots {
            let png = page.client.screenshot().await.map_err(|e| e.to_string())?;
            let name = what.replace([' ', '/'], "-");
            std::fs::write(dir.join(format!("phone-{name}.png")), png).map_err(|e| e.to_string())?;
        }
        let mut found = page.phone_problems().await?;
        found.extend(page.axe_violations().await?);
        if found.is_empty() {
            Ok(())
        } else {
            Err(format!("{what} on a {} × {} phone:\n{}", PHONE.0, PHONE.1, found.join("\n")))
        }
    };
    page.goto("/login").await?;
    page.wait_text("Demo accounts").await?;
    check(&page, "sign in").await?;

    page.sign_in("accountant@demo.local").await?;
    check(&page, "dashboard").await?;
    page.nav("Payouts").await?;
    page.wait_text("Invoice 2026-114").await?;
    check(&page, "payouts").await?;
    page.click("New payout").await?;
    page.wait_text("Single payout").await?;
    check(&page, "new payout").await?;
    page.click("Single payout").await?;
    page.wait_text("Destination address").await?;
    page.click("Review payout").await?;
    page.wait_text("Please correct the following").await?;
    check(&page, "single payout form with errors").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout amount", "250").await?;
    page.fill("Payout description", "Story 8: phone").await?;
    page.fill("Destination address", &tron_address(88)).await?;
    page.click("Review payout").await?;
    page.wait_text("Confirm and pay").await?;
    check(&page, "single payout review").await?;
    let pending = confirm(&page).await?;
    check(&page, "payout details").await?;

    page.goto("/payouts/new/mass").await?;
    page.choose("Payout currency", "USDT_TRC20").await?;
    page.fill("Payout description", "Story 8: phone run").await?;
    page.click("Continue to recipients").await?;
    page.wait_text("Upload a registry").await?;
    for (n, amount) in [(81, "10"), (82, "12.5")] {
        page.fill("Address", &tron_address(n)).await?;
        page.fill("Amount", amount).await?;
        page.click("Add row").await?;
        page.wait_find(&format!("//input[@value='{}']", tron_address(n)), "the added row").await?;
    }
    page.fill("Address", "not an address").await?;
    page.fill("Amount", "1").await?;
    page.click("Add row").await?;
    page.wait_text("1 with errors").await?;
    check(&page, "mass payout editor").await?;
    let editor = page.path().await?;
    page.click("Find payees").await?;
    page.wait_text("Add payees").await?;
    check(&page, "payee picker").await?;
    page.goto(&editor).await?;
    page.wait_text("1 with errors").await?;
    page.click("Delete row 3").await?;
    page.wait_text("0 with errors").await?;
    page.click("Review 2 rows").await?;
    page.wait_text("Review mass payout").await?;
    check(&page, "mass payout review").await?;

    page.nav("Payees").await?;
    page.wait_text("Payees").await?;
    check(&page, "payees").await?;
    page.fill("Name", "Phone Payee").await?;
    page.click("Add payee").await?;
    page.wait_text("Phone Payee").await?;
    page.goto("/payees").await?;
    page.click("Phone Payee").await?;
    page.wait_text("Statement").await?;
    check(&page, "payee details").await?;
    page.nav("Schedules").await?;
    check(&page, "schedules").await?;
    page.click("Security").await?;
    page.wait_text("Security keys and passkeys").await?;
    check(&page, "account security").await?;
    page.sign_out().await?;

    page.sign_in("manager@demo.local").await?;
    check(&page, "dashboard for a manager").await?;
    page.nav("Approvals").await?;
    page.wait_text("Story 8: phone").await?;
    check(&page, "approvals").await?;
    page.goto(&pending).await?;
    page.wait_text("Approve payout of").await?;
    check(&page, "pending payout").await?;
    page.sign_out().await?;

    page.sign_in("viewer@demo.local").await?;
    page.goto("/payouts/new/single").await?;
    page.wait_text("Error 403").await?;
    check(&page, "refused page").await?;
    page.goto("/no-such-page").await?;
    page.wait_text("Error 404").await?;
    check(&page, "missing page").await?;
    page.sign_out().await?;

    page.sign_in("admin@demo.local").await?;
    for path in SETTINGS_PAGES {
        page.goto(path).await?;
        page.wait_text("Settings").await?;
        check(&page, path.trim_start_matches('/')).await?;
    }
    page.goto("/api/docs").await?;
    page.wait_text("API").await?;
    check(&page, "api docs").await
}

/// Chromium's console since the last read (chromedriver's log endpoint).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// What the console said that a page must never cause: a Content-Security-Policy violation
/// (an inline style or script) or an htmx error (a swap without its target, a bad response).
async fn console_errors(client: &Client) -> Outcome<Vec<String>> {
    let log = client.issue_cmd(BrowserLog).await.map_err(|e| format!("browser log: {e}"))?;
    let entries = log.as_array().cloned().unwrap_or_default();
    Ok(entries
        .iter()
        .filter_map(|e| e["message"].as_str())
        // A refusal (403, 409) swapped into the page is an answer, not a fault.
        .filter(|m| m.contains("Content Security Policy") || (m.contains("htmx:") && !m.contains("htmx:responseError")))
        .map(str::to_owned)
        .collect())
}

/// Chromium's WebDriver virtual authenticator: a USB security key that answers every prompt
/// with a touch and a PIN.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/webauthn/authenticator", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"protocol": "ctap2", "transport": "usb", "hasResidentKey": false,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Story 7: a manager sets up an authenticator app (the code computed from the secret the page
/// shows, as the app would), adds a security key beside it, signs in with a touch of the key,
/// and confirms it's them with another touch before approving. Runs at http://localhost: a
/// browser binds keys to a host name, never to 127.0.0.1.
async fn security_key(page: Page) -> Outcome {
    page.client.issue_cmd(AddVirtualAuthenticator).await.map_err(|e| format!("virtual authenticator: {e}"))?;
    let mut found = Vec::new();
    page.sign_in("manager@demo.local").await?;
    page.click("Security").await?;
    page.wait_text("Security keys and passkeys").await?;
    found.extend(page.axe_violations().await?.into_iter().map(|v| format!("security page: {v}")));

    page.click("Set up an authenticator app").await?;
    page.wait_text("Type the 6-digit code the app shows").await?;
    found.extend(page.axe_violations().await?.into_iter().map(|v| format!("authenticator setup: {v}")));
    let shown = page.wait_find("//code[contains(@class, 'secret')]", "the secret as text").await?;
    let secret = shown.text().await.map_err(|e| e.to_string())?;
    let secret = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).map_err(|e| format!("{e:?}"))?;
    let secret = secret.as_ref().to_vec();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    page.fill("Type the 6-digit code the app shows", &payouts::domain::second_factor::code_at(&secret, now)).await?;
    page.click("Turn on the authenticator").await?;
    page.wait_text("Your recovery codes").await?;
    found.extend(page.axe_violations().await?.into_iter().map(|v| format!("recovery codes: {v}")));
    page.click("I have saved them").await?;

    // Just confirmed with a code, so adding the key needs no other code for five minutes.
    page.goto("/account/security").await?;
    page.wait_text("Security keys and passkeys").await?;
    page.fill("Name of the key", "Virtual key").await?;
    page.click("Add a security key").await?;
    page.wait_text("is added").await?;
    page.wait_text("Virtual key").await?;
    page.sign_out().await?;

    page.click("Sign in as Manager").await?;
    page.wait_text("Use your security key").await?;
    page.wait_text("Code from your authenticator app").await?;
    found.extend(page.axe_violations().await?.into_iter().map(|v| format!("second factor page: {v}")));
    page.click("Use your security key").await?;
    page.wait_path("/").await?;
    page.wait_text("manager@demo.local").await?;

    page.goto("/step-up?next=/approvals").await?;
    page.wait_text("Confirm with your security key").await?;
    found.extend(page.axe_violations().await?.into_iter().map(|v| format!("step-up page: {v}")));
    page.click("Confirm with your security key").await?;
    page.wait_path("/approvals").await?;
    page.wait_text("Confirmed.").await?;
    if found.is_empty() { Ok(()) } else { Err(format!("accessibility violations:\n{}", found.join("\n"))) }
}

// ---------------------------------------------------------------------------------------------

async fn run_story<F, Fut>(driver: &Driver, base: &str, name: &str, phone: bool, story: F) -> Option<String>
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = Outcome>,
{
    if std::env::var("PAYOUTS_STORY").is_ok_and(|only| !name.contains(&only)) {
        return None;
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let downloads = tempfile::tempdir().expect("downloads dir");
    let client = driver.open(profile.path(), downloads.path(), phone).await;
    let page = Page { client: client.clone(), base: base.to_owned(), downloads: downloads.path().to_owned() };
    let evidence = Page { client: client.clone(), base: base.to_owned(), downloads: downloads.path().to_owned() };
    let started = Instant::now();
    let mut outcome = story(page).await;
    if outcome.is_ok() {
        outcome = match console_errors(&client).await {
            Ok(errors) if errors.is_empty() => Ok(()),
            Ok(errors) => Err(format!("the console says:\n    {}", errors.join("\n    "))),
            Err(e) => Err(e),
        };
    }
    let failure = match outcome {
        Ok(()) => {
            eprintln!("browser story {name}: passed in {:.1} s", started.elapsed().as_secs_f64());
            None
        }
        Err(message) => {
            let shot = evidence.save_evidence(name).await;
            Some(format!("{name}: {message}\n  (screenshot: {})", shot.display()))
        }
    };
    let _ = client.close().await;
    failure
}

#[actix_web::test]
async fn user_stories_in_a_real_browser() {
    let Some((chromium, driver_bin)) = browser_binaries() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but Chromium or chromedriver is missing: the browser stories would go untested");
        }
        eprintln!("NOTICE: Chromium or chromedriver not found: the browser stories are skipped");
        return;
    };
    let driver = Driver::start(chromium, &driver_bin);
    let mail = MailServer::start();
    let mut failures = Vec::new();
    for backend in backends() {
        let dir = tempfile::tempdir().unwrap();
        let (_db, url) = TestDb::create(backend);
        let (_server, base) = start_server(backend, &url, dir.path(), mail.as_ref());
        let tag = |story: &str| format!("{backend:?}-{story}").to_lowercase();
        failures.extend(run_story(&driver, &base, &tag("1-single-payout"), false, single_payout).await);
        failures.extend(run_story(&driver, &base, &tag("2-mass-payout"), false, mass_payout).await);
        failures.extend(run_story(&driver, &base, &tag("3-approvals"), false, approvals).await);
        failures.extend(run_story(&driver, &base, &tag("4-viewer-and-visitor"), false, viewer_and_visitor).await);
        failures.extend(run_story(&driver, &base, &tag("5-accessibility"), false, accessibility).await);
        failures.extend(run_story(&driver, &base, &tag("6-payroll"), false, payroll).await);
        failures.extend(run_story(&driver, &base, &tag("8-phone"), true, phone).await);
        if let Some(mail) = &mail {
            let who = format!("story9-{}@example.com", tag("x"));
            let story = |page| invitation(page, mail, who);
            failures.extend(run_story(&driver, &base, &tag("9-invitation"), false, story).await);
        }
        failures.extend(run_story(&driver, &base, &tag("10-payroll-in-eur"), false, payroll_in_eur).await);
        if let Some(mail) = &mail {
            let who = format!("story11-{}@example.com", tag("x"));
            let story = |page| payee_proves_address(page, mail, who);
            failures.extend(run_story(&driver, &base, &tag("11-payee-proves-address"), true, story).await);
        }
        // Last: it gives the manager a key that every later sign-in would ask for.
        let localhost = base.replace("127.0.0.1", "localhost");
        failures.extend(run_story(&driver, &localhost, &tag("7-security-key"), false, security_key).await);
    }
    assert!(failures.is_empty(), "browser stories failed:\n{}", failures.join("\n"));
}
