//! `betbet-ws-echo`: the ceiling the gateway's WebSocket path is measured against.
//!
//! A minimal WebSocket server on the gateway's stack — axum 0.8 over tokio and tungstenite,
//! mimalloc, `TCP_NODELAY` on every accepted socket, the same upgrade settings
//! (`read_buffer_size` / `max_message_size` / `max_frame_size`) — with no core, no journal
//! and no market state. It serves `GET /ws/markets/{market_id}` (`?token=` accepted and
//! ignored), sends a small `snapshot` on connect, and answers each client request
//! `{"type", "request_id", "data"}` the way the gateway writes a reply (one `feed` and one
//! `flush` per reply): `place_order` / `market_order` with an `order_ack` and
//! `cancel_order` with a `cancel_ack`, each carrying the request's `request_id` and sized
//! as a real acknowledgement (the compact `order_ack` of docs/protocols.md, ~555 bytes);
//! `unsubscribe` with `unsubscribed`, `ping` with `pong`, anything else with an `error`.
//! The only parsing is of the request's envelope into a small borrowed struct.
//!
//! Market data, the ceiling of the subscriber run: each order or cancel request also sends
//! one `trade` message, shaped and sized like the gateway's and stamped with the moment it
//! is sent, to every connection that has not unsubscribed — standing in for the
//! `book_delta` / `trade` batch a request makes on the gateway. The fan-out is the least a
//! server can do: one `tokio::sync::broadcast` channel (each connection's task woken for
//! it, the same bytes for all; messages that queued meanwhile go out in the same write, up
//! to the gateway's 64), with the
//! gateway's per-connection queue bound ([`QUEUE_MAX`]): a connection that falls further
//! behind is closed, as the gateway closes it. Sequence numbers are consecutive, so the
//! generator's gap check holds.
//!
//! ```text
//! betbet-ws-echo --addr 127.0.0.1:18081 &
//! betbet-load ws --echo --url http://127.0.0.1:18081 --connections 1000 --rate 20000
//! betbet-load ws --echo --url http://127.0.0.1:18081 --connections 10 --rate 10 --subscribers 10000
//! ```

/// The gateway's allocator (gateway/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use clap::Parser;
use futures_util::SinkExt;
use serde::Deserialize;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// As `gateway/src/api/ws.rs`: the largest client message.
const WS_MESSAGE_MAX: usize = 16 * 1024;
/// As `gateway/src/api/ws.rs`: bytes a connection reads from its socket at once.
const WS_READ_BUFFER_BYTES: usize = 1024;
/// As `gateway/src/api/ws.rs`: longest a write may wait for the client to read.
const WS_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// As `gateway/src/hub.rs` (`CONNECTION_QUEUE_MAX`): market-data messages a connection may
/// be behind before it is closed.
const QUEUE_MAX: usize = 1_024;
/// As `gateway/src/api/ws.rs`: queued market data sent in one write.
const BATCHES_PER_WRITE: usize = 64;

/// The market-data stream every subscribed connection follows.
struct Feed {
    /// The next sequence number, locked across the send so messages go out in its order.
    seq: Mutex<u64>,
    sender: broadcast::Sender<Message>,
}

impl Feed {
    fn new() -> Feed {
        Feed {
            seq: Mutex::new(1),
            sender: broadcast::channel(QUEUE_MAX).0,
        }
    }

    /// Sends one `trade` to every subscribed connection, stamped now.
    fn trade(&self, market: &str) {
        let mut seq = self.seq.lock().expect("feed lock");
        let at = betbet_protocol::time::format(betbet_protocol::types::Timestamp(
            betbet_bench::now_micros(),
        ));
        // The gateway's `trade` message (docs/protocols.md), ids at the gateway's width.
        let text = format!(
            r#"{{"type":"trade","seq":{seq},"data":{{"market_id":"{market}","book_id":"out_16777217","trade_id":"trd_{trade}","price":"0.4","quantity":"3","taker_side":"buy","at":"{at}"}}}}"#,
            seq = *seq,
            trade = 16_777_216 + *seq,
        );
        // No receiver (nobody subscribed) is not an error.
        let _ = self.sender.send(Message::Text(text.into()));
        *seq += 1;
    }
}

