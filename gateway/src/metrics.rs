//! Prometheus text exposition, hand-rolled: request counts and latency histograms per route,
//! plus the core's queue depth, command rate and journal sync latency.

use betbet_engine::runtime::{CoreStats, SYNC_BUCKETS_US};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Upper bounds of the request latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Distinct (method, route) series; requests for unmatched paths share one series.
const SERIES_MAX: usize = 1_024;

#[derive(Default)]
struct Series {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum_seconds: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String), Series>>,
    ws_connections: std::sync::atomic::AtomicI64,
    ws_requests_shed: std::sync::atomic::AtomicU64,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut series = self.series.lock().expect("metrics lock");
        let key = (method.to_owned(), route.to_owned());
        if !series.contains_key(&key) && series.len() >= SERIES_MAX {
            return;
        }
        let entry = series.entry(key).or_default();
        *entry.by_status.entry(status).or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        entry.buckets[bucket] += 1;
        entry.sum_seconds += seconds;
        entry.count += 1;
    }

    pub fn ws_connected(&self, delta: i64) {
        self.ws_connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// A WebSocket request refused because it waited past the deadline.
    pub fn ws_request_shed(&self) {
        self.ws_requests_shed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, core: Option<&CoreStats>) -> String {
        let mut out = String::new();
        let series = self.series.lock().expect("metrics lock");
        out.push_str("# HELP betbet_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE betbet_http_requests_total counter\n");
        for ((method, route), s) in series.iter() {
            for (status, count) in &s.by_status {
                let _ = writeln!(
                    out,
                    "betbet_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP betbet_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE betbet_http_request_duration_seconds histogram\n");
        for ((method, route), s) in series.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i];
                let _ = writeln!(
                    out,
                    "betbet_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "betbet_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "betbet_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "betbet_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        drop(series);
        let _ = writeln!(out, "# TYPE betbet_ws_connections gauge");
        let _ = writeln!(
            out,
            "betbet_ws_connections {}",
            self.ws_connections.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP betbet_ws_requests_shed_total WebSocket requests refused with `overloaded` \
             because the core could not take them up within --ws-request-deadline-ms (never executed)."
        );
        let _ = writeln!(out, "# TYPE betbet_ws_requests_shed_total counter");
        let _ = writeln!(
            out,
            "betbet_ws_requests_shed_total {}",
            self.ws_requests_shed.load(Ordering::Relaxed)
        );
        if let Some(core) = core {
            let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
                );
            };
            gauge(
                &mut out,
                "betbet_core_queue_depth",
                "Commands and queries waiting for the engine thread.",
                "gauge",
                core.queue_depth.load(Ordering::Relaxed) as u64,
            );
            gauge(
                &mut out,
                "betbet_core_commands_total",
                "Commands applied (rate() gives commands/s).",
                "counter",
                core.commands.load(Ordering::Relaxed),
            );
            gauge(
                &mut out,
                "betbet_core_queries_total",
                "Queries answered.",
                "counter",
                core.queries.load(Ordering::Relaxed),
            );
            gauge(
                &mut out,
                "betbet_core_overloaded_total",
                "Requests refused because the queue was full.",
                "counter",
                core.overloaded.load(Ordering::Relaxed),
            );
            gauge(
                &mut out,
                "betbet_core_shed_total",
                "Commands taken off the queue past their deadline and refused, never executed.",
                "counter",
                core.shed.load(Ordering::Relaxed),
            );
            gauge(
                &mut out,
                "betbet_core_last_seq",
                "Last journal sequence applied.",
                "gauge",
                core.last_seq.load(Ordering::Relaxed),
            );
            gauge(
                &mut out,
                "betbet_core_durable_seq",
                "Last journal sequence known durable.",
                "gauge",
                core.durable_seq.load(Ordering::Relaxed),
            );
            gauge(
                &mut out,
                "betbet_core_snapshots_total",
                "Snapshots written.",
                "counter",
                core.snapshots.load(Ordering::Relaxed),
            );
            gauge(
                &mut out,
                "betbet_core_subscribers",
                "Event subscribers.",
                "gauge",
                core.subscribers.load(Ordering::Relaxed) as u64,
            );
            gauge(
                &mut out,
                "betbet_core_dropped_subscribers_total",
                "Subscribers cut off for lagging.",
                "counter",
                core.dropped_subscribers.load(Ordering::Relaxed),
            );
            out.push_str(
                "# HELP betbet_journal_sync_seconds Journal sync (msync/fdatasync) latency.\n",
            );
            out.push_str("# TYPE betbet_journal_sync_seconds histogram\n");
            let mut cumulative = 0;
            for (i, bound) in SYNC_BUCKETS_US.iter().enumerate() {
                cumulative += core.sync_buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "betbet_journal_sync_seconds_bucket{{le=\"{}\"}} {cumulative}",
                    *bound as f64 / 1e6
                );
            }
            let count = core.syncs.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "betbet_journal_sync_seconds_bucket{{le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "betbet_journal_sync_seconds_sum {}",
                core.sync_micros_total.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(out, "betbet_journal_sync_seconds_count {count}");
        }
        out
    }
}

/// The history store's writer: checkpoint, lag behind the journal's durable `head`, and
/// what it wrote.
pub fn render_history(progress: &betbet_persistence::Progress, head: u64) -> String {
    let mut out = String::new();
    let now = betbet_protocol::types::Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64),
    );
    let (lag_records, lag_seconds) = progress.lag(head, now);
    let mut metric = |name: &str, help: &str, kind: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed).to_string();
    metric(
        "betbet_projection_applied_seq",
        "Last journal record the history store durably applied (its checkpoint).",
        "gauge",
        progress.applied().to_string(),
    );
    metric(
        "betbet_projection_lag_records",
        "Durable journal records the history store has not applied yet.",
        "gauge",
        lag_records.to_string(),
    );
    metric(
        "betbet_projection_lag_seconds",
        "Age of the oldest journal record the history store has not applied (0 when caught up).",
        "gauge",
        format!("{lag_seconds:.3}"),
    );
    metric(
        "betbet_projection_batches_total",
        "Transactions committed to the history store.",
        "counter",
        load(&progress.batches),
    );
    metric(
        "betbet_projection_records_total",
        "Journal records applied to the history store.",
        "counter",
        load(&progress.records),
    );
    metric(
        "betbet_projection_events_total",
        "Core events projected into the history store.",
        "counter",
        load(&progress.events),
    );
    metric(
        "betbet_projection_rows_total",
        "Rows written to (or deleted from) the history store.",
        "counter",
        load(&progress.rows),
    );
    metric(
        "betbet_projection_write_seconds_total",
        "Time spent in history-store transactions.",
        "counter",
        format!(
            "{:.6}",
            progress.write_micros.load(Ordering::Relaxed) as f64 / 1e6
        ),
    );
    metric(
        "betbet_projection_write_failures_total",
        "History-store writes that failed and were retried.",
        "counter",
        load(&progress.write_failures),
    );
    metric(
        "betbet_projection_failing",
        "1 while the history store's writes fail (the journal keeps what it lacks).",
        "gauge",
        u8::from(progress.failing.load(Ordering::Relaxed)).to_string(),
    );
    out
}
