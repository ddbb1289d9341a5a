//! Fiat values: the organization's reporting currency, the exchange rates it may use (a
//! provider's, or its admins' own, typed or imported), pins, and the one function that says what
//! rate applies now — or that there is none, never a guess.

use chrono::NaiveDateTime;

use crate::db::rates::{NewRate, PinRow, ReportingRow};
use crate::db::{self, DbConnection};
use crate::domain::account::Role;
use crate::domain::asset::{self, Asset};
use crate::domain::fiat::{self, Currency, Rate, RateStatus};
use crate::domain::{Amount, FieldErrors};
use crate::error::AppError;
use crate::service::access::Actor;
use crate::service::access::audit::{self, Entry};

/// Minutes after which a rate is stale unless the organization says otherwise.
pub const DEFAULT_STALE_MINUTES: i32 = 15;
/// The longest staleness limit an admin may set: a week.
pub const MAX_STALE_MINUTES: i32 = 7 * 24 * 60;

/// An organization's reporting currency and how old a rate may be.
#[derive(Debug, Clone, Copy)]
pub struct Reporting {
    pub currency: &'static Currency,
    pub stale_after: chrono::Duration,
    /// How far a rate may move, in percent, between a fiat-priced review and its Confirm.
    pub tolerance: rust_decimal::Decimal,
}

/// Percent a rate may move between a fiat-priced review and its Confirm unless the organization
/// says otherwise.
pub const DEFAULT_TOLERANCE_PERCENT: &str = "1";

fn parse_tolerance(text: &str) -> Option<rust_decimal::Decimal> {
    let d: rust_decimal::Decimal = text.trim().parse().ok()?;
    (d >= rust_decimal::Decimal::ZERO && d <= rust_decimal::Decimal::from(50) && d.scale() <= 2).then_some(d)
}

pub fn reporting(conn: &mut DbConnection, org_id: i64) -> Result<Reporting, AppError> {
    let row = db::rates::reporting(conn, org_id)?;
    let currency = row.as_ref().and_then(|r| fiat::currency(&r.currency)).unwrap_or(&fiat::CURRENCIES[0]);
    let minutes = row.as_ref().map_or(DEFAULT_STALE_MINUTES, |r| r.stale_minutes);
    let tolerance = row
        .and_then(|r| parse_tolerance(&r.tolerance_percent))
        .unwrap_or_else(|| parse_tolerance(DEFAULT_TOLERANCE_PERCENT).expect("valid default"));
    Ok(Reporting { currency, stale_after: chrono::Duration::minutes(minutes.into()), tolerance })
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ReportingForm {
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub stale_minutes: String,
    /// Percent; empty keeps the default.
    #[serde(default)]
    pub tolerance_percent: String,
}

pub fn set_reporting(conn: &mut DbConnection, actor: &Actor, form: &ReportingForm) -> Result<Reporting, AppError> {
    actor.require(Role::can_administer)?;
    let mut errors = FieldErrors::new();
    let currency = fiat::currency(&form.currency);
    if currency.is_none() {
        errors.add("currency", "Choose a reporting currency from the list.");
    }
    let minutes = match form.stale_minutes.trim().parse::<i32>() {
        Ok(m) if (1..=MAX_STALE_MINUTES).contains(&m) => m,
        _ => {
            errors.add("stale_minutes", format!("Minutes from 1 to {MAX_STALE_MINUTES}."));
            0
        }
    };
    let tolerance = if form.tolerance_percent.trim().is_empty() {
        parse_tolerance(DEFAULT_TOLERANCE_PERCENT)
    } else {
        parse_tolerance(&form.tolerance_percent)
    };
    if tolerance.is_none() {
        errors.add("tolerance_percent", "A percentage from 0 to 50, like 1 or 0.5.");
    }
    errors.into_result(())?;
    let (currency, tolerance) = (currency.expect("checked"), tolerance.expect("checked"));
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let before = reporting(conn, actor.org_id)?;
        db::rates::save_reporting(
            conn,
            &ReportingRow {
                org_id: actor.org_id,
                currency: currency.code.into(),
                stale_minutes: minutes,
                updated_at: at,
                tolerance_percent: tolerance.to_string(),
            },
        )?;
        audit::record(
            conn,
            Entry::by(actor, "rates.reporting_changed", "organization", actor.org_id).detail(format!(
                "{} ({} min, {} %) → {} ({minutes} min, {tolerance} %)",
                before.currency.code,
                before.stale_after.num_minutes(),
                before.tolerance,
                currency.code
            )),
            at,
        )?;
        Ok(Reporting { currency, stale_after: chrono::Duration::minutes(minutes.into()), tolerance })
    })
}

