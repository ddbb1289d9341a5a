//! Typed configuration from flags and environment variables.

pub mod mail;
pub mod rates;
pub mod sanctions;

use std::path::{Path, PathBuf};

use clap::Args;

use crate::db::DatabaseUrl;

/// Where the data lives; shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: sqlite://PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
    /// Default: the SQLite file payouts.sqlite3 in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for the default SQLite database; created if missing.
    #[arg(long, env = "PAYOUTS_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Maximum database connections of this process (SQLite uses at most 8).
    #[arg(long, env = "PAYOUTS_DB_POOL_SIZE", default_value_t = 10, global = true)]
    pub db_pool_size: u32,
}

impl DbArgs {
    /// The database to open. A URL with an unknown scheme is an error, never a new SQLite file.
    pub fn database_url(&self) -> Result<DatabaseUrl, String> {
        match self.database_url.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(url) => DatabaseUrl::parse(url),
            None => Ok(DatabaseUrl::sqlite_path(&self.data_dir.join("payouts.sqlite3"))),
        }
    }
}

/// Creates the directory that will hold an SQLite file.
pub fn prepare_sqlite_dir(url: &DatabaseUrl) -> Result<(), String> {
    if url.backend() != crate::db::Backend::Sqlite {
        return Ok(());
    }
    match Path::new(url.target()).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "PAYOUTS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Demo mode: seed a demo organization, users and balances into an empty database, and show
    /// one-click demo sign-in buttons on the login page.
    #[arg(long)]
    pub demo: bool,

    /// Key for signing the sign-in form's CSRF token (at least 32 characters). Default: a random
    /// key generated once and kept in the database, shared by every process using it.
    #[arg(long, env = "PAYOUTS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "PAYOUTS_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u32,

    /// Hours after sign-in after which a session ends, active or not.
    #[arg(long, env = "PAYOUTS_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u32,

    /// Email of the administrator created in an empty database (not in demo mode).
    #[arg(long, env = "PAYOUTS_ADMIN_EMAIL", default_value = "admin@localhost")]
    pub admin_email: String,

    /// Name of the organization created in an empty database (not in demo mode).
    #[arg(long, env = "PAYOUTS_ORG_NAME", default_value = "My organization")]
    pub org_name: String,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PAYOUTS_WORKERS")]
    pub workers: Option<usize>,

    /// Most rows a mass payout (and an uploaded registry) may have.
    #[arg(long, env = "PAYOUTS_REGISTRY_MAX_ROWS", default_value_t = 10_000)]
    pub registry_max_rows: usize,

    /// Largest registry file, in MiB.
    #[arg(long, env = "PAYOUTS_REGISTRY_MAX_MIB", default_value_t = 5)]
    pub registry_max_mib: u64,

    /// Minutes after which a payout still in progress is flagged on the dashboard.
    #[arg(long, env = "PAYOUTS_STUCK_AFTER_MINUTES", default_value_t = 30)]
    pub stuck_after_minutes: u32,

    /// Seconds a processor's claim on an item lasts before another processor may take it over.
    #[arg(long, env = "PAYOUTS_PROCESSOR_LEASE_SECONDS", default_value_t = 30)]
    pub processor_lease_seconds: u32,

    /// Do not run the payout processor and webhook sender in this process (another process does).
    #[arg(long, env = "PAYOUTS_NO_PROCESSOR")]
    pub no_processor: bool,

    /// Milliseconds between the processor's rounds.
    #[arg(long, env = "PAYOUTS_PROCESSOR_INTERVAL_MS", default_value_t = 500)]
    pub processor_interval_ms: u64,

    /// Simulated network: seconds from sending to full confirmation.
    #[arg(long, env = "PAYOUTS_SIM_CONFIRM_SECONDS", default_value_t = 4)]
    pub sim_confirm_seconds: u64,

    /// Simulated network: transfers to these addresses fail (comma-separated).
    #[arg(long, env = "PAYOUTS_SIM_FAIL_ADDRESSES", value_delimiter = ',')]
    pub sim_fail_addresses: Vec<String>,

    /// Simulated network: share of other transfers that fail, per mille (0-1000).
    #[arg(long, env = "PAYOUTS_SIM_FAILURE_PER_MILLE", default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub sim_failure_per_mille: u16,

    /// EVM rail: a JSON file naming the node, chain, assets and wallet key source (README,
    /// "Paying on an EVM chain"); repeat the flag for several chains. Assets named there are paid
    /// on that chain; the others are then paid by nothing (unless --demo), never simulated.
    #[arg(long, env = "PAYOUTS_EVM_CONFIG", value_delimiter = ',')]
    pub evm_config: Vec<std::path::PathBuf>,

    /// A real chain of any family this build pays on, as FAMILY=FILE (`evm=/etc/payouts/eth.json`):
    /// the family's chain config file (README, "Paying on a real chain"); repeat for several.
    /// `--evm-config FILE` is `--chain-config evm=FILE`.
    #[arg(long, env = "PAYOUTS_CHAIN_CONFIG", value_delimiter = ',')]
    pub chain_config: Vec<crate::rails::family::ChainConfig>,

    /// Webhooks may go to plain http:// receivers (development only: deliveries carry payout data).
    #[arg(long, env = "PAYOUTS_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: bool,

    /// Webhooks may go to private, loopback and link-local addresses (tests, receivers inside
    /// your own network). Off, only public addresses are accepted and connected to.
    #[arg(long, env = "PAYOUTS_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// The address people open the dashboard at (https://payouts.example.com). Security keys
    /// are bound to its host name. Default: http://localhost with the port of --bind.
    #[arg(long, env = "PAYOUTS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// SMTP server for email: smtp://[user:pass@]host[:port] (STARTTLS, required; port 587),
    /// smtps://… (implicit TLS; port 465), or smtp://host:port?tls=none for a plain relay on your
    /// own network. Without it every notice stays in the in-app inbox.
    #[arg(long, env = "PAYOUTS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The From address of emails, e.g. "Payouts <payouts@example.com>". Default:
    /// payouts@ the host of --public-url.
    #[arg(long, env = "PAYOUTS_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// Where replies go when an email is about nobody in particular (default: no Reply-To).
    #[arg(long, env = "PAYOUTS_MAIL_REPLY_TO")]
    pub mail_reply_to: Option<String>,

    /// The Telegram Bot API's address (a local server speaking its format, in tests).
    #[arg(long, env = "PAYOUTS_TELEGRAM_API_URL", default_value = "https://api.telegram.org")]
    pub telegram_api_url: String,

    /// Exchange rates from a public price API: coingecko or kraken. Without it, rates are only
    /// what admins type or import (Settings → Rates).
    #[arg(long, env = "PAYOUTS_RATES_PROVIDER")]
    pub rates_provider: Option<String>,

    /// The price API's address (default: the provider's public one; a local server in tests).
    #[arg(long, env = "PAYOUTS_RATES_URL")]
    pub rates_url: Option<String>,

    /// The price API's key, when it asks for one (CoinGecko demo or pro key).
    #[arg(long, env = "PAYOUTS_RATES_API_KEY", hide_env_values = true)]
    pub rates_api_key: Option<String>,

    /// Seconds between two readings of the price API (one process reads for all).
    #[arg(long, env = "PAYOUTS_RATES_INTERVAL_SECONDS", default_value_t = 60)]
    pub rates_interval_seconds: u64,

    /// A provider value that moved more than this many percent from the last one is held until
    /// a second reading agrees.
    #[arg(long, env = "PAYOUTS_RATES_OUTLIER_PERCENT", default_value_t = 10)]
    pub rates_outlier_percent: u32,

    /// Serve Prometheus metrics at /metrics to requests carrying `Authorization: Bearer TOKEN`
    /// (at least 32 characters). Without it /metrics answers 404.
    #[arg(long, env = "PAYOUTS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// A sanctions list fetched once a day (by one process) and imported under its name:
    /// `--sanctions-url "OFAC SDN=https://…/SDN.XML"`; repeat the flag for several lists.
    #[arg(long = "sanctions-url")]
    pub sanctions_url: Vec<String>,
}

