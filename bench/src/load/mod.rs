//! The end-to-end load generator behind `betbet-load`: what every transport shares.
//!
//! A run has three parts. [`fixture`] prepares the server over REST (users with money, a
//! market, resting liquidity). A transport module drives the load: trading
//! clients on an open-loop schedule ([`Schedule`]) and market-data subscribers. [`report`]
//! collects what happened (latency from each request's *intended* send time, counters by
//! kind, disconnects) and prints a progress line every second and the final report, with
//! the server's memory and CPU read from `/proc` ([`host`]).
//!
//! Each transport is a module — [`ws`] (WebSocket) and [`quic`] (the market-maker feed) —
//! that connects its own clients and feeds the same [`report::Stats`]; the fixture,
//! schedule and report are shared. A new transport adds a module here and a subcommand in
//! `bench/src/bin/betbet-load.rs`.

pub mod chat;
pub mod colyseus;
pub mod fixture;
pub mod game;
pub mod host;
pub mod quic;
pub mod report;
pub mod ws;

use std::time::{Duration, Instant};

/// The shape of a load, the same for every transport.
#[derive(Debug, Clone)]
pub struct Shape {
    pub connections: usize,
    /// Requests per second over all trading connections.
    pub rate: f64,
    pub subscribers: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// How long traders wait for the last replies after the schedule ends.
    pub drain: Duration,
    /// Resting orders a connection keeps at most; beyond, it cancels.
    pub max_resting: usize,
    pub cancel_percent: u64,
    pub marketable_percent: u64,
    /// Connection attempts in flight at once (the server's listen backlog is finite).
    pub connect_concurrency: usize,
}

impl Shape {
    /// Called once every trader is connected: counts them, and fixes the schedule — it
    /// starts 200 ms from now, and the measurement window follows the warm-up. Returns the
    /// start and the window.
    pub fn begin(
        &self,
        stats: &report::Stats,
        connected_since: Instant,
        on_window: impl FnOnce(Instant, Instant),
    ) -> (Instant, (Instant, Instant)) {
        stats.traders_connected.store(
            self.connections as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        eprintln!(
            "{} trading connections ready in {:.1} s",
            self.connections,
            connected_since.elapsed().as_secs_f64()
        );
        let start = Instant::now() + Duration::from_millis(200);
        let window = (start + self.warmup, start + self.warmup + self.duration);
        stats.set_window(window.0, window.1);
        on_window(window.0, window.1);
        (start, window)
    }
}

/// What a transport's run leaves for the report.
pub struct Outcome {
    /// Requests still unanswered when the drain time ran out.
    pub unanswered: u64,
}

/// A fixed, open-loop send schedule for one client: request `k` is due at
/// `start + phase + k × interval`, whether or not earlier requests were answered, so a
/// slow server shows up as latency instead of as a lower offered rate.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub phase: Duration,
    pub interval: Duration,
}

impl Schedule {
    /// Client `index` of `clients` sharing `rate` requests per second in total; clients are
    /// spread evenly over one interval so the total rate is smooth.
    pub fn new(start: Instant, rate: f64, clients: usize, index: usize) -> Schedule {
        assert!(rate > 0.0 && clients > 0 && index < clients);
        let interval = Duration::from_secs_f64(clients as f64 / rate);
        let phase = interval.mul_f64(index as f64 / clients as f64);
        Schedule {
            start,
            phase,
            interval,
        }
    }

    /// When request `k` is due.
    pub fn due(&self, k: u64) -> Instant {
        let offset = self.interval.as_nanos() * u128::from(k);
        self.start + self.phase + Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX))
    }
}

/// Parses `500ms`, `30s`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 30s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1_000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("`{text}`: the unit is ms, s or m")),
    };
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Now, in microseconds since the epoch: the clock trades are timed by (and the echo
/// server stamps them with).
pub use betbet_bench::now_micros;

/// A small xorshift generator: the order mix needs speed and spread, not quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Spread small seeds (client indexes) over the state space; never zero.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, expected) in [
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("7", Duration::from_secs(7)),
            ("1.5s", Duration::from_millis(1_500)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for bad in ["", "x", "5h", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn schedule_spreads_clients_over_one_interval() {
        let start = Instant::now();
        // 4 clients at 400/s: each sends every 10 ms, offset by 2.5 ms from the previous.
        let schedules: Vec<_> = (0..4).map(|i| Schedule::new(start, 400.0, 4, i)).collect();
        assert_eq!(schedules[0].interval, Duration::from_millis(10));
        assert_eq!(schedules[1].due(0) - start, Duration::from_micros(2_500));
        assert_eq!(schedules[3].due(2) - start, Duration::from_micros(27_500));
    }
}
