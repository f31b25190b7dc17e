//! The WebSocket transport: trading clients and market-data subscribers on
//! `/ws/markets/{market_id}`.
//!
//! A **trader** connects with a user's token, takes the snapshot and (unless told to keep
//! market data) unsubscribes from the book feed, so it receives only its own replies and
//! its user's order updates and fills — a trading bot that does not need every delta, and
//! without which N traders would each get the whole feed. It then sends requests on its
//! [`Schedule`] whatever the replies do (open loop), each with a `request_id` equal to its
//! slot number, so the intended send time of a reply's request is recomputed from the id
//! and nothing needs a timestamp map. The server runs one connection's requests one at a
//! time, in order, so the rate a connection can sustain is about one per journal group
//! commit; the total rate comes from many connections.
//!
//! The mix: a cancel of one of the connection's own resting orders when it has too many
//! or by chance (`cancel_percent`); an immediate-or-cancel buy at 0.60 of YES or NO
//! (`marketable_percent`), which trades against the resting bids of the other side; else a
//! passive buy of YES or NO at 0.40–0.49 — a YES bid, or (as a NO bid) a YES ask at
//! 0.51–0.60. The book therefore stays within 20 price levels and at most
//! `connections × max_resting` orders, and trades happen all the time.
//!
//! A **subscriber** connects without a token, reads the snapshot (each book's sequence
//! number), then only reads: it counts messages and checks that every `book_delta` and
//! `trade` carries the next sequence number of its book. A close frame or a dropped
//! connection before the end counts as a disconnect, with the server's reason.

use super::fixture::Fixture;
use super::report::{RequestKind, Stats};
use super::{Outcome, Rng, Schedule, Shape};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a connection attempt (TCP, upgrade and snapshot) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct WsOptions {
    /// `ws://host:port`.
    pub base: String,
    /// Keep the traders subscribed to the book feed.
    pub trader_market_data: bool,
    /// Connections, rate, mix and timing.
    pub shape: Shape,
}

/// The envelope fields the generator looks at; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    request_id: Option<u64>,
    seq: Option<u64>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    book_id: Option<&'a str>,
    /// The order of an `order_ack` / `cancel_ack`.
    #[serde(borrow)]
    id: Option<&'a str>,
    /// The order of an `order_update`.
    #[serde(borrow)]
    order_id: Option<&'a str>,
    /// An order's status (a string); an error's HTTP status is a number.
    #[serde(borrow)]
    status: Option<Status<'a>>,
    /// An error's code.
    #[serde(borrow)]
    code: Option<&'a str>,
    /// A trade's time.
    #[serde(borrow)]
    at: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Status<'a> {
    Text(&'a str),
    Other(IgnoredAny),
}

impl Data<'_> {
    fn status(&self) -> Option<&str> {
        match self.status {
            Some(Status::Text(text)) => Some(text),
            _ => None,
        }
    }
}

fn config() -> WebSocketConfig {
    // Small buffers: 10 000 clients with the default 128 KiB read buffers would hold 1.3 GB.
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
}