/// A rate that applies, with where it came from.
#[derive(Debug, Clone)]
pub struct Quote {
    pub rate: Rate,
    pub source: String,
    pub observed_at: NaiveDateTime,
    /// Fixed by an admin: it does not age.
    pub pinned: bool,
    /// An organization's own rate applies until then, whatever the staleness limit says.
    pub valid_until: Option<NaiveDateTime>,
}

/// What an organization may convert `asset` with at `at`.
#[derive(Debug, Clone)]
pub enum RateNow {
    Current(Quote),
    /// The newest rate is older than the organization's limit: nothing is converted with it.
    Stale(Quote),
    None,
}

impl RateNow {
    pub fn current(&self) -> Option<&Quote> {
        match self {
            RateNow::Current(q) => Some(q),
            _ => None,
        }
    }
}

/// The rate that applies now: a pin; else the organization's own newest rate while it is valid
/// (its bank's rate of the day outranks a provider's reading); else the provider's newest
/// accepted reading, stale past the organization's limit. Own rates recorded before validity was
/// kept age by the limit too.
pub fn rate_now(
    conn: &mut DbConnection,
    org_id: i64,
    asset: &Asset,
    reporting: &Reporting,
    at: NaiveDateTime,
) -> Result<RateNow, AppError> {
    let code = reporting.currency.code;
    let candidates = db::rates::candidates(conn, org_id, asset.code, code)?;
    let of = |kind: i32| candidates.iter().find(|c| c.kind == kind);
    if let Some(pin) = of(db::rates::PINNED) {
        let rate = Rate::parse(&pin.rate).map_err(|e| AppError::Internal(format!("pinned rate {}: {e}", pin.rate)))?;
        return Ok(RateNow::Current(Quote {
            rate,
            source: "pinned by an admin".into(),
            observed_at: pin.observed_at,
            pinned: true,
            valid_until: None,
        }));
    }
    let quote = |row: &db::rates::Candidate| -> Result<Quote, AppError> {
        let rate = Rate::parse(&row.rate).map_err(|e| AppError::Internal(format!("stored rate {}: {e}", row.rate)))?;
        Ok(Quote {
            rate,
            source: row.source.clone(),
            observed_at: row.observed_at,
            pinned: false,
            valid_until: row.valid_until,
        })
    };
    let fresh = |q: &Quote| match q.valid_until {
        Some(until) => at < until,
        None => at - q.observed_at <= reporting.stale_after,
    };
    let own = of(db::rates::OWN).map(quote).transpose()?;
    if let Some(q) = own.as_ref().filter(|q| q.valid_until.is_some() && fresh(q)) {
        return Ok(RateNow::Current(q.clone()));
    }
    let provider = of(db::rates::PROVIDER).map(quote).transpose()?;
    // The newer of the two; a legacy own rate (no validity) competes by age as it always did.
    let newest = match (own, provider) {
        (Some(o), Some(p)) => Some(if o.valid_until.is_none() && o.observed_at >= p.observed_at { o } else { p }),
        (o, p) => o.or(p),
    };
    Ok(match newest {
        None => RateNow::None,
        Some(q) if fresh(&q) => RateNow::Current(q),
        Some(q) => RateNow::Stale(q),
    })
}

