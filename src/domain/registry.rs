//! The CSV registry of a mass payout: header row required (address, amount, optional comment
//! and reference, any order, any case), comma, semicolon or tab, UTF-8 with or without BOM,
//! CRLF or LF, quoted fields. Rows are read one at a time; only the checked rows are kept.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::{self, BufRead, BufReader, Read};

use serde::Serialize;

use super::address::Address;
use super::asset::Asset;
use super::fee::{FeeRule, Quote};
use super::money::Amount;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_rows: usize,
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_rows: 10_000, max_bytes: 5 * 1024 * 1024 }
    }
}

pub const MAX_COMMENT_CHARS: usize = 200;
pub const MAX_REFERENCE_CHARS: usize = 64;

/// A problem with one cell (or, with an empty column, the whole row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub column: &'static str,
    pub message: String,
    /// A stable code a program may act on (`sanctioned`), sent by the API beside the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

impl Issue {
    pub fn new(column: &'static str, message: impl Into<String>) -> Self {
        Self { column, message: message.into(), code: None }
    }

    pub fn coded(column: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self { column, message: message.into(), code: Some(code) }
    }
}

/// The cells of one recipient, as typed.
#[derive(Debug, Clone, Default)]
pub struct RowInput<'a> {
    pub address: &'a str,
    pub amount: &'a str,
    pub comment: &'a str,
    pub reference: &'a str,
}

/// One recipient after every check: valid when it has no errors.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    /// Canonical when valid, else as typed (trimmed).
    pub address: String,
    /// As typed (trimmed).
    pub amount_text: String,
    pub amount: Option<Amount>,
    pub comment: String,
    pub reference: String,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// A claim: the payee (by id) gives the address later; `address` is empty until then.
    pub claim_for: Option<i64>,
}

impl Row {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Checks one recipient on its own: the same rules for a CSV line, a table row typed in
    /// the browser, and an API item. Duplicates across rows are checked by [`check_duplicates`].
    pub fn check(asset: &'static Asset, line: u64, input: &RowInput) -> Row {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let address = match Address::parse(asset, input.address) {
            Ok(a) => {
                warnings.extend(a.warnings.into_iter().map(|w| Issue::new("address", w)));
                a.value
            }
            Err(e) => {
                errors.push(Issue::new("address", e));
                input.address.trim().to_owned()
            }
        };
        let amount = match check_payout_amount(asset, input.amount) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.push(Issue::new("amount", e));
                None
            }
        };
        if let Err(e) = check_text(input.comment, MAX_COMMENT_CHARS) {
            errors.push(Issue::new("comment", e));
        }
        if let Err(e) = check_text(input.reference, MAX_REFERENCE_CHARS) {
            errors.push(Issue::new("reference", e));
        }
        Row {
            line,
            address,
            amount_text: input.amount.trim().to_owned(),
            amount,
            comment: input.comment.trim().to_owned(),
            reference: input.reference.trim().to_owned(),
            errors,
            warnings,
            claim_for: None,
        }
    }

    /// A claim for payee `payee_id`: checked like any row except the address, which the payee
    /// gives later and which must therefore be left empty here.
    pub fn claim(asset: &'static Asset, line: u64, payee_id: i64, input: &RowInput) -> Row {
        let mut row = Row::check(asset, line, input);
        row.errors.retain(|i| i.column != "address");
        row.warnings.retain(|i| i.column != "address");
        row.address = String::new();
        if !input.address.trim().is_empty() {
            row.errors.push(Issue::new("address", "A claim's address is given by the payee: leave it empty."));
        }
        row.claim_for = Some(payee_id);
        row
    }
}

