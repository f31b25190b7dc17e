//! `betbet-load`: loads a running `betbet serve` end to end and reports latency, throughput,
//! errors, disconnects and the server's memory.
//!
//! ```text
//! betbet-load ws --url http://127.0.0.1:8080 --connections 1000 --rate 20000 \
//!     --subscribers 0 --warmup 5s --duration 30s
//! betbet-ws-echo --addr 127.0.0.1:18081 &   # the ceiling: same stack, no core
//! betbet-load ws --echo --url http://127.0.0.1:18081 --connections 1000 --rate 20000
//! betbet-load quic --url http://127.0.0.1:8080 --quic-addr 127.0.0.1:9443 \
//!     --cert DATA_DIR/tls/feed-cert.der --connections 32 --rate 50000 --subscribers 1
//! ```
//!
//! The server must accept sandbox deposits (`--sandbox-payments`) and allow the load's
//! request rates (`--rate-limits default=1000000/60,auth=1000000/60,wallet=1000000/60,
//! trading=1000000/1`; for QUIC also `--feed-rate`, per API key). Each transport is a
//! subcommand sharing [`CommonArgs`]; see `bench/src/load/mod.rs` for how to add one.

#[path = "../load/mod.rs"]
mod load;

use clap::{Args, Parser, Subcommand};
use load::fixture::{Fixture, FixtureOptions};
use load::report::{Host, RunShape, Stats};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "betbet-load",
    about = "End-to-end load generator for a running `betbet serve`"
)]
struct Cli {
    #[command(subcommand)]
    transport: Transport,
}

#[derive(Subcommand)]
enum Transport {
    /// Trading clients and market-data subscribers over WebSocket (/ws/markets/{id}).
    Ws(WsArgs),
    /// Trading clients and market-data subscribers on the market-maker feed (QUIC).
    Quic(QuicArgs),
    /// Pairs of players in Connect Four rooms moving on a schedule (/ws/game/{id}, or a
    /// Colyseus room with --peer colyseus): move -> opponent's update latency.
    Game(GameArgs),
    /// Members of community chat rooms sending on a schedule (/ws/chat/{community_id}):
    /// send -> delivery latency on every member's socket, and deliveries per second.
    Chat(ChatArgs),
    /// Writes a data directory whose journal holds the engine benchmark's seeded workload
    /// (setup, then --commands orders and cancels), the input of the history store's
    /// rebuild benchmark (`betbet projection rebuild --data-dir DIR`).
    Journal {
        /// The data directory to create (its `journal/` must not exist yet).
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        commands: usize,
        #[arg(long, default_value_t = 0xBE7_BE7)]
        seed: u64,
    },
}

/// Settings every transport shares: the target, the shape of the load, the fixture.
#[derive(Args, Clone)]
struct CommonArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Measured time, after the warm-up (e.g. 30s, 2m).
    #[arg(long, value_parser = load::parse_duration, default_value = "30s")]
    duration: Duration,
    /// Load before the measurement starts; not counted.
    #[arg(long, value_parser = load::parse_duration, default_value = "5s")]
    warmup: Duration,
    /// Trading connections.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Requests (orders and cancels) per second over all trading connections.
    #[arg(long, default_value_t = 1_000.0)]
    rate: f64,
    /// Market-data subscriber connections (read only, no token).
    #[arg(long, default_value_t = 0)]
    subscribers: usize,
    /// Trader users the connections are spread over (default: ws min(200, connections),
    /// quic one per connection).
    #[arg(long)]
    users: Option<usize>,
    /// The server's pid, for its RSS and CPU (default: the newest process named `betbet`).
    #[arg(long)]
    server_pid: Option<u32>,
    /// USD deposited per user through the sandbox provider.
    #[arg(long, default_value = "1000000")]
    deposit: String,
    /// Shares resting at each level 0.40–0.49 of both outcomes before the run (0: none).
    #[arg(long, default_value_t = 100)]
    seed_quantity: u64,
    /// Threads registering users (each registration and login is an argon2 hash).
    #[arg(long, default_value_t = 4)]
    setup_threads: usize,
    /// Resting orders a connection keeps at most before it cancels.
    #[arg(long, default_value_t = 16)]
    max_resting: usize,
    /// Share of requests that cancel one of the connection's resting orders, in percent.
    #[arg(long, default_value_t = 25)]
    cancel_percent: u64,
    /// Share of requests that are marketable (IOC at 0.60), in percent.
    #[arg(long, default_value_t = 10)]
    marketable_percent: u64,
    /// How long to wait for the last replies after the schedule ends.
    #[arg(long, value_parser = load::parse_duration, default_value = "5s")]
    drain: Duration,
    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Generator worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct WsArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Keep the trading connections subscribed to the market's book feed (by default they
    /// unsubscribe and get only their own replies, order updates and fills).
    #[arg(long)]
    trader_market_data: bool,
    /// Drive `betbet-ws-echo` (the ceiling) instead of `betbet serve`: no REST setup, the
    /// connections go to `/ws/markets/mkt_1` with the same schedule and mix, and its
    /// `order_ack` / `cancel_ack` replies count as acknowledgements. The server's CPU and
    /// RSS are then those of the newest process named `betbet-ws-echo`.
    #[arg(long)]
    echo: bool,
}

