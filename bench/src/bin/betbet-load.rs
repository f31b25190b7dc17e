//! `betbet-load`: loads a running `betbet serve` end to end and reports latency, throughput,
//! errors, disconnects and the server's memory.
//!
//! ```text
//! betbet-load ws --url http://127.0.0.1:8080 --connections 1000 --rate 20000 \
//!     --subscribers 0 --warmup 5s --duration 30s
//! ```
//!
//! The server must accept sandbox deposits (`--sandbox-payments`) and allow the load's
//! request rates (`--rate-limits default=1000000/60,auth=1000000/60,wallet=1000000/60,
//! trading=1000000/1`). Each transport is a subcommand sharing [`CommonArgs`]; see
//! `bench/src/load/mod.rs` for how to add one.

#[path = "../load/mod.rs"]
mod load;

use clap::{Args, Parser, Subcommand};
use load::fixture::{Fixture, FixtureOptions};
use load::report::{Host, RunShape, Stats};
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
    /// Trader users the connections are spread over (default: min(200, connections)).
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

    fn users(&self) -> usize {
        self.users.unwrap_or(self.connections.min(200)).max(1)
    }

    fn fixture(&self) -> Result<Fixture, String> {
        Fixture::prepare(&FixtureOptions {
            base: self.url.clone(),
            users: self.users(),
            deposit: self.deposit.clone(),
            seed_quantity: self.seed_quantity,
            threads: self.setup_threads,
        })
    }

    fn shape(&self, transport: &'static str) -> RunShape {
        RunShape {
            transport,
            connections: self.connections,
            users: self.users(),
            rate: self.rate,
            subscribers: self.subscribers,
            warmup: self.warmup,
            duration: self.duration,
        }
    }
}

fn run_ws(args: WsArgs) -> Result<(), String> {
    let common = &args.common;
    common.check()?;
    let fixture = Arc::new(common.fixture()?);
    let server_pid = common
        .server_pid
        .or_else(|| load::host::find_process("betbet"));
    let options = load::ws::WsOptions {
        base: common.url.replacen("http://", "ws://", 1),
        connections: common.connections,
        rate: common.rate,
        subscribers: common.subscribers,
        warmup: common.warmup,
        duration: common.duration,
        drain: common.drain,
        max_resting: common.max_resting.max(1),
        cancel_percent: common.cancel_percent,
        marketable_percent: common.marketable_percent,
        trader_market_data: args.trader_market_data,
        connect_concurrency: common.connect_concurrency,
    };
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
        let load = load::ws::run(fixture, options, Arc::clone(&stats), |from, until| {
            let _ = window_tx.send((from, until));
        });
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
        load::report::final_report(&stats, &host, &common.shape("ws"), outcome.unanswered)
    );
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("betbet-load: {message}");
            ExitCode::FAILURE
        }
    }
}