impl Row {
    /// A row whose amount is typed in `currency`: converted at `rate` (rounded up to the asset's
    /// smallest unit), then checked like any row. The row's amount is the crypto amount; the
    /// typed one is returned beside it (None when it is not a valid amount of `currency`).
    pub fn check_fiat(
        asset: &'static Asset,
        line: u64,
        input: &RowInput,
        currency: &'static crate::domain::fiat::Currency,
        rate: crate::domain::fiat::Rate,
    ) -> (Row, Option<crate::domain::fiat::Fiat>) {
        let typed = crate::domain::fiat::Fiat::parse(input.amount, currency);
        let converted = typed.as_ref().ok().map(|f| crate::domain::fiat::amount_for(*f, asset, rate));
        let text = match converted {
            Some(Some(a)) => a.to_string(),
            _ => "1".to_owned(),
        };
        let mut row = Row::check(asset, line, &RowInput { amount: &text, ..input.clone() });
        row.amount_text = input.amount.trim().to_owned();
        let problem = match (&typed, converted) {
            (Err(e), _) => Some(e.clone()),
            (Ok(_), Some(None)) => Some("This amount is too large to convert.".to_owned()),
            _ => None,
        };
        if let Some(e) = problem {
            row.errors.retain(|i| i.column != "amount");
            row.errors.push(Issue::new("amount", e));
            row.amount = None;
            return (row, None);
        }
        if let Some(issue) = row.errors.iter_mut().find(|i| i.column == "amount") {
            let typed = typed.as_ref().map(|f| f.money()).unwrap_or_default();
            issue.message = format!("{typed} is {text} {} at {rate}: {}", asset.code, issue.message);
        }
        (row, typed.ok())
    }
}

/// Bump when a row rule changes: verdicts stored under another version are checked again.
pub const ROW_RULES_VERSION: u32 = 1;

/// What [`Row::check`] decided, as stored beside a draft row.
#[derive(Serialize, serde::Deserialize)]
struct StoredVerdict {
    rules: u32,
    asset: String,
    address: String,
    amount: Option<String>,
    errors: Vec<(String, String)>,
    warnings: Vec<(String, String)>,
}

fn stored_column(name: &str) -> Option<&'static str> {
    ["address", "amount", "comment", "reference"].into_iter().find(|c| *c == name)
}