/// An amount's value in the reporting currency now, when there is a current rate.
pub fn value_now(
    conn: &mut DbConnection,
    org_id: i64,
    amount: Amount,
    reporting: &Reporting,
    at: NaiveDateTime,
) -> Result<(RateNow, Option<fiat::Fiat>), AppError> {
    let now = rate_now(conn, org_id, amount.asset(), reporting, at)?;
    let value = now.current().and_then(|q| fiat::value_of(amount, q.rate, reporting.currency));
    Ok((now, value))
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RateForm {
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub rate: String,
    /// Where it comes from: "ECB reference rate", "our bank".
    #[serde(default)]
    pub source: String,
    /// Until when it applies, in the organization's zone (`2026-12-31` or `2026-12-31 18:00`);
    /// empty: the end of today there.
    #[serde(default)]
    pub valid_until: String,
}

/// Longest source text.
const MAX_SOURCE_CHARS: usize = 100;

fn parse_rate_form(form: &RateForm) -> Result<(&'static Asset, Rate, String), FieldErrors> {
    let mut errors = FieldErrors::new();
    let asset = asset::find(&form.asset);
    if asset.is_none() {
        errors.add("asset", "Choose an asset.");
    }
    let rate = Rate::parse(&form.rate).map_err(|e| errors.add("rate", e)).ok();
    let source = form.source.trim();
    if source.is_empty() {
        errors.add("source", "Say where the rate comes from (your bank, a central bank).");
    } else if let Err(e) = crate::domain::registry::check_text(source, MAX_SOURCE_CHARS) {
        errors.add("source", e);
    }
    errors.into_result(())?;
    Ok((asset.expect("checked"), rate.expect("checked"), source.to_owned()))
}

/// An admin records a rate the organization must use (its bank's, a central bank's), from now
/// until the time the form names (the end of today in the organization's zone by default).
pub fn record(conn: &mut DbConnection, actor: &Actor, form: &RateForm) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let (asset, rate, source) = parse_rate_form(form)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let zone = crate::service::access::org_settings::time_zone(conn, actor.org_id)?;
        let until =
            fiat::valid_until(&form.valid_until, zone, at).map_err(|e| FieldErrors::single("valid_until", e))?;
        let currency = reporting(conn, actor.org_id)?.currency;
        insert_own(conn, actor, asset, currency, rate, &source, (at, until))?;
        Ok(())
    })
}

fn insert_own(
    conn: &mut DbConnection,
    actor: &Actor,
    asset: &Asset,
    currency: &Currency,
    rate: Rate,
    source: &str,
    (at, until): (NaiveDateTime, NaiveDateTime),
) -> Result<(), AppError> {
    let text = rate.to_string();
    db::rates::insert(
        conn,
        &NewRate {
            org_id: Some(actor.org_id),
            asset: asset.code,
            currency: currency.code,
            rate: &text,
            source,
            status: RateStatus::Accepted,
            observed_at: at,
            recorded_by: Some(actor.user_id),
            created_at: at,
            valid_until: Some(until),
        },
    )?;
    audit::record(
        conn,
        Entry::by(actor, "rates.recorded", "rate", format!("{}/{}", asset.code, currency.code))
            .detail(format!("{text} from {source}, valid until {until} UTC")),
        at,
    )?;
    Ok(())
}

/// Rates from a CSV file (`asset,rate,source`, and `valid_until` if the rates hold longer than
/// today; a header line first), all or nothing: a bad line is named with its column and nothing
/// is recorded.
pub fn import(conn: &mut DbConnection, actor: &Actor, bytes: &[u8]) -> Result<usize, AppError> {
    actor.require(Role::can_administer)?;
    if bytes.len() > 256 * 1024 {
        return Err(AppError::TooLarge("A rates file has at most 256 KiB.".into()));
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let headers =
        reader.headers().map_err(|e| FieldErrors::single("file", format!("The file is not CSV: {e}")))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(a), Some(r), Some(s)) = (col("asset"), col("rate"), col("source")) else {
        return Err(FieldErrors::single("file", "The first line must name the columns asset, rate and source.").into());
    };
    let until_col = col("valid_until");
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| FieldErrors::single("file", format!("Line {line}: {e}")))?;
        let form = RateForm {
            asset: record.get(a).unwrap_or_default().into(),
            rate: record.get(r).unwrap_or_default().into(),
            source: record.get(s).unwrap_or_default().into(),
            valid_until: until_col.and_then(|c| record.get(c)).unwrap_or_default().into(),
        };
        let (asset, rate, source) = parse_rate_form(&form).map_err(|errors| {
            let (field, message) = errors.iter().next().map(|(f, m)| (f.to_owned(), m.to_owned())).unwrap_or_default();
            FieldErrors::single("file", format!("Line {line}, column {field}: {message}"))
        })?;
        rows.push((line, asset, rate, source, form.valid_until));
        if rows.len() > 1000 {
            return Err(FieldErrors::single("file", "A rates file has at most 1,000 lines.").into());
        }
    }
    let at = actor.now();
    db::write_tx(conn, |conn| {
        let zone = crate::service::access::org_settings::time_zone(conn, actor.org_id)?;
        let currency = reporting(conn, actor.org_id)?.currency;
        for (line, asset, rate, source, valid_until) in &rows {
            let until = fiat::valid_until(valid_until, zone, at)
                .map_err(|e| FieldErrors::single("file", format!("Line {line}, column valid_until: {e}")))?;
            insert_own(conn, actor, asset, currency, *rate, source, (at, until))?;
        }
        Ok(rows.len())
    })
}

