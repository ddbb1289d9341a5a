//! Fiat money: reporting currencies (ISO 4217, with their minor units), exchange rates as exact
//! decimals, and the conversions between crypto amounts and fiat, with their rounding rules.

use rust_decimal::Decimal;

use crate::domain::Amount;
use crate::domain::asset::Asset;
use crate::domain::zone::Zone;

/// A reporting currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    pub code: &'static str,
    pub name: &'static str,
    /// Digits after the decimal point (ISO 4217 minor units).
    pub minor_units: u32,
}

const fn cur(code: &'static str, name: &'static str, minor_units: u32) -> Currency {
    Currency { code, name, minor_units }
}

pub static CURRENCIES: [Currency; 12] = [
    cur("USD", "US dollar", 2),
    cur("EUR", "Euro", 2),
    cur("GBP", "Pound sterling", 2),
    cur("CHF", "Swiss franc", 2),
    cur("CAD", "Canadian dollar", 2),
    cur("AUD", "Australian dollar", 2),
    cur("JPY", "Japanese yen", 0),
    cur("SGD", "Singapore dollar", 2),
    cur("PLN", "Polish złoty", 2),
    cur("SEK", "Swedish krona", 2),
    cur("BRL", "Brazilian real", 2),
    cur("KWD", "Kuwaiti dinar", 3),
];

/// The currency with this code, ignoring case and spaces.
pub fn currency(code: &str) -> Option<&'static Currency> {
    let code = code.trim();
    CURRENCIES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

/// The largest rate accepted: no asset is worth a trillion of any currency unit.
const MAX_RATE: i64 = 1_000_000_000_000;
/// Digits after the point a rate may carry.
pub const RATE_SCALE: u32 = 12;

/// The price of one whole unit of an asset in a currency: an exact, positive decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate(Decimal);

impl Rate {
    /// `0.9213`, as typed or as a provider sent it: positive, at most a trillion, at most 12
    /// digits after the point (more are refused, never rounded silently).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("Enter a rate, like 0.92.".into());
        }
        if t.len() > 40 || !t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("{t:.40} is not a rate: use digits and a point, like 0.92."));
        }
        let d: Decimal = t.parse().map_err(|_| format!("{t} is not a rate: use digits and a point, like 0.92."))?;
        Rate::new(d)
    }

    pub fn new(d: Decimal) -> Result<Rate, String> {
        if d <= Decimal::ZERO {
            return Err("A rate must be more than zero.".into());
        }
        if d > Decimal::from(MAX_RATE) {
            return Err("A rate of more than a trillion is not believable.".into());
        }
        if d.normalize().scale() > RATE_SCALE {
            return Err(format!("A rate has at most {RATE_SCALE} digits after the point."));
        }
        Ok(Rate(d.normalize()))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// How far `other` is from this rate, in percent of this one.
    pub fn moved_percent(self, other: Rate) -> Decimal {
        ((other.0 - self.0).abs() * Decimal::from(100)) / self.0
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An amount of a currency in its minor units (cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fiat {
    pub minor: i128,
    pub currency: &'static Currency,
}

impl Fiat {
    /// `1,234.50 EUR`, the way every page writes money.
    pub fn money(&self) -> String {
        let scale = 10i128.pow(self.currency.minor_units);
        let (neg, abs) = (self.minor < 0, self.minor.unsigned_abs());
        let (whole, frac) = (abs / scale as u128, abs % scale as u128);
        let digits = whole.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if neg { "-" } else { "" };
        if self.currency.minor_units == 0 {
            format!("{sign}{grouped} {}", self.currency.code)
        } else {
            let w = self.currency.minor_units as usize;
            format!("{sign}{grouped}.{frac:0w$} {}", self.currency.code)
        }
    }

    /// An amount of `currency` as a person typed it: digits and at most one dot, at most the
    /// currency's minor digits, more than zero. The messages say what to type instead.
    pub fn parse(input: &str, currency: &'static Currency) -> Result<Fiat, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Enter an amount.".into());
        }
        if s.len() > 30 {
            return Err("An amount has at most 30 characters; check what was pasted.".into());
        }
        if s.contains(',') {
            return Err(if s.contains('.') {
                "Remove the thousands separators: write 1234.56, not 1,234.56.".into()
            } else {
                format!("Use a dot as the decimal mark: write {}, not {s}.", s.replace(',', "."))
            });
        }
        if let Some(bad) = s.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
            return Err(format!("An amount may contain only digits and one dot; `{bad}` is not allowed."));
        }
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        if fraction.contains('.') || whole.is_empty() || (s.contains('.') && fraction.is_empty()) {
            return Err("Write the amount like 1234.56.".into());
        }
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > currency.minor_units as usize {
            return Err(format!("{} allows at most {} decimal places.", currency.code, currency.minor_units));
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 15 {
            return Err("Amount is too large: at most 15 digits before the dot.".into());
        }
        let w: i128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| "Amount is not a number.")? };
        let f: i128 = format!("{fraction:0<w$}", w = currency.minor_units as usize).parse().unwrap_or(0);
        let minor = w * 10i128.pow(currency.minor_units) + f;
        if minor == 0 {
            return Err("Amount must be greater than zero.".into());
        }
        Ok(Fiat { minor, currency })
    }

    /// The plain decimal (`1234.50`), as CSV and JSON carry it.
    pub fn plain(&self) -> String {
        let d = Decimal::from_i128_with_scale(self.minor, self.currency.minor_units);
        format!("{d:.prec$}", prec = self.currency.minor_units as usize)
    }
}

