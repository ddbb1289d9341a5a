//! The webhook sender's network: receivers are resolved, and only addresses the policy allows
//! are connected to. The check runs when an endpoint is saved and again inside the HTTP client's
//! own resolver on every connection, on the very addresses it then connects to, so a name that
//! later resolves to an internal address (DNS rebinding) is refused too. No proxy, no redirects.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::domain::outbound::{OutboundPolicy, Target, parse_url};

/// Checks a receiver URL now: its form, and that its host resolves to allowed addresses only.
pub fn check_receiver(url: &str, policy: &OutboundPolicy) -> Result<Target, String> {
    let target = parse_url(url, policy)?;
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|_| format!("{} cannot be resolved; check the host name.", target.host))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{} cannot be resolved; check the host name.", target.host));
    }
    if let Some(bad) = addrs.iter().find(|a| !policy.allows(a.ip())) {
        return Err(format!(
            "{} points inside a private network ({}); webhooks go only to public addresses.",
            target.host,
            bad.ip()
        ));
    }
    Ok(target)
}

/// Resolves as usual, then keeps only the addresses the policy allows.
#[derive(Debug)]
struct AllowedOnly {
    inner: DefaultResolver,
    policy: OutboundPolicy,
}

impl Resolver for AllowedOnly {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolved = self.inner.resolve(uri, config, timeout)?;
        let mut allowed = self.empty();
        for addr in resolved.iter().filter(|a| self.policy.allows(a.ip())) {
            allowed.push(*addr);
        }
        if allowed.is_empty() {
            return Err(ureq::Error::Io(std::io::Error::other(
                "the receiver's host resolves only to private addresses; nothing was sent",
            )));
        }
        Ok(allowed)
    }
}

/// The HTTP client for deliveries: `timeout` for the whole request, redirects answered as they
/// are (a 3xx is a failed delivery), no proxy from the environment, http only when allowed.
pub fn agent(timeout: Duration, policy: OutboundPolicy) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .https_only(!policy.allow_http)
        .build();
    ureq::Agent::with_parts(
        config,
        DefaultConnector::default(),
        AllowedOnly { inner: DefaultResolver::default(), policy },
    )
}