#[derive(Parser)]
#[command(
    name = "betbet-ws-echo",
    about = "Minimal WebSocket echo server: the ceiling for `betbet-load ws --echo`"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18081")]
    addr: SocketAddr,
    /// Tokio worker threads (default: one per core, as the gateway).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Deserialize)]
struct SocketParams {
    #[expect(dead_code, reason = "accepted like the gateway's, not checked")]
    token: Option<String>,
}

/// The envelope fields the server looks at; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    request_id: Option<u64>,
    #[serde(borrow)]
    data: Option<RequestData<'a>>,
}

#[derive(Deserialize)]
struct RequestData<'a> {
    #[serde(borrow)]
    time_in_force: Option<&'a str>,
    #[serde(borrow)]
    order_id: Option<&'a str>,
}

/// Order ids handed out, from the gateway's first (`ord_16777216`) so they have its width.
static NEXT_ORDER: AtomicU64 = AtomicU64::new(16_777_216);

/// Writes the answer to `request` into `out`, and returns its `type`.
fn answer(request: &str, market: &str, out: &mut String) -> &'static str {
    out.clear();
    let Ok(request) = serde_json::from_str::<Request<'_>>(request) else {
        out.push_str(r#"{"type":"error","data":{"code":"invalid_message","message":"not a request envelope","status":400}}"#);
        return "error";
    };
    let request_id = request.request_id.unwrap_or(0);
    let data = request.data.as_ref();
    let (kind, id, status) = match request.kind {
        "place_order" | "market_order" => {
            let ioc = data.and_then(|d| d.time_in_force) == Some("IOC");
            let id = NEXT_ORDER.fetch_add(1, Ordering::Relaxed);
            let status = if ioc { "filled" } else { "open" };
            let _ = write!(out, "ord_{id}");
            ("order_ack", std::mem::take(out), status)
        }
        "cancel_order" => {
            let id = data.and_then(|d| d.order_id).unwrap_or("ord_16777216");
            ("cancel_ack", id.to_owned(), "cancelled")
        }
        "unsubscribe" => {
            let _ = write!(
                out,
                r#"{{"type":"unsubscribed","request_id":{request_id},"data":{{"market_id":"{market}"}}}}"#
            );
            return "unsubscribed";
        }
        "ping" => {
            let _ = write!(out, r#"{{"type":"pong","request_id":{request_id}}}"#);
            return "pong";
        }
        _ => {
            let _ = write!(
                out,
                r#"{{"type":"error","request_id":{request_id},"data":{{"code":"unknown_type","message":"unknown message type","status":400}}}}"#
            );
            return "error";
        }
    };
    // The compact `order_ack` of docs/protocols.md, with this request's id, order and status;
    // a `cancel_ack` carries the same order object.
    let _ = write!(
        out,
        r#"{{"type":"{kind}","request_id":{request_id},"data":{{"id":"{id}","user_id":"usr_2","market_id":"{market}","outcome_id":"out_1","pool_id":null,"order_type":"buy","order_subtype":"limit","price":"0.3","odds":"3.3333","quantity":"2","filled_quantity":"0","remaining_quantity":"2","status":"{status}","reason":null,"time_in_force":"GTC","expires_at":null,"post_only":false,"client_order_id":null,"filled_notional":"0","average_price":null,"trades":0,"created_at":"2026-12-01T11:46:40.750602Z","updated_at":"2026-12-01T11:46:40.750602Z","fills":[],"duplicate":false}}}}"#
    );
    kind
}

/// Sends `messages` with one flush, as the gateway's `write`; false when the client is gone
/// or has not read for [`WS_WRITE_TIMEOUT`].
async fn write(socket: &mut WebSocket, messages: impl IntoIterator<Item = Message>) -> bool {
    let mut writing = std::pin::pin!(async {
        for message in messages {
            socket.feed(message).await?;
        }
        socket.flush().await
    });
    if let Some(written) = futures_util::FutureExt::now_or_never(writing.as_mut()) {
        return written.is_ok();
    }
    matches!(
        tokio::time::timeout(WS_WRITE_TIMEOUT, writing).await,
        Ok(Ok(()))
    )
}

