//! What a run measured, and how it is shown: a line a second while it runs, and a report at
//! the end.
//!
//! Latency is taken from a request's *intended* send time (its slot in the open-loop
//! [`Schedule`](super::Schedule)) to its reply, so time spent queued anywhere — in the
//! generator when it falls behind, in socket buffers, in the server — counts (the
//! coordinated-omission correction). Counters exist twice: `live` counts everything for the
//! progress line; `measured` counts only requests due inside the measurement window (after
//! the warm-up), which is what the final report is about.

use super::host;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Longest latency the histograms hold (longer ones are clamped to it).
pub const LATENCY_US_MAX: u64 = 120_000_000;

#[derive(Default)]
pub struct Counters {
    /// Requests sent: orders placed (passive and marketable) and cancels.
    pub sent_place: AtomicU64,
    pub sent_marketable: AtomicU64,
    pub sent_cancel: AtomicU64,
    /// Successful replies: `order_ack` and `cancel_ack`.
    pub order_acks: AtomicU64,
    pub cancel_acks: AtomicU64,
    /// `error` replies to requests.
    pub errors: AtomicU64,
    /// Successful replies that *arrived* inside the window, whenever their requests were
    /// due: the server's real throughput when it is behind (only in `measured`).
    pub acks_arrived: AtomicU64,
    /// Market-data messages read by subscribers, and sequence gaps among them.
    pub sub_messages: AtomicU64,
    pub sub_gaps: AtomicU64,
}

impl Counters {
    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn sent(&self) -> u64 {
        Self::get(&self.sent_place) + Self::get(&self.sent_cancel)
    }

    pub fn answered(&self) -> u64 {
        Self::get(&self.order_acks) + Self::get(&self.cancel_acks) + Self::get(&self.errors)
    }
}

struct Latency {
    /// Everything due inside the measurement window.
    measured: Histogram<u64>,
    /// Since the last progress line.
    window: Histogram<u64>,
    /// Orders only (passive and marketable, not cancels), due inside the window.
    orders_measured: Histogram<u64>,
    /// The same orders from the moment they were actually written (transports that keep it:
    /// QUIC), which leaves out the generator's own lateness (its timer has 1 ms ticks).
    orders_sent_measured: Histogram<u64>,
    /// An order's intended send time to the market data showing it, due in the window
    /// (transports that can attribute market data to orders: QUIC).
    order_data_measured: Histogram<u64>,
    order_data_window: Histogram<u64>,
    /// A trade's time (the core's stamp) to a subscriber reading it, in the window.
    delivery_measured: Histogram<u64>,
    delivery_window: Histogram<u64>,
}

/// Shared by every client task of a run.
pub struct Stats {
    pub live: Counters,
    pub measured: Counters,
    latency: Mutex<Latency>,
    errors_by_code: Mutex<BTreeMap<String, u64>>,
    closes: Mutex<BTreeMap<String, u64>>,
    /// Clients that lost their connection (or were closed by the server) during the run.
    pub trader_disconnects: AtomicU64,
    pub subscriber_disconnects: AtomicU64,
    pub traders_connected: AtomicU64,
    pub subscribers_connected: AtomicU64,
    /// The measurement window; set once, before the first request is due.
    window: OnceLock<(Instant, Instant)>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            live: Counters::default(),
            measured: Counters::default(),
            latency: Mutex::new(Latency {
                measured: histogram(),
                window: histogram(),
                orders_measured: histogram(),
                orders_sent_measured: histogram(),
                order_data_measured: histogram(),
                order_data_window: histogram(),
                delivery_measured: histogram(),
                delivery_window: histogram(),
            }),
            errors_by_code: Mutex::new(BTreeMap::new()),
            closes: Mutex::new(BTreeMap::new()),
            trader_disconnects: AtomicU64::new(0),
            subscriber_disconnects: AtomicU64::new(0),
            traders_connected: AtomicU64::new(0),
            subscribers_connected: AtomicU64::new(0),
            window: OnceLock::new(),
        }
    }
}

/// What a request was, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Place,
    Marketable,
    Cancel,
}