/// Connects, and returns the socket with its first message (the snapshot).
async fn connect(url: &str) -> Result<(Socket, String), String> {
    let attempt = async {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
                .await
                .map_err(|e| format!("connect: {e}"))?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return Ok((socket, text.as_str().to_owned())),
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

fn close_reason(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(frame) => format!("close {} \"{}\"", u16::from(frame.code), frame.reason),
        None => "close frame without a code".to_owned(),
    }
}

struct Pending {
    request: u64,
    kind: RequestKind,
}

/// One trading connection.
struct Trader {
    socket: Socket,
    fixture: Arc<Fixture>,
    options: Arc<WsOptions>,
    stats: Arc<Stats>,
    schedule: Schedule,
    /// Requests due at or after this are not sent.
    end: Instant,
    pending: VecDeque<Pending>,
    /// This connection's orders believed to be resting.
    resting: Vec<String>,
    rng: Rng,
    text: String,
}

impl Trader {
    /// Writes request `k` into `self.text`.
    fn request(&mut self, k: u64) -> RequestKind {
        let roll = self.rng.below(100);
        self.text.clear();
        if !self.resting.is_empty()
            && (self.resting.len() >= self.options.shape.max_resting
                || roll < self.options.shape.cancel_percent)
        {
            let at = self.rng.below(self.resting.len() as u64) as usize;
            let order = self.resting.swap_remove(at);
            let _ = write!(
                self.text,
                r#"{{"type":"cancel_order","request_id":{k},"data":{{"order_id":"{order}"}}}}"#
            );
            return RequestKind::Cancel;
        }
        let outcome = if self.rng.below(2) == 0 {
            &self.fixture.yes
        } else {
            &self.fixture.no
        };
        let market = &self.fixture.market_id;
        let marketable = (self.options.shape.cancel_percent
            ..self.options.shape.cancel_percent + self.options.shape.marketable_percent)
            .contains(&roll);
        if marketable {
            let quantity = 1 + self.rng.below(5);
            let _ = write!(
                self.text,
                r#"{{"type":"place_order","request_id":{k},"data":{{"market_id":"{market}","outcome_id":"{outcome}","order_type":"buy","price":"0.60","quantity":"{quantity}","time_in_force":"IOC"}}}}"#
            );
            RequestKind::Marketable
        } else {
            let cents = 40 + self.rng.below(10);
            let quantity = 1 + self.rng.below(10);
            let _ = write!(
                self.text,
                r#"{{"type":"place_order","request_id":{k},"data":{{"market_id":"{market}","outcome_id":"{outcome}","order_type":"buy","price":"0.{cents}","quantity":"{quantity}"}}}}"#
            );
            RequestKind::Place
        }
    }

    fn on_text(&mut self, text: &str, now: Instant) {
        let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text) else {
            return;
        };
        match (envelope.kind, envelope.request_id) {
            (kind @ ("order_ack" | "cancel_ack" | "error"), Some(request)) => {
                let Some(at) = self.pending.iter().position(|p| p.request == request) else {
                    return;
                };
                let pending = self.pending.remove(at).expect("found");
                let data = envelope.data.as_ref();
                let error =
                    (kind == "error").then(|| data.and_then(|d| d.code).unwrap_or("unknown"));
                self.stats
                    .replied(self.schedule.due(request), now, pending.kind, error);
                if kind == "order_ack"
                    && let Some(data) = data
                    && matches!(data.status(), Some("open" | "partially_filled"))
                    && let Some(order) = data.id
                {
                    self.resting.push(order.to_owned());
                }
            }
            ("order_update", _) => {
                if let Some(data) = &envelope.data
                    && matches!(
                        data.status(),
                        Some("filled" | "cancelled" | "expired" | "rejected")
                    )
                    && let Some(order) = data.order_id
                    && let Some(at) = self.resting.iter().position(|o| o == order)
                {
                    self.resting.swap_remove(at);
                }
            }
            _ => {}
        }
    }

    /// Runs the schedule, then waits for the replies; returns the requests never answered.
    async fn run(mut self) -> u64 {
        let mut k = 0u64;
        let drain_until = self.end + self.options.shape.drain;
        let timer = tokio::time::sleep_until(self.schedule.due(0).into());
        tokio::pin!(timer);
        loop {
            let sending = self.schedule.due(k) < self.end;
            if !sending && self.pending.is_empty() {
                break;
            }
            tokio::select! {
                incoming = self.socket.next() => match incoming {
                    Some(Ok(Message::Text(text))) => self.on_text(text.as_str(), Instant::now()),
                    Some(Ok(Message::Close(frame))) => {
                        self.stats.disconnected(false, Some(close_reason(frame.as_ref())));
                        return self.pending.len() as u64;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        self.stats.disconnected(false, Some(format!("error: {e}")));
                        return self.pending.len() as u64;
                    }
                    None => {
                        self.stats.disconnected(false, None);
                        return self.pending.len() as u64;
                    }
                },
                () = &mut timer, if sending => {
                    // Send everything due by now: when the generator falls behind, the
                    // late requests go out at once and their latency still counts from
                    // their slots.
                    let now = Instant::now();
                    let mut failed = None;
                    while self.schedule.due(k) <= now && self.schedule.due(k) < self.end {
                        let kind = self.request(k);
                        let message = Message::Text(self.text.as_str().into());
                        if let Err(e) = self.socket.feed(message).await {
                            failed = Some(e);
                            break;
                        }
                        self.stats.sent(self.schedule.due(k), kind);
                        self.pending.push_back(Pending { request: k, kind });
                        k += 1;
                    }
                    if failed.is_none()
                        && let Err(e) = self.socket.flush().await
                    {
                        failed = Some(e);
                    }
                    if let Some(e) = failed {
                        self.stats.disconnected(false, Some(format!("send: {e}")));
                        return self.pending.len() as u64;
                    }
                    timer.as_mut().reset(self.schedule.due(k).into());
                }
                () = tokio::time::sleep_until(drain_until.into()), if !sending => break,
            }
        }
        let unanswered = self.pending.len() as u64;
        let _ = self.socket.close(None).await;
        unanswered
    }
}

