//! A real SMTP server process for the tests: aiosmtpd (from PyPI, installed by `.ci/run` into
//! ~/.cache/payouts-aiosmtpd) storing every message it accepts in a maildir, read back here.
//! Without it the mail tests are skipped with a notice, except with `CI=true`.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python that has aiosmtpd: `PAYOUTS_AIOSMTPD_PYTHON`, else the cached virtualenv.
fn python() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PAYOUTS_AIOSMTPD_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var("HOME").ok()?;
    let p = PathBuf::from(home).join(".cache/payouts-aiosmtpd/bin/python");
    p.exists().then_some(p)
}

pub struct MailServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// One message as the server stored it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub reply_to: String,
    /// The whole message, quoted-printable undone.
    pub text: String,
}

impl MailServer {
    /// Starts a server on a free port, or None (with a notice) when aiosmtpd is not installed.
    pub fn start() -> Option<MailServer> {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Self::start_on(port)
    }

    pub fn start_on(port: u16) -> Option<MailServer> {
        let Some(python) = python() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but aiosmtpd is missing from ~/.cache/payouts-aiosmtpd: email would go untested");
            }
            eprintln!(
                "aiosmtpd not installed (python3 -m venv ~/.cache/payouts-aiosmtpd && …/pip install aiosmtpd); skipped"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let server = MailServer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    /// `smtp://127.0.0.1:PORT?tls=none`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let new = self.dir.path().join("maildir/new");
        let mut files: Vec<_> =
            std::fs::read_dir(&new).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files.iter().map(|p| parse(&std::fs::read_to_string(p).unwrap())).collect()
    }

    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.messages().into_iter().filter(|m| m.to.contains(address)).collect()
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header(raw: &str, name: &str) -> String {
    let head = raw.split("\n\n").next().unwrap_or_default().replace("\r\n", "\n");
    let mut value = String::new();
    let mut in_it = false;
    for line in head.lines() {
        if in_it && (line.starts_with(' ') || line.starts_with('\t')) {
            value.push_str(line.trim_start());
            continue;
        }
        in_it = false;
        if let Some((n, v)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            value = v.trim().to_owned();
            in_it = true;
        }
    }
    value
}

fn parse(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    Mail {
        to: header(&raw, "To"),
        subject: header(&raw, "Subject"),
        message_id: header(&raw, "Message-ID"),
        reply_to: header(&raw, "Reply-To"),
        text: unquote(&raw),
    }
}

/// Undoes quoted-printable soft breaks and escapes (harmless on 7-bit parts).
fn unquote(s: &str) -> String {
    let s = s.replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first `http://…` link in a mail that contains `path_part`.
pub fn link(mail: &Mail, path_part: &str) -> String {
    mail.text
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .find(|w| w.starts_with("http") && w.contains(path_part))
        .unwrap_or_else(|| panic!("no link with {path_part} in {}", mail.text))
        .to_owned()
}
