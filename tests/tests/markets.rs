//! Markets end to end through the real binary: trading, settlement, a crash mid-session,
//! and the WebSocket feed reproducing the REST order book.

use betbet_tests::{Api, Server, assert_amount, close_and_resolve, funded, in_a_day, json};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

fn balance(api: &Api, user: &str) -> (String, String) {
    let wallets = api.get(&format!("/api/v1/wallets/{user}")).expect(200);
    let wallet = &wallets["wallets"][0];
    (
        wallet["available_balance"].as_str().unwrap().to_owned(),
        wallet["locked_balance"].as_str().unwrap().to_owned(),
    )
}

fn create_market(api: &Api, market_type: &str, outcomes: &[&str]) -> Value {
    let mut body = json!({
        "title": format!("A {market_type} market"),
        "description": "for the tests",
        "market_type": market_type,
        "outcomes": outcomes,
        "closes_at": in_a_day(),
        "category": "tests",
        "creator_fee_percent": "1.00",
        "tick_size": "0.01",
    });
    if market_type == "scalar" {
        body["scalar_low"] = "0".into();
        body["scalar_high"] = "100".into();
    }
    api.post("/api/v1/markets/create", &body).expect(201)
}

fn order(api: &Api, market: &str, body: Value) -> Value {
    api.post(&format!("/api/v1/markets/{market}/orders"), &body)
        .expect(201)
}

fn outcome(market: &Value, index: usize) -> String {
    market["outcomes"][index]["id"].as_str().unwrap().to_owned()
}