impl Stats {
    pub fn set_window(&self, from: Instant, until: Instant) {
        assert!(
            self.window.set((from, until)).is_ok(),
            "the measurement window is set once"
        );
    }

    fn in_window(&self, at: Instant) -> bool {
        self.window
            .get()
            .is_some_and(|&(from, until)| at >= from && at < until)
    }

    fn both(&self, intended: Instant, f: impl Fn(&Counters)) {
        f(&self.live);
        if self.in_window(intended) {
            f(&self.measured);
        }
    }

    pub fn sent(&self, intended: Instant, kind: RequestKind) {
        self.both(intended, |c| {
            match kind {
                RequestKind::Place => &c.sent_place,
                RequestKind::Marketable => {
                    c.sent_marketable.fetch_add(1, Ordering::Relaxed);
                    &c.sent_place
                }
                RequestKind::Cancel => &c.sent_cancel,
            }
            .fetch_add(1, Ordering::Relaxed);
        });
    }

    /// A reply to a request due at `intended`, arriving at `now`; `error` is its code.
    pub fn replied(&self, intended: Instant, now: Instant, kind: RequestKind, error: Option<&str>) {
        let micros = now.saturating_duration_since(intended).as_micros();
        let micros = u64::try_from(micros)
            .unwrap_or(u64::MAX)
            .clamp(1, LATENCY_US_MAX);
        let measured = self.in_window(intended);
        for counters in [Some(&self.live), measured.then_some(&self.measured)]
            .into_iter()
            .flatten()
        {
            match (error, kind) {
                (Some(_), _) => &counters.errors,
                (None, RequestKind::Cancel) => &counters.cancel_acks,
                (None, _) => &counters.order_acks,
            }
            .fetch_add(1, Ordering::Relaxed);
        }
        if error.is_none() && self.in_window(now) {
            self.measured.acks_arrived.fetch_add(1, Ordering::Relaxed);
        }
        {
            let mut latency = self.latency.lock().expect("latency lock");
            latency.window.saturating_record(micros);
            if measured {
                latency.measured.saturating_record(micros);
                if kind != RequestKind::Cancel {
                    latency.orders_measured.saturating_record(micros);
                }
            }
        }
        if let (Some(code), true) = (error, measured) {
            *self
                .errors_by_code
                .lock()
                .expect("errors lock")
                .entry(code.to_owned())
                .or_default() += 1;
        }
    }

    /// Market-data messages a subscriber read at `now`, and the sequence gaps among them.
    pub fn market_data(&self, now: Instant, messages: u64, gaps: u64) {
        self.both(now, |c| {
            c.sub_messages.fetch_add(messages, Ordering::Relaxed);
            c.sub_gaps.fetch_add(gaps, Ordering::Relaxed);
        });
    }

    /// A subscriber read, at `now`, a trade the core stamped `micros` µs before.
    pub fn delivered(&self, now: Instant, micros: i64) {
        let micros = u64::try_from(micros).unwrap_or(0).clamp(1, LATENCY_US_MAX);
        let measured = self.in_window(now);
        let mut latency = self.latency.lock().expect("latency lock");
        latency.delivery_window.saturating_record(micros);
        if measured {
            latency.delivery_measured.saturating_record(micros);
        }
    }

    /// An order due at `intended` and written at `sent` was answered at `now`; call it
    /// next to [`Stats::replied`], which counts the reply.
    pub fn order_answered_since_sent(&self, intended: Instant, sent: Instant, now: Instant) {
        if self.in_window(intended) {
            let micros = now.saturating_duration_since(sent).as_micros();
            let micros = u64::try_from(micros)
                .unwrap_or(u64::MAX)
                .clamp(1, LATENCY_US_MAX);
            let mut latency = self.latency.lock().expect("latency lock");
            latency.orders_sent_measured.saturating_record(micros);
        }
    }

