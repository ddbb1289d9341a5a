//! Field-level errors: what went wrong, named by the field (or CSV line and column) that caused it.

use std::fmt;

/// The field name used for errors that belong to the whole form.
pub const FORM: &str = "_form";

/// Each error: the field, the message, and for errors a program may act on, a stable code
/// (`sanctioned`) that the API sends beside the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, String, Option<&'static str>)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// One error about the whole form.
    pub fn form(message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(FORM, message);
        e
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into(), None));
    }

    /// An error with a stable code a program may act on.
    pub fn add_coded(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.0.push((field.into(), message.into(), Some(code)));
    }

    pub fn single_coded(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add_coded(field, code, message);
        e
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message for `field`, for showing next to it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _, _)| f == field).map(|(_, m, _)| m.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, m, _)| (f.as_str(), m.as_str()))
    }

    /// Each error with its code, if it has one.
    pub fn iter_coded(&self) -> impl Iterator<Item = (&str, &str, Option<&'static str>)> {
        self.0.iter().map(|(f, m, c)| (f.as_str(), m.as_str(), *c))
    }

    /// `Ok(value)` when nothing was added, else the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() { Ok(value) } else { Err(self) }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(field, msg, _)| if field == FORM { msg.clone() } else { format!("{field}: {msg}") })
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// A period of whole UTC days, `YYYY-MM-DD` each end (the last day included), as its start and
/// the start of the day after it; a field that is not a date is named in `errors`.
pub fn day_range(
    from: &str,
    to: &str,
    errors: &mut FieldErrors,
) -> (Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>) {
    let mut day = |field: &str, s: &str| -> Option<chrono::NaiveDate> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| errors.add(field, "Use a date like 2026-11-24."))
            .ok()
    };
    let start = day("from", from).and_then(|d| d.and_hms_opt(0, 0, 0));
    let end = day("to", to).and_then(|d| d.succ_opt()).and_then(|d| d.and_hms_opt(0, 0, 0));
    (start, end)
}
