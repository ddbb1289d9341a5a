//! Where the server may send requests of its own (webhooks): which URLs are acceptable and which
//! IP addresses count as public. The resolving and connecting live in service/outbound/net.rs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest webhook URL accepted.
pub const MAX_URL_CHARS: usize = 500;

/// What the operator allows beyond public https receivers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Plain http receivers (development).
    pub allow_http: bool,
    /// Receivers on private, loopback and link-local addresses (tests, on-premise receivers).
    pub allow_private: bool,
}

impl OutboundPolicy {
    /// Anything goes: for tests and trusted networks.
    pub fn permissive() -> Self {
        Self { allow_http: true, allow_private: true }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

/// A URL's parts the checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    /// Without brackets for IPv6 literals.
    pub host: String,
    pub port: u16,
}

/// Checks a receiver URL's form: http(s) only (http when allowed), a host, no user name or
/// password (`user@host` hides where a request really goes), no spaces, bounded length.
pub fn parse_url(url: &str, policy: &OutboundPolicy) -> Result<Target, String> {
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("At most {MAX_URL_CHARS} characters."));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("A URL has no spaces or invisible characters.".into());
    }
    let lower = url.to_ascii_lowercase();
    let (https, rest) = if lower.starts_with("https://") {
        (true, &url[8..])
    } else if lower.starts_with("http://") {
        if !policy.allow_http {
            return Err("Use an https:// URL: deliveries carry payout data and go only over TLS.".into());
        }
        (false, &url[7..])
    } else {
        return Err("Enter the receiver's URL, starting with https://.".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("Leave the user name and password out of the URL.".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("The IPv6 address in the URL is not closed with ].")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("The URL names no host.".into());
    }
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => {
            p.parse::<u16>().ok().filter(|p| *p != 0).ok_or("The port in the URL is not a number from 1 to 65535.")?
        }
    };
    Ok(Target { https, host: host.to_ascii_lowercase(), port })
}

/// A public unicast address: not loopback, private, link-local, shared (CGNAT), documentation,
/// benchmarking, multicast, broadcast, reserved or unspecified; IPv4 inside IPv6 judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)) // discard-only 100::/64
        }
    }
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),    // IPv4-mapped
        [0, 0, 0, 0, 0, 0, _, _] => Some(tail),         // IPv4-compatible (deprecated)
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail), // NAT64
        [0x2002, a, b, ..] => Some(Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8)), // 6to4
        _ => None,
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(ip(s)), "{s}");
        }
        for s in ["1.1.1.1", "8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(ip(s)), "{s}");
        }
    }

    #[test]
    fn urls_are_https_with_a_host_and_no_credentials() {
        let strict = OutboundPolicy::default();
        let t = parse_url("https://hooks.example.com/payouts?x=1", &strict).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.https), ("hooks.example.com", 443, true));
        assert_eq!(parse_url("https://[2606:4700::1111]:8443/h", &strict).unwrap().port, 8443);
        assert!(parse_url("http://hooks.example.com/", &strict).unwrap_err().contains("https://"));
        assert!(parse_url("http://hooks.example.com/", &OutboundPolicy::permissive()).is_ok());
        assert!(parse_url("https://user@127.0.0.1/", &strict).unwrap_err().contains("user name"));
        assert!(parse_url("https://a.example:99999/", &strict).is_err());
        assert!(parse_url("ftp://a.example/", &strict).is_err());
        assert!(parse_url("https:///path", &strict).is_err());
        assert!(parse_url(&format!("https://a.example/{}", "x".repeat(600)), &strict).is_err());
    }
}

/// Where one webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Given up after the retry window.
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

crate::domain::stored::stored_name!(DeliveryStatus, "webhook delivery status");