#[test]
fn trading_settlement_and_a_crash_mid_session() {
    // No dispute window: a resolution is final at once (the window has its own tests).
    let mut server = Server::start(&[
        "--demo",
        "--platform-fee-bp",
        "200",
        "--dispute-window-secs",
        "0",
    ]);
    let anon = server.api();
    let (creator, creator_id) = funded(&anon, "creator", "1");
    let (alice, alice_id) = funded(&anon, "alice_m", "100");
    let (bob, bob_id) = funded(&anon, "bob_m", "100");
    let (carol, carol_id) = funded(&anon, "carol_m", "100");

    let market = create_market(&creator, "binary", &[]);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let (yes, no) = (outcome(&market, 0), outcome(&market, 1));

    // Alice bids YES 0.60 for 10; bob buys NO at 0.45 (a YES ask at 0.55): they cross at 0.60.
    let resting = order(
        &alice,
        &market_id,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.60", "quantity": "10"}),
    );
    assert_eq!(resting["status"], "open");
    assert_eq!(
        balance(&alice, &alice_id),
        ("94".to_owned(), "6".to_owned())
    );
    let taker = order(
        &bob,
        &market_id,
        json!({"outcome_id": no, "order_type": "buy", "price": "0.45", "quantity": "10"}),
    );
    assert_eq!(taker["status"], "filled");
    assert_eq!(taker["fills"][0]["price"], "0.4", "bob's fill in NO terms");
    assert_eq!(taker["fills"][0]["liquidity"], "taker");
    assert_amount(&taker["filled_notional"], "4");
    assert_eq!(
        balance(&alice, &alice_id),
        ("94".to_owned(), "0".to_owned())
    );
    assert_eq!(balance(&bob, &bob_id), ("96".to_owned(), "0".to_owned()));

    // Carol buys YES at 0.70 from alice, who sells what she holds.
    order(
        &alice,
        &market_id,
        json!({"outcome_id": yes, "order_type": "sell", "price": "0.70", "quantity": "4", "client_order_id": "alice-1"}),
    );
    let again = alice
        .post(&format!("/api/v1/markets/{market_id}/orders"), &json!({"outcome_id": yes, "order_type": "sell", "price": "0.70", "quantity": "4", "client_order_id": "alice-1"}))
        .expect(200);
    assert_eq!(again["duplicate"], true);
    // Back YES at decimal odds 1.25 (= buy at ≤ 0.80).
    let backed = order(
        &carol,
        &market_id,
        json!({"outcome_id": yes, "position_type": "back", "odds": "1.25", "quantity": "4"}),
    );
    assert_eq!(backed["fills"][0]["price"], "0.7");
    let book = anon
        .get(&format!(
            "/api/v1/markets/{market_id}/orderbook?outcome_id={yes}"
        ))
        .expect(200);
    assert_eq!(book["bids"].as_array().unwrap().len(), 0);
    assert_eq!(book["asks"].as_array().unwrap().len(), 0);

    // Resting orders on both sides, in both views.
    order(
        &carol,
        &market_id,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.50", "quantity": "2"}),
    );
    order(
        &bob,
        &market_id,
        json!({"outcome_id": no, "order_type": "buy", "price": "0.30", "quantity": "3"}),
    );
    let yes_book = anon
        .get(&format!(
            "/api/v1/markets/{market_id}/orderbook?outcome_id={yes}"
        ))
        .expect(200);
    assert_eq!(yes_book["bids"][0]["price"], "0.5");
    assert_eq!(yes_book["asks"][0]["price"], "0.7");
    let no_book = anon
        .get(&format!(
            "/api/v1/markets/{market_id}/orderbook?outcome_id={no}"
        ))
        .expect(200);
    assert_eq!(no_book["bids"][0]["price"], "0.3");
    assert_eq!(no_book["asks"][0]["price"], "0.5");

    // Positions.
    let positions = alice
        .get(&format!("/api/v1/users/{alice_id}/positions"))
        .expect(200);
    let alice_yes = &positions["positions"][0];
    assert_eq!(alice_yes["quantity"], "6");
    assert_amount(&alice_yes["stake"], "3.6");
    assert_amount(&alice_yes["realized_pnl"], "0.4");
    bob.get(&format!("/api/v1/users/{alice_id}/positions"))
        .expect_error(403, "forbidden");

    // A multi-outcome market with a complete set.
    let cup = create_market(&creator, "multiple", &["Red", "Blue", "Green"]);
    let cup_id = cup["id"].as_str().unwrap().to_owned();
    alice
        .post(
            &format!("/api/v1/markets/{cup_id}/mint"),
            &json!({"quantity": "5"}),
        )
        .expect(200);
    order(
        &alice,
        &cup_id,
        json!({"outcome_id": outcome(&cup, 1), "order_type": "sell", "price": "0.40", "quantity": "5"}),
    );
    order(
        &carol,
        &cup_id,
        json!({"outcome_id": outcome(&cup, 1), "order_type": "buy", "price": "0.40", "quantity": "5"}),
    );

    // Snapshot of what the crash must keep, then SIGKILL mid-session and restart.
    let views = |api: &Api| {
        vec![
            api.get(&format!("/api/v1/wallets/{alice_id}")).body,
            api.get(&format!("/api/v1/users/{alice_id}/positions")).body,
            api.get(&format!(
                "/api/v1/markets/{market_id}/orderbook?outcome_id={yes}"
            ))
            .body,
            api.get(&format!("/api/v1/markets/{cup_id}")).body,
            api.get("/api/v1/orders?status=all").body,
        ]
    };
    let before = views(&alice);
    server.kill();
    server.restart();
    assert_eq!(views(&alice), before, "state after a crash and restart");

    // Resolution: YES wins. Fees: creator 1 %, platform 2 % of net winnings.
    bob.post(
        &format!("/api/v1/markets/{market_id}/resolve"),
        &json!({"winning_outcome": yes}),
    )
    .expect_error(403, "not_market_creator");
    close_and_resolve(&creator, &market_id, &yes);
    let started = std::time::Instant::now();
    while anon
        .get(&format!("/api/v1/markets/{market_id}"))
        .expect(200)["status"]
        != "resolved"
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never resolved"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Alice: 100 − 6 (10 YES) + 2.8 (4 sold) − 5 (sets) + 2 (Blue sold) = 93.8, then 6 paid
    // out on a remaining cost of 3.6: winnings 2.4, fees 3 % = 0.072.
    assert_eq!(balance(&alice, &alice_id).0, "99.728");
    // Carol: 100 − 2.8 (4 YES) − 2 (Blue) = 95.2, her resting bid released; 4 paid out on a
    // cost of 2.8: winnings 1.2, fees 0.036.
    assert_eq!(balance(&carol, &carol_id).0, "99.164");
    assert_eq!(balance(&bob, &bob_id), ("96".to_owned(), "0".to_owned()));
    assert_eq!(balance(&creator, &creator_id).0, "1.036");
    let settled = alice
        .get(&format!(
            "/api/v1/users/{alice_id}/positions?status=settled"
        ))
        .expect(200);
    assert_eq!(settled["positions"][0]["status"], "settled");
    // The settled position shows what settlement paid and the whole profit: 0.4 from
    // selling 4 YES bought at 0.60 for 0.70, and 5.928 paid against a cost of 3.6.
    let rows: Vec<&Value> = settled["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["market_id"] == market_id.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "one row per held side: {rows:?}");
    assert_amount(&rows[0]["payout"], "5.928");
    assert_amount(&rows[0]["realized_pnl"], "2.728");

    // Void: refunds at cost, for the admin only.
    let (admin_name, admin_password) = server.demo_login("admin");
    let admin = anon.login(&admin_name, &admin_password);
    creator
        .post(&format!("/api/v1/markets/{cup_id}/void"), &json!({}))
        .expect_error(403, "forbidden");
    admin
        .post(&format!("/api/v1/markets/{cup_id}/void"), &json!({}))
        .expect(200);
    // Alice paid 5 for sets and got 2 for Blue: net 3 back; carol paid 2: refunded.
    assert_eq!(balance(&alice, &alice_id).0, "102.728");
    assert_eq!(balance(&carol, &carol_id).0, "101.164");
    let detail = anon.get(&format!("/api/v1/markets/{cup_id}")).expect(200);
    assert_eq!(detail["status"], "voided");
}

/// Reads messages until `done` says stop or the socket is quiet for `quiet`.
/// The answer to request `id`, read before `deadline`.
fn answer_to(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    id: u64,
    deadline: std::time::Instant,
) -> Value {
    let mut answer = Value::Null;
    while answer.is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "no answer to request {id}"
        );
        read_until(socket, Duration::from_millis(200), |m| {
            if m["request_id"] == id {
                answer = m;
            }
        });
    }
    answer
}