    /// Market data showing an order due at `intended` was read at `now`.
    pub fn order_data(&self, intended: Instant, now: Instant) {
        let micros = now.saturating_duration_since(intended).as_micros();
        let micros = u64::try_from(micros)
            .unwrap_or(u64::MAX)
            .clamp(1, LATENCY_US_MAX);
        let mut latency = self.latency.lock().expect("latency lock");
        latency.order_data_window.saturating_record(micros);
        if self.in_window(intended) {
            latency.order_data_measured.saturating_record(micros);
        }
    }

    /// A client lost its connection; `close` is the server's close frame, if one came.
    pub fn disconnected(&self, subscriber: bool, close: Option<String>) {
        if subscriber {
            &self.subscriber_disconnects
        } else {
            &self.trader_disconnects
        }
        .fetch_add(1, Ordering::Relaxed);
        let reason = close.unwrap_or_else(|| "no close frame".to_owned());
        *self
            .closes
            .lock()
            .expect("closes lock")
            .entry(reason)
            .or_default() += 1;
    }

    /// Request latency, trade delivery delay and order → market data latency of the last
    /// progress interval, each as (samples, p50, p99, max in µs), and resets them.
    fn take_window(&self) -> [(u64, u64, u64, u64); 3] {
        let mut latency = self.latency.lock().expect("latency lock");
        let figures = |h: &Histogram<u64>| {
            (
                h.len(),
                h.value_at_quantile(0.50),
                h.value_at_quantile(0.99),
                h.max(),
            )
        };
        let all = [
            figures(&latency.window),
            figures(&latency.delivery_window),
            figures(&latency.order_data_window),
        ];
        latency.window.reset();
        latency.delivery_window.reset();
        latency.order_data_window.reset();
        all
    }
}

/// Samples the server's and the generator's CPU and memory between progress lines.
pub struct Host {
    pub server_pid: Option<u32>,
    ticks_per_second: f64,
    last: Instant,
    server_ticks: Option<u64>,
    own_ticks: Option<u64>,
    started_ticks: (Option<u64>, Option<u64>, Instant),
    pub rss_kib_max: u64,
    /// CPU use over the measurement window, in percent of one core.
    pub measured_cpu: Option<(f64, f64)>,
    measure_start: Option<(Option<u64>, Option<u64>, Instant)>,
}

impl Host {
    pub fn new(server_pid: Option<u32>) -> Host {
        let now = Instant::now();
        let server_ticks = server_pid.and_then(|p| host::cpu_ticks(Some(p)));
        let own_ticks = host::cpu_ticks(None);
        Host {
            server_pid,
            ticks_per_second: host::ticks_per_second() as f64,
            last: now,
            server_ticks,
            own_ticks,
            started_ticks: (server_ticks, own_ticks, now),
            rss_kib_max: 0,
            measured_cpu: None,
            measure_start: None,
        }
    }

    fn percent(&self, before: Option<u64>, after: Option<u64>, elapsed: Duration) -> f64 {
        match (before, after) {
            (Some(b), Some(a)) if elapsed > Duration::ZERO => {
                a.saturating_sub(b) as f64 / self.ticks_per_second / elapsed.as_secs_f64() * 100.0
            }
            _ => f64::NAN,
        }
    }

    /// (server CPU %, generator CPU %, server RSS KiB) since the last call.
    pub fn sample(&mut self) -> (f64, f64, Option<u64>) {
        let now = Instant::now();
        let server = self.server_pid.and_then(|p| host::cpu_ticks(Some(p)));
        let own = host::cpu_ticks(None);
        let elapsed = now - self.last;
        let figures = (
            self.percent(self.server_ticks, server, elapsed),
            self.percent(self.own_ticks, own, elapsed),
            self.server_pid.and_then(host::rss_kib),
        );
        if let Some(rss) = figures.2 {
            self.rss_kib_max = self.rss_kib_max.max(rss);
        }
        (self.server_ticks, self.own_ticks, self.last) = (server, own, now);
        figures
    }

    pub fn mark_measure_start(&mut self) {
        self.measure_start = Some((
            self.server_pid.and_then(|p| host::cpu_ticks(Some(p))),
            host::cpu_ticks(None),
            Instant::now(),
        ));
    }

