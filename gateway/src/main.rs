//! `betbet`: the BetBet platform in one binary.
//!
//! - `betbet serve` — core and gateway in one process (the embedded default; no Postgres
//!   or Redis needed).
//! - `betbet core` — the core alone, with a TCP listener for gateways.
//! - `betbet gateway --core ADDR` — a stateless gateway to a remote core.
//! - `betbet journal verify|dump DIR` — inspect a data directory's journal.
//! - `betbet admin grant USERNAME` — make a user an admin (the core must be stopped).

/// mimalloc, not glibc's malloc: the gateway allocates per message and glibc's arenas were
/// a fifth of its CPU under load (BENCHMARKS.md, "WebSocket load").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use betbet_engine::runtime::{Core as CoreRuntime, CoreConfig};
use betbet_engine::{Engine, Limits};
use betbet_gateway::config::{GatewayConfig, RateLimits};
use betbet_gateway::core::{Core, RemoteCore};
use betbet_journal::{Durability, Journal, Options};
use betbet_protocol::codec::from_slice;
use betbet_protocol::command::{Command, Configure, JournalEntry};
use betbet_protocol::types::{AMOUNT_SCALE, Amount, Currency, UserId};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "betbet",
    version,
    about = "BetBet: prediction markets, games and wallets on one deterministic core"
)]
struct Cli {
    #[command(subcommand)]
    command: Top,
    /// Log lines as text for people or as one JSON object per line for collectors.
    #[arg(
        long,
        global = true,
        env = "BETBET_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Top {
    /// Core and gateway in one process.
    Serve(ServeArgs),
    /// The core alone, listening for gateways over TCP.
    Core(CoreArgs),
    /// A stateless gateway in front of a remote core.
    Gateway(GatewayArgs),
    /// Prints the public address's route table, one JSON object per line: method, path,
    /// who may call it (public, user, owner, admin, signed) and its body.
    Routes,
    /// Inspect a journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Offline administration (the core must not be running).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The history store's projection of the journal.
    Projection {
        #[command(subcommand)]
        command: ProjectionCommand,
    },
}

#[derive(Subcommand)]
enum ProjectionCommand {
    /// Empties the history store and projects the retained journal into it again, with
    /// progress (records/s, ETA). Stop the server first (it holds the journal).
    Rebuild {
        #[arg(long, env = "BETBET_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        #[command(flatten)]
        history: HistoryOptions,
        /// The same windows as the server's: they decide some outcomes (a client order id
        /// may be reused once its order left the window).
        #[command(flatten)]
        windows: WindowOptions,
    },
    /// Prints the store's checkpoint and how far behind the journal it is (works while the
    /// server runs).
    Status {
        #[arg(long, env = "BETBET_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        #[command(flatten)]
        history: HistoryOptions,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Scans the journal, checks every checksum and the chain, and reports. A torn final
    /// record is truncated exactly as start-up would; any other damage is reported and the
    /// command fails. Stop the server first (it holds the journal).
    Verify {
        /// The data directory (or its journal directory).
        dir: PathBuf,
    },
    /// Prints the journaled commands: public ids, decimals and times, secrets redacted.
    Dump {
        /// The data directory (or its journal directory).
        dir: PathBuf,
        /// Print password hashes, token hashes, TOTP secrets and sealed details too.
        #[arg(long)]
        show_secrets: bool,
        /// First sequence number to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// How many records to print.
        #[arg(long, default_value_t = 1_000)]
        limit: u64,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Gives a user the admin role.
    Grant {
        username: String,
        #[arg(long, env = "BETBET_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// Page cache only: fastest, loses the last moments on power loss.
    None,
    /// Group commit: every acknowledged command is on disk.
    Batch,
    /// Sync every --sync-interval-us; acknowledgements wait for it.
    Interval,
}

#[derive(Args, Clone)]
struct CoreOptions {
    /// Where the journal, snapshots, keys and uploads live.
    #[arg(long, env = "BETBET_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    #[arg(long, env = "BETBET_DURABILITY", value_enum, default_value = "batch")]
    durability: DurabilityArg,
    #[arg(long, env = "BETBET_SYNC_INTERVAL_US", default_value_t = 1_000)]
    sync_interval_us: u64,
    /// Platform fee on net winnings and on paid communities' membership fees, in basis
    /// points.
    #[arg(long, env = "BETBET_PLATFORM_FEE_BP", default_value_t = 200)]
    platform_fee_bp: u16,
    /// Withdrawal fee, in basis points of the amount.
    #[arg(long, env = "BETBET_WITHDRAWAL_FEE_BP", default_value_t = 0)]
    withdrawal_fee_bp: u16,
    /// Largest single withdrawal per KYC level, comma separated (level 0 first).
    #[arg(
        long,
        env = "BETBET_WITHDRAWAL_LIMITS",
        default_value = "0,1000,10000,1000000"
    )]
    withdrawal_limits: String,
    #[arg(
        long,
        env = "BETBET_CURRENCIES",
        default_value = "USD,EUR,GBP,USDC,BTC,ETH,ZWG"
    )]
    currencies: String,
    #[arg(long, env = "BETBET_OPEN_ORDERS_MAX", default_value_t = 1_000)]
    open_orders_per_user_max: u32,
    /// The largest balance, in whole units, that deposits and transfers may bring a wallet to.
    #[arg(long, env = "BETBET_WALLET_BALANCE_MAX", default_value_t = 100_000_000)]
    wallet_balance_max: i64,
    /// The most of one currency, in whole units, the platform holds in all.
    #[arg(
        long,
        env = "BETBET_CURRENCY_SUPPLY_MAX",
        default_value_t = 10_000_000_000
    )]
    currency_supply_max: i64,
    /// How long a proposed market resolution may be disputed, in seconds (default: a day;
    /// five minutes with `--demo`).
    #[arg(long, env = "BETBET_DISPUTE_WINDOW_SECS")]
    dispute_window_secs: Option<u64>,
    /// Snapshot after this many commands.
    #[arg(long, env = "BETBET_SNAPSHOT_EVERY", default_value_t = 1_000_000)]
    snapshot_every: u64,
    #[command(flatten)]
    history: HistoryOptions,
    /// Size of each journal segment file in bytes (a multiple of 4096, 8 KiB to 1 GiB). The
    /// journal is pruned a segment at a time.
    #[arg(long, env = "BETBET_JOURNAL_SEGMENT_BYTES", default_value_t = 64 << 20)]
    journal_segment_bytes: u64,
    #[command(flatten)]
    windows: WindowOptions,
}

