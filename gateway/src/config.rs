//! Gateway settings (the `betbet` flags and their environment variables map onto these).

use std::path::PathBuf;
use std::time::Duration;

/// One rate-limit class: `requests` per `window`, per client IP and per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window: Duration,
}

/// The spec's RATE_LIMITS classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    Default,
    Auth,
    Trading,
    Gaming,
    Chat,
    Wallet,
}

impl RouteClass {
    pub const ALL: [RouteClass; 6] = [
        RouteClass::Default,
        RouteClass::Auth,
        RouteClass::Trading,
        RouteClass::Gaming,
        RouteClass::Chat,
        RouteClass::Wallet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RouteClass::Default => "default",
            RouteClass::Auth => "auth",
            RouteClass::Trading => "trading",
            RouteClass::Gaming => "gaming",
            RouteClass::Chat => "chat",
            RouteClass::Wallet => "wallet",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub default: RateLimit,
    pub auth: RateLimit,
    pub trading: RateLimit,
    pub gaming: RateLimit,
    pub chat: RateLimit,
    pub wallet: RateLimit,
}

impl RateLimits {
    pub fn get(&self, class: RouteClass) -> RateLimit {
        match class {
            RouteClass::Default => self.default,
            RouteClass::Auth => self.auth,
            RouteClass::Trading => self.trading,
            RouteClass::Gaming => self.gaming,
            RouteClass::Chat => self.chat,
            RouteClass::Wallet => self.wallet,
        }
    }

    fn set(&mut self, class: RouteClass, limit: RateLimit) {
        match class {
            RouteClass::Default => self.default = limit,
            RouteClass::Auth => self.auth = limit,
            RouteClass::Trading => self.trading = limit,
            RouteClass::Gaming => self.gaming = limit,
            RouteClass::Chat => self.chat = limit,
            RouteClass::Wallet => self.wallet = limit,
        }
    }

    /// Parses overrides like `wallet=100/60,trading=500/1` (requests / window seconds).
    pub fn with_overrides(mut self, spec: &str) -> Result<Self, String> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("rate limit `{item}` is not class=requests/seconds"))?;
            let class = RouteClass::ALL
                .into_iter()
                .find(|c| c.name() == name.trim())
                .ok_or_else(|| format!("unknown rate-limit class `{name}`"))?;
            let (requests, seconds) = value
                .split_once('/')
                .ok_or_else(|| format!("rate limit `{item}` is not class=requests/seconds"))?;
            let requests: u32 = requests
                .trim()
                .parse()
                .map_err(|_| format!("bad count in `{item}`"))?;
            let seconds: u64 = seconds
                .trim()
                .parse()
                .map_err(|_| format!("bad window in `{item}`"))?;
            if requests == 0 || seconds == 0 {
                return Err(format!("rate limit `{item}` must be positive"));
            }
            self.set(
                class,
                RateLimit {
                    requests,
                    window: Duration::from_secs(seconds),
                },
            );
        }
        Ok(self)
    }
}

impl Default for RateLimits {
    /// The spec's defaults; `auth` (login, register, refresh) is ours, per IP.
    fn default() -> Self {
        let limit = |requests, seconds| RateLimit {
            requests,
            window: Duration::from_secs(seconds),
        };
        RateLimits {
            default: limit(100, 60),
            auth: limit(20, 60),
            trading: limit(50, 1),
            gaming: limit(100, 1),
            chat: limit(30, 1),
            wallet: limit(10, 60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub data_dir: PathBuf,
    /// Where the JWT and sealing keys live; several gateways share one directory (or the
    /// same key files) so tokens work on all of them.
    pub secrets_dir: PathBuf,
    pub cors_origins: Vec<String>,
    pub rate_limits: RateLimits,
    /// Deposits through the `sandbox` provider confirm at once.
    pub sandbox_payments: bool,
    /// HMAC-SHA256 key for provider webhooks; without one, the webhook route is off.
    pub webhook_secret: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub body_limit_bytes: usize,
    pub kyc_upload_limit_bytes: usize,
    /// Concurrent argon2 hashes (each takes ~19 MiB and tens of milliseconds).
    pub password_hash_workers: usize,
    /// Allowed WebSocket `Origin`s (empty: any).
    pub ws_origins: Vec<String>,
    /// Header timeout and connection caps of the HTTP server.
    pub http_limits: crate::server::HttpLimits,
    /// How long after its being read a WebSocket request may wait for the core to take it
    /// up: past it, it is refused with `overloaded` and never executed (a late order is
    /// worse than a refused one).
    pub ws_request_deadline: Duration,
    /// How long a game player's seat is held after their last connection to the room
    /// drops; past it they have abandoned the session (see `api::games::socket`).
    pub game_seat_grace: Duration,
}

impl GatewayConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        GatewayConfig {
            secrets_dir: data_dir.join("secrets"),
            data_dir,
            cors_origins: Vec::new(),
            rate_limits: RateLimits::default(),
            sandbox_payments: false,
            webhook_secret: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            ws_request_deadline: Duration::from_secs(1),
            game_seat_grace: Duration::from_secs(15),
            body_limit_bytes: 64 * 1024,
            kyc_upload_limit_bytes: 10 * 1024 * 1024,
            password_hash_workers: 2,
            ws_origins: Vec::new(),
            http_limits: crate::server::HttpLimits::default(),
        }
    }
}