impl ServeArgs {
    /// Every real chain to connect, `--evm-config` files first.
    pub fn chain_configs(&self) -> Vec<crate::rails::family::ChainConfig> {
        let evm =
            self.evm_config.iter().map(|f| crate::rails::family::ChainConfig { family: "evm".into(), file: f.clone() });
        evm.chain(self.chain_config.iter().cloned()).collect()
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            demo: false,
            secret_key: None,
            session_idle_minutes: 30,
            session_max_hours: 12,
            admin_email: "admin@localhost".into(),
            org_name: "My organization".into(),
            workers: None,
            registry_max_rows: 10_000,
            registry_max_mib: 5,
            stuck_after_minutes: 30,
            processor_lease_seconds: 30,
            no_processor: false,
            processor_interval_ms: 500,
            sim_confirm_seconds: 4,
            sim_fail_addresses: Vec::new(),
            sim_failure_per_mille: 0,
            evm_config: Vec::new(),
            chain_config: Vec::new(),
            webhook_allow_http: false,
            webhook_allow_private: false,
            public_url: None,
            smtp_url: None,
            mail_from: None,
            mail_reply_to: None,
            telegram_api_url: "https://api.telegram.org".into(),
            rates_provider: None,
            rates_url: None,
            rates_api_key: None,
            rates_interval_seconds: 60,
            rates_outlier_percent: 10,
            metrics_token: None,
            sanctions_url: Vec::new(),
        }
    }
}