/// The core's in-memory windows of history; a replica replaying the journal (the history
/// store's rebuild) must use the ones the journal was written with.
#[derive(Args, Clone)]
struct WindowOptions {
    /// Ended orders kept in the core's memory (older ones are read from the history store).
    #[arg(long, env = "BETBET_CLOSED_ORDERS_KEPT", default_value_t = Limits::default().closed_orders_kept)]
    closed_orders_kept: u32,
    /// Wallet transactions kept in the core's memory (older ones are read from the history
    /// store).
    #[arg(long, env = "BETBET_TRANSACTIONS_KEPT", default_value_t = Limits::default().transactions_kept)]
    transactions_kept: u32,
}

impl WindowOptions {
    fn limits(&self) -> Limits {
        Limits {
            closed_orders_kept: self.closed_orders_kept.max(1),
            transactions_kept: self.transactions_kept.max(1),
            ..Limits::default()
        }
    }
}

#[derive(Args, Clone)]
struct HistoryOptions {
    /// The history store: `postgres://USER:PASSWORD@HOST/DB` in production; without it, an
    /// embedded SQLite database at DATA_DIR/history.sqlite.
    #[arg(long, env = "BETBET_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Args, Clone)]
struct HttpOptions {
    #[arg(long, env = "BETBET_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
    /// Where Prometheus scrapes `/metrics` (never on the public address); `off` for none.
    #[arg(long, env = "BETBET_METRICS_ADDR", default_value = "127.0.0.1:9100")]
    metrics_addr: String,
    /// Allowed CORS origins, comma separated (`*` for any).
    #[arg(long, env = "BETBET_CORS_ORIGINS", default_value = "")]
    cors_origins: String,
    /// Allowed WebSocket Origins, comma separated (empty: any).
    #[arg(long, env = "BETBET_WS_ORIGINS", default_value = "")]
    ws_origins: String,
    /// Rate-limit overrides, e.g. `wallet=100/60,trading=500/1`.
    #[arg(long, env = "BETBET_RATE_LIMITS", default_value = "")]
    rate_limits: String,
    /// Confirm deposits through the `sandbox` provider at once (test money).
    #[arg(long, env = "BETBET_SANDBOX_PAYMENTS")]
    sandbox_payments: bool,
    /// HMAC-SHA256 secret for payment-provider webhooks (the webhook is off without it).
    #[arg(long, env = "BETBET_WEBHOOK_SECRET")]
    webhook_secret: Option<String>,
    /// Directory of the JWT and sealing keys (default: DATA_DIR/secrets).
    #[arg(long, env = "BETBET_SECRETS_DIR")]
    secrets_dir: Option<PathBuf>,
    /// Seconds a client has to send a request's headers, from connecting or from the
    /// previous response (so also the idle limit of keep-alive connections).
    #[arg(long, env = "BETBET_HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    http_header_timeout_secs: u64,
    /// Open HTTP and WebSocket connections in all.
    #[arg(long, env = "BETBET_HTTP_CONNECTIONS_MAX", default_value_t = 10_000)]
    http_connections_max: usize,
    /// Open HTTP and WebSocket connections from one IP address.
    #[arg(
        long,
        env = "BETBET_HTTP_CONNECTIONS_PER_IP_MAX",
        default_value_t = 256
    )]
    http_connections_per_ip_max: usize,
    /// Access-token lifetime in seconds (5 to 86 400).
    #[arg(long, env = "BETBET_ACCESS_TTL_SECS", default_value_t = 900)]
    access_ttl_secs: u64,
    /// Milliseconds a WebSocket request may wait, from its being read, for the core to take
    /// it up; past it, it is refused with `overloaded` and never executed.
    #[arg(long, env = "BETBET_WS_REQUEST_DEADLINE_MS", default_value_t = 1_000)]
    ws_request_deadline_ms: u64,
    /// Milliseconds a game player's seat is held after their last connection to the
    /// session's room drops (the clock keeps running); past it they have abandoned it.
    #[arg(long, env = "BETBET_GAME_SEAT_GRACE_MS", default_value_t = 15_000)]
    game_seat_grace_ms: u64,
    /// Milliseconds a history read waits for the history store to catch up with the core
    /// (read-your-writes); past it, the answer is 503 `history_lagging`.
    #[arg(long, env = "BETBET_HISTORY_WAIT_MS", default_value_t = 2_000)]
    history_wait_ms: u64,
}