/// One market-data subscriber: reads until `stop`.
async fn subscribe(mut socket: Socket, snapshot: String, stats: Arc<Stats>, stop: Instant) {
    // Each book's last sequence number, from the snapshot (one book for a binary market).
    let mut books: Vec<(String, u64)> = Vec::new();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&snapshot)
        && let Some(list) = value["data"]["books"].as_array()
    {
        for book in list {
            if let (Some(id), Some(seq)) = (book["book_id"].as_str(), book["seq"].as_u64()) {
                books.push((id.to_owned(), seq));
            }
        }
    }
    let deadline = tokio::time::sleep_until(stop.into());
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let mut gaps = 0;
                    let now = Instant::now();
                    if let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(text.as_str())
                        && let ("book_delta" | "trade", Some(seq)) = (envelope.kind, envelope.seq)
                        && let Some(book) = envelope.data.as_ref().and_then(|d| d.book_id)
                    {
                        if envelope.kind == "trade"
                            && let Some(at) = envelope.data.as_ref().and_then(|d| d.at)
                            && let Some(at) = betbet_protocol::time::parse(at).map(|t| t.0)
                        {
                            stats.delivered(now, super::now_micros() - at);
                        }
                        match books.iter_mut().find(|(id, _)| id == book) {
                            Some((_, last)) => {
                                if seq != *last + 1 {
                                    gaps = 1;
                                }
                                *last = seq;
                            }
                            None => books.push((book.to_owned(), seq)),
                        }
                    }
                    stats.market_data(now, 1, gaps);
                }
                Some(Ok(Message::Close(frame))) => {
                    stats.disconnected(true, Some(close_reason(frame.as_ref())));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    stats.disconnected(true, Some(format!("error: {e}")));
                    return;
                }
                None => {
                    stats.disconnected(true, None);
                    return;
                }
            },
            () = &mut deadline => break,
        }
    }
    let _ = socket.close(None).await;
}

/// Connects `count` clients to `url`, `concurrency` at a time, and spawns the task `ready`
/// makes of each socket and its snapshot. Fails on the first client that cannot connect.
async fn connect_all<F, Fut>(
    url: &str,
    count: usize,
    concurrency: usize,
    tasks: &mut JoinSet<u64>,
    mut ready: F,
) -> Result<(), String>
where
    F: FnMut(usize, Socket, String) -> Fut,
    Fut: std::future::Future<Output = u64> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let (done_tx, mut done) = mpsc::channel(count.max(1));
    for index in 0..count {
        let permits = Arc::clone(&permits);
        let done_tx = done_tx.clone();
        let url = url.to_owned();
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let _ = done_tx.send((index, connect(&url).await)).await;
        });
    }
    drop(done_tx);
    let mut connected = 0;
    while let Some((index, result)) = done.recv().await {
        let (socket, snapshot) = result.map_err(|e| format!("client {index}: {e}"))?;
        tasks.spawn(ready(index, socket, snapshot));
        connected += 1;
        if connected % 1_000 == 0 {
            eprintln!("connected {connected} of {count}");
        }
    }
    Ok(())
}