/// The fiat value of `amount` of `asset` at `rate`, rounded half away from zero to the
/// currency's minor unit (a value shown and recorded, not paid). None when it does not fit.
pub fn value_of(amount: Amount, rate: Rate, currency: &'static Currency) -> Option<Fiat> {
    let asset = amount.asset();
    // amount × rate, exact: the amount's minor units times the rate, scaled back by the asset's
    // decimals. Done in i128 on the rate's digits, so 18-decimal tokens do not overflow Decimal.
    let r = rate.value();
    let (mantissa, scale) = (r.mantissa(), r.scale());
    let product = amount.minor().checked_mul(mantissa)?;
    // product is in units of 10^-(decimals + scale); the result wants 10^-minor_units.
    let shift = asset.decimals + scale;
    let target = currency.minor_units;
    let minor = if shift >= target {
        let div = 10i128.checked_pow(shift - target)?;
        let (q, rem) = (product / div, product % div);
        if rem.abs() * 2 >= div { q + product.signum() } else { q }
    } else {
        product.checked_mul(10i128.checked_pow(target - shift)?)?
    };
    Some(Fiat { minor, currency })
}

/// The crypto amount that pays `fiat` at `rate`: rounded **up** to the asset's smallest unit, so
/// the recipient never gets less than the agreed fiat amount at the recorded rate. None when it
/// does not fit.
pub fn amount_for(fiat: Fiat, asset: &'static Asset, rate: Rate) -> Option<Amount> {
    let r = rate.value();
    let (mantissa, scale) = (r.mantissa(), r.scale());
    // fiat.minor × 10^(decimals + scale − minor_units) / mantissa, rounded up.
    let exp = (asset.decimals + scale) as i64 - fiat.currency.minor_units as i64;
    let (num, den) = if exp >= 0 {
        (fiat.minor.checked_mul(10i128.checked_pow(exp as u32)?)?, mantissa)
    } else {
        (fiat.minor, mantissa.checked_mul(10i128.checked_pow((-exp) as u32)?)?)
    };
    if num < 0 || den <= 0 {
        return None;
    }
    let units = num / den + i128::from(num % den != 0);
    Some(Amount::from_minor(asset, units))
}

/// What became of an exchange rate reading: used, or held back by the outlier guard until a
/// second reading agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateStatus {
    Accepted,
    Held,
}

impl RateStatus {
    pub const ALL: [RateStatus; 2] = [RateStatus::Accepted, RateStatus::Held];

