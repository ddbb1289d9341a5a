//! Lookalike addresses (address poisoning): an address that is not a known one but shares its
//! first and last characters with one, or differs from one in a character or two. People compare
//! the ends of an address, so an attacker makes one whose ends match an address its victim pays.
//!
//! The check is an index lookup, not a scan: each known address is stored under a few keys, and
//! two addresses that resemble each other always share at least one key ([`keys`]).

/// Characters compared at each end, after the network prefix.
pub const ENDS: usize = 4;
/// At most this many differing characters (same length) make a near copy.
pub const MAX_DIFFERENCES: usize = 2;

/// How an address resembles a known one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resemblance {
    /// The first and last [`ENDS`] characters after the network prefix are the same.
    SameEnds,
    /// The same length, with this many characters different.
    Differs(usize),
}

impl Resemblance {
    /// "shares its first and last 4 characters with" / "differs in 1 character from".
    pub fn words(self) -> String {
        match self {
            Resemblance::SameEnds => format!("shares its first and last {ENDS} characters with"),
            Resemblance::Differs(1) => "differs in one character from".to_owned(),
            Resemblance::Differs(n) => format!("differs in {n} characters from"),
        }
    }
}

/// The network prefix people skip when they compare (`0x`, `bc1`, `ltc1`, a base58 version
/// character such as TRON's `T`) and the rest, both lower-cased: case is not what a person
/// compares, and EVM and bech32 addresses ignore it.
fn split(address: &str) -> (String, Vec<char>) {
    let lower = address.trim().to_ascii_lowercase();
    let cut = if lower.starts_with("0x") {
        2
    } else if lower.starts_with("bc1") {
        3
    } else if lower.starts_with("ltc1") {
        4
    } else {
        lower.chars().next().map_or(0, char::len_utf8)
    };
    let (prefix, body) = lower.split_at(cut);
    (prefix.to_owned(), body.chars().collect())
}

/// The segments' bounds: with at most [`MAX_DIFFERENCES`] differences among one more segment than
/// that, one segment is the same in both addresses (the pigeonhole rule).
fn segments(len: usize) -> Vec<(usize, usize)> {
    let n = MAX_DIFFERENCES + 1;
    (0..n).map(|i| (len * i / n, len * (i + 1) / n)).collect()
}

/// The keys an address is indexed under. Two addresses that [`resemble`] each other share at
/// least one: the ends key when their ends match, a segment key when they differ in a few
/// characters. Empty for text too short to be an address.
pub fn keys(address: &str) -> Vec<String> {
    let (prefix, body) = split(address);
    if body.len() < 2 * ENDS {
        return Vec::new();
    }
    let text = |s: &[char]| s.iter().collect::<String>();
    let mut out = vec![format!("e:{prefix}:{}:{}", text(&body[..ENDS]), text(&body[body.len() - ENDS..]))];
    for (i, (from, to)) in segments(body.len()).into_iter().enumerate() {
        out.push(format!("s{i}:{prefix}:{}:{}", body.len(), text(&body[from..to])));
    }
    out
}

/// How `address` resembles `known`, when it does and is another address.
pub fn resemble(address: &str, known: &str) -> Option<Resemblance> {
    if address.trim() == known.trim() {
        return None;
    }
    let (p1, b1) = split(address);
    let (p2, b2) = split(known);
    if p1 != p2 || b1.len() < 2 * ENDS || b2.len() < 2 * ENDS {
        return None;
    }
    if b1[..ENDS] == b2[..ENDS] && b1[b1.len() - ENDS..] == b2[b2.len() - ENDS..] {
        return Some(Resemblance::SameEnds);
    }
    if b1.len() != b2.len() {
        return None;
    }
    let differences = b1.iter().zip(&b2).filter(|(a, b)| a != b).count();
    // Folded alike, so they differ only in letter case (base58 is case-sensitive).
    let differences = if differences == 0 {
        address.trim().chars().zip(known.trim().chars()).filter(|(a, b)| a != b).count()
    } else {
        differences
    };
    (differences <= MAX_DIFFERENCES).then_some(Resemblance::Differs(differences))
}