#[derive(Args)]
struct GameArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// `betbet` (`betbet serve`) or `colyseus` (`node bench/colyseus/server.js`).
    #[arg(long, default_value = "betbet")]
    peer: String,
    /// Sessions, two players each.
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// Moves per second over all sessions.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    #[arg(long, value_parser = load::parse_duration, default_value = "5s")]
    warmup: Duration,
    #[arg(long, value_parser = load::parse_duration, default_value = "30s")]
    duration: Duration,
    /// betbet: an admin's username, to create the game.
    #[arg(long, default_value = "admin")]
    admin: String,
    /// betbet: the admin's password (default: read from --credentials).
    #[arg(long)]
    admin_password: Option<String>,
    /// betbet: `serve --demo`'s credentials file, for the admin's password.
    #[arg(long, default_value = "data/demo-credentials.txt")]
    credentials: PathBuf,
    /// betbet: player users the seats are spread over (default: sessions / 5, at least 2).
    #[arg(long)]
    users: Option<usize>,
    /// betbet: USD deposited per user.
    #[arg(long, default_value = "1000")]
    deposit: String,
    /// betbet: each session's stake.
    #[arg(long, default_value = "1")]
    stake: String,
    #[arg(long, default_value_t = 4)]
    setup_threads: usize,
    /// The server's pid (default: the newest process named `betbet`, or `node`).
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Generator worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct ChatArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Connected members, over all rooms.
    #[arg(long, default_value_t = 1_000)]
    members: usize,
    /// Community rooms (member `i` is in room `i % rooms`).
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    /// Messages per second sent over all members.
    #[arg(long, default_value_t = 2_000.0)]
    rate: f64,
    /// Bytes of text in each message.
    #[arg(long, default_value_t = 64)]
    message_bytes: usize,
    #[arg(long, value_parser = load::parse_duration, default_value = "5s")]
    warmup: Duration,
    #[arg(long, value_parser = load::parse_duration, default_value = "30s")]
    duration: Duration,
    #[arg(long, default_value_t = 4)]
    setup_threads: usize,
    /// The server's pid (default: the newest process named `betbet`).
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Generator worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Args)]
struct QuicArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The feed's UDP address (`betbet serve --quic-addr`).
    #[arg(long, default_value = "127.0.0.1:9443")]
    quic_addr: SocketAddr,
    /// The feed's certificate (DER): the server's DATA_DIR/tls/feed-cert.der when it made
    /// its own.
    #[arg(long, required_unless_present = "fingerprint")]
    cert: Option<PathBuf>,
    /// Or the SHA-256 fingerprint of the certificate, in hex, as `betbet serve` prints it.
    #[arg(long, conflicts_with = "cert")]
    fingerprint: Option<String>,
    /// The name the certificate is checked against.
    #[arg(long, default_value = "localhost")]
    server_name: String,
}