fn read_until(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    quiet: Duration,
    mut on: impl FnMut(Value),
) {
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream.set_read_timeout(Some(quiet)).unwrap();
    }
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Text(text)) => on(serde_json::from_str(&text).unwrap()),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return;
            }
            Err(e) => panic!("socket: {e}"),
        }
    }
}

#[test]
fn websocket_snapshot_and_deltas_reproduce_the_rest_book() {
    let server = Server::start(&[]);
    let anon = server.api();
    let (maker, _) = funded(&anon, "ws_maker", "10000");
    let (taker, _) = funded(&anon, "ws_taker", "10000");
    let (host, _) = anon.signup("ws_host");
    let market = create_market(&host, "binary", &[]);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let (yes, no) = (outcome(&market, 0), outcome(&market, 1));
    // Some resting orders before the subscription.
    for (price, qty) in [("0.40", "3"), ("0.42", "2")] {
        order(
            &maker,
            &market_id,
            json!({"outcome_id": yes, "order_type": "buy", "price": price, "quantity": qty}),
        );
    }
    let (mut socket, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}",
        server.port
    ))
    .expect("ws connect");
    let mut books: BTreeMap<(String, String), (String, u64)> = BTreeMap::new();
    let mut seq = 0u64;
    let mut trades = 0;
    let apply = |message: Value,
                 books: &mut BTreeMap<(String, String), (String, u64)>,
                 seq: &mut u64,
                 trades: &mut u32| {
        match message["type"].as_str().unwrap() {
            "snapshot" => {
                let book = &message["data"]["books"][0];
                *seq = book["seq"].as_u64().unwrap();
                for (side, key) in [("bids", "bid"), ("asks", "ask")] {
                    for level in book[side].as_array().unwrap() {
                        books.insert(
                            (key.to_owned(), level["price"].as_str().unwrap().to_owned()),
                            (
                                level["quantity"].as_str().unwrap().to_owned(),
                                level["orders"].as_u64().unwrap(),
                            ),
                        );
                    }
                }
            }
            "book_delta" | "trade" => {
                let next = message["seq"].as_u64().unwrap();
                assert_eq!(next, *seq + 1, "consecutive book sequence");
                *seq = next;
                if message["type"] == "trade" {
                    *trades += 1;
                    return;
                }
                let data = &message["data"];
                let key = (
                    data["side"].as_str().unwrap().to_owned(),
                    data["price"].as_str().unwrap().to_owned(),
                );
                if data["quantity"] == "0" {
                    books.remove(&key);
                } else {
                    books.insert(
                        key,
                        (
                            data["quantity"].as_str().unwrap().to_owned(),
                            data["orders"].as_u64().unwrap(),
                        ),
                    );
                }
            }
            _ => {}
        }
    };
    let started = std::time::Instant::now();
    while books.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "no snapshot");
        read_until(&mut socket, Duration::from_millis(200), |m| {
            apply(m, &mut books, &mut seq, &mut trades)
        });
    }
    assert!(seq > 0 && !books.is_empty(), "the snapshot arrived");

    // A burst of random orders from two users, crossing now and then, with cancels.
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut open = Vec::new();
    for i in 0..120 {
        let api = if i % 2 == 0 { &maker } else { &taker };
        if next(5) == 0 && !open.is_empty() {
            let (who, id): (usize, String) = open.swap_remove(next(open.len() as u64) as usize);
            let api = if who == 0 { &maker } else { &taker };
            api.delete(&format!("/api/v1/orders/{id}"));
            continue;
        }
        let (outcome_id, side) = match next(4) {
            0 => (&yes, "buy"),
            1 => (&yes, "sell"),
            2 => (&no, "buy"),
            _ => (&no, "sell"),
        };
        let price = format!("0.{}", 30 + next(40));
        let reply = api.post(
            &format!("/api/v1/markets/{market_id}/orders"),
            &json!({"outcome_id": outcome_id, "order_type": side, "price": price, "quantity": format!("{}", 1 + next(5))}),
        );
        if reply.status == 201 && reply.body["status"] == "open"
            || reply.body["status"] == "partially_filled"
        {
            open.push((i % 2, reply.body["id"].as_str().unwrap().to_owned()));
        }
    }
    // Every order above was acknowledged, so the REST book already holds all of it; read the
    // feed until it reaches the same sequence (no guessing how long to wait).
    let rest = anon
        .get(&format!(
            "/api/v1/markets/{market_id}/orderbook?outcome_id={yes}&depth=1000"
        ))
        .expect(200);
    let target = rest["seq"].as_u64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seq < target {
        assert!(
            std::time::Instant::now() < deadline,
            "the feed stalled at {seq} of {target}"
        );
        read_until(&mut socket, Duration::from_millis(200), |m| {
            apply(m, &mut books, &mut seq, &mut trades)
        });
    }
    assert_eq!(seq, target, "the feed is at the REST book's sequence");
    assert!(trades > 0, "the burst traded");
    let mut expected = BTreeMap::new();
    for (side, key) in [("bids", "bid"), ("asks", "ask")] {
        for level in rest[side].as_array().unwrap() {
            expected.insert(
                (key.to_owned(), level["price"].as_str().unwrap().to_owned()),
                (
                    level["quantity"].as_str().unwrap().to_owned(),
                    level["orders"].as_u64().unwrap(),
                ),
            );
        }
    }
    assert_eq!(books, expected, "snapshot + deltas = the REST book");
}