/// Fixes the rate of an asset until unpinned (a stablecoin the organization books at 1.00):
/// explicit, shown as pinned everywhere, after a step-up, audited.
pub fn pin(conn: &mut DbConnection, actor: &Actor, form: &RateForm) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let form = RateForm { source: "pin".into(), ..form.clone() };
    let (asset, rate, _) = parse_rate_form(&form)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Pinning a rate")?;
        let currency = reporting(conn, actor.org_id)?.currency;
        db::rates::set_pin(
            conn,
            &PinRow {
                org_id: actor.org_id,
                asset: asset.code.into(),
                currency: currency.code.into(),
                rate: rate.to_string(),
                pinned_by: actor.user_id,
                pinned_at: at,
            },
        )?;
        audit::record(
            conn,
            Entry::by(actor, "rates.pinned", "rate", format!("{}/{}", asset.code, currency.code))
                .detail(rate.to_string()),
            at,
        )?;
        Ok(())
    })
}

pub fn unpin(conn: &mut DbConnection, actor: &Actor, asset_code: &str) -> Result<(), AppError> {
    actor.require(Role::can_administer)?;
    let asset = asset::find(asset_code).ok_or(AppError::NotFound)?;
    let at = actor.now();
    db::write_tx(conn, |conn| {
        crate::service::access::second_factor::require_fresh(conn, actor, "Unpinning a rate")?;
        let currency = reporting(conn, actor.org_id)?.currency;
        if !db::rates::remove_pin(conn, actor.org_id, asset.code, currency.code)? {
            return Err(AppError::NotFound);
        }
        audit::record(
            conn,
            Entry::by(actor, "rates.unpinned", "rate", format!("{}/{}", asset.code, currency.code)),
            at,
        )?;
        Ok(())
    })
}

/// What became of a provider's reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Accepted,
    /// It moved more than the outlier limit from the last accepted value: kept aside until a
    /// second reading agrees with it.
    Held,
}

/// Records a provider's value for a pair (for every organization), through the outlier guard.
pub fn record_provider(
    conn: &mut DbConnection,
    asset: &Asset,
    currency: &Currency,
    rate: Rate,
    source: &str,
    outlier_percent: u32,
    at: NaiveDateTime,
) -> Result<Reading, AppError> {
    let limit = rust_decimal::Decimal::from(outlier_percent);
    db::write_tx(conn, |conn| {
        let last = db::rates::latest_from_provider(conn, asset.code, currency.code)?;
        let agrees = |row: &crate::db::rates::RateRow| {
            Rate::parse(&row.rate).is_ok_and(|prev| prev.moved_percent(rate) <= limit)
        };
        let reading = match &last {
            None => Reading::Accepted,
            // A second reading close to the held one confirms the move.
            Some(prev) if agrees(prev) => Reading::Accepted,
            Some(prev) if prev.status == RateStatus::Held => {
                let accepted = db::rates::latest_provider_accepted(conn, asset.code, currency.code)?;
                if accepted.as_ref().is_some_and(agrees) { Reading::Accepted } else { Reading::Held }
            }
            Some(_) => Reading::Held,
        };
        let text = rate.to_string();
        db::rates::insert(
            conn,
            &NewRate {
                org_id: None,
                asset: asset.code,
                currency: currency.code,
                rate: &text,
                source,
                status: if reading == Reading::Accepted { RateStatus::Accepted } else { RateStatus::Held },
                observed_at: at,
                recorded_by: None,
                created_at: at,
                valid_until: None,
            },
        )?;
        Ok(reading)
    })
}

/// Settings → Rates: the reporting currency and, for each enabled asset, the rate that applies.
pub struct Overview {
    pub reporting: Reporting,
    /// The organization's zone: recorded rates' validity is typed and shown in it.
    pub zone: crate::domain::zone::Zone,
    pub stale_minutes: i64,
    pub rows: Vec<(&'static Asset, RateNow)>,
}

pub fn overview(conn: &mut DbConnection, actor: &Actor) -> Result<Overview, AppError> {
    actor.require(Role::can_administer)?;
    let reporting = reporting(conn, actor.org_id)?;
    let at = actor.now();
    let rows = crate::service::access::org_settings::enabled_assets(conn, actor.org_id)?
        .into_iter()
        .map(|a| Ok((a, rate_now(conn, actor.org_id, a, &reporting, at)?)))
        .collect::<Result<_, AppError>>()?;
    let zone = crate::service::access::org_settings::time_zone(conn, actor.org_id)?;
    Ok(Overview { stale_minutes: reporting.stale_after.num_minutes(), reporting, zone, rows })
}