impl Row {
    /// This row's own checks (not those across rows, nor a CSV line's shape) as stored text.
    pub fn verdict(&self, asset: &'static Asset) -> String {
        let issues = |list: &[Issue]| -> Vec<(String, String)> {
            list.iter().filter(|i| !i.column.is_empty()).map(|i| (i.column.to_owned(), i.message.clone())).collect()
        };
        let stored = StoredVerdict {
            rules: ROW_RULES_VERSION,
            asset: asset.code.to_owned(),
            address: self.address.clone(),
            amount: self.amount.map(|a| a.to_string()),
            errors: issues(&self.errors),
            warnings: issues(&self.warnings),
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// The row as [`Row::check`] would find it, from its stored verdict; None when the verdict
    /// was made for another asset or by other rules (then the row is checked again).
    pub fn from_verdict(asset: &'static Asset, line: u64, input: &RowInput, verdict: &str) -> Option<Row> {
        let stored: StoredVerdict = serde_json::from_str(verdict).ok()?;
        if stored.rules != ROW_RULES_VERSION || stored.asset != asset.code {
            return None;
        }
        let issues = |list: Vec<(String, String)>| -> Option<Vec<Issue>> {
            list.into_iter().map(|(c, m)| Some(Issue::new(stored_column(&c)?, m))).collect()
        };
        let amount = match stored.amount {
            Some(a) => Some(Amount::parse_non_negative(asset, &a).ok()?),
            None => None,
        };
        Some(Row {
            line,
            address: stored.address,
            amount_text: input.amount.trim().to_owned(),
            amount,
            comment: input.comment.trim().to_owned(),
            reference: input.reference.trim().to_owned(),
            errors: issues(stored.errors)?,
            warnings: issues(stored.warnings)?,
            claim_for: None,
        })
    }
}

/// A payout amount: a valid amount of the asset, at least its minimum.
pub fn check_payout_amount(asset: &'static Asset, input: &str) -> Result<Amount, String> {
    let amount = Amount::parse(asset, input)?;
    let min = Amount::parse(asset, asset.min_amount).expect("asset minimums are valid");
    if amount < min {
        return Err(format!("The smallest {} payout is {} {}.", asset.code, min, asset.code));
    }
    Ok(amount)
}

/// Free text: bounded, and without control characters or the invisible bidirectional marks
/// that can make text read differently from what it is.
pub fn check_text(input: &str, max_chars: usize) -> Result<(), String> {
    let s = input.trim();
    if let Some(c) = s.chars().find(|c| is_control_or_bidi(*c)) {
        return Err(format!(
            "Contains an invisible control character (U+{:04X}) that can disguise the text; remove it.",
            c as u32
        ));
    }
    let len = s.chars().count();
    if len > max_chars {
        return Err(format!("At most {max_chars} characters; this has {len}."));
    }
    Ok(())
}

fn is_control_or_bidi(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Flags rows that repeat an earlier reference (an error: references are the payer's own ids)
/// or an earlier address and amount (a warning: possibly pasted twice).
pub fn check_duplicates(rows: &mut [Row]) {
    // Keys borrow the rows and each is hashed once (entry, no growth): hashing was a fifth of
    // a 100,000-row registry's check (BENCHMARKS.md). SipHash stays: the keys are the uploader's.
    let mut references: HashMap<&str, u64> = HashMap::with_capacity(rows.len());
    let mut payments: HashMap<(Caseless<'_>, i128), u64> = HashMap::with_capacity(rows.len());
    let mut claims: HashMap<(i64, i128), u64> = HashMap::new();
    // (row, is an error, issue): recorded after the pass, while the keys still borrow the rows.
    let mut found: Vec<(usize, bool, Issue)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if !row.reference.is_empty() {
            match references.entry(&row.reference) {
                Entry::Occupied(first) => found.push((
                    i,
                    true,
                    Issue::new(
                        "reference",
                        format!("Reference {} is already used on line {}.", row.reference, first.get()),
                    ),
                )),
                Entry::Vacant(slot) => {
                    slot.insert(row.line);
                }
            }
        }
        if let (Some(amount), Some(payee)) = (row.amount, row.claim_for) {
            match claims.entry((payee, amount.minor())) {
                Entry::Occupied(first) => {
                    let text = format!("Same payee and amount as line {}: a possible duplicate payment.", first.get());
                    found.push((i, false, Issue::new("", text)));
                }
                Entry::Vacant(slot) => {
                    slot.insert(row.line);
                }
            }
        } else if let Some(amount) = row.amount {
            match payments.entry((Caseless(&row.address), amount.minor())) {
                Entry::Occupied(first) => found.push((
                    i,
                    false,
                    Issue::new(
                        "",
                        format!("Same address and amount as line {}: a possible duplicate payment.", first.get()),
                    ),
                )),
                Entry::Vacant(slot) => {
                    slot.insert(row.line);
                }
            }
        }
    }
    for (i, is_error, issue) in found {
        let row = &mut rows[i];
        if is_error { row.errors.push(issue) } else { row.warnings.push(issue) }
    }
}

/// An address compared and hashed without regard to ASCII case, without a lower-case copy.
#[derive(Clone, Copy)]
struct Caseless<'a>(&'a str);

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Caseless<'_> {}

impl std::hash::Hash for Caseless<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut lower = [0u8; 64];
        for chunk in self.0.as_bytes().chunks(lower.len()) {
            let lower = &mut lower[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            state.write(lower);
        }
        state.write_u8(0xff);
    }
}

/// What makes a whole file unusable; nothing of it is kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("The file is empty.")]
    Empty,
    #[error("The file has a header row but no recipients.")]
    HeaderOnly,
    #[error("The file is not a CSV text file: {0}")]
    NotText(String),
    #[error("Line {line} is not UTF-8 text. Save the file as \"CSV UTF-8\" and upload it again.")]
    NotUtf8 { line: u64 },
    #[error("The file is larger than {max_mib} MiB; split it into smaller registries.")]
    TooLarge { max_mib: u64 },
    #[error("The file has more than {max} recipients; split it into registries of at most {max} rows.")]
    TooManyRows { max: usize },
    #[error("The header row must name the columns {missing}. It has: {found}.")]
    MissingColumns { missing: String, found: String },
    #[error("The header row names the column {0} twice.")]
    DuplicateColumn(String),
    #[error("The file could not be read: {0}")]
    Unreadable(String),
}

#[derive(Debug)]
pub struct Registry {
    pub rows: Vec<Row>,
    /// Set when the amounts came from a `fiat_amount` column: the currencies its `fiat_currency`
    /// column named (upper case, each once; empty when there is no such column). The rows'
    /// amounts are then fiat texts, checked against a rate by the caller.
    pub fiat: Option<Vec<String>>,
    pub delimiter: char,
    /// Header columns that are not part of the format; reported, otherwise ignored.
    pub unknown_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub rows: usize,
    pub valid: usize,
    pub invalid: usize,
    /// Of the valid rows.
    pub quote: Quote,
}

impl Registry {
    /// Counts and the fee of the valid rows under `rule`.
    pub fn summary(&self, rule: &FeeRule) -> Summary {
        summarize(&self.rows, rule)
    }
}

pub fn summarize(rows: &[Row], rule: &FeeRule) -> Summary {
    let amounts: Vec<Amount> = rows.iter().filter(|r| r.is_valid()).filter_map(|r| r.amount).collect();
    let quote = Quote::new(rule, &amounts, None).expect("the sum of at most a row limit of amounts fits");
    let valid = amounts.len();
    Summary { rows: rows.len(), valid, invalid: rows.len() - valid, quote }
}

const COLUMNS: [&str; 4] = ["address", "amount", "comment", "reference"];

/// Counts bytes read and fails past the limit, so an oversized upload stops early.
struct Limited<R> {
    inner: R,
    read: u64,
    max: u64,
}

#[derive(Debug)]
struct TooLargeMarker;

impl std::fmt::Display for TooLargeMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}