#[test]
fn websocket_orders_use_the_same_rules_as_rest() {
    let server = Server::start(&[]);
    let anon = server.api();
    let (trader, _) = funded(&anon, "ws_trader", "10");
    let (host, _) = anon.signup("ws_rules_host");
    let market = create_market(&host, "binary", &[]);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let yes = outcome(&market, 0);
    let token = trader.token.clone().unwrap();
    let (mut socket, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}?token={token}",
        server.port
    ))
    .expect("ws connect");
    let send = |socket: &mut tungstenite::WebSocket<_>, value: Value| {
        socket
            .send(tungstenite::Message::Text(value.to_string().into()))
            .unwrap()
    };
    send(
        &mut socket,
        json!({"type": "place_order", "request_id": 1, "data": {"market_id": market_id, "outcome_id": yes, "order_type": "buy", "price": "0.50", "quantity": "4"}}),
    );
    send(
        &mut socket,
        json!({"type": "place_order", "request_id": 2, "data": {"market_id": market_id, "outcome_id": yes, "order_type": "buy", "price": "0.50", "quantity": "100"}}),
    );
    send(
        &mut socket,
        json!({"type": "place_order", "request_id": 3, "data": {"market_id": market_id, "outcome_id": yes, "order_type": "buy", "price": "0.505", "quantity": "1"}}),
    );
    let mut replies = BTreeMap::new();
    let mut updates = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(1..=3).all(|id| replies.contains_key(&id)) || updates == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no replies: {replies:?}"
        );
        read_until(&mut socket, Duration::from_millis(200), |m| {
            if let Some(id) = m["request_id"].as_u64() {
                replies.insert(id, m.clone());
            }
            if m["type"] == "order_update" {
                updates += 1;
            }
        });
    }
    assert_eq!(replies[&1]["type"], "order_ack");
    assert_eq!(replies[&1]["data"]["status"], "open");
    assert_eq!(replies[&2]["data"]["code"], "insufficient_funds");
    assert_eq!(replies[&3]["data"]["code"], "price_off_tick");
    assert!(updates >= 1, "own order updates arrive");
    let order_id = replies[&1]["data"]["id"].as_str().unwrap().to_owned();
    send(
        &mut socket,
        json!({"type": "cancel_order", "request_id": 4, "data": {"order_id": order_id}}),
    );
    send(
        &mut socket,
        json!({"type": "cancel_order", "request_id": 5, "data": {"order_id": order_id}}),
    );
    while !replies.contains_key(&4) || !replies.contains_key(&5) {
        assert!(
            std::time::Instant::now() < deadline,
            "no cancel replies: {replies:?}"
        );
        read_until(&mut socket, Duration::from_millis(200), |m| {
            if let Some(id) = m["request_id"].as_u64() {
                replies.insert(id, m.clone());
            }
        });
    }
    assert_eq!(replies[&4]["data"]["status"], "cancelled");
    assert_eq!(replies[&5]["data"]["code"], "order_not_open");
    // An anonymous socket may watch but not trade.
    let (mut watcher, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}",
        server.port
    ))
    .expect("ws connect");
    send(
        &mut watcher,
        json!({"type": "place_order", "request_id": 9, "data": {"market_id": market_id}}),
    );
    let mut answer = Value::Null;
    while answer.is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "no answer to the anonymous order"
        );
        read_until(&mut watcher, Duration::from_millis(200), |m| {
            if m["request_id"] == 9 {
                answer = m;
            }
        });
    }
    assert_eq!(answer["data"]["code"], "unauthorized");
    // An unknown type is a mistake on any socket, and a malformed id says so; both answers
    // name their request.
    send(
        &mut watcher,
        json!({"type": "place_ordr", "request_id": 10}),
    );
    let answer = answer_to(&mut watcher, 10, deadline);
    assert_eq!(answer["data"]["code"], "invalid_request", "{answer}");
    send(
        &mut socket,
        json!({"type": "cancel_order", "request_id": 11, "data": {"order_id": "ord_x"}}),
    );
    let answer = answer_to(&mut socket, 11, deadline);
    assert_eq!(answer["data"]["code"], "invalid_id", "{answer}");
    // Field problems come back as REST gives them.
    send(
        &mut socket,
        json!({"type": "place_order", "request_id": 12, "data": {"market_id": market_id}}),
    );
    let answer = answer_to(&mut socket, 12, deadline);
    assert_eq!(answer["data"]["status"], 400, "{answer}");
    // Unknown room types are refused at the handshake.
    match tungstenite::connect(format!("ws://127.0.0.1:{}/ws/nowhere/1", server.port)) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 404),
        other => panic!("expected a 404 handshake, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_websocket_client_that_stops_reading_is_dropped_without_slowing_others() {
    // (The harness's request budgets are high enough that only the reading matters.)
    let server = Server::start(&[]);
    let anon = server.api();
    let (creator, _) = funded(&anon, "ws_slow_creator", "10");
    let market = create_market(&creator, "binary", &[]);
    let url = format!(
        "ws://127.0.0.1:{}/ws/markets/{}",
        server.port,
        market["id"].as_str().unwrap()
    );
    // The stalled client floods pings carrying 8 KiB request ids and never reads: the
    // pongs fill both sockets' buffers, then the server can write no more.
    let (stalled_tx, stalled) = std::sync::mpsc::channel();
    {
        let url = url.clone();
        std::thread::spawn(move || {
            let (mut socket, _) = tungstenite::connect(url).expect("ws connect");
            let ping =
                json!({"type": "ping", "request_id": "x".repeat(8 * 1024), "data": {}}).to_string();
            for sent in 0..100_000u32 {
                if socket
                    .send(tungstenite::Message::Text(ping.clone().into()))
                    .is_err()
                {
                    let _ = stalled_tx.send(sent);
                    return;
                }
            }
        });
    }
    // Meanwhile another client is answered at once, every time.
    let (mut other, _) = tungstenite::connect(&url).expect("ws connect");
    for round in 0..20 {
        let asked = std::time::Instant::now();
        other
            .send(tungstenite::Message::Text(
                json!({"type": "ping", "request_id": round, "data": {}})
                    .to_string()
                    .into(),
            ))
            .unwrap();
        let mut answered = false;
        while !answered {
            // Well under the write timeout (5 s) that would free a server stuck on the
            // stalled client: this client must not be waiting for that.
            assert!(
                asked.elapsed() < Duration::from_secs(4),
                "the other client waited for the stalled one"
            );
            read_until(&mut other, Duration::from_millis(100), |m| {
                answered |= m["type"] == "pong" && m["request_id"] == round;
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // The server dropped the stalled client (its writes had waited past the timeout), which
    // shows as a failed send on the client's side.
    let sent = stalled
        .recv_timeout(Duration::from_secs(60))
        .expect("the stalled client was never disconnected");
    assert!(
        sent > 100,
        "the stall needs full buffers first: {sent} sent"
    );
}

/// A NO order's fills reach its owner's socket in the order's own terms (1 − the YES book's
/// price), as REST gives them — for an order placed before the socket connected and for one
/// placed after.
#[test]
fn a_no_orders_fills_on_the_socket_are_in_its_own_terms() {
    let server = Server::start(&[]);
    let anon = server.api();
    let (host, _) = anon.signup("ws_no_host");
    let market = create_market(&host, "binary", &[]);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let (yes, no) = (outcome(&market, 0), outcome(&market, 1));
    let (alice, _) = funded(&anon, "ws_no_alice", "100");
    let (bob, _) = funded(&anon, "ws_no_bob", "100");
    // Before the socket: alice bids 0.40 for NO (an ask at 0.60 on the YES book).
    let early = order(
        &alice,
        &market_id,
        json!({"outcome_id": no, "order_type": "buy", "price": "0.40", "quantity": "1"}),
    );
    let token = alice.token.clone().unwrap();
    let (mut socket, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}?token={token}",
        server.port
    ))
    .expect("ws connect");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut fills = BTreeMap::new();
    let mut snapshot = false;
    while !snapshot {
        assert!(std::time::Instant::now() < deadline, "no snapshot");
        read_until(&mut socket, Duration::from_millis(200), |m| {
            snapshot |= m["type"] == "snapshot";
        });
    }
    // Bob takes it: he buys YES at 0.60.
    order(
        &bob,
        &market_id,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.60", "quantity": "1"}),
    );
    // After the socket: bob rests a YES bid at 0.55, alice sells into it by buying NO at 0.45.
    order(
        &bob,
        &market_id,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.55", "quantity": "1"}),
    );
    let late = order(
        &alice,
        &market_id,
        json!({"outcome_id": no, "order_type": "buy", "price": "0.45", "quantity": "1"}),
    );
    let (early, late) = (
        early["id"].as_str().unwrap().to_owned(),
        late["id"].as_str().unwrap().to_owned(),
    );
    while fills.len() < 2 {
        assert!(std::time::Instant::now() < deadline, "fills: {fills:?}");
        read_until(&mut socket, Duration::from_millis(200), |m| {
            if m["type"] == "fill" {
                fills.insert(
                    m["data"]["order_id"].as_str().unwrap().to_owned(),
                    m["data"]["price"].as_str().unwrap().to_owned(),
                );
            }
        });
    }
    assert_eq!(fills[&early], "0.4", "{fills:?}");
    assert_eq!(fills[&late], "0.45", "{fills:?}");
}

/// Past the request deadline a socket request is refused with `overloaded` and never
/// executed: with a deadline of 0 every request is past it.
#[test]
fn a_socket_request_past_its_deadline_is_refused_and_not_executed() {
    let server = Server::start(&["--ws-request-deadline-ms", "0"]);
    let anon = server.api();
    let (host, _) = anon.signup("ws_shed_host");
    let market = create_market(&host, "binary", &[]);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let yes = outcome(&market, 0);
    let (alice, _) = funded(&anon, "ws_shed_alice", "100");
    let token = alice.token.clone().unwrap();
    let (mut socket, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}?token={token}",
        server.port
    ))
    .expect("ws connect");
    socket
        .send(tungstenite::Message::Text(
            json!({"type": "place_order", "request_id": 1, "data": {"market_id": market_id,
                "outcome_id": yes, "order_type": "buy", "price": "0.50", "quantity": "1"}})
            .to_string()
            .into(),
        ))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let answer = answer_to(&mut socket, 1, deadline);
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["data"]["code"], "overloaded", "{answer}");
    assert_eq!(answer["data"]["status"], 503, "{answer}");
    assert_eq!(answer["data"]["retry_after"], 1, "{answer}");
    // Nothing was executed.
    let orders = alice.get("/api/v1/orders?status=all").expect(200);
    assert_eq!(orders["orders"], json!([]), "{orders}");
    // REST is not subject to it.
    order(
        &alice,
        &market_id,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.50", "quantity": "1"}),
    );
}