#[derive(Args, Clone)]
struct FeedOptions {
    /// Serve the market-maker feed (QUIC) on this UDP address.
    #[arg(long, env = "BETBET_QUIC_ADDR")]
    quic_addr: Option<SocketAddr>,
    /// The feed's TLS certificate chain (PEM or DER). Without it and --tls-key, a
    /// self-signed certificate is generated into DATA_DIR/tls and its fingerprint printed.
    #[arg(long, env = "BETBET_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The feed's TLS private key (PEM or PKCS#8 DER).
    #[arg(long, env = "BETBET_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Feed requests per second per API key, shared by the key's connections (a token
    /// bucket with one second of burst).
    #[arg(long, env = "BETBET_FEED_RATE", default_value_t = 20_000)]
    feed_rate: u32,
    /// Also send top of book as QUIC datagrams.
    #[arg(long, env = "BETBET_FEED_DATAGRAMS")]
    feed_datagrams: bool,
}

/// Starts the feed if asked to; prints where it listens and how to trust it.
fn start_feed(
    state: &betbet_gateway::state::AppState,
    options: &FeedOptions,
    data_dir: &Path,
) -> Result<(), String> {
    let Some(addr) = options.quic_addr else {
        return Ok(());
    };
    let config = betbet_gateway::feed::FeedConfig {
        addr,
        cert: options.tls_cert.clone(),
        key: options.tls_key.clone(),
        data_dir: data_dir.to_path_buf(),
        requests_per_second: options.feed_rate.max(1),
        datagrams: options.feed_datagrams,
    };
    let (bound, fingerprint) = betbet_gateway::feed::start(state.clone(), config)
        .map_err(|e| format!("cannot start the QUIC feed on {addr}: {e}"))?;
    tracing::debug!(%bound, %fingerprint, "feed listening (QUIC)");
    println!("feed listening on {bound} (QUIC); certificate SHA-256 fingerprint {fingerprint}");
    Ok(())
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    core: CoreOptions,
    #[command(flatten)]
    http: HttpOptions,
    #[command(flatten)]
    feed: FeedOptions,
    /// Seed an admin, users with sandbox money and open markets; print the logins.
    #[arg(long, env = "BETBET_DEMO")]
    demo: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct CoreArgs {
    #[command(subcommand)]
    command: Option<CoreCommand>,
    #[command(flatten)]
    core: CoreOptions,
    /// Where gateways connect (mutual TLS); loopback unless an address is given.
    #[arg(long, env = "BETBET_CORE_LISTEN", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// The deployment's certificates (`betbet core init-certs DIR`): the core uses
    /// ca.pem, core.pem and core.key, and accepts only gateways certified by that CA.
    #[arg(long, env = "BETBET_CORE_TLS_DIR")]
    tls_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum GatewayCommand {
    /// Makes the keys every gateway of a deployment shares (jwt.key signs access tokens,
    /// seal.key seals payment details) in DIR; give each gateway --secrets-dir DIR.
    InitSecrets { dir: PathBuf },
}

#[derive(Subcommand)]
enum CoreCommand {
    /// Makes a deployment's certificate authority and the core's and gateways' certificates
    /// in DIR: give the core ca.pem, core.pem, core.key; each gateway ca.pem, gateway.pem,
    /// gateway.key; keep ca.key offline.
    InitCerts { dir: PathBuf },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct GatewayArgs {
    #[command(subcommand)]
    command: Option<GatewayCommand>,
    /// The core's address (`betbet core --listen`).
    #[arg(long, env = "BETBET_CORE_ADDR", required = true)]
    core: Option<String>,
    /// The deployment's certificates (`betbet core init-certs DIR`): the gateway uses
    /// ca.pem, gateway.pem and gateway.key.
    #[arg(long, env = "BETBET_CORE_TLS_DIR", required = true)]
    core_tls_dir: Option<PathBuf>,
    /// Where uploads and (by default) keys live.
    #[arg(long, env = "BETBET_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    #[command(flatten)]
    http: HttpOptions,
    #[command(flatten)]
    feed: FeedOptions,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The dispute window of `--demo` when none is given: long enough to try a dispute.
const DEMO_DISPUTE_WINDOW_SECS: u64 = 300;

fn core_config(options: &CoreOptions, demo: bool) -> Result<CoreConfig, String> {
    let durability = match options.durability {
        DurabilityArg::None => Durability::None,
        DurabilityArg::Batch => Durability::Batch,
        DurabilityArg::Interval => Durability::Interval {
            every_us: options.sync_interval_us.max(1),
        },
    };
    let withdrawal_limits = list(&options.withdrawal_limits)
        .iter()
        .map(|n| {
            n.parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(AMOUNT_SCALE))
                .map(Amount)
                .ok_or_else(|| format!("--withdrawal-limits: `{n}` is not a whole amount"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let currencies = list(&options.currencies)
        .iter()
        .map(|c| {
            Currency::new(c).ok_or_else(|| format!("--currencies: `{c}` is not a currency code"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let whole = |n: i64, flag: &str| {
        n.checked_mul(AMOUNT_SCALE)
            .filter(|&a| a > 0)
            .map(Amount)
            .ok_or_else(|| format!("{flag}: `{n}` is not a positive whole amount in range"))
    };
    let wallet_balance_max = whole(options.wallet_balance_max, "--wallet-balance-max")?;
    let currency_supply_max = whole(options.currency_supply_max, "--currency-supply-max")?;
    if currency_supply_max.0 > betbet_engine::CURRENCY_SUPPLY_CEILING
        || wallet_balance_max > currency_supply_max
    {
        return Err(format!(
            "--currency-supply-max must be at most {} and at least --wallet-balance-max",
            betbet_engine::CURRENCY_SUPPLY_CEILING / AMOUNT_SCALE
        ));
    }
    let dispute_window_secs = options.dispute_window_secs.unwrap_or(if demo {
        DEMO_DISPUTE_WINDOW_SECS
    } else {
        24 * 3600
    });
    let dispute_window_micros = i64::try_from(dispute_window_secs)
        .ok()
        .and_then(|s| s.checked_mul(1_000_000))
        .filter(|&m| m <= betbet_engine::DISPUTE_WINDOW_MAX_MICROS)
        .ok_or("--dispute-window-secs: at most 30 days")?;
    let mut config = CoreConfig::new(&options.data_dir);
    config.durability = durability;
    config.limits = options.windows.limits();
    config.snapshot_every_commands = options.snapshot_every.max(1);
    config.segment_bytes = options.journal_segment_bytes;
    config.configure = Some(Configure {
        actor: UserId::SYSTEM,
        platform_fee_bp: options.platform_fee_bp,
        withdrawal_fee_bp: options.withdrawal_fee_bp,
        withdrawal_limits,
        open_orders_per_user_max: options.open_orders_per_user_max,
        currencies,
        wallet_balance_max,
        currency_supply_max,
        dispute_window_micros,
    });
    Ok(config)
}

fn gateway_config(
    data_dir: &Path,
    http: &HttpOptions,
    sandbox: bool,
) -> Result<GatewayConfig, String> {
    let mut config = GatewayConfig::new(data_dir.to_owned());
    if let Some(dir) = &http.secrets_dir {
        config.secrets_dir = dir.clone();
    }
    config.cors_origins = list(&http.cors_origins);
    config.ws_origins = list(&http.ws_origins);
    config.rate_limits = RateLimits::default().with_overrides(&http.rate_limits)?;
    config.sandbox_payments = http.sandbox_payments || sandbox;
    config.webhook_secret = http.webhook_secret.clone().filter(|s| !s.is_empty());
    config.access_token_ttl = Duration::from_secs(http.access_ttl_secs.clamp(5, 24 * 3600));
    config.ws_request_deadline = Duration::from_millis(http.ws_request_deadline_ms);
    config.game_seat_grace = Duration::from_millis(http.game_seat_grace_ms);
    config.http_limits = betbet_gateway::server::HttpLimits {
        header_read_timeout: Duration::from_secs(http.http_header_timeout_secs.clamp(1, 300)),
        connections_max: http.http_connections_max.max(1),
        connections_per_ip_max: http.http_connections_per_ip_max.max(1),
    };
    Ok(config)
}

async fn start_metrics(
    state: &betbet_gateway::state::AppState,
    http: &HttpOptions,
) -> Result<(), String> {
    if http.metrics_addr == "off" {
        return Ok(());
    }
    let addr: SocketAddr = http.metrics_addr.parse().map_err(|_| {
        format!(
            "--metrics-addr: `{}` is not an address or `off`",
            http.metrics_addr
        )
    })?;
    betbet_gateway::server::serve_metrics(state.clone(), addr)
        .await
        .map_err(|e| format!("metrics server on {addr}: {e}"))
}

fn start_core(
    options: &CoreOptions,
    demo: bool,
    history: Option<&betbet_persistence::Progress>,
) -> Result<CoreRuntime, String> {
    let mut config = core_config(options, demo)?;
    config.retention_floor = history.map(|p| std::sync::Arc::clone(&p.applied));
    CoreRuntime::start(config).map_err(|e| match e {
        betbet_engine::runtime::RuntimeError::Journal(betbet_journal::JournalError::Locked {
            ..
        }) => format!(
            "the data directory {} is already in use by another betbet process",
            options.data_dir.display()
        ),
        other => format!(
            "cannot start the core in {}: {other}",
            options.data_dir.display()
        ),
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("betbet-gateway")
        .build()
        .expect("tokio runtime starts")
}

/// Opens the history store and reads its checkpoint (before the core starts: the
/// checkpoint is the journal's retention floor).
async fn open_history(
    options: &CoreOptions,
) -> Result<
    (
        betbet_persistence::Store,
        std::sync::Arc<betbet_persistence::Progress>,
    ),
    String,
> {
    let location = betbet_persistence::Location::new(
        options.history.database_url.as_deref(),
        &options.data_dir,
    )
    .map_err(|e| e.to_string())?;
    let store = betbet_persistence::Store::open(&location)
        .await
        .map_err(|e| e.to_string())?;
    let checkpoint = store.checkpoint().await.map_err(|e| e.to_string())?;
    tracing::info!(
        store = store.location(),
        checkpoint = checkpoint.map_or(0, |c| c.seq),
        "history store open"
    );
    Ok((store, betbet_persistence::Progress::new(checkpoint)))
}

/// Starts the history store's writer on the current runtime.
fn follow(
    store: &betbet_persistence::Store,
    core: &CoreRuntime,
    progress: &std::sync::Arc<betbet_persistence::Progress>,
    data_dir: &Path,
) -> Result<betbet_persistence::Follower, String> {
    betbet_persistence::Follower::start(
        store.clone(),
        core.handle(),
        std::sync::Arc::clone(progress),
        data_dir.to_path_buf(),
    )
    .map_err(|e| format!("cannot start the history store's writer: {e}"))
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let rt = runtime();
    let (store, progress) = rt.block_on(open_history(&args.core))?;
    let core = start_core(&args.core, args.demo, Some(&progress))?;
    let handle = core.handle();
    let config = gateway_config(&args.core.data_dir, &args.http, args.demo)?;
    let result = rt.block_on(async {
        let follower = follow(&store, &core, &progress, &args.core.data_dir)?;
        let mut state = betbet_gateway::server::build_state(Core::Local(handle), config)
            .map_err(|e| format!("cannot load keys: {e}"))?;
        state.history = Some(std::sync::Arc::new(betbet_gateway::history::History {
            store: store.clone(),
            progress: std::sync::Arc::clone(&progress),
            wait: Duration::from_millis(args.http.history_wait_ms),
        }));
        if args.demo {
            betbet_gateway::demo::seed(&state.core, &state.hasher, &args.core.data_dir)
                .await
                .map_err(|e| format!("demo seeding failed: {}", e.message))?;
        }
        start_feed(&state, &args.feed, &args.core.data_dir)?;
        start_metrics(&state, &args.http).await?;
        let served = betbet_gateway::server::serve_http(
            state,
            args.http.http_addr,
            betbet_gateway::server::shutdown_signal(),
        )
        .await
        .map_err(|e| format!("HTTP server on {}: {e}", args.http.http_addr));
        follower.stop().await;
        store.close().await;
        served
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    core.shutdown();
    result
}

fn run_core(args: CoreArgs) -> Result<(), String> {
    if let Some(CoreCommand::InitCerts { dir }) = &args.command {
        betbet_gateway::link::init(dir).map_err(|e| format!("init-certs: {e}"))?;
        println!(
            "certificates written to {}: the core needs ca.pem core.pem core.key, each gateway ca.pem gateway.pem gateway.key; keep ca.key offline",
            dir.display()
        );
        return Ok(());
    }
    let tls_dir = args.tls_dir.as_ref().ok_or(
        "--tls-dir is required: gateways authenticate to the core with the deployment's certificates (make them with `betbet core init-certs DIR`)",
    )?;
    let tls = betbet_gateway::link::server_config(tls_dir)
        .map_err(|e| format!("core link certificates: {e}"))?;
    let rt = runtime();
    let (store, progress) = rt.block_on(open_history(&args.core))?;
    let core = start_core(&args.core, false, Some(&progress))?;
    let result = rt.block_on(async {
        let follower = follow(&store, &core, &progress, &args.core.data_dir)?;
        let bound = betbet_gateway::link::serve(core.handle(), args.listen, tls)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        println!("core listening on {bound}");
        betbet_gateway::server::shutdown_signal().await;
        follower.stop().await;
        store.close().await;
        Ok(())
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    core.shutdown();
    result
}

fn run_gateway(args: GatewayArgs) -> Result<(), String> {
    if let Some(GatewayCommand::InitSecrets { dir }) = &args.command {
        betbet_gateway::auth::Keys::create(dir).map_err(|e| format!("init-secrets: {e}"))?;
        println!(
            "gateway keys written to {}: give every gateway --secrets-dir {}",
            dir.display(),
            dir.display()
        );
        return Ok(());
    }
    let (Some(core_addr), Some(core_tls_dir)) = (args.core.clone(), args.core_tls_dir.clone())
    else {
        return Err("--core and --core-tls-dir are required".to_owned());
    };
    let config = gateway_config(&args.data_dir, &args.http, false)?;
    let rt = runtime();
    rt.block_on(async {
        let tls = betbet_gateway::link::client_config(&core_tls_dir)
            .map_err(|e| format!("core link certificates: {e}"))?;
        // Tokens one gateway signs must verify on every other: a gateway in front of a
        // remote core uses the deployment's shared keys and never makes its own.
        betbet_gateway::auth::Keys::require(&config.secrets_dir).map_err(|e| {
            format!(
                "{e}: every gateway of a deployment needs the same jwt.key and seal.key; make them once with `betbet gateway init-secrets DIR` and give each gateway --secrets-dir DIR (BETBET_SECRETS_DIR)"
            )
        })?;
        let remote = RemoteCore::connect(core_addr, tls);
        let state = betbet_gateway::server::build_state(Core::Remote(remote), config)
            .map_err(|e| format!("cannot load keys: {e}"))?;
        start_feed(&state, &args.feed, &args.data_dir)?;
        start_metrics(&state, &args.http).await?;
        betbet_gateway::server::serve_http(
            state,
            args.http.http_addr,
            betbet_gateway::server::shutdown_signal(),
        )
        .await
        .map_err(|e| format!("HTTP server on {}: {e}", args.http.http_addr))
    })
}

fn journal_dir(dir: &Path) -> PathBuf {
    // Accept either the data directory or its journal directory.
    if dir.join("journal").is_dir() {
        dir.join("journal")
    } else {
        dir.to_owned()
    }
}

fn open_journal(dir: &Path) -> Result<(Journal, betbet_journal::Recovery), String> {
    let dir = journal_dir(dir);
    if !dir.is_dir() {
        return Err(format!("{} is not a journal directory", dir.display()));
    }
    Journal::open_dir(&dir, Options::default()).map_err(|e| match e {
        betbet_journal::JournalError::Locked { .. } => format!(
            "{} is in use by another betbet process (is the server still running? stop it first)",
            dir.display()
        ),
        other => format!("{}: {other}", dir.display()),
    })
}

fn journal(command: JournalCommand) -> Result<(), String> {
    match command {
        JournalCommand::Verify { dir } => {
            let (journal, recovery) = open_journal(&dir)?;
            let mut undecodable = 0u64;
            let mut commands = 0u64;
            let mut kinds = std::collections::BTreeMap::<&'static str, u64>::new();
            journal
                .replay_from(recovery.first_seq.saturating_sub(1), |seq, payload| {
                    commands += 1;
                    match from_slice::<JournalEntry>(payload) {
                        Ok(entry) => *kinds.entry(entry.command.kind()).or_default() += 1,
                        Err(_) => {
                            undecodable += 1;
                            eprintln!("record {seq} is not a journal entry");
                        }
                    }
                })
                .map_err(|e| e.to_string())?;
            println!("journal {}", journal_dir(&dir).display());
            println!(
                "  records {}..={} ({} checked, {} bytes verified)",
                recovery.first_seq, recovery.last_seq, commands, recovery.bytes_scanned
            );
            println!(
                "  segments {} (segment format {})",
                recovery.segments,
                betbet_journal::FORMAT_VERSION
            );
            // Commands by layout: a layout that changed keeps its old tag under a V-name
            // (`ConfigureV1`), so this shows which older layouts the journal still holds.
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("  commands: {}", kinds.join(", "));
            let (min, max) = (
                betbet_engine::snapshot::SNAPSHOT_VERSION_MIN,
                betbet_engine::snapshot::SNAPSHOT_VERSION,
            );
            match &recovery.snapshot {
                Some(snapshot) => println!(
                    "  newest snapshot at seq {} ({} bytes, snapshot format {}; this build reads {min} to {max} and migrates older ones at start)",
                    snapshot.seq,
                    snapshot.bytes.len(),
                    Engine::snapshot_format(&snapshot.bytes)
                        .map_or_else(|e| format!("unreadable: {e}"), |v| v.to_string()),
                ),
                None => println!("  no snapshot"),
            }
            for skipped in &recovery.snapshots_skipped {
                println!("  skipped invalid snapshot: {skipped:?}");
            }
            if let Some(truncated) = &recovery.truncated {
                println!("  torn tail truncated: {truncated:?}");
            }
            if undecodable > 0 {
                return Err(format!("{undecodable} records are not journal entries"));
            }
            println!("ok");
            Ok(())
        }
        JournalCommand::Dump {
            dir,
            show_secrets,
            from,
            limit,
        } => {
            let (journal, _) = open_journal(&dir)?;
            let mut printed = 0;
            journal
                .replay_from(from.saturating_sub(1), |seq, payload| {
                    if printed >= limit {
                        return;
                    }
                    printed += 1;
                    match from_slice::<JournalEntry>(payload) {
                        Ok(entry) => println!(
                            "{seq}\t{}\t{}\t{}",
                            betbet_gateway::time::format(entry.at),
                            entry.command.kind(),
                            betbet_gateway::dump::describe(&entry.command, show_secrets)
                        ),
                        Err(error) => println!("{seq}\t<undecodable: {error}>"),
                    }
                })
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

fn admin(command: AdminCommand) -> Result<(), String> {
    match command {
        AdminCommand::Grant { username, data_dir } => {
            // Never create a data directory by mistake (a mistyped path would get a fresh,
            // empty journal and the grant would then find no user).
            if !data_dir.join("journal").is_dir() {
                return Err(format!(
                    "{} holds no journal: give the data directory of a server that has run (--data-dir)",
                    data_dir.display()
                ));
            }
            let mut config = CoreConfig::new(&data_dir);
            config.snapshot_every_commands = u64::MAX;
            let core = CoreRuntime::start(config)
                .map_err(|e| format!("{e} (is the server still running?)"))?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime starts");
            let result = rt.block_on(async {
                let core_client = Core::Local(core.handle());
                let user = match core_client
                    .query(betbet_protocol::query::Query::UserByLogin(
                        betbet_protocol::query::LoginQuery {
                            login: username.clone(),
                        },
                    ))
                    .await
                    .map_err(|e| e.message)?
                {
                    betbet_protocol::query::QueryReply::UserAuth(user) => user.user,
                    _ => return Err(format!("no user `{username}`")),
                };
                core_client
                    .execute(Command::SetUserRole(
                        betbet_protocol::command::SetUserRole {
                            actor: UserId::SYSTEM,
                            user,
                            role: betbet_protocol::command::Role::Admin,
                        },
                    ))
                    .await
                    .map_err(|e| e.message)?;
                println!("{username} is now an admin");
                Ok(())
            });
            core.shutdown();
            result
        }
    }
}

fn projection(command: ProjectionCommand) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime starts");
    match command {
        ProjectionCommand::Rebuild {
            data_dir,
            history,
            windows,
        } => {
            let (journal, _) = open_journal(&data_dir)?;
            let location =
                betbet_persistence::Location::new(history.database_url.as_deref(), &data_dir)
                    .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let store = betbet_persistence::Store::open(&location)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut bar = Progress::new();
                let rebuilt = betbet_persistence::follow::rebuild(
                    &store,
                    &journal,
                    &windows.limits(),
                    |done, total| bar.show(done, total),
                )
                .await
                .map_err(|e| e.to_string())?;
                bar.finish();
                let checkpoint = store.checkpoint().await.map_err(|e| e.to_string())?;
                store.close().await;
                if let Some(checkpoint) = checkpoint {
                    betbet_engine::runtime::write_history_floor(&data_dir, checkpoint.seq)
                        .map_err(|e| {
                            format!(
                                "cannot record the checkpoint in {}: {e}",
                                data_dir.display()
                            )
                        })?;
                }
                let seconds = rebuilt.elapsed.as_secs_f64().max(1e-9);
                println!(
                    "rebuilt {} from {}: {} records, {} events, {} rows in {:.1} s ({:.0} records/s, {:.0} events/s, {:.0} rows/s)",
                    location.describe(),
                    if rebuilt.base_seq == 0 {
                        "the journal's first record".to_owned()
                    } else {
                        format!(
                            "the snapshot at seq {} (the journal before it was pruned)",
                            rebuilt.base_seq
                        )
                    },
                    rebuilt.records,
                    rebuilt.events,
                    rebuilt.rows,
                    seconds,
                    rebuilt.records as f64 / seconds,
                    rebuilt.events as f64 / seconds,
                    rebuilt.rows as f64 / seconds,
                );
                Ok(())
            })
        }
        ProjectionCommand::Status { data_dir, history } => {
            let location =
                betbet_persistence::Location::new(history.database_url.as_deref(), &data_dir)
                    .map_err(|e| e.to_string())?;
            let head = betbet_journal::peek_last_seq(journal_dir(&data_dir))
                .map_err(|e| format!("{}: {e}", journal_dir(&data_dir).display()))?;
            rt.block_on(async {
                let store = betbet_persistence::Store::open(&location)
                    .await
                    .map_err(|e| e.to_string())?;
                let checkpoint = store.checkpoint().await.map_err(|e| e.to_string())?;
                store.close().await;
                println!("store {}", location.describe());
                match checkpoint {
                    Some(c) => {
                        println!(
                            "  checkpoint seq {} (record stamped {})",
                            c.seq,
                            betbet_gateway::time::format(betbet_protocol::types::Timestamp(
                                c.record_at.0
                            ))
                        );
                        if c.base_seq > 0 {
                            println!("  history starts at the snapshot at seq {}", c.base_seq);
                        }
                    }
                    None => println!("  checkpoint none (nothing applied yet)"),
                }
                let applied = checkpoint.map_or(0, |c| c.seq);
                println!("  journal last seq {head}");
                let lag_records = head.saturating_sub(applied);
                let lag_seconds = match checkpoint {
                    Some(c) if lag_records > 0 => {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_micros() as i64);
                        (now - c.record_at.0).max(0) as f64 / 1e6
                    }
                    _ => 0.0,
                };
                println!("  lag {lag_records} records, {lag_seconds:.1} s");
                Ok(())
            })
        }
    }
}

/// A progress line on standard error: records done of total, records/s and the time left.
/// On a terminal it redraws in place; otherwise it prints a line every few seconds.
struct Progress {
    started: std::time::Instant,
    shown: std::time::Instant,
    tty: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: std::time::Instant::now(),
            shown: std::time::Instant::now(),
            tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }

    fn show(&mut self, done: u64, total: u64) {
        let every = if self.tty { 200 } else { 5_000 };
        if self.shown.elapsed() < Duration::from_millis(every) && done < total {
            return;
        }
        self.shown = std::time::Instant::now();
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / elapsed;
        let eta = if rate > 0.0 {
            total.saturating_sub(done) as f64 / rate
        } else {
            0.0
        };
        let percent = if total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / total as f64
        };
        let line = format!(
            "{done}/{total} records ({percent:.1} %)  {rate:.0} records/s  ETA {}m{:02}s",
            (eta as u64) / 60,
            (eta as u64) % 60
        );
        if self.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

/// Raises the soft open-files limit to the hard limit: every WebSocket is a descriptor, and
/// the usual soft limit of 1 024 would cap a gateway far below the connections it can serve.
#[allow(unsafe_code)]
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we own and pass by valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open-files limit");
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        let soft = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the rlimit we pass by valid pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), soft, "cannot raise the open-files limit");
            return;
        }
    }
    tracing::debug!(open_files = limit.rlim_cur, "open-files limit");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BETBET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, never into a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    // A panic is one log line, inside the span it happened in (a request's carries its id);
    // with RUST_BACKTRACE set the line includes the backtrace.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let backtrace = std::backtrace::Backtrace::capture();
        match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => {
                tracing::error!(%location, %backtrace, "panic: {message}");
            }
            _ => tracing::error!(%location, "panic: {message}"),
        }
    }));
    raise_open_files_limit();
    let result = match cli.command {
        Top::Serve(args) => serve(args),
        Top::Core(args) => run_core(args),
        Top::Gateway(args) => run_gateway(args),
        Top::Routes => {
            let mut table = String::new();
            for entry in betbet_gateway::api::route_table() {
                let line = serde_json::json!({
                    "method": entry.method.as_str(),
                    "path": entry.path,
                    "access": entry.access.as_str(),
                    "body": entry.body.as_str(),
                });
                table.push_str(&format!("{line}\n"));
            }
            // A closed pipe (`| head`) is the reader's choice, not an error.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), table.as_bytes());
            Ok(())
        }
        Top::Journal { command } => journal(command),
        Top::Admin { command } => admin(command),
        Top::Projection { command } => projection(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("betbet: {message}");
            ExitCode::FAILURE
        }
    }
}