/// Runs the WebSocket load: connects subscribers then traders, runs the schedule, and
/// returns once every client is done. `on_window` is called with the measurement window
/// once it is known.
pub async fn run(
    fixture: Arc<Fixture>,
    options: WsOptions,
    stats: Arc<Stats>,
    on_window: impl FnOnce(Instant, Instant),
) -> Result<Outcome, String> {
    let options = Arc::new(options);
    let market_url = format!("{}/ws/markets/{}", options.base, fixture.market_id);
    // The subscribers' stop time is known only when the schedule starts; they read until a
    // far deadline that the schedule's start then shortens through this channel.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(None::<Instant>);
    let mut subscribers = JoinSet::new();
    let started = Instant::now();
    connect_all(
        &market_url,
        options.shape.subscribers,
        options.shape.connect_concurrency,
        &mut subscribers,
        |_, socket, snapshot| {
            let stats = Arc::clone(&stats);
            let mut stop_rx = stop_rx.clone();
            stats
                .subscribers_connected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                let stop = match stop_rx.wait_for(Option::is_some).await {
                    Ok(stop) => stop.expect("checked"),
                    Err(_) => return 0,
                };
                subscribe(socket, snapshot, stats, stop).await;
                0
            }
        },
    )
    .await?;
    if options.shape.subscribers > 0 {
        eprintln!(
            "{} subscribers connected in {:.1} s",
            options.shape.subscribers,
            started.elapsed().as_secs_f64()
        );
    }
    // Traders: connect, take the snapshot, leave the book feed, then wait for the start.
    let mut sockets: Vec<Option<Socket>> = (0..options.shape.connections).map(|_| None).collect();
    let started = Instant::now();
    {
        let mut connecting = JoinSet::new();
        let permits = Arc::new(Semaphore::new(options.shape.connect_concurrency.max(1)));
        for index in 0..options.shape.connections {
            let user = &fixture.users[index % fixture.users.len()];
            let url = format!("{market_url}?token={}", user.token);
            let permits = Arc::clone(&permits);
            let unsubscribe = (!options.trader_market_data).then(|| {
                format!(
                    r#"{{"type":"unsubscribe","data":{{"market_id":"{}"}}}}"#,
                    fixture.market_id
                )
            });
            connecting.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore open");
                let (mut socket, _) = connect(&url).await?;
                if let Some(text) = unsubscribe {
                    socket
                        .send(Message::Text(text.into()))
                        .await
                        .map_err(|e| format!("unsubscribe: {e}"))?;
                }
                Ok::<_, String>((index, socket))
            });
        }
        while let Some(joined) = connecting.join_next().await {
            let (index, socket) = joined
                .map_err(|e| format!("connect task: {e}"))?
                .map_err(|e| format!("trader: {e}"))?;
            sockets[index] = Some(socket);
        }
    }
    let (start, window) = options.shape.begin(&stats, started, on_window);
    let _ = stop_tx.send(Some(window.1 + Duration::from_secs(1)));
    let mut traders = JoinSet::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let trader = Trader {
            socket: socket.expect("every trader connected"),
            fixture: Arc::clone(&fixture),
            options: Arc::clone(&options),
            stats: Arc::clone(&stats),
            schedule: Schedule::new(start, options.shape.rate, options.shape.connections, index),
            end: window.1,
            pending: VecDeque::new(),
            resting: Vec::new(),
            rng: Rng::new(index as u64 + 1),
            text: String::with_capacity(256),
        };
        traders.spawn(trader.run());
    }
    let mut unanswered = 0;
    while let Some(joined) = traders.join_next().await {
        unanswered += joined.map_err(|e| format!("trader task: {e}"))?;
    }
    while let Some(joined) = subscribers.join_next().await {
        joined.map_err(|e| format!("subscriber task: {e}"))?;
    }
    Ok(Outcome { unanswered })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Envelope<'_> {
        serde_json::from_str(text).expect("envelope")
    }

    #[test]
    fn envelopes_as_the_server_writes_them() {
        let ack = parse(
            r#"{"data":{"fills":[],"id":"ord_7","price":"0.45","status":"open","trades":0},"request_id":3,"type":"order_ack"}"#,
        );
        assert_eq!((ack.kind, ack.request_id), ("order_ack", Some(3)));
        let data = ack.data.expect("data");
        assert_eq!((data.id, data.status()), (Some("ord_7"), Some("open")));
        let error = parse(
            r#"{"data":{"code":"order_not_open","message":"the order is \"done\"","status":422},"request_id":9,"type":"error"}"#,
        );
        let data = error.data.expect("data");
        assert_eq!((data.code, data.status()), (Some("order_not_open"), None));
        let delta = parse(
            r#"{"data":{"book_id":"out_1","market_id":"mkt_1","orders":2,"price":"0.45","quantity":"3","side":"bid"},"seq":41,"type":"book_delta"}"#,
        );
        assert_eq!((delta.kind, delta.seq), ("book_delta", Some(41)));
        assert_eq!(delta.data.expect("data").book_id, Some("out_1"));
        let update = parse(
            r#"{"data":{"filled_quantity":"3","order_id":"ord_7","price":"0.45","reason":null,"remaining_quantity":"0","status":"filled"},"type":"order_update"}"#,
        );
        let data = update.data.expect("data");
        assert_eq!(
            (data.order_id, data.status()),
            (Some("ord_7"), Some("filled"))
        );
    }
}
