//! Checks from the command line: `check-registry` (offline, or against an organization's known
//! addresses for lookalikes) and `check-address`.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::domain::Address;
use crate::domain::asset::{self, Asset};
use crate::domain::fee::{FeeRule, Operation};
use crate::domain::registry::{self, Limits, Row};

/// Exit codes: every row valid, some row invalid, the file is not a readable registry.
pub const EXIT_VALID: u8 = 0;
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_UNREADABLE: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn find_asset(code: &str) -> Result<&'static Asset, String> {
    asset::find(code).ok_or_else(|| format!("unknown asset {code:?}; use one of {}", asset::codes()))
}

/// What the organization's database says of (line, address) rows: (line, message) each.
#[derive(Debug, Default)]
pub struct OrgFindings {
    /// Rows whose address looks like one the organization knows (warnings).
    pub lookalikes: Vec<(u64, String)>,
    /// Rows whose address a sanctions list in force holds (errors: never payable).
    pub listed: Vec<(u64, String)>,
}

/// Checks (line, address) rows against the organization's database, or says why it cannot.
pub type LookalikeCheck<'a> = &'a mut dyn FnMut(&[(u64, &str)]) -> Result<OrgFindings, String>;

pub fn check_registry(
    out: &mut impl Write,
    asset_code: &str,
    path: &Path,
    format: Format,
    limits: &Limits,
    lookalikes: Option<LookalikeCheck>,
) -> u8 {
    let asset = match find_asset(asset_code) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            report_file_error(out, format, &format!("cannot open {}: {e}", path.display()));
            return EXIT_UNREADABLE;
        }
    };
    let registry = match registry::parse(file, asset, limits) {
        Ok(r) => r,
        Err(e) => {
            report_file_error(out, format, &e.to_string());
            return EXIT_UNREADABLE;
        }
    };
    let mut registry = registry;
    if let Some(currencies) = registry.fiat.clone() {
        // Amounts in fiat are converted at the rate of the moment they are uploaded; here each is
        // checked as an amount of its currency.
        let currency = match currencies.as_slice() {
            [one] => crate::domain::fiat::currency(one),
            _ => None,
        };
        let Some(currency) = currency else {
            let message = "A registry with fiat_amount needs a fiat_currency column naming one supported currency \
                           (like EUR) on every row.";
            report_file_error(out, format, message);
            return EXIT_UNREADABLE;
        };
        for row in &mut registry.rows {
            if let Err(e) = crate::domain::fiat::Fiat::parse(&row.amount_text, currency) {
                row.errors.push(registry::Issue::new("amount", e));
            }
        }
    }
    let mut lookalike_count = None;
    let mut listed_count = None;
    if let Some(check) = lookalikes {
        let valid: Vec<(u64, &str)> =
            registry.rows.iter().filter(|r| r.is_valid()).map(|r| (r.line, r.address.as_str())).collect();
        let found = match check(&valid) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_UNREADABLE;
            }
        };
        lookalike_count = Some(found.lookalikes.len());
        listed_count = Some(found.listed.len());
        for (line, message) in found.lookalikes {
            if let Some(row) = registry.rows.iter_mut().find(|r| r.line == line) {
                row.warnings.push(registry::Issue::new("address", format!("lookalike address: {message}")));
            }
        }
        for (line, message) in found.listed {
            if let Some(row) = registry.rows.iter_mut().find(|r| r.line == line) {
                row.errors.push(registry::Issue::coded("address", "sanctioned", message));
            }
        }
    }
    let summary = registry.summary(&FeeRule::default_for(asset, Operation::MassRow));
    let written = match format {
        Format::Json => write_json(out, &registry.rows, &summary, lookalike_count, listed_count),
        Format::Text => write_text(out, asset, &registry, &summary, lookalike_count, listed_count),
    };
    if let Err(e) = written {
        eprintln!("error: writing the report: {e}");
        return EXIT_UNREADABLE;
    }
    if summary.invalid == 0 { EXIT_VALID } else { EXIT_INVALID }
}