    pub fn mark_measure_end(&mut self) {
        let start = self.measure_start.unwrap_or(self.started_ticks);
        let server = self.server_pid.and_then(|p| host::cpu_ticks(Some(p)));
        let own = host::cpu_ticks(None);
        let elapsed = start.2.elapsed();
        self.measured_cpu = Some((
            self.percent(start.0, server, elapsed),
            self.percent(start.1, own, elapsed),
        ));
    }
}

fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Milliseconds, with three decimals below 10 ms so sub-millisecond figures keep their
/// microseconds.
pub fn ms(micros: u64) -> String {
    if micros < 10_000 {
        format!("{:.3}", micros as f64 / 1_000.0)
    } else {
        format!("{:.2}", micros as f64 / 1_000.0)
    }
}

/// `p50 … ms, p90 …, p99 …, p99.9 …, max … ms` of a histogram.
pub fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {} ms, p90 {} ms, p99 {} ms, p99.9 {} ms, max {} ms",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    )
}

/// Prints a progress line every second until `stop` resolves.
pub async fn progress(
    stats: &Stats,
    host: &Mutex<Host>,
    started: Instant,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut last_at = Instant::now();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        let elapsed = now - last_at;
        last_at = now;
        let live = &stats.live;
        let current = (
            live.sent(),
            live.answered(),
            Counters::get(&live.errors),
            Counters::get(&live.sub_messages),
            Counters::get(&live.sub_gaps),
        );
        let [(count, p50, p99, max), delivery, order_data] = stats.take_window();
        let (server_cpu, own_cpu, rss) = host.lock().expect("host lock").sample();
        let mut line = format!(
            "t={:>4.0}s sent {:>6.0}/s answered {:>6.0}/s errors {:>5.0}/s in-flight {:>5}",
            (now - started).as_secs_f64(),
            rate(current.0 - last.0, elapsed),
            rate(current.1 - last.1, elapsed),
            rate(current.2 - last.2, elapsed),
            current.0.saturating_sub(current.1),
        );
        if count > 0 {
            let _ = write!(
                line,
                " | latency p50 {} p99 {} max {} ms",
                ms(p50),
                ms(p99),
                ms(max)
            );
        }
        if order_data.0 > 0 {
            let _ = write!(
                line,
                " | order→data p50 {} p99 {} ms",
                ms(order_data.1),
                ms(order_data.2)
            );
        }
        let _ = write!(
            line,
            " | subs {} msgs {:>7.0}/s gaps {}",
            stats.subscribers_connected.load(Ordering::Relaxed),
            rate(current.3 - last.3, elapsed),
            current.4,
        );
        if delivery.0 > 0 {
            let _ = write!(
                line,
                " trade→sub p50 {} p99 {} ms",
                ms(delivery.1),
                ms(delivery.2)
            );
        }
        let _ = write!(
            line,
            " | disconnects traders {} subs {} | server cpu {:.0}% rss {} MiB | load cpu {:.0}%",
            stats.trader_disconnects.load(Ordering::Relaxed),
            stats.subscriber_disconnects.load(Ordering::Relaxed),
            server_cpu,
            rss.map_or("?".to_owned(), |kib| (kib / 1024).to_string()),
            own_cpu,
        );
        eprintln!("{line}");
        last = current;
    }
}

