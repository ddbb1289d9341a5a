//! Property-based fuzzing of the parsers that take what people and spreadsheets type: they never
//! panic, and whatever they accept is exactly what they give back. Bounded case counts keep CI
//! short; raise PROPTEST_CASES locally for a longer run.

use payouts::domain::asset::{ASSETS, find};
use payouts::domain::registry::{self, Limits};
use payouts::domain::{Address, Amount};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(20_000))]

    #[test]
    fn amounts_never_panic_and_accepted_ones_are_canonical(s in "[0-9.,eE+\\- \u{200B}\u{0660}-\u{0669}a-z]{0,40}", idx in 0usize..12) {
        let asset = &ASSETS[idx];
        if let Ok(a) = Amount::parse(asset, &s) {
            prop_assert!(a.minor() > 0);
            prop_assert_eq!(Amount::parse(asset, &a.to_string()).unwrap(), a);
        }
    }

    #[test]
    fn addresses_never_panic(s in "\\PC{0,80}", idx in 0usize..12) {
        if let Ok(a) = Address::parse(&ASSETS[idx], &s) {
            // Accepted addresses are accepted again in their canonical form.
            prop_assert_eq!(Address::parse(&ASSETS[idx], &a.value).unwrap().value, a.value);
        }
    }

    #[test]
    fn address_like_strings_never_panic(prefix in "(0x|bc1|ltc1|T|1|3|L|M|D|tb1)", body in "[0-9a-zA-Z]{0,70}") {
        for asset in ASSETS.iter() {
            let _ = Address::parse(asset, &format!("{prefix}{body}"));
        }
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn registries_of_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = registry::parse(&bytes[..], find("USDT_TRC20").unwrap(), &Limits::default());
    }

    #[test]
    fn registries_of_csv_like_text_never_panic_and_rows_keep_their_lines(
        lines in proptest::collection::vec("[a-zA-Z0-9 ,;\t\"\\.\\-=@\u{FEFF}\u{202E}]{0,60}", 0..30),
        header in "(address,amount|amount;address|address\tamount\tcomment|ADDRESS,Amount,reference)",
    ) {
        let text = format!("{header}\n{}", lines.join("\n"));
        if let Ok(reg) = registry::parse(text.as_bytes(), find("ETH").unwrap(), &Limits::default()) {
            prop_assert!(!reg.rows.is_empty());
            for w in reg.rows.windows(2) {
                prop_assert!(w[0].line < w[1].line, "lines increase");
            }
            for row in &reg.rows {
                prop_assert_eq!(row.is_valid(), row.errors.is_empty());
                prop_assert!(row.amount.is_some() || !row.is_valid());
            }
        }
    }
}
