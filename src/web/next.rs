//! Where a person goes once signed in (or after a step-up): the page they asked for, as long as
//! it is a path of this site. A link from an email or a bookmark survives the sign-in and the
//! second factor; a link crafted to send them elsewhere lands on the dashboard.

use percent_encoding::percent_decode_str;

/// Longest `next` kept: a page's path and query, never a document.
const MAX_LEN: usize = 2000;

/// `next` as a path (and query) of this site, or None: another site in any spelling (`//host`,
/// `/\host`, a scheme, their percent-encoded forms), a control character, or a sign-in page
/// (which would only lead back here).
pub fn local_path(next: &str) -> Option<String> {
    if next.len() > MAX_LEN || !next.starts_with('/') {
        return None;
    }
    // Browsers read `\` as `/` and drop tabs and newlines inside a URL: none may appear, nor may
    // a decoded form start a second authority.
    let mut text = next.to_owned();
    for _ in 0..4 {
        if text.starts_with("//") || text.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace()) {
            return None;
        }
        let decoded = percent_decode_str(&text).decode_utf8_lossy().into_owned();
        if decoded == text {
            break;
        }
        text = decoded;
    }
    // Resolved as a browser resolves it against this site: it must stay here.
    let base = url::Url::parse("https://payouts.invalid/").expect("a valid base");
    let url = base.join(next).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    let path = url.path();
    if path == "/login" || path.starts_with("/login/") || path == "/logout" {
        return None;
    }
    Some(match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    })
}

/// The `next` of a query string, when it is a path of this site. Lenient: a query that does not
/// parse, or names `next` twice, is only a missing `next` (the first one counts).
pub fn from_query(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "next").and_then(|(_, v)| local_path(&v))
}

/// `path` with `?next=` (encoded) when there is somewhere to return to.
pub fn with_next(path: &str, next: Option<&str>) -> String {
    match next {
        Some(n) => {
            format!("{path}?next={}", percent_encoding::utf8_percent_encode(n, percent_encoding::NON_ALPHANUMERIC))
        }
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn paths_of_this_site_are_kept_with_their_query() {
        assert_eq!(local_path("/payouts/7").as_deref(), Some("/payouts/7"));
        assert_eq!(local_path("/payouts?status=pending&page=2").as_deref(), Some("/payouts?status=pending&page=2"));
        assert_eq!(local_path("/").as_deref(), Some("/"));
    }

    #[test]
    fn every_spelling_of_another_site_is_refused() {
        for outside in [
            "",
            "payouts",
            "https://evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%252F%252Fevil.example",
            "/%09/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            " /evil",
            "javascript:alert(1)",
            "/login",
            "/login/second-factor",
            "/logout",
        ] {
            assert_eq!(local_path(outside), None, "{outside:?}");
        }
        assert_eq!(local_path(&format!("/{}", "a".repeat(3000))), None);
    }
}