/// The settings a report states next to its figures.
pub struct RunShape {
    pub transport: &'static str,
    pub connections: usize,
    pub users: usize,
    pub rate: f64,
    pub subscribers: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// The final report, as Markdown-friendly text.
pub fn final_report(stats: &Stats, host: &Host, shape: &RunShape, unanswered: u64) -> String {
    let m = &stats.measured;
    let d = shape.duration;
    let get = Counters::get;
    let latency = stats.latency.lock().expect("latency lock");
    let h = &latency.measured;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "betbet-load {}: {} trading connections ({} users) at {} requests/s offered, {} subscribers; warm-up {:.0} s, measured {:.0} s",
        shape.transport,
        shape.connections,
        shape.users,
        shape.rate,
        shape.subscribers,
        shape.warmup.as_secs_f64(),
        d.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  requests sent        {:>10} ({:.0}/s): {} orders ({} marketable), {} cancels",
        m.sent(),
        rate(m.sent(), d),
        get(&m.sent_place),
        get(&m.sent_marketable),
        get(&m.sent_cancel)
    );
    let _ = writeln!(
        out,
        "  answered             {:>10} ({:.0}/s): {} order_ack, {} cancel_ack, {} error",
        m.answered(),
        rate(m.answered(), d),
        get(&m.order_acks),
        get(&m.cancel_acks),
        get(&m.errors)
    );
    let _ = writeln!(
        out,
        "  acknowledged         {:>10.0}/s of the requests due in the window; {:.0}/s arriving in it (order_ack + cancel_ack)",
        rate(get(&m.order_acks) + get(&m.cancel_acks), d),
        rate(get(&m.acks_arrived), d)
    );
    let _ = writeln!(out, "  unanswered at the end {unanswered}");
    if h.is_empty() {
        let _ = writeln!(out, "  latency: no replies in the window");
    } else {
        let _ = writeln!(
            out,
            "  request → reply latency (from intended send time, {} samples): {}",
            h.len(),
            percentiles(h)
        );
        let orders = &latency.orders_measured;
        if !orders.is_empty() {
            let _ = writeln!(
                out,
                "  order → ack latency (orders only, from intended send time, {} samples): {}",
                orders.len(),
                percentiles(orders)
            );
        }
        let sent = &latency.orders_sent_measured;
        if !sent.is_empty() {
            let _ = writeln!(
                out,
                "  order → ack latency (orders only, from the actual write, {} samples): {}",
                sent.len(),
                percentiles(sent)
            );
        }
    }
    let order_data = &latency.order_data_measured;
    if !order_data.is_empty() {
        let _ = writeln!(
            out,
            "  order → market data latency (intended send time to the delta showing it, {} samples): {}",
            order_data.len(),
            percentiles(order_data)
        );
    }
    let delivery = &latency.delivery_measured;
    if !delivery.is_empty() {
        let _ = writeln!(
            out,
            "  trade → subscriber delay (core's trade time to read, {} samples): p50 {} ms, p99 {} ms, p99.9 {} ms, max {} ms",
            delivery.len(),
            ms(delivery.value_at_quantile(0.50)),
            ms(delivery.value_at_quantile(0.99)),
            ms(delivery.value_at_quantile(0.999)),
            ms(delivery.max())
        );
    }
    let errors = stats.errors_by_code.lock().expect("errors lock");
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|(c, n)| format!("{c} {n}")).collect();
        let _ = writeln!(out, "  errors by code: {}", list.join(", "));
    }
    let _ = writeln!(
        out,
        "  subscribers          {} connected, {} market-data messages ({:.0}/s), {} sequence gaps",
        stats.subscribers_connected.load(Ordering::Relaxed),
        get(&m.sub_messages),
        rate(get(&m.sub_messages), d),
        get(&m.sub_gaps)
    );
    let _ = writeln!(
        out,
        "  disconnected         traders {} of {}, subscribers {} of {}",
        stats.trader_disconnects.load(Ordering::Relaxed),
        stats.traders_connected.load(Ordering::Relaxed),
        stats.subscriber_disconnects.load(Ordering::Relaxed),
        stats.subscribers_connected.load(Ordering::Relaxed)
    );
    let closes = stats.closes.lock().expect("closes lock");
    if !closes.is_empty() {
        let list: Vec<String> = closes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        let _ = writeln!(out, "  disconnect reasons: {}", list.join("; "));
    }
    if let Some((server, own)) = host.measured_cpu {
        let _ = writeln!(
            out,
            "  CPU over the window  server {server:.0}%, generator {own:.0}% (100% = one core)"
        );
    }
    match host.server_pid {
        Some(pid) => {
            let _ = writeln!(
                out,
                "  server (pid {pid}) RSS now {} MiB, peak seen {} MiB",
                host::rss_kib(pid).map_or("?".to_owned(), |k| (k / 1024).to_string()),
                host.rss_kib_max / 1024
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  server RSS: unknown (no --server-pid, no `betbet` process found)"
            );
        }
    }
    out
}
