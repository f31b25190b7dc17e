//! The chat transport (`betbet-load chat`): members of community chat rooms, each sending
//! messages on a fixed open-loop schedule to its room (`/ws/chat/{community_id}`), timed
//! from a message's send to its delivery on each member's socket of the room — the
//! latency a reader feels — and counted as delivered messages a second.
//!
//! Setup is REST: `members` users registered, `rooms` public communities opened by the
//! first member of each, the others joining theirs (member `i` is in room `i % rooms`).
//! Each message's content carries its sender, its number and the generator's clock at
//! the send, so each delivery is timed where it lands; every member gets every message of
//! its room, its own included (the room's one sequence), so `members / rooms` deliveries
//! per message sent. A gap in a socket's sequence numbers is counted, never hidden.

use super::report::{Host, ms, percentiles};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long a connection (TCP, upgrade and the room's snapshot) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest latency the histograms hold.
const LATENCY_US_MAX: u64 = 120_000_000;
/// How long readers wait for the last deliveries after the schedule ends.
const DRAIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// Messages per second over all members.
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub connect_concurrency: usize,
    /// Bytes of text in each message (beyond the timing header).
    pub message_bytes: usize,
}

/// How `betbet-load chat` prepares `betbet serve` over REST.
#[derive(Debug, Clone)]
pub struct ChatSetup {
    /// `http://host:port`.
    pub base: String,
    pub members: usize,
    pub rooms: usize,
    pub threads: usize,
}

/// One member: its room's socket URL and its room.
#[derive(Debug, Clone)]
pub struct Seat {
    pub url: String,
    pub room: usize,
}