    pub fn as_str(self) -> &'static str {
        match self {
            RateStatus::Accepted => "accepted",
            RateStatus::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<RateStatus> {
        RateStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

crate::domain::stored::stored_name!(RateStatus, "rate status");

/// The longest an organization's own rate may be valid: a rate that should hold longer is pinned.
pub const MAX_VALIDITY_DAYS: i64 = 31;

/// Until when an organization's own rate applies, from what an admin typed in the organization's
/// zone: nothing (the end of today), a day (`2026-12-31`: to its end) or a day and a time
/// (`2026-12-31 18:00`). It must lie after `now` and within [`MAX_VALIDITY_DAYS`].
pub fn valid_until(text: &str, zone: Zone, now: chrono::NaiveDateTime) -> Result<chrono::NaiveDateTime, String> {
    use chrono::{NaiveDate, NaiveDateTime};
    let t = text.trim();
    let end_of = |day: NaiveDate| {
        let next = day.succ_opt().ok_or_else(|| "Choose a date before the year 262000.".to_string())?;
        zone.to_utc(next.and_hms_opt(0, 0, 0).expect("midnight exists"))
            // A zone whose clocks skip midnight: the day ends an hour later.
            .or_else(|_| zone.to_utc(next.and_hms_opt(1, 0, 0).expect("one o'clock exists")))
    };
    let until = if t.is_empty() {
        end_of(zone.local(now).date())?
    } else if t.len() > 20 {
        return Err("Enter a date (2026-12-31) or a date and time (2026-12-31 18:00).".into());
    } else if let Ok(day) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        end_of(day)?
    } else {
        let local = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M"))
            .map_err(|_| format!("{t:?} is not a date (2026-12-31) or a date and time (2026-12-31 18:00)."))?;
        zone.to_utc(local)?
    };
    if until <= now {
        return Err(format!("{} has passed; a rate must be valid for some time from now.", zone.describe(until)));
    }
    if until - now > chrono::Duration::days(MAX_VALIDITY_DAYS) {
        return Err(format!(
            "A recorded rate is valid for at most {MAX_VALIDITY_DAYS} days; pin a rate that should hold longer."
        ));
    }
    Ok(until)
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_fiat_amounts_are_exact_or_refused_with_a_reason() {
        let eur = super::currency("EUR").unwrap();
        let jpy = super::currency("JPY").unwrap();
        assert_eq!(super::Fiat::parse(" 1234.5 ", eur).unwrap().minor, 123_450);
        assert_eq!(super::Fiat::parse("0.010", eur).unwrap().minor, 1);
        assert_eq!(super::Fiat::parse("1500", jpy).unwrap().minor, 1500);
        for (bad, why) in [
            ("1.005", "at most 2 decimal places"),
            ("1,234.50", "thousands separators"),
            ("12,5", "write 12.5"),
            ("-3", "`-` is not allowed"),
            ("0", "greater than zero"),
            ("1.", "like 1234.56"),
            ("", "Enter an amount"),
        ] {
            let e = super::Fiat::parse(bad, eur).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(super::Fiat::parse("1.5", jpy).unwrap_err().contains("at most 0 decimal places"));
    }

    use super::*;
    use crate::domain::asset;
    use proptest::prelude::*;

    fn eur() -> &'static Currency {
        currency("eur").unwrap()
    }

    #[test]
    fn rates_are_exact_positive_and_bounded() {
        assert_eq!(Rate::parse(" 0.9200 ").unwrap().to_string(), "0.92");
        for bad in ["", "0", "-1", "1e3", "abc", "1.0000000000001", "2000000000000", "1,5"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        let r = Rate::parse("100").unwrap();
        assert_eq!(r.moved_percent(Rate::parse("110").unwrap()), Decimal::from(10));
    }

    #[test]
    fn values_round_half_away_from_zero_to_cents_for_6_8_and_18_decimals() {
        let usdt = asset::find("USDT_TRC20").unwrap();
        let amount = Amount::parse(usdt, "1234.567891").unwrap();
        let v = value_of(amount, Rate::parse("0.92").unwrap(), eur()).unwrap();
        assert_eq!(v.money(), "1,135.80 EUR"); // 1135.80246
        let btc = asset::find("BTC").unwrap();
        let v = value_of(Amount::parse(btc, "0.00000001").unwrap(), Rate::parse("60000").unwrap(), eur());
        assert_eq!(v.unwrap().plain(), "0.00"); // 0.0006
        let eth = asset::find("ETH").unwrap();
        let big = Amount::parse(eth, "1000000.123456789012345678").unwrap();
        let v = value_of(big, Rate::parse("3000.5").unwrap(), eur()).unwrap();
        assert_eq!(v.plain(), "3000500370.43"); // 3000500370.4259…
        let jpy = currency("JPY").unwrap();
        assert_eq!(value_of(amount, Rate::parse("150.5").unwrap(), jpy).unwrap().money(), "185,802 JPY");
    }

    #[test]
    fn an_amount_for_a_fiat_sum_rounds_up_to_the_smallest_unit() {
        let usdt = asset::find("USDT_TRC20").unwrap();
        let fiat = Fiat { minor: 100_000, currency: eur() }; // 1,000.00 EUR
        let a = amount_for(fiat, usdt, Rate::parse("0.92").unwrap()).unwrap();
        assert_eq!(a.to_string(), "1086.956522"); // 1086.9565217… up
    }

    proptest! {
        #[test]
        fn the_recipient_never_gets_less_than_the_agreed_fiat(
            cents in 1i64..10_000_000_000,
            rate in 1u64..10_000_000_000u64,
            scale in 0u32..9,
            code in 0usize..4,
        ) {
            let asset = [asset::find("USDT_TRC20"), asset::find("BTC"), asset::find("ETH"), asset::find("USDC_ERC20")][code].unwrap();
            let rate = Rate::new(Decimal::new(rate as i64, scale)).unwrap();
            let fiat = Fiat { minor: cents.into(), currency: eur() };
            let Some(amount) = amount_for(fiat, asset, rate) else { return Ok(()) };
            // In whole numbers: units × mantissa × 10^2 against cents × 10^(decimals + scale).
            let (m, sc) = (rate.value().mantissa(), rate.value().scale());
            let wanted = 10i128.checked_pow(asset.decimals + sc).and_then(|p| p.checked_mul(fiat.minor));
            let worth = |units: i128| units.checked_mul(m).and_then(|x| x.checked_mul(100));
            let (Some(wanted), Some(worth_now), Some(worth_less)) = (wanted, worth(amount.minor()), worth(amount.minor() - 1))
            else { return Ok(()) };
            prop_assert!(worth_now >= wanted, "{amount:?} at {rate} is worth less than {}", fiat.money());
            prop_assert!(worth_less < wanted, "one smallest unit less would do");
        }
    }
    #[test]
    fn a_recorded_rate_is_valid_to_the_end_of_the_day_in_the_organizations_zone() {
        use super::valid_until;
        use crate::domain::zone::Zone;
        let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let now = at("2026-12-07 16:00"); // 17:00 in Berlin
        assert_eq!(valid_until("", berlin, now).unwrap(), at("2026-12-07 23:00"), "midnight in Berlin");
        assert_eq!(valid_until("", Zone::UTC, now).unwrap(), at("2026-12-08 00:00"));
        assert_eq!(valid_until("2026-12-09", berlin, now).unwrap(), at("2026-12-09 23:00"));
        assert_eq!(valid_until("2026-12-07 18:30", berlin, now).unwrap(), at("2026-12-07 17:30"));
        assert_eq!(valid_until("2026-12-07T18:30", berlin, now).unwrap(), at("2026-12-07 17:30"));
        // Tokyo is already on the 8th: today there ends at 15:00 UTC on the 8th.
        let tokyo = Zone::parse("Asia/Tokyo").unwrap();
        assert_eq!(valid_until("", tokyo, now).unwrap(), at("2026-12-08 15:00"));
        for (typed, says) in [
            ("2026-12-07 16:59", "has passed"),
            ("2026-12-06", "has passed"),
            ("2027-02-01", "at most 31 days"),
            ("tomorrow", "is not a date"),
            ("2026-13-01", "is not a date"),
            (&"9".repeat(300), "Enter a date"),
        ] {
            let err = valid_until(typed, berlin, now).unwrap_err();
            assert!(err.contains(says), "{typed}: {err}");
        }
    }
}