/// What the running application needs to know, resolved from the arguments.
#[derive(Debug, Clone)]
pub struct Config {
    pub demo: bool,
    pub session_idle: chrono::Duration,
    pub session_max_age: chrono::Duration,
    pub registry_limits: crate::domain::registry::Limits,
    pub stuck_after: chrono::Duration,
    /// Where webhooks may be sent.
    pub webhooks: crate::domain::outbound::OutboundPolicy,
    /// Where people open the dashboard: the origin security keys are registered for.
    pub public_url: url::Url,
    /// The SMTP server email goes through; None: notices stay in the inbox.
    pub smtp: Option<mail::SmtpSettings>,
    pub mail_sender: mail::Sender,
    pub telegram_api: url::Url,
    /// The price API read for exchange rates, when one is configured.
    pub rates: Option<rates::Feed>,
    /// The bearer token /metrics asks for; None: no metrics served.
    pub metrics_token: Option<String>,
    /// The sanctions lists fetched daily.
    pub sanctions_sources: Vec<sanctions::Source>,
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> Result<Self, String> {
        if args.session_idle_minutes == 0 || args.session_max_hours == 0 {
            return Err("session lifetimes must be at least one minute and one hour".into());
        }
        if let Some(key) = &args.secret_key
            && key.chars().count() < 32
        {
            return Err("PAYOUTS_SECRET_KEY must have at least 32 characters".into());
        }
        let public_url = public_url(args.public_url.as_deref(), &args.bind)?;
        let metrics_token = args.metrics_token.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        if metrics_token.as_ref().is_some_and(|t| t.chars().count() < 32) {
            return Err("PAYOUTS_METRICS_TOKEN must have at least 32 characters".into());
        }
        Ok(Self {
            demo: args.demo,
            session_idle: chrono::Duration::minutes(args.session_idle_minutes.into()),
            session_max_age: chrono::Duration::hours(args.session_max_hours.into()),
            registry_limits: crate::domain::registry::Limits {
                max_rows: args.registry_max_rows.max(1),
                max_bytes: args.registry_max_mib.max(1) * 1024 * 1024,
            },
            stuck_after: chrono::Duration::minutes(args.stuck_after_minutes.max(1).into()),
            webhooks: crate::domain::outbound::OutboundPolicy {
                allow_http: args.webhook_allow_http,
                allow_private: args.webhook_allow_private,
            },
            public_url: public_url.clone(),
            smtp: match args.smtp_url.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(text) => Some(mail::SmtpSettings::parse(text)?),
                None => None,
            },
            mail_sender: mail_sender(args, &public_url)?,
            telegram_api: url::Url::parse(args.telegram_api_url.trim())
                .map_err(|e| format!("PAYOUTS_TELEGRAM_API_URL is not a URL: {e}"))?,
            rates: rates_feed(args)?,
            metrics_token,
            sanctions_sources: args
                .sanctions_url
                .iter()
                .map(|s| sanctions::Source::parse(s))
                .collect::<Result<_, _>>()?,
        })
    }
}

