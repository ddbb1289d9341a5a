//! Counted nouns, one way everywhere (pages, emails, messages): "1 row", "3 rows", never
//! "row(s)" or "1 rows".

/// A whole number that can be counted (templates pass references, code passes values).
pub trait Count {
    fn value(&self) -> i128;
}

macro_rules! counts {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn value(&self) -> i128 {
                *self as i128
            }
        }
    )*};
}
counts!(usize, u32, u64, i32, i64);

impl<T: Count> Count for &T {
    fn value(&self) -> i128 {
        (*self).value()
    }
}

/// `n` and the noun that agrees with it: `count(1, "row", "rows")` is "1 row".
pub fn count(n: impl Count, one: &str, many: &str) -> String {
    format!("{} {}", n.value(), plural(n, one, many))
}

/// The word that agrees with `n`: `plural(2, "pays", "pay")` is "pay".
pub fn plural<'a>(n: impl Count, one: &'a str, many: &'a str) -> &'a str {
    if n.value() == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::{count, plural};

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1usize, "row", "rows"), "1 row");
        assert_eq!(count(0i64, "row", "rows"), "0 rows");
        let needed = [3i32];
        assert_eq!(count(needed.first().unwrap(), "approval", "approvals"), "3 approvals", "as templates pass it");
        assert_eq!(plural(1u64, "pays", "pay"), "pays");
        assert_eq!(plural(2u64, "pays", "pay"), "pay");
    }
}