/// The characters of `address` and `other` compared place by place as a person compares them:
/// ignoring letter case where the address does (EVM's checksum, bech32), not in base58.
fn comparable(address: &str, other: &str) -> (Vec<char>, Vec<char>) {
    let (a, b) = (address.trim(), other.trim());
    let lower = a.starts_with("0x") || a.starts_with("bc1") || a.starts_with("ltc1") || a.starts_with("tb1");
    let fold = |s: &str| -> Vec<char> {
        if lower { s.chars().map(|c| c.to_ascii_lowercase()).collect() } else { s.chars().collect() }
    };
    (fold(a), fold(b))
}

/// For each character of `address`, whether it differs from `other` at that place: place by
/// place when both have the same length, else everything between their common start and common
/// end.
pub fn differing(address: &str, other: &str) -> Vec<bool> {
    let (a, b) = comparable(address, other);
    if a.len() == b.len() {
        return a.iter().zip(&b).map(|(x, y)| x != y).collect();
    }
    let start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - start;
    let end = a.iter().rev().zip(b.iter().rev()).take(room).take_while(|(x, y)| x == y).count();
    (0..a.len()).map(|i| i >= start && i < a.len() - end).collect()
}

/// An address shown beside its lookalike: whole, and in runs of characters, those that differ
/// from the other address marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub whole: String,
    pub runs: Vec<(String, bool)>,
}

/// `address` whole and in marked runs, compared with `other`.
pub fn marked_address(address: &str, other: &str) -> Marked {
    Marked { whole: address.trim().to_owned(), runs: marked(address, other) }
}

/// `address` in runs of characters, each run marked when it differs from `other`: both
/// addresses are shown whole, with what differs marked, so a person sees the difference.
pub fn marked(address: &str, other: &str) -> Vec<(String, bool)> {
    let mut runs: Vec<(String, bool)> = Vec::new();
    for (c, differs) in address.trim().chars().zip(differing(address, other)) {
        match runs.last_mut() {
            Some((text, d)) if *d == differs => text.push(c),
            _ => runs.push((c.to_string(), differs)),
        }
    }
    runs
}

