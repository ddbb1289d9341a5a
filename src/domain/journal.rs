//! Accounting journals: balanced entries in the reporting currency, and the files accounting
//! software imports them from — Xero's manual journal CSV, QuickBooks Online's journal entry CSV
//! and a generic CSV with the crypto side of every line. Pure: no I/O.

use chrono::NaiveDate;

use crate::domain::fiat::{Currency, Fiat};
use crate::domain::spreadsheet::safe_cell;

/// One line of an entry: a debit or a credit (never both) to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub account: String,
    pub description: String,
    /// Positive: a debit; negative: a credit. Minor units of the entry's currency.
    pub amount: i128,
    /// The crypto side, for the generic file: the amount and asset this line values, and the
    /// rate it was valued at.
    pub crypto: Option<(String, String, String)>,
}

/// One balanced entry: a payout's rows paid in the period.
#[derive(Debug, Clone)]
pub struct Entry {
    pub payout_id: i64,
    pub number: String,
    pub date: NaiveDate,
    pub narration: String,
    pub currency: &'static Currency,
    pub lines: Vec<Line>,
}

impl Entry {
    /// Debits minus credits: zero for a balanced entry.
    pub fn imbalance(&self) -> i128 {
        self.lines.iter().map(|l| l.amount).sum()
    }

    fn money(&self, minor: i128) -> String {
        Fiat { minor, currency: self.currency }.plain()
    }

    /// (debit, credit) as files write them: one of the two empty.
    fn columns(&self, l: &Line) -> (String, String) {
        if l.amount >= 0 { (self.money(l.amount), String::new()) } else { (String::new(), self.money(-l.amount)) }
    }

    /// A debit line's amount as pages write money.
    pub fn debit(&self, l: &Line) -> Option<String> {
        (l.amount >= 0).then(|| Fiat { minor: l.amount, currency: self.currency }.money())
    }

    pub fn credit(&self, l: &Line) -> Option<String> {
        (l.amount < 0).then(|| Fiat { minor: -l.amount, currency: self.currency }.money())
    }
}

fn write(records: Vec<Vec<String>>) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for r in records {
        // Writing to memory cannot fail.
        let _ = out.write_record(&r);
    }
    out.into_inner().unwrap_or_default()
}

/// Xero's manual journal import (Accounting → Manual Journals → Import): lines with the same
/// narration and date form one journal; a positive amount is a debit, a negative one a credit;
/// dates as dd/mm/yyyy; account codes; the tax rate's full name on every line.
pub fn xero_csv(entries: &[Entry], tax_rate: &str) -> Vec<u8> {
    let mut rows = vec![
        [
            "*Narration",
            "*Date",
            "Description",
            "*AccountCode",
            "*TaxRate",
            "*Amount",
            "TrackingName1",
            "TrackingOption1",
            "TrackingName2",
            "TrackingOption2",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for e in entries {
        for l in &e.lines {
            rows.push(vec![
                safe_cell(&e.narration).into_owned(),
                e.date.format("%d/%m/%Y").to_string(),
                safe_cell(&l.description).into_owned(),
                safe_cell(&l.account).into_owned(),
                safe_cell(tax_rate).into_owned(),
                e.money(l.amount),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    write(rows)
}

/// QuickBooks Online's journal entry import (Settings → Import data → Journal entries): lines
/// with the same journal number form one entry; debits and credits in their own columns; dates
/// as MM/DD/YYYY; account names as in the chart of accounts.
pub fn quickbooks_csv(entries: &[Entry]) -> Vec<u8> {
    let mut rows = vec![
        ["Journal No.", "Journal Date", "Account Name", "Debits", "Credits", "Description", "Name", "Currency"]
            .map(String::from)
            .to_vec(),
    ];
    for e in entries {
        for l in &e.lines {
            let (debit, credit) = e.columns(l);
            rows.push(vec![
                safe_cell(&e.number).into_owned(),
                e.date.format("%m/%d/%Y").to_string(),
                safe_cell(&l.account).into_owned(),
                debit,
                credit,
                safe_cell(&format!("{} — {}", e.narration, l.description)).into_owned(),
                String::new(),
                e.currency.code.to_owned(),
            ]);
        }
    }
    write(rows)
}

/// Every journal line with its crypto side: for a spreadsheet or any other ledger.
pub fn generic_csv(entries: &[Entry]) -> Vec<u8> {
    let mut rows = vec![
        [
            "entry",
            "date",
            "narration",
            "account",
            "description",
            "debit",
            "credit",
            "currency",
            "crypto_amount",
            "asset",
            "rate",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for e in entries {
        for l in &e.lines {
            let (debit, credit) = e.columns(l);
            let (amount, asset, rate) = l.crypto.clone().unwrap_or_default();
            rows.push(vec![
                safe_cell(&e.number).into_owned(),
                e.date.format("%Y-%m-%d").to_string(),
                safe_cell(&e.narration).into_owned(),
                safe_cell(&l.account).into_owned(),
                safe_cell(&l.description).into_owned(),
                debit,
                credit,
                e.currency.code.to_owned(),
                amount,
                asset,
                rate,
            ]);
        }
    }
    write(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let line = |account: &str, amount: i128| Line {
            account: account.into(),
            description: "=cmd".into(),
            amount,
            crypto: None,
        };
        Entry {
            payout_id: 7,
            number: "P-7".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            narration: "Payout #7".into(),
            currency: crate::domain::fiat::currency("EUR").unwrap(),
            lines: vec![line("6000", 100_050), line("6100", 500), line("1200", -100_550)],
        }
    }

    #[test]
    fn both_formats_carry_balanced_signed_or_split_amounts_and_safe_text() {
        let e = entry();
        assert_eq!(e.imbalance(), 0);
        let xero = String::from_utf8(xero_csv(std::slice::from_ref(&e), "Tax Exempt")).unwrap();
        assert!(xero.contains("Payout #7,30/11/2026,'=cmd,6000,Tax Exempt,1000.50,"), "{xero}");
        assert!(xero.contains(",1200,Tax Exempt,-1005.50,"), "{xero}");
        let qbo = String::from_utf8(quickbooks_csv(&[e])).unwrap();
        assert!(qbo.contains("P-7,11/30/2026,6000,1000.50,,Payout #7 — =cmd,,EUR"), "{qbo}");
        assert!(qbo.contains("P-7,11/30/2026,1200,,1005.50,"), "{qbo}");
    }
}