impl std::error::Error for TooLargeMarker {}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.max {
            return Err(io::Error::other(TooLargeMarker));
        }
        Ok(n)
    }
}

/// Where the line ends are, as the bytes go by: the csv reader's own line count is a line short
/// after an empty line or a CRLF line end (it stops a CRLF record at the CR and skips empty
/// lines uncounted), so a row's line is told from its byte offset instead. Only the line ends
/// still ahead of the reader are kept.
#[derive(Default)]
struct LineEnds {
    ahead: std::collections::VecDeque<u64>,
    read: u64,
    passed: u64,
}

impl LineEnds {
    /// The line of a record the reader says starts at `offset`: the csv reader puts a record
    /// after empty lines at the first of them, so those are stepped over.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.ahead.front().is_some_and(|&end| end < offset) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        let empty = self.ahead.iter().zip(offset..).take_while(|(end, at)| **end == *at).count() as u64;
        self.passed + 1 + empty
    }
}

struct LineTracker<R> {
    inner: R,
    ends: std::rc::Rc<std::cell::RefCell<LineEnds>>,
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.ends.borrow_mut();
        let start = ends.read;
        ends.ahead.extend(memchr::memchr_iter(b'\n', &buf[..n]).map(|i| start + i as u64));
        ends.read += n as u64;
        Ok(n)
    }
}

/// Line ends as LF only: the csv reader stops a CRLF record at its CR and counts the LF on the
/// next one, so every row of a file saved by Excel on Windows was reported a line too early.
/// A CR inside a quoted cell before a LF goes too, which changes no amount or address.
struct CrlfToLf<R> {
    inner: R,
    chunk: Vec<u8>,
    pos: usize,
    pending_cr: bool,
    eof: bool,
}

impl<R> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        Self { inner, chunk: Vec::new(), pos: 0, pending_cr: false, eof: false }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut out = 0;
        while out < buf.len() {
            if self.pos == self.chunk.len() {
                if self.eof || out > 0 {
                    break;
                }
                self.chunk.resize(8192, 0);
                let n = self.inner.read(&mut self.chunk)?;
                self.chunk.truncate(n);
                self.pos = 0;
                if n == 0 {
                    self.eof = true;
                    if std::mem::take(&mut self.pending_cr) {
                        buf[out] = b'\r';
                        out += 1;
                    }
                }
                continue;
            }
            if std::mem::take(&mut self.pending_cr) {
                if self.chunk[self.pos] != b'\n' {
                    buf[out] = b'\r';
                    out += 1;
                }
                continue;
            }
            // Everything up to the next CR goes across in one copy.
            let rest = &self.chunk[self.pos..];
            let run = memchr::memchr(b'\r', rest).unwrap_or(rest.len());
            let n = run.min(buf.len() - out);
            buf[out..out + n].copy_from_slice(&rest[..n]);
            out += n;
            self.pos += n;
            if n == run && self.pos < self.chunk.len() {
                self.pos += 1;
                self.pending_cr = true;
            }
        }
        Ok(out)
    }
}