async fn run(mut socket: WebSocket, market: String, feed: Arc<Feed>) {
    // Subscribed before the snapshot, as the gateway registers before it.
    let mut market_data = Some(feed.sender.subscribe());
    let snapshot = format!(
        r#"{{"type":"snapshot","data":{{"market_id":"{market}","status":"open","books":[]}}}}"#
    );
    if !write(&mut socket, [Message::Text(snapshot.into())]).await {
        return;
    }
    // Messages for one write.
    let mut messages = Vec::new();
    loop {
        let message = tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(incoming)) = incoming else { break };
                let request = match incoming {
                    Message::Text(text) => text,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let mut out = String::with_capacity(640);
                match answer(request.as_str(), &market, &mut out) {
                    "unsubscribed" => market_data = None,
                    "order_ack" | "cancel_ack" => feed.trade(&market),
                    _ => {}
                }
                Message::Text(out.into())
            }
            published = async { market_data.as_mut()?.recv().await.ok() }, if market_data.is_some() => {
                match published {
                    Some(message) => message,
                    // Lagged past the bound, as the gateway's hub drops a slow connection.
                    None => break,
                }
            }
        };
        // Messages that queued up meanwhile go out in the same write, as the gateway's
        // `WS_BATCHES_PER_WRITE` batches do.
        messages.push(message);
        while messages.len() < BATCHES_PER_WRITE
            && let Some(queued) = market_data.as_mut().and_then(|r| r.try_recv().ok())
        {
            messages.push(queued);
        }
        if !write(&mut socket, messages.drain(..)).await {
            break;
        }
    }
}

async fn market_socket(
    State(feed): State<Arc<Feed>>,
    Path(market): Path<String>,
    Query(_params): Query<SocketParams>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_message_size(WS_MESSAGE_MAX)
        .max_frame_size(WS_MESSAGE_MAX)
        .on_upgrade(move |socket| run(socket, market, feed))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("betbet-ws-echo");
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("betbet-ws-echo: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.addr).await?;
        eprintln!("betbet-ws-echo listening on {}", listener.local_addr()?);
        // As the gateway's accept loop: small replies must not wait for a delayed ACK.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = Router::new()
            .route("/ws/markets/{market_id}", get(market_socket))
            .with_state(Arc::new(Feed::new()));
        axum::serve(listener, app).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("betbet-ws-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_the_request_id_and_an_acknowledgement_size() {
        let mut out = String::new();
        answer(
            r#"{"type":"place_order","request_id":42,"data":{"market_id":"mkt_1","outcome_id":"out_1","order_type":"buy","price":"0.45","quantity":"3"}}"#,
            "mkt_1",
            &mut out,
        );
        let value: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(value["type"], "order_ack");
        assert_eq!(value["request_id"], 42);
        assert_eq!(value["data"]["status"], "open");
        assert!((540..=580).contains(&out.len()), "{}", out.len());
        let order = value["data"]["id"].as_str().expect("id").to_owned();
        answer(
            &format!(
                r#"{{"type":"cancel_order","request_id":43,"data":{{"order_id":"{order}"}}}}"#
            ),
            "mkt_1",
            &mut out,
        );
        let value: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(
            (&value["type"], &value["request_id"], &value["data"]["id"]),
            (
                &serde_json::json!("cancel_ack"),
                &serde_json::json!(43),
                &serde_json::json!(order)
            )
        );
        answer(
            r#"{"type":"unsubscribe","data":{"market_id":"mkt_1"}}"#,
            "mkt_1",
            &mut out,
        );
        assert!(out.starts_with(r#"{"type":"unsubscribed""#), "{out}");
    }

    #[test]
    fn market_data_is_a_stamped_trade_with_consecutive_sequence_numbers() {
        let feed = Feed::new();
        let mut follower = feed.sender.subscribe();
        feed.trade("mkt_1");
        feed.trade("mkt_1");
        for seq in [1, 2] {
            let Ok(Message::Text(text)) = follower.try_recv() else {
                panic!("a trade message");
            };
            let value: serde_json::Value = serde_json::from_str(text.as_str()).expect("json");
            assert_eq!(
                (&value["type"], &value["seq"]),
                (&"trade".into(), &seq.into())
            );
            let at = value["data"]["at"].as_str().expect("at");
            assert!(betbet_protocol::time::parse(at).is_some(), "{at}");
        }
        assert!(follower.try_recv().is_err());
    }
}