impl CommonArgs {
    fn check(&self) -> Result<(), String> {
        if self.connections == 0 || self.rate <= 0.0 {
            return Err("--connections and --rate must be positive".to_owned());
        }
        if self.cancel_percent + self.marketable_percent > 100 {
            return Err("--cancel-percent + --marketable-percent is at most 100".to_owned());
        }
        if !self.url.starts_with("http://") {
            return Err("--url is http://host:port".to_owned());
        }
        Ok(())
    }

    /// Trader users, `default` unless `--users` says.
    fn users(&self, default: usize) -> usize {
        self.users.unwrap_or(default).max(1)
    }

    /// Registers `users` users and creates the market.
    fn fixture(&self, users: usize, tick_size: &'static str) -> Result<Fixture, String> {
        Fixture::prepare(&FixtureOptions {
            base: self.url.clone(),
            users,
            deposit: self.deposit.clone(),
            seed_quantity: self.seed_quantity,
            threads: self.setup_threads,
            tick_size,
        })
    }

    /// Connections, rate, mix and timing as every transport takes them.
    fn load_shape(&self) -> load::Shape {
        load::Shape {
            connections: self.connections,
            rate: self.rate,
            subscribers: self.subscribers,
            warmup: self.warmup,
            duration: self.duration,
            drain: self.drain,
            max_resting: self.max_resting.max(1),
            cancel_percent: self.cancel_percent,
            marketable_percent: self.marketable_percent,
            connect_concurrency: self.connect_concurrency,
        }
    }

    fn shape(&self, transport: &'static str, users: usize) -> RunShape {
        RunShape {
            transport,
            connections: self.connections,
            users,
            rate: self.rate,
            subscribers: self.subscribers,
            warmup: self.warmup,
            duration: self.duration,
        }
    }
}

/// Called by a transport with its measurement window once it is known.
type OnWindow = Box<dyn FnOnce(Instant, Instant) + Send>;