fn report_file_error(out: &mut impl Write, format: Format, message: &str) {
    let _ = match format {
        Format::Json => writeln!(out, "{}", json!({ "error": message })),
        Format::Text => writeln!(out, "{message}"),
    };
    if format == Format::Json {
        eprintln!("error: {message}");
    }
}

fn write_json(
    out: &mut impl Write,
    rows: &[Row],
    summary: &registry::Summary,
    lookalikes: Option<usize>,
    listed: Option<usize>,
) -> std::io::Result<()> {
    for row in rows {
        let line = json!({
            "line": row.line,
            "ok": row.is_valid(),
            "address": row.address,
            "amount": row.amount.map_or_else(|| row.amount_text.clone(), |a| a.to_string()),
            "errors": row.errors,
            "warnings": row.warnings,
        });
        writeln!(out, "{line}")?;
    }
    let q = &summary.quote;
    let mut totals = json!({
        "rows": summary.rows,
        "valid": summary.valid,
        "invalid": summary.invalid,
        "total": q.amount_total.to_string(),
        "fee": q.fee.to_string(),
    });
    if let Some(n) = lookalikes {
        totals["lookalikes"] = json!(n);
    }
    if let Some(n) = listed {
        totals["sanctioned"] = json!(n);
    }
    writeln!(out, "{}", json!({ "summary": totals }))
}

fn write_text(
    out: &mut impl Write,
    asset: &Asset,
    registry: &registry::Registry,
    summary: &registry::Summary,
    lookalikes: Option<usize>,
    listed: Option<usize>,
) -> std::io::Result<()> {
    if !registry.unknown_columns.is_empty() {
        writeln!(out, "note: ignored unknown columns: {}", registry.unknown_columns.join(", "))?;
    }
    for row in &registry.rows {
        for (kind, issues) in [("error", &row.errors), ("warning", &row.warnings)] {
            for issue in issues.iter() {
                let column = if issue.column.is_empty() { String::new() } else { format!(", column {}", issue.column) };
                writeln!(out, "line {}{column}: {kind}: {}", row.line, issue.message)?;
            }
        }
    }
    let q = &summary.quote;
    writeln!(
        out,
        "{}: {} valid, {} invalid.",
        crate::domain::words::count(summary.rows, "row", "rows"),
        summary.valid,
        summary.invalid
    )?;
    if let Some(n) = listed.filter(|n| *n > 0) {
        writeln!(
            out,
            "{} on a sanctions list in force: such rows cannot be paid.",
            crate::domain::words::count(n, "sanctioned address", "sanctioned addresses")
        )?;
    }
    if let Some(n) = lookalikes {
        writeln!(
            out,
            "{n} lookalike address(es): each looks like an address the organization knows but is another; \
             check them with their recipients by another channel."
        )?;
    }
    writeln!(
        out,
        "Valid rows total {} {code}; service fee {} {code} (default mass payout schedule); total debit {} {code}.",
        q.amount_total.grouped(),
        q.fee.grouped(),
        q.total_debit.grouped(),
        code = asset.code
    )
}

pub fn check_address(out: &mut impl Write, asset_code: &str, address: &str, format: Format) -> u8 {
    let asset = match find_asset(asset_code) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let result = Address::parse(asset, address);
    let _ = match (&result, format) {
        (Ok(a), Format::Json) => {
            writeln!(out, "{}", json!({"valid": true, "address": a.value, "errors": [], "warnings": a.warnings}))
        }
        (Err(e), Format::Json) => {
            writeln!(out, "{}", json!({"valid": false, "address": address.trim(), "errors": [e], "warnings": []}))
        }
        (Ok(a), Format::Text) => {
            let mut text = format!("valid {} address: {}", asset.code, a.value);
            for w in &a.warnings {
                text.push_str(&format!("\nwarning: {w}"));
            }
            writeln!(out, "{text}")
        }
        (Err(e), Format::Text) => writeln!(out, "invalid: {e}"),
    };
    if result.is_ok() { EXIT_VALID } else { EXIT_INVALID }
}