fn io_error(e: &io::Error, limits: &Limits) -> FileError {
    if e.get_ref().is_some_and(|inner| inner.is::<TooLargeMarker>()) {
        FileError::TooLarge { max_mib: limits.max_bytes.div_ceil(1024 * 1024) }
    } else {
        FileError::Unreadable(e.to_string())
    }
}

/// Recognizes files that are not CSV text from their first bytes.
fn sniff(head: &[u8]) -> Result<(), FileError> {
    let not_text = |what: &str| Err(FileError::NotText(what.into()));
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return not_text("it is UTF-16 encoded. Save it as \"CSV UTF-8\" and upload it again.");
    }
    if head.starts_with(&[0x1F, 0x8B]) {
        return not_text("it is compressed (gzip). Unpack it and upload the .csv inside.");
    }
    if head.starts_with(b"PK\x03\x04") {
        return not_text("it is a ZIP archive or an Excel workbook. Save the sheet as \"CSV UTF-8\" and upload that.");
    }
    if head.starts_with(b"%PDF") {
        return not_text("it is a PDF document.");
    }
    if head.contains(&0) {
        return not_text("it contains binary data.");
    }
    Ok(())
}

/// The delimiter that makes the header name the required columns; else the most frequent one.
fn detect_delimiter(header_line: &str) -> u8 {
    let candidates = [b',', b';', b'\t'];
    let names = |d: u8| -> Vec<String> {
        header_line.split(d as char).map(|c| c.trim().trim_matches('"').trim().to_ascii_lowercase()).collect()
    };
    candidates
        .iter()
        .copied()
        .find(|d| {
            let n = names(*d);
            n.iter().any(|c| c == "address") && n.iter().any(|c| c == "amount")
        })
        .unwrap_or_else(|| {
            candidates.iter().copied().max_by_key(|d| header_line.matches(*d as char).count()).unwrap_or(b',')
        })
}

/// Reads and checks a registry for `asset`. Errors that concern the whole file are returned as
/// [`FileError`]; everything else is reported on its row.
pub fn parse<R: Read>(reader: R, asset: &'static Asset, limits: &Limits) -> Result<Registry, FileError> {
    let limited = Limited { inner: reader, read: 0, max: limits.max_bytes };
    let ends = std::rc::Rc::new(std::cell::RefCell::new(LineEnds::default()));
    let tracked = LineTracker { inner: CrlfToLf::new(limited), ends: ends.clone() };
    let mut buffered = BufReader::with_capacity(64 * 1024, tracked);
    let head = buffered.fill_buf().map_err(|e| io_error(&e, limits))?;
    if head.is_empty() {
        return Err(FileError::Empty);
    }
    sniff(head)?;
    let bom = if head.starts_with(&[0xEF, 0xBB, 0xBF]) { 3 } else { 0 };
    let first_line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let header_line = String::from_utf8_lossy(&head[bom..first_line_end]).into_owned();
    buffered.consume(bom);
    let delimiter = detect_delimiter(&header_line);

    let mut csv = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).flexible(true).from_reader(buffered);
    let headers = csv.headers().map_err(|e| csv_error(e, limits))?.clone();
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    if names.iter().all(String::is_empty) {
        return Err(FileError::Empty);
    }
    let mut index = [None; 4];
    let mut unknown_columns = Vec::new();
    let (mut fiat_amount, mut fiat_currency) = (None, None);
    for (i, name) in names.iter().enumerate() {
        match COLUMNS.iter().position(|c| c == name) {
            None if name == "fiat_amount" && fiat_amount.is_none() => fiat_amount = Some(i),
            None if name == "fiat_currency" && fiat_currency.is_none() => fiat_currency = Some(i),
            None if name == "fiat_amount" || name == "fiat_currency" => {
                return Err(FileError::DuplicateColumn(name.clone()));
            }
            Some(k) if index[k].is_some() => return Err(FileError::DuplicateColumn(COLUMNS[k].into())),
            Some(k) => index[k] = Some(i),
            None if name.is_empty() => {}
            None => unknown_columns.push(headers[i].trim().to_owned()),
        }
    }
    let fiat = match (index[1], fiat_amount) {
        (Some(_), Some(_)) => return Err(FileError::DuplicateColumn("amount and fiat_amount".into())),
        (None, Some(i)) => {
            index[1] = Some(i);
            true
        }
        _ => false,
    };
    let mut currencies: Vec<String> = Vec::new();
    let missing: Vec<&str> =
        ["address", "amount"].into_iter().zip(index).filter(|(_, i)| i.is_none()).map(|(c, _)| c).collect();
    if !missing.is_empty() {
        let found: Vec<&str> = headers.iter().map(str::trim).filter(|h| !h.is_empty()).collect();
        return Err(FileError::MissingColumns {
            missing: missing.join(" and "),
            found: if found.is_empty() { "no column names".into() } else { found.join(", ") },
        });
    }

    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(e, limits)),
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rows.len() == limits.max_rows {
            return Err(FileError::TooManyRows { max: limits.max_rows });
        }
        let line = record.position().map_or(0, |p| ends.borrow_mut().line_at(p.byte() + bom as u64));
        let cell = |k: usize| index[k].and_then(|i| record.get(i)).unwrap_or("");
        let input = RowInput { address: cell(0), amount: cell(1), comment: cell(2), reference: cell(3) };
        let mut row = Row::check(asset, line, &input);
        if fiat {
            // The amount is a fiat text, checked by the caller against a rate.
            row.errors.retain(|i| i.column != "amount");
            row.amount = None;
            if let Some(code) = fiat_currency.and_then(|i| record.get(i)).map(|c| c.trim().to_ascii_uppercase())
                && !code.is_empty()
                && !currencies.contains(&code)
                && currencies.len() < 10
            {
                currencies.push(code);
            }
        }
        if record.len() != headers.len() {
            row.errors.push(Issue::new(
                "",
                format!(
                    "This line has {} fields but the header has {}; check for a stray delimiter.",
                    record.len(),
                    headers.len()
                ),
            ));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(FileError::HeaderOnly);
    }
    if !fiat {
        check_duplicates(&mut rows);
    }
    Ok(Registry { rows, fiat: fiat.then_some(currencies), delimiter: delimiter as char, unknown_columns })
}