/// Runs a transport's load on a fresh runtime with the progress lines and the CPU marks,
/// then prints the final report. `load` makes the transport's future from the shared
/// statistics and the window callback.
fn drive<F, Fut>(common: &CommonArgs, shape: RunShape, load: F) -> Result<(), String>
where
    F: FnOnce(Arc<Stats>, OnWindow) -> Fut,
    Fut: std::future::Future<Output = Result<load::Outcome, String>>,
{
    let server_pid = common
        .server_pid
        .or_else(|| load::host::find_process("betbet"));
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("betbet-load");
    if let Some(threads) = common.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.build().map_err(|e| format!("tokio runtime: {e}"))?;
    let stats = Arc::new(Stats::default());
    let host = Arc::new(Mutex::new(Host::new(server_pid)));
    let outcome = runtime.block_on(async {
        let (window_tx, window_rx) = tokio::sync::oneshot::channel();
        let load = load(
            Arc::clone(&stats),
            Box::new(move |from, until| {
                let _ = window_tx.send((from, until));
            }),
        );
        let started = Instant::now();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let progress = {
            let (stats, host) = (Arc::clone(&stats), Arc::clone(&host));
            tokio::spawn(async move {
                load::report::progress(&stats, &host, started, async {
                    let _ = done_rx.await;
                })
                .await;
            })
        };
        // CPU over exactly the measurement window.
        let marks = {
            let host = Arc::clone(&host);
            tokio::spawn(async move {
                if let Ok((from, until)) = window_rx.await {
                    tokio::time::sleep_until(from.into()).await;
                    host.lock().expect("host lock").mark_measure_start();
                    tokio::time::sleep_until(until.into()).await;
                    host.lock().expect("host lock").mark_measure_end();
                }
            })
        };
        let outcome = load.await;
        let _ = done_tx.send(());
        let _ = progress.await;
        let _ = marks.await;
        outcome
    })?;
    let host = host.lock().expect("host lock");
    println!(
        "{}",
        load::report::final_report(&stats, &host, &shape, outcome.unanswered)
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn run_ws(args: WsArgs) -> Result<(), String> {
    if args.echo {
        return run_ws_echo(args);
    }
    let common = &args.common;
    common.check()?;
    let users = common.users(common.connections.min(200));
    let fixture = Arc::new(common.fixture(users, "0.01")?);
    let options = load::ws::WsOptions {
        base: common.url.replacen("http://", "ws://", 1),
        trader_market_data: args.trader_market_data,
        shape: common.load_shape(),
    };
    drive(common, common.shape("ws", users), |stats, on_window| {
        load::ws::run(fixture, options, stats, on_window)
    })
}

/// `ws --echo`: the same connections, schedule and mix against `betbet-ws-echo`, with a
/// fixture that names its market instead of creating one.
fn run_ws_echo(args: WsArgs) -> Result<(), String> {
    let mut common = args.common.clone();
    common.check()?;
    if common.server_pid.is_none() {
        common.server_pid = load::host::find_process("betbet-ws-echo");
    }
    let fixture = Arc::new(Fixture {
        users: vec![load::fixture::User {
            token: "echo".to_owned(),
        }],
        market_id: "mkt_1".to_owned(),
        yes: "out_1".to_owned(),
        no: "out_2".to_owned(),
    });
    let options = load::ws::WsOptions {
        base: common.url.replacen("http://", "ws://", 1),
        trader_market_data: args.trader_market_data,
        shape: common.load_shape(),
    };
    drive(&common, common.shape("ws-echo", 0), |stats, on_window| {
        load::ws::run(fixture, options, stats, on_window)
    })
}

fn run_quic(args: QuicArgs) -> Result<(), String> {
    use load::quic;
    let common = &args.common;
    common.check()?;
    let users = common.users(common.connections);
    if common.connections > users * quic::KEYS_PER_USER_MAX {
        return Err(format!(
            "each connection has its own API key and a user may hold {}: use at least {} --users",
            quic::KEYS_PER_USER_MAX,
            common.connections.div_ceil(quic::KEYS_PER_USER_MAX)
        ));
    }
    if common.connections + common.subscribers > quic::FEED_CONNECTIONS_MAX {
        return Err(format!(
            "the server takes at most {} feed connections (traders + subscribers)",
            quic::FEED_CONNECTIONS_MAX
        ));
    }
    let max_resting = common.max_resting.max(1);
    if quic::slots_per_connection(common.connections) < max_resting + 2 {
        return Err(format!(
            "{} connections leave {} passive prices each, too few for --max-resting {max_resting}",
            common.connections,
            quic::slots_per_connection(common.connections)
        ));
    }
    let trust = match (&args.cert, &args.fingerprint) {
        (Some(path), _) => betbet_feed_client::Trust::Certificate(
            std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        (None, Some(text)) => betbet_feed_client::Trust::Fingerprint(
            betbet_feed_client::parse_fingerprint(text)
                .ok_or("--fingerprint is 64 hex digits (colons allowed)")?,
        ),
        (None, None) => return Err("give --cert or --fingerprint".to_owned()),
    };
    let fixture = common.fixture(users + quic::watcher_users(common.subscribers), "0.0001")?;
    let keys = quic::create_keys(
        &common.url,
        &fixture,
        users,
        common.connections,
        common.subscribers,
    )?;
    let fixture = Arc::new(fixture);
    let options = quic::QuicOptions {
        server: args.quic_addr,
        server_name: args.server_name.clone(),
        trust,
        shape: common.load_shape(),
    };
    drive(common, common.shape("quic", users), |stats, on_window| {
        quic::run(fixture, keys, options, stats, on_window)
    })
}

/// The password of `user` in `serve --demo`'s credentials file (`name password (id)`).
fn demo_password(path: &std::path::Path, user: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (or give --admin-password)", path.display()))?;
    text.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(user)).then(|| words.next().map(str::to_owned))?
        })
        .ok_or_else(|| format!("no `{user}` in {}", path.display()))
}

