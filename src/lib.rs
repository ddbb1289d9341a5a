//! payouts: a dashboard and JSON API for single and mass cryptocurrency payouts.

pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod ops;
pub mod rails;
pub mod service;
pub mod shutdown;
pub mod web;

use std::sync::Arc;

use actix_web::web as aw;

pub use config::Config;
pub use error::AppError;
pub use web::configure;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub pool: db::Pool,
    pub config: Arc<Config>,
    /// Signs the sign-in form's CSRF token.
    pub secret: Arc<Vec<u8>>,
    /// The rails paying on real chains (`--chain-config`, `--evm-config`), asked for wallet
    /// balances and network fees.
    pub rails: Arc<Vec<Arc<dyn rails::Rail>>>,
    /// When pay days and schedules are due.
    pub clock: clock::Clock,
    /// The relying party that security keys are registered with and checked against.
    pub webauthn: Arc<webauthn_rs::Webauthn>,
}

impl AppState {
    /// Connects, applies the migrations and loads the instance secret.
    pub fn open(
        url: &db::DatabaseUrl,
        pool_size: u32,
        config: Config,
        secret_key: Option<&str>,
    ) -> Result<Self, String> {
        config::prepare_sqlite_dir(url)?;
        let pool = db::connect(url, pool_size)?;
        let mut conn = pool.get().map_err(|e| format!("cannot open the database: {e}"))?;
        db::migrate(&mut conn)?;
        let secret = service::payouts::bootstrap::secret_key(&mut conn, secret_key).map_err(|e| e.to_string())?;
        let webauthn = Arc::new(service::access::security_keys::relying_party(&config.public_url)?);
        Ok(Self {
            pool: pool.clone(),
            config: Arc::new(config),
            secret: Arc::new(secret),
            rails: Arc::default(),
            clock: Default::default(),
            webauthn,
        })
    }

    /// What the notifier knows of this server.
    pub fn notifier(&self) -> service::outbound::tell::Notifier {
        service::outbound::tell::Notifier {
            public_url: self.config.public_url.clone(),
            mail: self.config.smtp.is_some(),
            stuck_after: self.config.stuck_after,
        }
    }

    /// Everything the notification sender needs.
    pub fn delivery(&self) -> service::outbound::sender::Delivery {
        service::outbound::sender::Delivery {
            notifier: self.notifier(),
            smtp: self.config.smtp.clone(),
            sender: self.config.mail_sender.clone(),
            telegram_api: self.config.telegram_api.clone(),
            policy: self.config.webhooks,
            secret: self.secret.clone(),
            clock: self.clock.clone(),
        }
    }

    /// The rail paying `asset` on a real chain, if one does.
    pub fn rail_for(&self, asset: &'static domain::Asset) -> Option<&Arc<dyn rails::Rail>> {
        self.rails.iter().find(|r| r.pays(asset))
    }

    /// Where a row of `asset` is paid, as the details page says it: the rail's name, the
    /// simulated network where it pays (no chain configured, or demo mode), else nothing yet.
    pub fn network_label(&self, asset: &'static domain::Asset) -> &'static str {
        match self.rail_for(asset) {
            Some(rail) => rail.label(),
            None if self.rails.is_empty() || self.config.demo => "simulated network",
            None => "no network yet: no chain config pays this asset",
        }
    }

    /// The hot wallet of the rail that pays `asset` (at most one).
    pub fn wallet(&self, asset: &'static domain::Asset) -> Option<rails::WalletView> {
        self.rails.iter().find_map(|r| r.wallet(asset))
    }

    pub fn network_fee(
        &self,
        asset: &'static domain::Asset,
        addresses: &[&str],
        creates_accounts: bool,
    ) -> Option<Result<rails::NetworkFee, String>> {
        self.rails.iter().find_map(|r| r.network_fee(asset, addresses, creates_accounts))
    }

    /// Runs database work on the blocking thread pool with a pooled connection.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut db::DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        aw::block(move || {
            let mut conn = pool.get().map_err(|e| AppError::Pool(e.to_string()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(format!("blocking task: {e}")))?
    }
}