/// A socket's requests are pipelined: a burst sent without waiting is queued at the core as
/// it is read and answered in the order it was sent — refusals and pongs in their turn — and
/// an order's acknowledgement comes before its fills and updates. A user's own messages
/// reach each of the user's connections alike.
#[test]
fn a_socket_answers_a_pipelined_burst_in_order_with_acks_before_fills() {
    let server = Server::start(&[]);
    let anon = server.api();
    let (host, _) = anon.signup("ws_pipe_host");
    let market = create_market(&host, "binary", &[]);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let (yes, no) = (outcome(&market, 0), outcome(&market, 1));
    let (alice, _) = funded(&anon, "ws_pipe_alice", "100");
    let (bob, _) = funded(&anon, "ws_pipe_bob", "100");
    // Bob offers YES at 0.50 (a NO bid at 0.50), for alice to take in the burst.
    order(
        &bob,
        &market_id,
        json!({"outcome_id": no, "order_type": "buy", "price": "0.50", "quantity": "3"}),
    );
    let token = alice.token.clone().unwrap();
    let connect = || {
        let (mut socket, _) = tungstenite::connect(format!(
            "ws://127.0.0.1:{}/ws/markets/{market_id}?token={token}",
            server.port
        ))
        .expect("ws connect");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut snapshot = false;
        while !snapshot {
            assert!(std::time::Instant::now() < deadline, "no snapshot");
            read_until(&mut socket, Duration::from_millis(100), |m| {
                snapshot |= m["type"] == "snapshot";
            });
        }
        socket
    };
    let (mut trading, mut watching) = (connect(), connect());
    let buy = |id: u64, price: &str, quantity: &str| {
        json!({"type": "place_order", "request_id": id, "data": {"market_id": market_id,
            "outcome_id": yes, "order_type": "buy", "price": price, "quantity": quantity}})
    };
    let mut burst = vec![
        json!({"type": "ping", "request_id": 1}),
        buy(2, "0.40", "1"),
        buy(3, "0.405", "1"),
        json!({"type": "ping", "request_id": 4}),
        buy(5, "0.50", "3"),
        json!({"type": "place_ordr", "request_id": 6}),
    ];
    burst.extend((7..=30).map(|id| buy(id, "0.30", "1")));
    // One write for the whole burst: nothing waits for an answer.
    for message in &burst {
        trading
            .write(tungstenite::Message::Text(message.to_string().into()))
            .unwrap();
    }
    trading.flush().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<Value> = Vec::new();
    while seen.iter().filter(|m| m["request_id"].is_u64()).count() < burst.len() {
        assert!(std::time::Instant::now() < deadline, "answers: {seen:?}");
        read_until(&mut trading, Duration::from_millis(100), |m| seen.push(m));
    }
    let answered: Vec<u64> = seen
        .iter()
        .filter_map(|m| m["request_id"].as_u64())
        .collect();
    assert_eq!(answered, (1..=30).collect::<Vec<_>>(), "in request order");
    let answer = |id: u64| seen.iter().find(|m| m["request_id"] == id).unwrap();
    assert_eq!(answer(1)["type"], "pong");
    assert_eq!(answer(2)["data"]["status"], "open");
    assert_eq!(answer(3)["data"]["code"], "price_off_tick");
    assert_eq!(answer(4)["type"], "pong");
    assert_eq!(answer(6)["data"]["code"], "invalid_request");
    let taker = answer(5);
    assert_eq!(taker["data"]["status"], "filled", "{taker}");
    let taker_id = taker["data"]["id"].as_str().unwrap();
    // The acknowledgement comes before every message about the order.
    let ack_at = seen.iter().position(|m| m["request_id"] == 5).unwrap();
    let about: Vec<usize> = (0..seen.len())
        .filter(|&i| {
            matches!(seen[i]["type"].as_str(), Some("fill" | "order_update"))
                && seen[i]["data"]["order_id"] == taker_id
        })
        .collect();
    assert!(!about.is_empty(), "the order's fills and updates: {seen:?}");
    assert!(about.iter().all(|&i| i > ack_at), "{seen:?}");
    // Every request but the refused two was executed.
    let orders = alice.get("/api/v1/orders?status=all&limit=100").expect(200);
    assert_eq!(orders["orders"].as_array().unwrap().len(), 26, "{orders}");
    // The user's other connection got the same own messages, byte for byte the same JSON.
    let own = |messages: &[Value]| -> Vec<Value> {
        messages
            .iter()
            .filter(|m| matches!(m["type"].as_str(), Some("fill" | "order_update")))
            .cloned()
            .collect()
    };
    let expected = own(&seen);
    let mut other: Vec<Value> = Vec::new();
    while own(&other).len() < expected.len() {
        assert!(std::time::Instant::now() < deadline, "other: {other:?}");
        read_until(&mut watching, Duration::from_millis(100), |m| other.push(m));
    }
    assert_eq!(own(&other), expected);
}