fn rates_feed(args: &ServeArgs) -> Result<Option<rates::Feed>, String> {
    use rates::{Feed, Provider};
    let Some(name) = args.rates_provider.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let provider = Provider::parse(name)?;
    let base = args.rates_url.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(provider.default_url());
    let base = url::Url::parse(base).map_err(|e| format!("PAYOUTS_RATES_URL {base:?} is not a URL: {e}"))?;
    if args.rates_outlier_percent == 0 || args.rates_outlier_percent > 1000 {
        return Err("PAYOUTS_RATES_OUTLIER_PERCENT must be from 1 to 1000".into());
    }
    Ok(Some(Feed {
        provider,
        base,
        api_key: args.rates_api_key.clone().filter(|k| !k.trim().is_empty()),
        interval: std::time::Duration::from_secs(args.rates_interval_seconds.max(10)),
        outlier_percent: args.rates_outlier_percent,
        timeout: std::time::Duration::from_secs(10),
    }))
}

fn mail_sender(args: &ServeArgs, public_url: &url::Url) -> Result<mail::Sender, String> {
    let from = match args.mail_from.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => text.to_owned(),
        None => format!("Payouts <payouts@{}>", public_url.host_str().unwrap_or("localhost")),
    };
    let from = from.parse().map_err(|e| format!("PAYOUTS_MAIL_FROM {from:?} is not a mailbox: {e}"))?;
    let reply_to = match args.mail_reply_to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(text.parse().map_err(|e| format!("PAYOUTS_MAIL_REPLY_TO {text:?} is not a mailbox: {e}"))?),
        None => None,
    };
    Ok(mail::Sender { from, reply_to })
}

/// The dashboard's public address: given, or http://localhost on the port the server listens
/// on. Browsers bind security keys to a host name, never to an IP address, and allow them only
/// over https or on localhost.
fn public_url(given: Option<&str>, bind: &str) -> Result<url::Url, String> {
    let text = match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => t.to_owned(),
        None => {
            let port = bind.rsplit_once(':').map_or("8080", |(_, p)| p);
            format!("http://localhost:{port}")
        }
    };
    let url = url::Url::parse(&text).map_err(|e| format!("PAYOUTS_PUBLIC_URL {text:?} is not a URL: {e}"))?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        _ => {
            return Err(format!(
                "PAYOUTS_PUBLIC_URL {text:?} must name a host (security keys are bound to a host name, not an IP \
                 address); use http://localhost:PORT on this machine"
            ));
        }
    };
    let local = host == "localhost" || host.ends_with(".localhost");
    if url.scheme() != "https" && !(url.scheme() == "http" && local) {
        return Err(format!(
            "PAYOUTS_PUBLIC_URL {text:?} must be https:// (browsers allow security keys only over https, or on \
             http://localhost)"
        ));
    }
    Ok(url)
}

impl Default for Config {
    fn default() -> Self {
        Self::from_args(&ServeArgs::default()).expect("defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::public_url;

    #[test]
    fn public_url_defaults_to_localhost_on_the_bound_port() {
        assert_eq!(public_url(None, "0.0.0.0:9090").unwrap().as_str(), "http://localhost:9090/");
        assert_eq!(public_url(Some("  "), "127.0.0.1:8080").unwrap().as_str(), "http://localhost:8080/");
        assert_eq!(public_url(Some("https://pay.example.com"), "x").unwrap().host_str(), Some("pay.example.com"));
    }

    #[test]
    fn public_url_refuses_what_browsers_refuse_security_keys_on() {
        for bad in ["http://pay.example.com", "https://10.0.0.5", "http://127.0.0.1:8080", "pay.example.com"] {
            assert!(public_url(Some(bad), "127.0.0.1:8080").is_err(), "{bad}");
        }
    }
}
