//! The QUIC market-maker feed end to end through the real binary: API keys, login checks,
//! mass quotes and execution reports between two keys, and resynchronising market data
//! after a gap.

use betbet_feed_client::{
    FeedClient, FeedClientError, FeedConfig, MarketData, ReplyReceiver, Trust, sign_login,
};
use betbet_protocol::command::{OrderKind, SelfTradePrevention, Side, TimeInForce};
use betbet_protocol::feed::*;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{MarketId, OutcomeId, Price, QTY_SCALE, Qty, Timestamp};
use betbet_tests::{Api, Server, assert_amount, funded, in_a_day, json};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// How long any one expected message may take.
const PATIENCE: Duration = Duration::from_secs(10);

fn start() -> (Server, SocketAddr) {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> (Server, SocketAddr) {
    let port = betbet_tests::free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let addr_text = addr.to_string();
    let mut args = vec!["--quic-addr", addr_text.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    (server, addr)
}

/// A new key: (numeric id, secret bytes, public id).
fn new_key(api: &Api) -> (u64, Vec<u8>, String) {
    let key = api
        .post("/api/v1/api-keys", &json!({"name": "bot"}))
        .expect(201);
    (
        key["key_id"].as_u64().unwrap(),
        key["secret"].as_str().unwrap().as_bytes().to_vec(),
        key["id"].as_str().unwrap().to_owned(),
    )
}

fn config(server: &Server, addr: SocketAddr, key_id: u64, secret: &[u8]) -> FeedConfig {
    // The server generated a self-signed certificate into its data directory on start.
    let certificate =
        std::fs::read(server.data_dir.join("tls/feed-cert.der")).expect("the feed certificate");
    FeedConfig {
        server: addr,
        server_name: "localhost".to_owned(),
        trust: Trust::Certificate(certificate),
        key_id,
        secret: secret.to_vec(),
    }
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64,
    )
}

fn refused(result: Result<(FeedClient, LoggedIn), FeedClientError>) -> ResultCode {
    match result {
        Err(FeedClientError::LoginRejected(code)) => code,
        Err(other) => panic!("expected a login rejection, got {other}"),
        Ok(_) => panic!("expected a login rejection, the login succeeded"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A binary market created by a user of its own: the creator of a manually resolved market
/// may not trade in it, and the tests' traders do.
fn binary_market(api: &Api, title: &str) -> (Value, MarketId, OutcomeId) {
    let host: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let (host, _) = api.signup(&format!("host_{host}"));
    let market = host
        .post(
            "/api/v1/markets/create",
            &json!({
                "title": title,
                "description": "for the feed tests",
                "market_type": "binary",
                "closes_at": in_a_day(),
                "category": "tests",
            }),
        )
        .expect(201);
    let number = |id: &Value, prefix: &str| -> u64 {
        id.as_str()
            .unwrap()
            .strip_prefix(prefix)
            .unwrap()
            .parse()
            .unwrap()
    };
    let id = MarketId(number(&market["id"], "mkt_"));
    let yes = OutcomeId(number(&market["outcomes"][0]["id"], "out_"));
    (market, id, yes)
}

/// A binary market's NO outcome.
fn second_outcome(market: &Value) -> OutcomeId {
    OutcomeId(
        market["outcomes"][1]["id"].as_str().unwrap()[4..]
            .parse()
            .unwrap(),
    )
}

/// `request` (a new order) resting until cancelled.
fn gtc(mut request: FeedRequest) -> FeedRequest {
    if let FeedRequest::NewOrder(order) = &mut request {
        order.time_in_force = TimeInForce::Gtc;
    }
    request
}

#[test]
fn logins_are_signed_fresh_unreplayed_and_revocable() {
    let (server, addr) = start();
    let (trader, _) = funded(&server.api(), "feed_login", "10");
    let (key_id, secret, key_public) = new_key(&trader);
    let listed = trader.get("/api/v1/api-keys").expect(200);
    assert_eq!(listed["api_keys"][0]["id"], key_public.as_str());
    assert!(
        listed["api_keys"][0].get("secret").is_none(),
        "a secret is shown once"
    );
    // Another user can neither see nor revoke the key.
    let (intruder, _) = server.api().signup("feed_intruder");
    let theirs = intruder.get("/api/v1/api-keys").expect(200);
    assert_eq!(theirs["api_keys"].as_array().unwrap().len(), 0);
    intruder
        .delete(&format!("/api/v1/api-keys/{key_public}"))
        .expect_error(404, "api_key_not_found");

    let rt = runtime();
    rt.block_on(async {
        let good = config(&server, addr, key_id, &secret);
        let (client, logged_in) = FeedClient::connect(&good).await.expect("login");
        assert_eq!(logged_in.key_id, key_id);
        drop(client);
        let wrong = config(&server, addr, key_id, b"not the secret");
        assert_eq!(
            refused(FeedClient::connect(&wrong).await),
            ResultCode::BadSignature
        );
        let unknown = config(&server, addr, key_id + 100, &secret);
        assert_eq!(
            refused(FeedClient::connect(&unknown).await),
            ResultCode::ApiKeyNotFound
        );
        let stale = sign_login(key_id, &secret, Timestamp(now().0 - 10_000_000), [7; 16]);
        assert_eq!(
            refused(FeedClient::connect_with(&good, stale).await),
            ResultCode::StaleTimestamp
        );
        let once = sign_login(key_id, &secret, now(), [9; 16]);
        FeedClient::connect_with(&good, once.clone())
            .await
            .expect("the first use of a nonce");
        assert_eq!(
            refused(FeedClient::connect_with(&good, once).await),
            ResultCode::NonceReused
        );
    });
    // Revoking the key also ends the connections that logged in with it.
    let (live, _) = rt
        .block_on(FeedClient::connect(&config(&server, addr, key_id, &secret)))
        .expect("login");
    let (_orders, mut replies) = live.order_entry();
    let revoked = trader
        .delete(&format!("/api/v1/api-keys/{key_public}"))
        .expect(200);
    assert_eq!(revoked["status"], "revoked");
    rt.block_on(async {
        let ended = tokio::time::timeout(PATIENCE, replies.next())
            .await
            .expect("the live connection ends in time");
        assert!(
            !matches!(ended, Ok(Some(_))),
            "no more replies after revocation: {ended:?}"
        );
        let good = config(&server, addr, key_id, &secret);
        assert_eq!(
            refused(FeedClient::connect(&good).await),
            ResultCode::ApiKeyRevoked
        );
    });
}

async fn next_reply(replies: &mut ReplyReceiver) -> FeedReply {
    tokio::time::timeout(PATIENCE, replies.next())
        .await
        .expect("a reply in time")
        .expect("the stream works")
        .expect("the stream is open")
}

async fn next_exec(replies: &mut ReplyReceiver, want: impl Fn(&ExecReport) -> bool) -> ExecReport {
    loop {
        if let FeedReply::Exec(report) = next_reply(replies).await
            && want(&report)
        {
            return report;
        }
    }
}

async fn next_quote_ack(replies: &mut ReplyReceiver) -> MassQuoteAck {
    loop {
        if let FeedReply::MassQuote(ack) = next_reply(replies).await {
            return ack;
        }
    }
}

fn buy(client_ref: u64, market: MarketId, outcome: OutcomeId, price: u32, qty: u64) -> FeedRequest {
    FeedRequest::NewOrder(NewOrder {
        client_ref,
        market,
        outcome,
        side: Side::Buy,
        kind: OrderKind::Limit,
        price: Price(price),
        qty: Qty(qty * QTY_SCALE),
        time_in_force: TimeInForce::Ioc,
        expires_at: Timestamp(0),
        post_only: false,
        self_trade: SelfTradePrevention::CancelResting,
    })
}

#[test]
fn quotes_fill_and_both_keys_get_execution_reports() {
    let (server, addr) = start();
    let api = server.api();
    let (maker, _) = funded(&api, "feed_maker", "1000");
    let (taker, taker_id) = funded(&api, "feed_taker", "1000");
    let (market, market_id, yes) = binary_market(&maker, "Feed market");
    let market_path = market["id"].as_str().unwrap().to_owned();
    let (maker_key, maker_secret, _) = new_key(&maker);
    let (taker_key, taker_secret, _) = new_key(&taker);
    runtime().block_on(async {
        let (maker_client, _) =
            FeedClient::connect(&config(&server, addr, maker_key, &maker_secret))
                .await
                .unwrap();
        let (mut maker_orders, mut maker_replies) = maker_client.order_entry();
        let two_sided = |client_ref, bid, ask, qty| {
            FeedRequest::MassQuote(MassQuoteRequest {
                client_ref,
                market: market_id,
                quotes: vec![Quote {
                    outcome: yes,
                    bid_price: Price(bid),
                    bid_qty: Qty(qty * QTY_SCALE),
                    ask_price: Price(ask),
                    ask_qty: Qty(qty * QTY_SCALE),
                }],
            })
        };
        maker_orders
            .send(&two_sided(1, 4_000, 6_000, 10))
            .await
            .unwrap();
        let first = next_quote_ack(&mut maker_replies).await;
        assert_eq!(
            (first.client_ref, first.code, first.orders.len()),
            (1, None, 2)
        );
        // A requote replaces the first quotes; a self-crossing one changes nothing.
        maker_orders
            .send(&two_sided(2, 4_500, 5_500, 10))
            .await
            .unwrap();
        let second = next_quote_ack(&mut maker_replies).await;
        assert_eq!((second.code, second.orders.len()), (None, 2));
        let mut replaced = Vec::new();
        for _ in &first.orders {
            let cancelled =
                next_exec(&mut maker_replies, |r| first.orders.contains(&r.order)).await;
            assert_eq!(
                (cancelled.kind, cancelled.client_ref),
                (ExecKind::Cancelled, 1)
            );
            replaced.push(cancelled.order);
        }
        let mut expected = first.orders.clone();
        expected.sort();
        replaced.sort();
        assert_eq!(replaced, expected);
        maker_orders
            .send(&two_sided(3, 6_000, 5_000, 1))
            .await
            .unwrap();
        let crossing = next_quote_ack(&mut maker_replies).await;
        assert_eq!(crossing.code, Some(ResultCode::PostOnlyWouldCross));
        let book = api
            .get(&format!("/api/v1/markets/{market_path}/orderbook"))
            .expect(200);
        assert_amount(&book["bids"][0]["price"], "0.45");
        assert_amount(&book["asks"][0]["price"], "0.55");
        assert_amount(&book["asks"][0]["quantity"], "10");
        let ask_order = second.orders[1];

        let (taker_client, _) =
            FeedClient::connect(&config(&server, addr, taker_key, &taker_secret))
                .await
                .unwrap();
        let (mut taker_orders, mut taker_replies) = taker_client.order_entry();
        taker_orders
            .send(&buy(77, market_id, yes, 5_500, 4))
            .await
            .unwrap();
        let accepted = next_exec(&mut taker_replies, |r| r.client_ref == 77).await;
        assert_eq!(accepted.kind, ExecKind::Accepted);
        let filled = next_exec(&mut taker_replies, |r| r.client_ref == 77).await;
        assert_eq!(
            (
                filled.kind,
                filled.last_price,
                filled.last_qty,
                filled.order
            ),
            (
                ExecKind::Filled,
                Price(5_500),
                Qty(4 * QTY_SCALE),
                accepted.order
            )
        );
        let maker_fill = next_exec(&mut maker_replies, |r| r.order == ask_order).await;
        assert_eq!(
            (
                maker_fill.kind,
                maker_fill.client_ref,
                maker_fill.filled,
                maker_fill.remaining
            ),
            (
                ExecKind::PartiallyFilled,
                2,
                Qty(4 * QTY_SCALE),
                Qty(6 * QTY_SCALE)
            )
        );
        assert_eq!(maker_fill.last_price, Price(5_500));
        // A refused order comes back with the engine's code under the client's reference.
        taker_orders
            .send(&buy(78, market_id, yes, 5_550, 1))
            .await
            .unwrap();
        let rejected = next_exec(&mut taker_replies, |r| r.client_ref == 78).await;
        assert_eq!(
            (rejected.kind, rejected.code),
            (ExecKind::Rejected, Some(ResultCode::PriceOffTick))
        );
        // Cancel all: the maker's remaining quotes end, reported as cancelled.
        maker_orders
            .send(&FeedRequest::CancelAll(CancelAllRequest {
                client_ref: 4,
                market: market_id,
            }))
            .await
            .unwrap();
        let bid_end = next_exec(&mut maker_replies, |r| r.order == second.orders[0]).await;
        assert_eq!(bid_end.kind, ExecKind::Cancelled);
    });
    let wallets = taker
        .get(&format!("/api/v1/wallets/{taker_id}"))
        .expect(200);
    assert_amount(&wallets["wallets"][0]["balance"], "997.8");
    let book = api
        .get(&format!("/api/v1/markets/{market_path}/orderbook"))
        .expect(200);
    assert_eq!(book["bids"].as_array().unwrap().len(), 0);
    assert_eq!(book["asks"].as_array().unwrap().len(), 0);
}

type LocalBooks = BTreeMap<OutcomeId, (u64, BTreeMap<(u8, u32), u64>)>;

fn seq_of(data: &FeedData) -> u64 {
    match data {
        FeedData::Snapshot(s) => s.seq,
        FeedData::Delta(d) => d.seq,
        FeedData::Trade(t) => t.seq,
        FeedData::Top(t) => t.seq,
    }
}

/// Applies market data to a local book; returns false on a sequence gap.
fn apply(books: &mut LocalBooks, data: &FeedData) -> bool {
    match data {
        FeedData::Snapshot(snapshot) => {
            let mut levels = BTreeMap::new();
            for level in &snapshot.bids {
                levels.insert((0, level.price.0), level.qty.0);
            }
            for level in &snapshot.asks {
                levels.insert((1, level.price.0), level.qty.0);
            }
            books.insert(snapshot.book, (snapshot.seq, levels));
            true
        }
        FeedData::Delta(delta) => {
            let Some((seq, levels)) = books.get_mut(&delta.book) else {
                return false;
            };
            if delta.seq != *seq + 1 {
                return false;
            }
            *seq = delta.seq;
            let key = (delta.side.to_u8(), delta.price.0);
            if delta.qty.0 == 0 {
                levels.remove(&key);
            } else {
                levels.insert(key, delta.qty.0);
            }
            true
        }
        FeedData::Trade(trade) => {
            let Some((seq, _)) = books.get_mut(&trade.book) else {
                return false;
            };
            if trade.seq != *seq + 1 {
                return false;
            }
            *seq = trade.seq;
            true
        }
        FeedData::Top(_) => true,
    }
}

/// Reads market data until a message at sequence `until` arrived, losing the first `skip`
/// deltas on purpose; returns whether a gap was seen.
async fn read_until(
    data: &mut MarketData,
    books: &mut LocalBooks,
    until: u64,
    mut skip: usize,
) -> bool {
    let mut gap = false;
    loop {
        let message = tokio::time::timeout(PATIENCE, data.next())
            .await
            .expect("market data in time")
            .unwrap()
            .expect("the stream is open");
        let seq = seq_of(&message);
        if skip > 0 && matches!(message, FeedData::Delta(_)) {
            skip -= 1;
        } else if !apply(books, &message) {
            gap = true;
        }
        if seq >= until {
            return gap;
        }
    }
}

fn rest_book(api: &Api, market_path: &str) -> (u64, BTreeMap<(u8, u32), u64>) {
    let rest = api
        .get(&format!(
            "/api/v1/markets/{market_path}/orderbook?depth=100"
        ))
        .expect(200);
    let mut levels = BTreeMap::new();
    for (side, key) in [("bids", 0u8), ("asks", 1u8)] {
        for level in rest[side].as_array().unwrap() {
            let price =
                Price::from_decimal(level["price"].as_str().unwrap().parse().unwrap()).unwrap();
            let qty =
                Qty::from_decimal(level["quantity"].as_str().unwrap().parse().unwrap()).unwrap();
            levels.insert((key, price.0), qty.0);
        }
    }
    (rest["seq"].as_u64().unwrap(), levels)
}

#[test]
fn a_forced_gap_is_repaired_by_a_snapshot_request() {
    let (server, addr) = start_with(&["--feed-datagrams"]);
    let api = server.api();
    let (trader, _) = funded(&api, "feed_gap", "100");
    let (market, market_id, _) = binary_market(&trader, "Gap market");
    let market_path = market["id"].as_str().unwrap().to_owned();
    let yes = market["outcomes"][0]["id"].as_str().unwrap().to_owned();
    let (key, secret, _) = new_key(&trader);
    runtime().block_on(async {
        let (client, _) = FeedClient::connect(&config(&server, addr, key, &secret))
            .await
            .unwrap();
        let (mut orders, mut replies) = client.order_entry();
        orders
            .send(&FeedRequest::Subscribe(MarketRequest { market: market_id }))
            .await
            .unwrap();
        let mut data = orders.next_market_stream().await.unwrap();
        let FeedReply::Subscribed(subscribed) = next_reply(&mut replies).await else {
            panic!("expected the subscription's confirmation");
        };
        assert_eq!(subscribed.books.len(), 1, "a binary market has one book");
        let mut books = LocalBooks::new();
        read_until(&mut data, &mut books, 0, 0).await;
        assert_eq!(books.len(), 1, "the subscription starts with a snapshot");
        for (i, price) in ["0.40", "0.41", "0.42", "0.43", "0.44", "0.60", "0.61"].iter().enumerate() {
            let side = if i < 5 { "buy" } else { "sell" };
            trader
                .post(
                    &format!("/api/v1/markets/{market_path}/orders"),
                    &json!({"outcome_id": yes, "order_type": side, "price": price, "quantity": "1"}),
                )
                .expect(201);
        }
        let (seq, expected) = rest_book(&api, &market_path);
        assert!(
            read_until(&mut data, &mut books, seq, 3).await,
            "the dropped deltas show as a gap"
        );
        assert_ne!(books[&subscribed.books[0]].1, expected, "the local book is wrong now");
        // Top of book also came as datagrams (unordered, best effort: read up to the last).
        let top = loop {
            let top = tokio::time::timeout(PATIENCE, orders.next_top())
                .await
                .expect("a datagram in time")
                .unwrap();
            if top.seq == seq {
                break top;
            }
        };
        assert_eq!((top.bid, top.ask), (Price(4_400), Price(6_000)));
        assert_eq!((top.bid_qty, top.ask_qty), (Qty(QTY_SCALE), Qty(QTY_SCALE)));
        orders
            .send(&FeedRequest::Snapshot(SnapshotRequest {
                book: subscribed.books[0],
            }))
            .await
            .unwrap();
        assert!(!read_until(&mut data, &mut books, seq, 0).await);
        let (local_seq, levels) = &books[&subscribed.books[0]];
        assert_eq!(*local_seq, seq);
        assert_eq!(levels, &expected, "after the resync the feed's book is the REST book");
    });
}

#[test]
fn a_key_shares_one_request_budget_across_its_connections() {
    let (server, addr) = start_with(&["--feed-rate", "5"]);
    let (trader, _) = funded(&server.api(), "feed_rate", "10");
    let (key, secret, _) = new_key(&trader);
    runtime().block_on(async {
        let config = config(&server, addr, key, &secret);
        let mut connections = Vec::new();
        for _ in 0..8 {
            connections.push(
                FeedClient::connect(&config)
                    .await
                    .expect("login")
                    .0
                    .order_entry(),
            );
        }
        assert_eq!(
            refused(FeedClient::connect(&config).await),
            ResultCode::LimitExceeded,
            "a key holds at most 8 connections"
        );
        // 3 requests on each of 8 connections at once: a budget of 5 per second per key
        // cannot take 24, however the connections split them.
        for (orders, _) in &mut connections {
            for client_ref in 0..3 {
                orders
                    .send(&FeedRequest::Cancel(CancelRequest {
                        client_ref,
                        order: betbet_protocol::types::OrderId(999),
                    }))
                    .await
                    .unwrap();
            }
        }
        let (mut limited, mut answered) = (0, 0);
        for (_, replies) in &mut connections {
            for _ in 0..3 {
                match next_reply(replies).await {
                    FeedReply::Error(error) if error.code == ResultCode::LimitExceeded => {
                        limited += 1
                    }
                    FeedReply::Exec(report) => {
                        assert_eq!(report.code, Some(ResultCode::OrderNotFound));
                        answered += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert!(answered >= 5, "the burst allowance is served: {answered}");
        assert!(
            limited >= 8,
            "most of the burst is over the key's rate: {limited}"
        );
    });
}

/// A reply's `client_ref` (none for a pong or a subscription) and what it is.
fn reply_ref(reply: &FeedReply) -> (Option<u64>, &'static str) {
    match reply {
        FeedReply::Exec(report) => (Some(report.client_ref), report.kind.as_str()),
        FeedReply::Error(error) => (Some(error.client_ref), "error"),
        FeedReply::MassQuote(ack) => (Some(ack.client_ref), "mass_quote"),
        FeedReply::Pong(_) => (None, "pong"),
        FeedReply::Subscribed(_) => (None, "subscribed"),
        _ => (None, "other"),
    }
}

#[test]
fn a_burst_of_requests_is_answered_in_order_with_fills_after_acceptances() {
    let (server, addr) = start();
    let api = server.api();
    let (maker, _) = funded(&api, "burst_maker", "1000");
    let (taker, _) = funded(&api, "burst_taker", "1000");
    let (market, market_id, yes) = binary_market(&maker, "Burst market");
    let no = second_outcome(&market);
    let (maker_key, maker_secret, _) = new_key(&maker);
    let (taker_key, taker_secret, _) = new_key(&taker);
    runtime().block_on(async {
        let (maker_client, _) =
            FeedClient::connect(&config(&server, addr, maker_key, &maker_secret))
                .await
                .unwrap();
        let (mut orders, mut replies) = maker_client.order_entry();
        // 30 resting bids at 0.30–0.59 sent back to back, with a ping, a subscription and an
        // invalid order among them: every answer comes back in the order of the requests.
        let mut expected = Vec::new();
        for i in 1..=30u64 {
            let mut request = gtc(buy(i, market_id, yes, 2_900 + 100 * i as u32, 1));
            if let FeedRequest::NewOrder(order) = &mut request
                && i == 15
            {
                order.price = Price(0);
            }
            orders.send(&request).await.unwrap();
            expected.push((Some(i), if i == 15 { "rejected" } else { "accepted" }));
            if i == 10 {
                orders
                    .send(&FeedRequest::Ping(FeedPing { nonce: 7 }))
                    .await
                    .unwrap();
                expected.push((None, "pong"));
            }
            if i == 20 {
                orders
                    .send(&FeedRequest::Subscribe(MarketRequest { market: market_id }))
                    .await
                    .unwrap();
                expected.push((None, "subscribed"));
            }
        }
        let mut answered = Vec::new();
        while answered.len() < expected.len() {
            answered.push(reply_ref(&next_reply(&mut replies).await));
        }
        assert_eq!(answered, expected);

        // A taker's burst of five crossing IOCs (buy NO at 0.60 = sell YES at 0.40): each
        // order's acceptance reaches the taker before its fill, under its own client_ref.
        let (taker_client, _) =
            FeedClient::connect(&config(&server, addr, taker_key, &taker_secret))
                .await
                .unwrap();
        let (mut taker_orders, mut taker_replies) = taker_client.order_entry();
        for i in 101..=105u64 {
            taker_orders
                .send(&buy(i, market_id, no, 6_000, 1))
                .await
                .unwrap();
        }
        let mut accepted = BTreeMap::new();
        let mut filled = 0;
        while filled < 5 {
            let FeedReply::Exec(report) = next_reply(&mut taker_replies).await else {
                continue;
            };
            assert!(
                (101..=105).contains(&report.client_ref),
                "a report without its client_ref: {report:?}"
            );
            match report.kind {
                ExecKind::Accepted => {
                    assert_eq!(accepted.insert(report.order, report.client_ref), None);
                    assert_eq!(
                        report.client_ref,
                        100 + accepted.len() as u64,
                        "acceptances in request order"
                    );
                }
                ExecKind::Filled => {
                    assert_eq!(
                        accepted.get(&report.order),
                        Some(&report.client_ref),
                        "a fill before its acceptance"
                    );
                    // Mirrored terms: NO bought at 1 − the YES bid it met (0.59 … 0.55).
                    assert_eq!(report.last_price, Price(10_000 - (5_900 - 100 * filled)));
                    filled += 1;
                }
                other => panic!("unexpected {other:?} for {report:?}"),
            }
        }
        // The maker's five best bids were filled, each reported under its own client_ref.
        let mut maker_fills = Vec::new();
        while maker_fills.len() < 5 {
            let report = next_exec(&mut replies, |r| r.kind == ExecKind::Filled).await;
            maker_fills.push(report.client_ref);
        }
        maker_fills.sort();
        assert_eq!(maker_fills, vec![26, 27, 28, 29, 30]);
    });
}

#[test]
fn amends_fills_and_cancels_report_under_the_orders_client_ref_and_only_its_owner_may_act() {
    let (server, addr) = start();
    let api = server.api();
    let (maker, _) = funded(&api, "amend_maker", "1000");
    let (taker, _) = funded(&api, "amend_taker", "1000");
    let (market, market_id, yes) = binary_market(&maker, "Amend market");
    let market_path = market["id"].as_str().unwrap().to_owned();
    let no = second_outcome(&market);
    let (maker_key, maker_secret, _) = new_key(&maker);
    let (taker_key, taker_secret, _) = new_key(&taker);
    runtime().block_on(async {
        let (maker_client, _) =
            FeedClient::connect(&config(&server, addr, maker_key, &maker_secret))
                .await
                .unwrap();
        let (mut orders, mut replies) = maker_client.order_entry();
        let bid = gtc(buy(1, market_id, yes, 4_000, 10));
        orders.send(&bid).await.unwrap();
        let accepted = next_exec(&mut replies, |r| r.client_ref == 1).await;
        assert_eq!(accepted.kind, ExecKind::Accepted);
        let order = accepted.order;
        let amend = |client_ref, qty: u64, price| {
            FeedRequest::Amend(AmendRequest {
                client_ref,
                order,
                qty: Qty(qty * QTY_SCALE),
                price: Price(price),
                reserved: 0,
            })
        };
        // Size down, then a better price: each answered under the amend's client_ref.
        orders.send(&amend(2, 6, 4_000)).await.unwrap();
        orders.send(&amend(3, 6, 4_200)).await.unwrap();
        for (client_ref, price) in [(2, 4_000), (3, 4_200)] {
            let amended = next_exec(&mut replies, |r| r.client_ref == client_ref).await;
            assert_eq!(
                (
                    amended.kind,
                    amended.order,
                    amended.remaining,
                    amended.last_price
                ),
                (ExecKind::Amended, order, Qty(6 * QTY_SCALE), Price(price))
            );
        }
        let book = api
            .get(&format!("/api/v1/markets/{market_path}/orderbook"))
            .expect(200);
        assert_amount(&book["bids"][0]["price"], "0.42");
        assert_amount(&book["bids"][0]["quantity"], "6");

        // Another user's key can neither cancel nor amend the maker's order.
        let (taker_client, _) =
            FeedClient::connect(&config(&server, addr, taker_key, &taker_secret))
                .await
                .unwrap();
        let (mut taker_orders, mut taker_replies) = taker_client.order_entry();
        taker_orders
            .send(&FeedRequest::Cancel(CancelRequest {
                client_ref: 9,
                order,
            }))
            .await
            .unwrap();
        let refused = next_exec(&mut taker_replies, |r| r.client_ref == 9).await;
        assert_eq!(
            (refused.kind, refused.code),
            (ExecKind::Rejected, Some(ResultCode::OrderNotFound))
        );
        taker_orders
            .send(&FeedRequest::Amend(AmendRequest {
                client_ref: 10,
                order,
                qty: Qty(QTY_SCALE),
                price: Price(4_100),
                reserved: 0,
            }))
            .await
            .unwrap();
        let refused = next_exec(&mut taker_replies, |r| r.client_ref == 10).await;
        assert_eq!(
            (refused.kind, refused.code),
            (ExecKind::Rejected, Some(ResultCode::OrderNotFound))
        );

        // The taker sells 2 into the bid (buys NO at 0.60): the maker's fill and, after a
        // cancel, the end of the order carry the order's own client_ref.
        taker_orders
            .send(&buy(11, market_id, no, 6_000, 2))
            .await
            .unwrap();
        let fill = next_exec(&mut replies, |r| r.order == order).await;
        assert_eq!(
            (
                fill.kind,
                fill.client_ref,
                fill.filled,
                fill.remaining,
                fill.last_price
            ),
            (
                ExecKind::PartiallyFilled,
                1,
                Qty(2 * QTY_SCALE),
                Qty(4 * QTY_SCALE),
                Price(4_200)
            )
        );
        // Resized over REST (8 resting again, 10 in all with the 2 filled), then 4 more
        // filled: still partial — the connection follows a size changed elsewhere (with the
        // size it last knew, 6, it would call the order filled).
        maker
            .put(
                &format!("/api/v1/orders/ord_{}", order.0),
                &json!({"quantity": "8", "price": "0.42"}),
            )
            .expect(200);
        taker_orders
            .send(&buy(12, market_id, no, 6_000, 4))
            .await
            .unwrap();
        let fill = next_exec(&mut replies, |r| r.order == order).await;
        assert_eq!(
            (fill.kind, fill.client_ref, fill.filled, fill.remaining),
            (
                ExecKind::PartiallyFilled,
                1,
                Qty(6 * QTY_SCALE),
                Qty(4 * QTY_SCALE)
            )
        );
        orders
            .send(&FeedRequest::Cancel(CancelRequest {
                client_ref: 4,
                order,
            }))
            .await
            .unwrap();
        let cancelled = next_exec(&mut replies, |r| r.order == order).await;
        assert_eq!(
            (cancelled.kind, cancelled.client_ref, cancelled.filled),
            (ExecKind::Cancelled, 1, Qty(6 * QTY_SCALE))
        );
        let book = api
            .get(&format!("/api/v1/markets/{market_path}/orderbook"))
            .expect(200);
        assert_eq!(book["bids"].as_array().map(Vec::len), Some(0));
    });
}

#[test]
fn cancel_on_disconnect_cancels_only_that_connections_orders() {
    let (server, addr) = start();
    let api = server.api();
    let (maker, _) = funded(&api, "cod_maker", "1000");
    let (market, market_id, yes) = binary_market(&maker, "Cancel on disconnect");
    let market_path = market["id"].as_str().unwrap().to_owned();
    let (key, secret, _) = new_key(&maker);
    let resting = |client_ref, price| gtc(buy(client_ref, market_id, yes, price, 1));
    let bid_prices = || -> Vec<String> {
        let book = api
            .get(&format!("/api/v1/markets/{market_path}/orderbook"))
            .expect(200);
        book["bids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|level| level["price"].as_str().unwrap().to_owned())
            .collect()
    };
    runtime().block_on(async {
        // Connection A asks for cancel on disconnect and rests two bids; B, of the same key
        // and user, rests one without asking.
        let (a, _) = FeedClient::connect(&config(&server, addr, key, &secret))
            .await
            .unwrap();
        let (mut a_orders, mut a_replies) = a.order_entry();
        a_orders
            .send(&FeedRequest::CancelOnDisconnect(CancelOnDisconnect {
                client_ref: 1,
                enabled: true,
            }))
            .await
            .unwrap();
        assert_eq!(
            next_reply(&mut a_replies).await,
            FeedReply::CancelOnDisconnect(CancelOnDisconnect {
                client_ref: 1,
                enabled: true
            })
        );
        for (client_ref, price) in [(2, 4_000), (3, 4_100)] {
            a_orders.send(&resting(client_ref, price)).await.unwrap();
            let accepted = next_exec(&mut a_replies, |r| r.client_ref == client_ref).await;
            assert_eq!(accepted.kind, ExecKind::Accepted);
        }
        let (b, _) = FeedClient::connect(&config(&server, addr, key, &secret))
            .await
            .unwrap();
        let (mut b_orders, mut b_replies) = b.order_entry();
        b_orders.send(&resting(7, 3_900)).await.unwrap();
        assert_eq!(
            next_exec(&mut b_replies, |r| r.client_ref == 7).await.kind,
            ExecKind::Accepted
        );
        assert_eq!(bid_prices().len(), 3);

        // A goes away without a word: its two bids are cancelled, B's stays.
        drop((a_orders, a_replies));
        let deadline = std::time::Instant::now() + PATIENCE;
        while bid_prices().len() != 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "A's orders still rest: {:?}",
                bid_prices()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = bid_prices();
        assert_eq!(left.len(), 1);
        assert_amount(&serde_json::json!(left[0]), "0.39");
        // B sees the cancellations of its user's orders (placed elsewhere: client_ref 0).
        for _ in 0..2 {
            let cancelled = next_exec(&mut b_replies, |r| r.kind == ExecKind::Cancelled).await;
            assert_eq!(cancelled.client_ref, 0);
        }
        drop((b_orders, b_replies));
    });
}