/// Where `address` differs from `other`, for text without marks (email, chat): "characters 7,
/// 12–14" counted from 1.
pub fn differing_places(address: &str, other: &str) -> String {
    let mut places: Vec<String> = Vec::new();
    let mut at = 0;
    for (text, differs) in marked(address, other) {
        let n = text.chars().count();
        if differs {
            places.push(if n == 1 { format!("{}", at + 1) } else { format!("{}–{}", at + 1, at + n) });
        }
        at += n;
    }
    match places.len() {
        0 => "only in letter case".to_owned(),
        1 if !places[0].contains('–') => format!("character {}", places[0]),
        _ => format!("characters {}", places.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn what_differs_is_marked_place_by_place_or_between_common_ends() {
        let known = "0x52908400098527886E0F7030069857D2E4169EE7";
        let near = "0x52908400098527886e0f7030069857d2e4169ee8";
        let runs = marked(near, known);
        assert_eq!(runs.iter().map(|(t, _)| t.as_str()).collect::<String>(), near, "whole");
        assert_eq!(runs.iter().filter(|(_, d)| *d).map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["8"]);
        assert_eq!(differing_places(near, known), "character 42");
        let poisoned = "0x5290aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9ee7";
        assert_eq!(differing_places(poisoned, known), "characters 7–38");
        // Base58 is case-sensitive: a case change is a difference.
        assert_eq!(
            differing_places("TjRabPrwbZy45sbavfcjinPJC18kjpRTv9", "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"),
            "characters 2, 34"
        );
        // Lengths differ: everything between the common start and end.
        let runs = marked("TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", "TJRabaaaaaaaaaaaaaaaaaaaaaaaaRTv8");
        assert_eq!(runs.first().map(|(t, d)| (t.as_str(), *d)), Some(("TJRab", false)));
        assert_eq!(runs.last().map(|(t, d)| (t.as_str(), *d)), Some(("RTv8", false)));
    }

    const EVM: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

    #[test]
    fn the_ends_are_compared_after_the_network_prefix_ignoring_case() {
        let lookalike = "0x5290aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa9ee7";
        assert_eq!(resemble(lookalike, EVM), Some(Resemblance::SameEnds));
        assert_eq!(resemble(EVM, EVM), None);
        // The prefix alone matching is nothing.
        assert_eq!(resemble("0xaaaa8400098527886e0f7030069857d2e416aaaa", EVM), None);
        assert_eq!(
            resemble("TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", "TJRabaaaaaaaaaaaaaaaaaaaaaaaaRTv8"),
            Some(Resemblance::SameEnds)
        );
        assert_eq!(
            resemble("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1qar0saaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5mdq"),
            Some(Resemblance::SameEnds)
        );
        // Another network's prefix is another kind of address.
        assert_eq!(resemble("TJRabPrwbZy45sbavfcjinPJC18kjpRTv8", "1JRabPrwbZy45sbavfcjinPJC18kjpRTv8"), None);
    }

    #[test]
    fn a_near_copy_of_the_same_length_is_a_lookalike() {
        let one = "0x52908400098527886e0f7030069857d2e4169ee8";
        assert_eq!(resemble(one, EVM), Some(Resemblance::Differs(1)));
        let start = "0x62908400098527886e0f7030069857d2e4169ee8";
        assert_eq!(resemble(start, EVM), Some(Resemblance::Differs(2)));
        let three = "0x62908400098527886e0f7030069857d2e4169ef8";
        assert_eq!(resemble(three, EVM), None);
        assert_eq!(
            resemble("TJRabPrwbZy45sbavfcjinPJC18kjpRtv8", "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"),
            Some(Resemblance::SameEnds)
        );
        assert_eq!(
            resemble("TjRabPrwbZy45sbavfcjinPJC18kjpRTv9", "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"),
            Some(Resemblance::Differs(1))
        );
        assert_eq!(
            resemble("TjRabPrwbZy45sbavfcjinPJC18kjpRTv8", "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8").map(|r| r.words()),
            Some("shares its first and last 4 characters with".to_owned())
        );
    }

    #[test]
    fn keys_name_the_prefix_and_the_length() {
        let k = keys(EVM);
        assert_eq!(k.len(), 4);
        assert_eq!(k[0], "e:0x:5290:9ee7");
        assert!(k[1].starts_with("s0:0x:40:"), "{k:?}");
        assert!(keys("0x12").is_empty());
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..16, 40)
    }

    fn hex(b: &[u8]) -> String {
        format!("0x{}", b.iter().map(|d| format!("{d:x}")).collect::<String>())
    }

    proptest! {
        /// Whatever two addresses resemble each other, the index finds one under a shared key.
        #[test]
        fn resembling_addresses_share_a_key(
            original in body(),
            edits in proptest::collection::vec((0usize..40, 0u8..16), 0..=2),
            same_ends in any::<bool>(),
            middle in body(),
        ) {
            let mut other = original.clone();
            if same_ends {
                other[ENDS..40 - ENDS].copy_from_slice(&middle[ENDS..40 - ENDS]);
            } else {
                for (at, digit) in edits { other[at] = digit; }
            }
            let (a, b) = (hex(&original), hex(&other));
            if resemble(&a, &b).is_some() {
                let ka = keys(&a);
                prop_assert!(keys(&b).iter().any(|k| ka.contains(k)), "{a} {b}");
            }
            if !same_ends && a != b {
                prop_assert!(resemble(&a, &b).is_some());
            }
        }
    }
}
