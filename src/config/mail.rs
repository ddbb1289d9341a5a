//! The mail settings as the command line gives them: the SMTP server (`--smtp-url`) and who mail
//! comes from. The sending itself is the outbound room's (`service::outbound::mail`).

use lettre::message::Mailbox;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
    /// `smtp://`: STARTTLS, required (port 587).
    StartTls,
    /// `smtp://…?tls=none`: plain text, for a relay on the same host or network.
    None,
}

/// The SMTP server mail goes through.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub login: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log line.
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.login.as_ref().map(|(u, _)| u))
            .finish()
    }
}

impl SmtpSettings {
    /// `smtp[s]://[user:pass@]host[:port][?tls=none]`.
    pub fn parse(text: &str) -> Result<SmtpSettings, String> {
        let url = url::Url::parse(text.trim()).map_err(|e| format!("PAYOUTS_SMTP_URL is not a URL: {e}"))?;
        let (security, default_port) = match url.scheme() {
            "smtps" => (Security::Implicit, 465),
            "smtp" => (Security::StartTls, 587),
            other => return Err(format!("PAYOUTS_SMTP_URL must start with smtp:// or smtps://, not {other}://")),
        };
        let security = match url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned()).as_deref() {
            None | Some("required") => security,
            Some("none") if security == Security::StartTls => Security::None,
            Some(v) => {
                return Err(format!("PAYOUTS_SMTP_URL: tls={v} is not understood (use tls=none for a plain relay)"));
            }
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("PAYOUTS_SMTP_URL names no host")?.to_owned();
        let decode = |s: &str| percent_decode(s);
        let login = match (url.username(), url.password()) {
            ("", _) => None,
            (user, pass) => Some((decode(user), decode(pass.unwrap_or_default()))),
        };
        Ok(SmtpSettings { host, port: url.port().unwrap_or(default_port), security, login })
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Who mail comes from, and where replies go when no person caused the message.
#[derive(Debug, Clone)]
pub struct Sender {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
}
