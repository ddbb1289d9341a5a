//! Cells that a spreadsheet would run as a formula (CSV injection) are written with a leading
//! apostrophe, which spreadsheets show as text.

use std::borrow::Cow;

pub fn safe_cell(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formula_starts_are_neutralized() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\nx"] {
            assert!(safe_cell(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(safe_cell("Salary May"), "Salary May");
        assert_eq!(safe_cell(""), "");
    }
}