/// Registers the members and opens their rooms; member `i` is in room `i % rooms`.
pub fn betbet_seats(setup: &ChatSetup) -> Result<Vec<Seat>, String> {
    use super::fixture::{Rest, in_parallel, register_users, run_tag, text};
    use serde_json::json;
    if setup.rooms == 0 || setup.members < setup.rooms {
        return Err("--members must be at least --rooms (and --rooms above 0)".to_owned());
    }
    let rest = Rest::new(&setup.base);
    let tag = run_tag();
    let users = register_users(&rest, &tag, setup.members, "1", setup.threads)?;
    let started = Instant::now();
    let rooms = in_parallel(setup.rooms, setup.threads, |room| {
        let created = rest.post(
            "/api/v1/communities/create",
            Some(&users[room].token),
            &json!({"name": format!("Load chat {tag} {room}"), "type": "public"}),
            201,
        )?;
        text(&created, "id")
    })?;
    in_parallel(setup.members, setup.threads, |i| {
        if i >= setup.rooms {
            rest.post(
                &format!("/api/v1/communities/{}/join", rooms[i % setup.rooms]),
                Some(&users[i].token),
                &serde_json::json!({}),
                200,
            )?;
        }
        Ok(())
    })?;
    eprintln!(
        "setup: {} rooms opened and {} members joined in {:.1} s",
        setup.rooms,
        setup.members,
        started.elapsed().as_secs_f64()
    );
    let ws_base = setup.base.replacen("http://", "ws://", 1);
    Ok((0..setup.members)
        .map(|i| Seat {
            url: format!(
                "{ws_base}/ws/chat/{}?token={}",
                rooms[i % setup.rooms],
                users[i].token
            ),
            room: i % setup.rooms,
        })
        .collect())
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

/// What the run measured; messages count when they were due inside the window.
pub struct ChatStats {
    window: (Instant, Instant),
    /// Messages sent and delivered, all (for the progress line) and in the window.
    sent_live: AtomicU64,
    delivered_live: AtomicU64,
    sent: AtomicU64,
    accepted: AtomicU64,
    delivered: AtomicU64,
    gaps: AtomicU64,
    /// Send → delivery: in the window, and since the last progress line.
    latency: Mutex<(Histogram<u64>, Histogram<u64>)>,
    errors: Mutex<BTreeMap<String, u64>>,
    disconnects: AtomicU64,
}

impl ChatStats {
    fn new(window: (Instant, Instant)) -> ChatStats {
        ChatStats {
            window,
            sent_live: AtomicU64::new(0),
            delivered_live: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            latency: Mutex::new((histogram(), histogram())),
            errors: Mutex::new(BTreeMap::new()),
            disconnects: AtomicU64::new(0),
        }
    }

    fn measured(&self, due: Instant) -> bool {
        due >= self.window.0 && due < self.window.1
    }

    fn error(&self, what: String) {
        *self
            .errors
            .lock()
            .expect("errors lock")
            .entry(what)
            .or_default() += 1;
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    seq: Option<u64>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    code: Option<&'a str>,
    #[serde(borrow)]
    message: Option<Content<'a>>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow)]
    content: std::borrow::Cow<'a, str>,
}

/// The timing header of a message's content: `due_us send_us` (µs since the run's start).
fn stamp(content: &str) -> Option<(u64, u64)> {
    let mut words = content.split(' ');
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

async fn connect(url: &str) -> Result<(super::game::Socket, u64), String> {
    let attempt = async {
        let config = WebSocketConfig::default()
            .read_buffer_size(8 * 1024)
            .write_buffer_size(8 * 1024);
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text.as_str())
                        && envelope.kind == "snapshot"
                    {
                        return Ok((socket, envelope.seq.unwrap_or(0)));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!("closed before the snapshot: {frame:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("reading the snapshot: {e}")),
                None => return Err("closed before the snapshot".to_owned()),
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| "connect: timed out".to_owned())?
}

/// Reads one member's socket until `until`: every `message` is a delivery, timed.
async fn read(
    mut stream: futures_util::stream::SplitStream<super::game::Socket>,
    mut seq: u64,
    start: Instant,
    until: Instant,
    stats: Arc<ChatStats>,
) {
    loop {
        let next = tokio::time::timeout_at(until.into(), stream.next()).await;
        let Ok(next) = next else { return };
        let now = Instant::now();
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                stats.disconnects.fetch_add(1, Ordering::Relaxed);
                stats.error(format!("closed: {frame:?}"));
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                stats.disconnects.fetch_add(1, Ordering::Relaxed);
                stats.error(format!("read: {e}"));
                return;
            }
            None => {
                stats.disconnects.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text.as_str()) else {
            stats.error("unreadable message".to_owned());
            continue;
        };
        match envelope.kind {
            "message" => {
                if let Some(s) = envelope.seq {
                    if s != seq + 1 {
                        stats.gaps.fetch_add(1, Ordering::Relaxed);
                    }
                    seq = s;
                }
                let Some((due, sent)) = envelope
                    .data
                    .and_then(|d| d.message)
                    .and_then(|m| stamp(&m.content))
                else {
                    continue;
                };
                let due = start + Duration::from_micros(due);
                let sent = start + Duration::from_micros(sent);
                stats.delivered_live.fetch_add(1, Ordering::Relaxed);
                let micros = |d: Duration| (d.as_micros() as u64).clamp(1, LATENCY_US_MAX);
                let mut latency = stats.latency.lock().expect("latency lock");
                latency
                    .1
                    .record(micros(now.saturating_duration_since(sent)))
                    .expect("clamped");
                if stats.measured(due) {
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                    latency
                        .0
                        .record(micros(now.saturating_duration_since(sent)))
                        .expect("clamped");
                }
            }
            "message_sent" => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
            }
            "error" => {
                let code = envelope.data.and_then(|d| d.code).unwrap_or("error");
                stats.error(format!("refused: {code}"));
            }
            _ => {}
        }
    }
}

/// Sends one member's messages on its schedule until the window ends.
async fn speak(
    mut sink: futures_util::stream::SplitSink<super::game::Socket, Message>,
    schedule: super::Schedule,
    start: Instant,
    padding: Arc<str>,
    stats: Arc<ChatStats>,
) -> futures_util::stream::SplitSink<super::game::Socket, Message> {
    for k in 0u64.. {
        let due = schedule.due(k);
        if due >= stats.window.1 {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let sent = Instant::now();
        let content = format!(
            "{} {} {padding}",
            (due - start).as_micros(),
            (sent - start).as_micros()
        );
        let frame =
            serde_json::json!({"type": "send", "request_id": k, "data": {"content": content}});
        if let Err(e) = sink.send(Message::Text(frame.to_string().into())).await {
            stats.disconnects.fetch_add(1, Ordering::Relaxed);
            stats.error(format!("send: {e}"));
            break;
        }
        stats.sent_live.fetch_add(1, Ordering::Relaxed);
        if stats.measured(due) {
            stats.sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    sink
}

/// Connects every member, runs the schedule and returns the report.
pub async fn run(
    seats: Vec<Seat>,
    options: ChatOptions,
    host: Arc<Mutex<Host>>,
) -> Result<String, String> {
    let members = seats.len();
    let rooms = seats.iter().map(|s| s.room).max().map_or(0, |r| r + 1);
    let connected_since = Instant::now();
    let permits = Arc::new(Semaphore::new(options.connect_concurrency.max(1)));
    let mut connecting = JoinSet::new();
    for (i, seat) in seats.iter().enumerate() {
        let url = seat.url.clone();
        let permits = Arc::clone(&permits);
        connecting.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("open semaphore");
            connect(&url).await.map(|socket| (i, socket))
        });
    }
    let mut sockets: Vec<Option<(super::game::Socket, u64)>> = (0..members).map(|_| None).collect();
    while let Some(joined) = connecting.join_next().await {
        let (i, socket) = joined.map_err(|e| format!("connect task: {e}"))??;
        sockets[i] = Some(socket);
    }
    eprintln!(
        "{members} members in {rooms} rooms connected in {:.1} s",
        connected_since.elapsed().as_secs_f64()
    );
    let start = Instant::now() + Duration::from_millis(500);
    let window = (
        start + options.warmup,
        start + options.warmup + options.duration,
    );
    let stats = Arc::new(ChatStats::new(window));
    let padding: Arc<str> = "x".repeat(options.message_bytes).into();
    let mut speaking = JoinSet::new();
    let mut reading = JoinSet::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let (socket, seq) = socket.expect("every member connected");
        let (sink, stream) = socket.split();
        let schedule = super::Schedule::new(start, options.rate, members, i);
        reading.spawn(read(
            stream,
            seq,
            start,
            window.1 + DRAIN,
            Arc::clone(&stats),
        ));
        speaking.spawn(speak(
            sink,
            schedule,
            start,
            Arc::clone(&padding),
            Arc::clone(&stats),
        ));
    }
    let progress = {
        let (stats, host) = (Arc::clone(&stats), Arc::clone(&host));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let (mut sent, mut delivered) = (0, 0);
            loop {
                tick.tick().await;
                let now = Instant::now();
                let (server_cpu, own_cpu, rss) = host.lock().expect("host lock").sample();
                let (s, d) = (
                    stats.sent_live.load(Ordering::Relaxed),
                    stats.delivered_live.load(Ordering::Relaxed),
                );
                let second = {
                    let mut latency = stats.latency.lock().expect("latency lock");
                    let p = (
                        latency.1.value_at_quantile(0.5),
                        latency.1.value_at_quantile(0.99),
                    );
                    latency.1.reset();
                    p
                };
                eprintln!(
                    "t={:>5.1}s sent {}/s delivered {}/s p50 {} ms p99 {} ms | disconnects {} | \
                     server cpu {server_cpu:.0}% rss {} MiB | generator cpu {own_cpu:.0}%",
                    (now.saturating_duration_since(start)).as_secs_f64(),
                    s - sent,
                    d - delivered,
                    ms(second.0),
                    ms(second.1),
                    stats.disconnects.load(Ordering::Relaxed),
                    rss.map_or(0, |kib| kib / 1024),
                );
                (sent, delivered) = (s, d);
                if now >= window.1 {
                    return;
                }
            }
        })
    };
    let marks = {
        let host = Arc::clone(&host);
        tokio::spawn(async move {
            tokio::time::sleep_until(window.0.into()).await;
            host.lock().expect("host lock").mark_measure_start();
            tokio::time::sleep_until(window.1.into()).await;
            host.lock().expect("host lock").mark_measure_end();
        })
    };
    let mut sinks = Vec::with_capacity(members);
    while let Some(done) = speaking.join_next().await {
        sinks.push(done.map_err(|e| format!("member task: {e}"))?);
    }
    while let Some(done) = reading.join_next().await {
        done.map_err(|e| format!("reader task: {e}"))?;
    }
    marks.await.map_err(|e| format!("marks task: {e}"))?;
    progress.await.map_err(|e| format!("progress task: {e}"))?;
    for mut sink in sinks {
        let _ = sink.close().await;
    }
    let host = host.lock().expect("host lock");
    Ok(report(members, rooms, &options, &stats, &host))
}