fn csv_error(e: csv::Error, limits: &Limits) -> FileError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io_error(&io, limits),
        csv::ErrorKind::Utf8 { pos, .. } => FileError::NotUtf8 { line: pos.map_or(1, |p| p.line()) },
        other => FileError::Unreadable(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::asset::find;
    use crate::domain::fee::{FeeRule, Operation};

    const EVM: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    const EVM2: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";

    fn parse_str(s: &str) -> Result<Registry, FileError> {
        parse(s.as_bytes(), find("USDT_ERC20").unwrap(), &Limits::default())
    }

    #[test]
    fn a_fiat_registry_keeps_its_amounts_as_typed_for_the_rate_and_names_its_currencies() {
        let r = parse_str(&format!("address;fiat_amount;fiat_currency\n{EVM};2500;eur\n{EVM2};12.345;EUR\n")).unwrap();
        assert_eq!(r.fiat, Some(vec!["EUR".to_owned()]));
        assert!(r.rows.iter().all(|row| row.amount.is_none() && row.is_valid()), "checked against a rate later");
        assert_eq!(r.rows[1].amount_text, "12.345");
        assert!(matches!(
            parse_str(&format!("address,amount,fiat_amount\n{EVM},1,1\n")),
            Err(FileError::DuplicateColumn(_))
        ));
        let eur = crate::domain::fiat::currency("EUR").unwrap();
        let rate = crate::domain::fiat::Rate::parse("0.92").unwrap();
        let usdt = find("USDT_ERC20").unwrap();
        let input = |amount| RowInput { address: EVM, amount, comment: "", reference: "" };
        let (row, typed) = Row::check_fiat(usdt, 2, &input("2500"), eur, rate);
        assert_eq!((row.amount.unwrap().to_string(), typed.unwrap().minor), ("2717.391305".into(), 250_000));
        assert_eq!(row.amount_text, "2500", "the typed text is kept for the editor");
        let (row, typed) = Row::check_fiat(usdt, 2, &input("12.345"), eur, rate);
        assert!(typed.is_none() && row.errors.iter().any(|e| e.column == "amount" && e.message.contains("2 decimal")));
        // Below the asset's minimum once converted: said in both currencies.
        let (row, _) = Row::check_fiat(usdt, 2, &input("0.50"), eur, rate);
        assert!(
            row.errors.iter().any(|e| e.message.starts_with("0.50 EUR is 0.543479 USDT_ERC20")),
            "{:?}",
            row.errors
        );
    }

    #[test]
    fn a_stored_verdict_gives_back_the_checked_row() {
        let tron = crate::domain::asset::find("USDT_TRC20").unwrap();
        for (address, amount, comment) in
            [("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "12.5", "ok"), (EVM, "12,5", "bad\u{202e}"), ("", "", "")]
        {
            let input = RowInput { address, amount, comment, reference: "R1" };
            let checked = Row::check(tron, 3, &input);
            let back = Row::from_verdict(tron, 3, &input, &checked.verdict(tron)).unwrap();
            assert_eq!(format!("{back:?}"), format!("{checked:?}"));
            let btc = crate::domain::asset::find("BTC").unwrap();
            assert!(Row::from_verdict(btc, 3, &input, &checked.verdict(tron)).is_none(), "another asset");
        }
        assert!(Row::from_verdict(tron, 1, &RowInput::default(), "{").is_none());
    }

    #[test]
    fn crlf_files_count_lines_as_lf_files_do() {
        let lf = "address,amount\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,12\n\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,x\n";
        let crlf = lf.replace('\n', "\r\n");
        for text in [lf.to_string(), crlf] {
            let reg = parse_str(&text).unwrap();
            assert_eq!(reg.rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 4], "{text:?}");
        }
        // A lone CR inside a cell is kept; CR before LF is a line end.
        let mut r = CrlfToLf::new("a\rb\r\nc\r".as_bytes());
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "a\rb\nc\r");
    }

    proptest::proptest! {
        /// Whatever the read sizes, CR LF becomes LF and every other byte passes unchanged.
        #[test]
        fn crlf_to_lf_for_any_reads(text in proptest::collection::vec(proptest::sample::select(b"ab\r\n".to_vec()), 0..300),
                                    sizes in proptest::collection::vec(1usize..20, 1..50)) {
            let expected = String::from_utf8(text.clone()).unwrap().replace("\r\n", "\n");
            let mut r = CrlfToLf::new(text.as_slice());
            let mut out = Vec::new();
            for size in sizes.iter().cycle() {
                let mut buf = vec![0u8; *size];
                let n = r.read(&mut buf).unwrap();
                if n == 0 { break; }
                out.extend_from_slice(&buf[..n]);
            }
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn any_column_order_case_and_delimiter() {
        for text in [
            format!("Amount,ADDRESS\n10,{EVM}\n"),
            format!("address;amount;comment\n{EVM};10;salary\n"),
            format!("reference\taddress\tamount\nA-1\t{EVM}\t10\n"),
            format!("\u{FEFF}address,amount\r\n{EVM},10\r\n"),
            format!("\"address\",\"amount\",\"comment\"\n\"{EVM}\",\"10\",\"Smith, John\"\n"),
        ] {
            let reg = parse_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(reg.rows.len(), 1, "{text:?}");
            assert!(reg.rows[0].is_valid(), "{text:?}: {:?}", reg.rows[0].errors);
            assert_eq!(reg.rows[0].amount.unwrap().to_string(), "10");
        }
        let quoted = parse_str(&format!("address,amount,comment\n{EVM},10,\"Smith, John\"\n")).unwrap();
        assert_eq!(quoted.rows[0].comment, "Smith, John");
    }

    #[test]
    fn row_errors_name_line_and_column() {
        let text =
            format!("address,amount\n{EVM},10\nTR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t,5\n{EVM2},12,5\n{EVM2},0.1234567\n");
        let reg = parse_str(&text).unwrap();
        let bad: Vec<(u64, &str)> =
            reg.rows.iter().flat_map(|r| r.errors.iter().map(move |e| (r.line, e.column))).collect();
        assert_eq!(bad, vec![(3, "address"), (4, ""), (5, "amount")]);
        assert!(reg.rows[1].errors[0].message.contains("TRON address"));
        assert!(reg.rows[3].errors[0].message.contains("at most 6 decimal places"));
    }

    #[test]
    fn duplicates_are_flagged() {
        let text = format!("address,amount,reference\n{EVM},10,A\n{EVM},10,B\n{EVM2},3,A\n");
        let reg = parse_str(&text).unwrap();
        assert!(reg.rows[1].is_valid() && reg.rows[1].warnings[0].message.contains("line 2"));
        assert_eq!(reg.rows[2].errors[0].message, "Reference A is already used on line 2.");
        // Addresses kept as typed (here invalid ones) are compared without regard to case.
        let reg = parse_str("address,amount\n0xAbC-Typo,10\n0xaBc-tYPO,10\n0xAbC-Typo,11\n0xAbD-Typo,10\n").unwrap();
        assert!(reg.rows[1].warnings.iter().any(|w| w.message.contains("as line 2")), "{:?}", reg.rows[1].warnings);
        assert!(reg.rows[2].warnings.is_empty() && reg.rows[3].warnings.is_empty(), "another amount, another address");
    }

    #[test]
    fn whole_file_problems() {
        assert_eq!(parse_str("").unwrap_err(), FileError::Empty);
        assert_eq!(parse_str("address,amount\n").unwrap_err(), FileError::HeaderOnly);
        assert_eq!(parse_str("address,amount\n,,\n\n").unwrap_err(), FileError::HeaderOnly);
        assert!(matches!(parse_str("wallet,sum\nx,1\n").unwrap_err(), FileError::MissingColumns { .. }));
        assert!(matches!(parse_str("address,amount,Amount\nx,1,2\n").unwrap_err(), FileError::DuplicateColumn(_)));
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("address".bytes().flat_map(|b| [b, 0])).collect();
        assert!(matches!(parse(&utf16[..], find("ETH").unwrap(), &Limits::default()), Err(FileError::NotText(_))));
        let gzip = [0x1F, 0x8B, 8, 0, 0, 0];
        assert!(matches!(parse(&gzip[..], find("ETH").unwrap(), &Limits::default()), Err(FileError::NotText(_))));
        let latin1 = b"address,amount,comment\n0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed,1,caf\xe9\n";
        assert_eq!(
            parse(&latin1[..], find("ETH").unwrap(), &Limits::default()).unwrap_err(),
            FileError::NotUtf8 { line: 2 }
        );
    }

    #[test]
    fn limits_stop_reading() {
        let text = format!("address,amount\n{}", format!("{EVM},1\n").repeat(11));
        let limits = Limits { max_rows: 10, max_bytes: 1 << 20 };
        let err = parse(text.as_bytes(), find("ETH").unwrap(), &limits).unwrap_err();
        assert_eq!(err, FileError::TooManyRows { max: 10 });
        let limits = Limits { max_rows: 100, max_bytes: 100 };
        let err = parse(text.as_bytes(), find("ETH").unwrap(), &limits).unwrap_err();
        assert_eq!(err, FileError::TooLarge { max_mib: 1 });
    }

    #[test]
    fn unknown_columns_are_reported() {
        let reg = parse_str(&format!("address,amount,iban\n{EVM},1,DE00\n")).unwrap();
        assert_eq!(reg.unknown_columns, vec!["iban"]);
    }

    #[test]
    fn text_fields_refuse_bidi_overrides() {
        let reg = parse_str(&format!("address,amount,comment\n{EVM},1,pay \u{202E}evil\n")).unwrap();
        assert_eq!(reg.rows[0].errors[0].column, "comment");
        assert!(reg.rows[0].errors[0].message.contains("U+202E"));
    }

    #[test]
    fn summary_counts_valid_rows_and_their_fee() {
        let asset = find("USDT_ERC20").unwrap();
        let reg = parse_str(&format!("address,amount\n{EVM},100\n{EVM2},200\nbad,1\n")).unwrap();
        let s = reg.summary(&FeeRule::default_for(asset, Operation::MassRow));
        assert_eq!((s.rows, s.valid, s.invalid), (3, 2, 1));
        assert_eq!(s.quote.amount_total.to_string(), "300");
        assert_eq!(s.quote.fee.to_string(), "0.8", "0.25 % of 100 is below the 0.3 minimum");
    }

    #[test]
    fn minimum_payout_is_enforced() {
        let reg = parse(format!("address,amount\n{EVM},0.0001\n").as_bytes(), find("ETH").unwrap(), &Limits::default())
            .unwrap();
        assert_eq!(reg.rows[0].errors[0].message, "The smallest ETH payout is 0.001 ETH.");
    }
}
