//! Email over SMTP with lettre: the server's settings (`--smtp-url`), a message built from an
//! outbox row (plain text and HTML, a Message-ID from the row so a message sent twice after a
//! crash threads as one), and whether a refusal is worth retrying.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::db::outbox::OutboxRow;

/// The longest one SMTP conversation may take, connection included.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::config::mail::{Security, Sender, SmtpSettings};

impl SmtpSettings {
    fn transport(&self) -> Result<SmtpTransport, String> {
        let tls = || TlsParameters::new(self.host.clone()).map_err(|e| format!("TLS for {}: {e}", self.host));
        let tls = match self.security {
            Security::Implicit => Tls::Wrapper(tls()?),
            Security::StartTls => Tls::Required(tls()?),
            Security::None => Tls::None,
        };
        let mut builder =
            SmtpTransport::builder_dangerous(&self.host).port(self.port).tls(tls).timeout(Some(SMTP_TIMEOUT));
        if let Some((user, pass)) = &self.login {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(builder.build())
    }
}

/// What became of one attempt.
#[derive(Debug)]
pub enum Outcome {
    Sent,
    /// Worth trying again later (the server was down, busy, or said "try later").
    Temporary(String),
    /// The server refused it for good (no such mailbox, a malformed address).
    Permanent(String),
}

/// Sends one outbox email; replies go to the person it is about, else to the sender's reply-to.
pub fn send(smtp: &SmtpSettings, sender: &Sender, row: &OutboxRow, message_host: &str) -> Outcome {
    let to: Mailbox = match row.recipient.parse() {
        Ok(m) => m,
        Err(e) => return Outcome::Permanent(format!("the address {} cannot be mailed: {e}", row.recipient)),
    };
    let mut builder = Message::builder()
        .from(sender.from.clone())
        .to(to)
        .subject(&row.subject)
        // The same id on every attempt: a message sent again after a crash threads with the first.
        .message_id(Some(format!("<payouts-{}-{}@{}>", row.kind, row.id, message_host)));
    match row.reply_to.parse::<Mailbox>() {
        Ok(person) => builder = builder.reply_to(person),
        Err(_) => {
            if let Some(r) = &sender.reply_to {
                builder = builder.reply_to(r.clone());
            }
        }
    }
    let message = if row.body_html.is_empty() {
        builder.header(header::ContentType::TEXT_PLAIN).body(row.body_text.clone())
    } else {
        builder.multipart(MultiPart::alternative_plain_html(row.body_text.clone(), row.body_html.clone()))
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => return Outcome::Permanent(format!("the message cannot be built: {e}")),
    };
    let transport = match smtp.transport() {
        Ok(t) => t,
        Err(e) => return Outcome::Temporary(e),
    };
    match transport.send(&message) {
        Ok(_) => Outcome::Sent,
        Err(e) if e.is_permanent() => Outcome::Permanent(excerpt(&e.to_string())),
        Err(e) => Outcome::Temporary(excerpt(&e.to_string())),
    }
}

fn excerpt(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_say_how_the_connection_is_secured() {
        let s = SmtpSettings::parse("smtps://mailer:p%40ss@mail.example.com").unwrap();
        assert_eq!((s.host.as_str(), s.port, s.security), ("mail.example.com", 465, Security::Implicit));
        assert_eq!(s.login, Some(("mailer".into(), "p@ss".into())));
        let s = SmtpSettings::parse("smtp://mail.example.com").unwrap();
        assert_eq!((s.port, s.security, s.login.is_none()), (587, Security::StartTls, true));
        let s = SmtpSettings::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((s.port, s.security), (2525, Security::None));
        for bad in ["http://mail.example.com", "smtps://x?tls=none", "smtp://x?tls=maybe", "smtp://", "mail"] {
            assert!(SmtpSettings::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", SmtpSettings::parse("smtps://u:secret@h").unwrap()).contains("secret"));
    }
}