fn run_game(args: GameArgs) -> Result<(), String> {
    use load::game::{self, Peer};
    let peer = match args.peer.as_str() {
        "betbet" => Peer::Betbet,
        "colyseus" => Peer::Colyseus,
        other => return Err(format!("--peer is betbet or colyseus, not `{other}`")),
    };
    let options = game::GameOptions {
        peer,
        rate: args.rate,
        warmup: args.warmup,
        duration: args.duration,
        connect_concurrency: args.connect_concurrency,
    };
    options.check(args.sessions)?;
    if !args.url.starts_with("http://") {
        return Err("--url is http://host:port".to_owned());
    }
    let tables = match peer {
        Peer::Betbet => {
            let admin_password = match &args.admin_password {
                Some(password) => password.clone(),
                None => demo_password(&args.credentials, &args.admin)?,
            };
            game::betbet_tables(
                &game::BetbetSetup {
                    base: args.url.clone(),
                    admin: args.admin.clone(),
                    admin_password,
                    users: args.users.unwrap_or(args.sessions / 5).max(2),
                    deposit: args.deposit.clone(),
                    stake: args.stake.clone(),
                    threads: args.setup_threads,
                },
                args.sessions,
            )?
        }
        Peer::Colyseus => load::colyseus::tables(&args.url, args.sessions)?,
    };
    let server_pid = args.server_pid.or_else(|| {
        load::host::find_process(match peer {
            Peer::Betbet => "betbet",
            Peer::Colyseus => "node",
        })
    });
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("betbet-load");
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.build().map_err(|e| format!("tokio runtime: {e}"))?;
    let host = Arc::new(Mutex::new(Host::new(server_pid)));
    let report = runtime.block_on(game::run(tables, options, host))?;
    println!("{report}");
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn run_chat(args: ChatArgs) -> Result<(), String> {
    use load::chat;
    if !args.url.starts_with("http://") {
        return Err("--url is http://host:port".to_owned());
    }
    if args.rate <= 0.0 || args.members == 0 {
        return Err("--rate and --members must be positive".to_owned());
    }
    let seats = chat::betbet_seats(&chat::ChatSetup {
        base: args.url.clone(),
        members: args.members,
        rooms: args.rooms,
        threads: args.setup_threads,
    })?;
    let options = chat::ChatOptions {
        rate: args.rate,
        warmup: args.warmup,
        duration: args.duration,
        connect_concurrency: args.connect_concurrency,
        message_bytes: args.message_bytes,
    };
    let server_pid = args
        .server_pid
        .or_else(|| load::host::find_process("betbet"));
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("betbet-load");
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime.build().map_err(|e| format!("tokio runtime: {e}"))?;
    let host = Arc::new(Mutex::new(Host::new(server_pid)));
    let report = runtime.block_on(chat::run(seats, options, host))?;
    println!("{report}");
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match load::host::raise_open_files_limit() {
        Ok(limit) => eprintln!("open-files limit {limit}"),
        Err(e) => eprintln!("could not raise the open-files limit: {e}"),
    }
    let result = match cli.transport {
        Transport::Ws(args) => run_ws(args),
        Transport::Quic(args) => run_quic(args),
        Transport::Game(args) => run_game(args),
        Transport::Chat(args) => run_chat(args),
        Transport::Journal {
            dir,
            commands,
            seed,
        } => {
            if dir.join("journal").exists() {
                Err(format!("{} already holds a journal", dir.display()))
            } else {
                let started = Instant::now();
                betbet_bench::mix::write_journal(&dir, seed, commands)
                    .map(|records| {
                        println!(
                            "wrote {records} journal records to {} in {:.1} s",
                            dir.display(),
                            started.elapsed().as_secs_f64()
                        )
                    })
                    .map_err(|e| e.to_string())
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("betbet-load: {message}");
            ExitCode::FAILURE
        }
    }
}
