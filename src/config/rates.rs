//! The price feed as the command line sets it (`--rates-provider`, `--rates-url`, …). Polling and
//! recording are the outbound room's (`service::outbound::rates_feed`).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    CoinGecko,
    Kraken,
}

impl Provider {
    pub fn parse(name: &str) -> Result<Provider, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "coingecko" => Ok(Provider::CoinGecko),
            "kraken" => Ok(Provider::Kraken),
            other => Err(format!("--rates-provider {other:?}: use coingecko or kraken")),
        }
    }

    pub fn default_url(self) -> &'static str {
        match self {
            Provider::CoinGecko => "https://api.coingecko.com",
            Provider::Kraken => "https://api.kraken.com",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::CoinGecko => "CoinGecko",
            Provider::Kraken => "Kraken",
        }
    }
}

/// The server's feed: `--rates-provider`, `--rates-url`, `--rates-api-key`, how often, and the
/// outlier limit.
#[derive(Clone)]
pub struct Feed {
    pub provider: Provider,
    pub base: url::Url,
    pub api_key: Option<String>,
    pub interval: Duration,
    pub outlier_percent: u32,
    pub timeout: Duration,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("provider", &self.provider).field("base", &self.base.as_str()).finish()
    }
}