fn report(
    members: usize,
    rooms: usize,
    options: &ChatOptions,
    stats: &ChatStats,
    host: &Host,
) -> String {
    let latency = stats.latency.lock().expect("latency lock");
    let seconds = options.duration.as_secs_f64();
    let sent = stats.sent.load(Ordering::Relaxed);
    let delivered = stats.delivered.load(Ordering::Relaxed);
    let (server_cpu, own_cpu) = host.measured_cpu.unwrap_or((f64::NAN, f64::NAN));
    let mut out = format!(
        "== betbet-load chat ==\n\
         shape: {members} members in {rooms} rooms, {} messages/s offered ({} bytes of text \
         each), warm-up {:.0} s, measured {seconds:.0} s\n\
         messages: {sent} sent in the window ({:.0}/s), {} accepted in the whole run\n\
         deliveries: {delivered} in the window ({:.0}/s; each message reaches every member \
         of its room, its sender too)\n\
         send -> delivery: {}\n\
         sequence gaps: {}, disconnects: {}\n",
        options.rate,
        options.message_bytes,
        options.warmup.as_secs_f64(),
        sent as f64 / seconds,
        stats.accepted.load(Ordering::Relaxed),
        delivered as f64 / seconds,
        percentiles(&latency.0),
        stats.gaps.load(Ordering::Relaxed),
        stats.disconnects.load(Ordering::Relaxed),
    );
    let errors = stats.errors.lock().expect("errors lock");
    if !errors.is_empty() {
        out.push_str("errors:\n");
        for (what, count) in errors.iter() {
            out.push_str(&format!("  {count} × {what}\n"));
        }
    }
    out.push_str(&format!(
        "server: cpu {server_cpu:.0}% of a core, rss max {} MiB\n\
         generator: cpu {own_cpu:.0}% of a core",
        host.rss_kib_max / 1024,
    ));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_stamp_reads_back() {
        assert_eq!(super::stamp("12 15 xxxx"), Some((12, 15)));
        assert_eq!(super::stamp("hello"), None);
    }
}
