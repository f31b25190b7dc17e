//! The holes an outside probe found, closed, through the real binary: balances that
//! overflowed and bricked the node, a creator resolving their own open market against the
//! side they sold, and a withdrawal limit that only looked at one request at a time.

use betbet_tests::{Api, Server, assert_amount, close_and_resolve, funded, in_a_day, json};
use serde_json::Value;
use std::time::{Duration, Instant};

fn wallet(api: &Api, user: &str) -> Value {
    api.get(&format!("/api/v1/wallets/{user}")).expect(200)["wallets"][0].clone()
}

fn deposit(api: &Api, amount: &str) -> betbet_tests::Reply {
    api.post(
        "/api/v1/deposits/initiate",
        &json!({"amount": amount, "currency": "USD", "payment_method": "sandbox"}),
    )
}

/// The report's attack: 95 deposits of a billion each, then ten users sending their all to
/// one wallet. Every deposit and transfer past the caps is refused with a typed code, no
/// balance goes negative, and the node restarts with the same balances.
#[test]
fn balances_cannot_overflow_and_the_node_still_restarts() {
    let mut server = Server::start(&[]);
    let anon = server.api();
    let (whale, whale_id) = anon.signup("whale");
    for _ in 0..95 {
        deposit(&whale, "1000000000").expect_error(422, "balance_limit_exceeded");
    }
    // The default cap is 100 000 000 per wallet; exactly that is accepted, a cent more not.
    deposit(&whale, "100000000").expect(201);
    deposit(&whale, "0.01").expect_error(422, "balance_limit_exceeded");
    assert_amount(&wallet(&whale, &whale_id)["available_balance"], "100000000");

    let (target, target_id) = funded(&anon, "target", "50000000");
    let mut refused = 0;
    for i in 0..10 {
        let (sender, _) = funded(&anon, &format!("sender{i}"), "10000000");
        let reply = sender.post(
            "/api/v1/transfers/send",
            &json!({"recipient": "target", "amount": "10000000", "currency": "USD"}),
        );
        match reply.status {
            201 => {}
            _ => {
                reply.expect_error(422, "balance_limit_exceeded");
                refused += 1;
            }
        }
    }
    assert_eq!(
        refused, 5,
        "50M held + 5 × 10M reach the cap; the other 5 are refused"
    );
    let before = wallet(&target, &target_id);
    assert_amount(&before["available_balance"], "100000000");

    server.restart();
    let whale = anon.login("whale", "password-of-whale");
    assert_amount(&wallet(&whale, &whale_id)["available_balance"], "100000000");
    let target = anon.login("target", "password-of-target");
    assert_eq!(wallet(&target, &target_id), before);
}

#[test]
fn the_currency_supply_cap_bounds_the_whole_platform() {
    let server = Server::start(&[
        "--wallet-balance-max",
        "1000",
        "--currency-supply-max",
        "1500",
    ]);
    let anon = server.api();
    let (alice, _) = funded(&anon, "alice", "1000");
    let (bob, _) = anon.signup("bob");
    deposit(&bob, "501").expect_error(422, "currency_supply_exceeded");
    deposit(&bob, "500").expect(201);
    alice
        .post(
            "/api/v1/transfers/send",
            &json!({"recipient": "bob", "amount": "600", "currency": "USD"}),
        )
        .expect_error(422, "balance_limit_exceeded");
}

fn create_market(api: &Api) -> (String, String, String) {
    let market = api
        .post(
            "/api/v1/markets/create",
            &json!({
                "title": "Will the probe find another hole?",
                "description": "security test",
                "market_type": "binary",
                "closes_at": in_a_day(),
                "category": "tests",
                "creator_fee_percent": "1.00",
            }),
        )
        .expect(201);
    let id = |v: &Value| v.as_str().unwrap().to_owned();
    (
        id(&market["id"]),
        id(&market["outcomes"][0]["id"]),
        id(&market["outcomes"][1]["id"]),
    )
}

fn order(api: &Api, market: &str, outcome: &str, side: &str, price: &str) -> betbet_tests::Reply {
    api.post(
        &format!("/api/v1/markets/{market}/orders"),
        &json!({"outcome_id": outcome, "order_type": side, "price": price, "quantity": "20"}),
    )
}

/// Polls the market until `done` says so: the server's timer finalizes proposals.
fn await_market(api: &Api, market: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let view = api.get(&format!("/api/v1/markets/{market}")).expect(200);
        if done(&view) {
            return view;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "market never got there: {view}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The report's attack: the creator sells YES, someone buys, the creator resolves NO while
/// the market is open. Now: the creator cannot trade it, an open market cannot be resolved,
/// the creator's resolution is only a proposal, a holder disputes it and an admin decides.
#[test]
fn a_creator_cannot_resolve_an_open_market_or_trade_their_own() {
    let server = Server::start(&["--demo", "--dispute-window-secs", "3600"]);
    let anon = server.api();
    let (creator, _) = funded(&anon, "creator", "100");
    let (alice, alice_id) = funded(&anon, "alice_s", "100");
    let (bob, _) = funded(&anon, "bob_s", "100");
    let (market, yes, no) = create_market(&creator);

    order(&creator, &market, &yes, "sell", "0.50").expect_error(403, "resolver_may_not_trade");
    order(&bob, &market, &no, "buy", "0.50").expect(201);
    order(&alice, &market, &yes, "buy", "0.50").expect(201);
    assert_amount(&wallet(&alice, &alice_id)["available_balance"], "90");

    let resolve = |api: &Api, outcome: &str| {
        api.post(
            &format!("/api/v1/markets/{market}/resolve"),
            &json!({"winning_outcome": outcome}),
        )
    };
    resolve(&creator, &no).expect_error(409, "market_not_closed");
    creator
        .put(
            &format!("/api/v1/markets/{market}"),
            &json!({"status": "closed"}),
        )
        .expect(200);
    let proposed = resolve(&creator, &no).expect(200);
    assert_eq!(proposed["status"], "closed");
    assert_eq!(proposed["resolution"]["status"], "proposed");
    assert_eq!(proposed["resolution"]["proposed_value"], no.as_str());
    // Nothing is paid while the window is open.
    assert_amount(&wallet(&alice, &alice_id)["available_balance"], "90");
    resolve(&creator, &yes).expect_error(409, "resolution_pending");

    let (stranger, _) = funded(&anon, "stranger_s", "1");
    let dispute = |api: &Api| {
        api.post(
            &format!("/api/v1/markets/{market}/dispute"),
            &json!({"reason": "the creator sold YES and resolved NO"}),
        )
    };
    dispute(&stranger).expect_error(403, "not_a_holder");
    let disputed = dispute(&alice).expect(200);
    assert_eq!(disputed["resolution"]["status"], "disputed");
    assert_eq!(disputed["resolution"]["disputed_by"], alice_id.as_str());
    dispute(&bob).expect_error(409, "already_disputed");

    let (name, password) = server.demo_login("admin");
    let admin = anon.login(&name, &password);
    let decided = resolve(&admin, &yes).expect(200);
    assert_eq!(decided["status"], "resolved");
    assert_eq!(decided["resolution_value"], yes.as_str());
    assert_eq!(decided["resolution"]["status"], "final");
    assert_eq!(decided["resolution"]["proposed_value"], no.as_str());
    // Alice paid 10 for 20 YES and is paid 20, less 3 % of her 10 of winnings.
    assert_amount(&wallet(&alice, &alice_id)["available_balance"], "109.7");
}

#[test]
fn an_undisputed_proposal_pays_out_when_its_window_ends() {
    let server = Server::start(&["--dispute-window-secs", "1"]);
    let anon = server.api();
    let (creator, _) = funded(&anon, "creator", "1");
    let (alice, alice_id) = funded(&anon, "alice_w", "100");
    let (bob, bob_id) = funded(&anon, "bob_w", "100");
    let (market, yes, no) = create_market(&creator);
    order(&bob, &market, &no, "buy", "0.40").expect(201);
    order(&alice, &market, &yes, "buy", "0.60").expect(201);
    close_and_resolve(&creator, &market, &yes);
    let resolved = await_market(&anon, &market, |m| m["status"] == "resolved");
    assert_eq!(resolved["resolution"]["status"], "final");
    // Alice paid 12 for 20 YES, is paid 20 less 3 % of 8: 107.76.
    assert_amount(&wallet(&alice, &alice_id)["available_balance"], "107.76");
    assert_amount(&wallet(&bob, &bob_id)["available_balance"], "92");
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image body";

/// The withdrawal limit of a KYC level covers any 24 hours, pending and completed
/// withdrawals together, not each request alone.
#[test]
fn the_withdrawal_limit_is_a_rolling_daily_sum() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let (alice, alice_id) = funded(&anon, "alice_l", "5000");
    let method = alice
        .post(
            "/api/v1/payment-methods/add",
            &json!({"method_type": "mobile_money", "provider": "ecocash", "details": {"phone": "+263 77 123 4567"}}),
        )
        .expect(201);
    let document = alice
        .upload(
            "/api/v1/kyc/submit",
            &[("document_type", "passport")],
            ("document_file", "image/png", PNG),
        )
        .expect(201);
    let (name, password) = server.demo_login("admin");
    let admin = anon.login(&name, &password);
    admin
        .post(
            &format!(
                "/api/v1/admin/kyc/{}/approve",
                document["id"].as_str().unwrap()
            ),
            &json!({"kyc_level": 1}),
        )
        .expect(200);
    let withdraw = |amount: &str| {
        alice.post(
            "/api/v1/withdrawals/request",
            &json!({"amount": amount, "currency": "USD", "payment_method_id": method["id"]}),
        )
    };
    // Level 1 may withdraw 1 000 a day: 600 + 350 pending, then 51 more is over it.
    let first = withdraw("600").expect(201);
    admin
        .post(
            &format!(
                "/api/v1/admin/withdrawals/{}/approve",
                first["id"].as_str().unwrap()
            ),
            &json!({"notes": "paid"}),
        )
        .expect(200);
    withdraw("350").expect(201);
    withdraw("51").expect_error(422, "withdrawal_limit_exceeded");
    withdraw("50").expect(201);
    assert_amount(&wallet(&alice, &alice_id)["locked_balance"], "400");
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn socket(server: &Server, market: &str, token: &str) -> Socket {
    let (mut socket, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market}?token={token}",
        server.port
    ))
    .expect("ws connect");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    socket
}

/// Reads until the server closes the socket; its close code, or `None` if it is still open
/// after `within` (messages before the close are passed to `on`).
fn close_code(socket: &mut Socket, within: Duration, mut on: impl FnMut(Value)) -> Option<u16> {
    let started = Instant::now();
    while started.elapsed() < within {
        match socket.read() {
            Ok(tungstenite::Message::Text(text)) => on(serde_json::from_str(&text).unwrap()),
            Ok(tungstenite::Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Some(1006);
            }
            Err(e) => panic!("socket: {e}"),
        }
    }
    None
}

fn send(socket: &mut Socket, message: Value) {
    socket
        .send(tungstenite::Message::Text(message.to_string().into()))
        .expect("send");
}

/// The report: after logout the socket opened with the token still placed orders. Now the
/// socket ends with the session — logout, an admin's suspension — and `authenticate` moves
/// it to a fresh token's session.
#[test]
fn websockets_end_with_their_login_session() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let (host, _) = anon.signup("ws_sec_host");
    let (market, yes, _) = create_market(&host);
    let (alice, _) = funded(&anon, "ws_alice", "100");
    let token = alice.token.clone().unwrap();

    // Logout closes the socket at once with 4001; nothing more is done for it.
    let mut first = socket(&server, &market, &token);
    alice.post("/api/v1/auth/logout", &json!({})).expect(200);
    let mut acks = 0;
    let code = close_code(&mut first, Duration::from_secs(10), |m| {
        acks += usize::from(m["type"] == "order_ack");
    });
    assert_eq!(code, Some(4001));
    assert_eq!(acks, 0);
    let _ = first.send(tungstenite::Message::Text(
        json!({"type": "place_order", "request_id": 1, "data": {"market_id": market, "outcome_id": yes, "order_type": "buy", "price": "0.5", "quantity": "1"}}).to_string().into(),
    ));
    let alice = anon.login("ws_alice", "password-of-ws_alice");
    let orders = alice.get("/api/v1/orders?status=all").expect(200);
    assert_eq!(orders["orders"].as_array().unwrap().len(), 0, "{orders}");

    // `authenticate` binds the socket to a fresh token's session: ending the old one no
    // longer ends it, ending the new one does.
    let old = alice.clone();
    let mut second = socket(&server, &market, old.token.as_deref().unwrap());
    let fresh = anon.login("ws_alice", "password-of-ws_alice");
    send(
        &mut second,
        json!({"type": "authenticate", "request_id": "a", "data": {"token": fresh.token}}),
    );
    let mut authenticated = false;
    let start = Instant::now();
    while !authenticated && start.elapsed() < Duration::from_secs(10) {
        if close_code(&mut second, Duration::from_millis(300), |m| {
            authenticated |= m["type"] == "authenticated" && m["request_id"] == "a";
        })
        .is_some()
        {
            panic!("closed before authenticating");
        }
    }
    assert!(authenticated);
    // Another user's token is refused and changes nothing.
    let (bob, _) = funded(&anon, "ws_bob", "1");
    send(
        &mut second,
        json!({"type": "authenticate", "request_id": "b", "data": {"token": bob.token}}),
    );
    old.post("/api/v1/auth/logout", &json!({})).expect(200);
    let mut refused = false;
    assert_eq!(
        close_code(&mut second, Duration::from_secs(1), |m| {
            refused |= m["type"] == "error" && m["request_id"] == "b";
        }),
        None,
        "still bound to the fresh session"
    );
    assert!(refused);
    fresh.post("/api/v1/auth/logout", &json!({})).expect(200);
    assert_eq!(
        close_code(&mut second, Duration::from_secs(10), |_| {}),
        Some(4001)
    );

    // A suspension ends the user's sockets with 4003.
    let login = anon
        .post(
            "/api/v1/auth/login",
            &json!({"username": "ws_alice", "password": "password-of-ws_alice"}),
        )
        .expect(200);
    let mut third = socket(&server, &market, login["access_token"].as_str().unwrap());
    let (name, password) = server.demo_login("admin");
    let admin = anon.login(&name, &password);
    admin
        .post(
            &format!(
                "/api/v1/admin/users/{}/status",
                login["user_id"].as_str().unwrap()
            ),
            &json!({"status": "suspended"}),
        )
        .expect(200);
    assert_eq!(
        close_code(&mut third, Duration::from_secs(10), |_| {}),
        Some(4003)
    );
}

/// A socket whose access token expires is closed with 4002.
#[test]
fn a_websocket_ends_when_its_token_expires() {
    let server = Server::start(&["--access-ttl-secs", "5"]);
    let anon = server.api();
    let (host, _) = anon.signup("ttl_host");
    let (market, _, _) = create_market(&host);
    let (alice, _) = funded(&anon, "ttl_alice", "1");
    let mut socket = socket(&server, &market, alice.token.as_deref().unwrap());
    assert_eq!(
        close_code(&mut socket, Duration::from_secs(20), |_| {}),
        Some(4002)
    );
}

/// The files under `data/kyc/<user>/`, sorted.
fn kyc_files(server: &Server, user: &str) -> Vec<String> {
    let number = user.strip_prefix("usr_").unwrap();
    let dir = server.data_dir.join("kyc").join(number);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn png_of(bytes: usize) -> Vec<u8> {
    let mut file = PNG.to_vec();
    file.resize(bytes, 0x42);
    file
}

/// The report: a refused upload stayed on disk, and nothing capped uploads. Now nothing is
/// written before validation, a refused record leaves no file, pending documents and
/// stored bytes per user are capped, and a restart removes files no record points at.
#[test]
fn uploads_leave_no_file_without_a_record() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();
    let (alice, alice_id) = anon.signup("uploader");
    let submit = |kind: &str, file: &[u8]| {
        alice.upload(
            "/api/v1/kyc/submit",
            &[("document_type", kind)],
            ("document_file", "image/png", file),
        )
    };
    submit(&"x".repeat(5_000), &png_of(5 << 20)).expect_error(400, "text_too_long");
    assert!(kyc_files(&server, &alice_id).is_empty());

    let mut documents = Vec::new();
    for _ in 0..3 {
        documents.push(submit("passport", &png_of(9 << 20)).expect(201));
    }
    submit("passport", &png_of(1 << 20)).expect_error(422, "kyc_pending_limit");
    assert_eq!(kyc_files(&server, &alice_id).len(), 3);

    // Rejected documents free their review slots but still use the quota (their files stay).
    let (name, password) = server.demo_login("admin");
    let admin = anon.login(&name, &password);
    for document in &documents {
        admin
            .post(
                &format!(
                    "/api/v1/admin/kyc/{}/reject",
                    document["id"].as_str().unwrap()
                ),
                &json!({"notes": "blurred"}),
            )
            .expect(200);
    }
    submit("id_card", &png_of(9 << 20)).expect(201);
    submit("id_card", &png_of(9 << 20)).expect(201);
    // 45 MiB stored: 6 more is over the 50 MiB quota, 4 is not.
    submit("id_card", &png_of(6 << 20)).expect_error(422, "storage_quota_exceeded");
    assert_eq!(kyc_files(&server, &alice_id).len(), 5);

    // What a crash can leave: a file no record points at, and a staged one. A restart
    // removes both and keeps the five.
    let dir = server
        .data_dir
        .join("kyc")
        .join(alice_id.strip_prefix("usr_").unwrap());
    std::fs::write(dir.join("stray.png"), PNG).unwrap();
    std::fs::write(dir.join("torn.png.part"), PNG).unwrap();
    server.restart();
    let files = kyc_files(&server, &alice_id);
    assert_eq!(files.len(), 5, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with(".png")), "{files:?}");
}

/// The report: 2 000 connections that sent part of a request and then nothing stayed open
/// for over 80 s. Now a client has the header timeout to send its headers (3 s here), and
/// one address may hold only so many connections; a normal client is served throughout.
#[test]
fn slow_clients_are_closed_and_capped_while_others_are_served() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    let server = Server::start(&[
        "--http-header-timeout-secs",
        "3",
        "--http-connections-per-ip-max",
        "40",
    ]);
    let connect = || TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let mut slow: Vec<TcpStream> = (0..30)
        .map(|_| {
            let mut stream = connect();
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: betbet\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();
    assert_eq!(server.api().get("/health").status, 200);

    // Over the cap of 40 from one address: answered 503 in the error envelope and closed.
    let mut refused = 0;
    let mut idle = Vec::new();
    // All connected before the slow ones' timeout runs out, then read.
    let extra: Vec<TcpStream> = (0..20).map(|_| connect()).collect();
    for mut stream in extra {
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply);
        if reply.starts_with("HTTP/1.1 503") {
            assert!(reply.contains("too_many_connections"), "{reply}");
            refused += 1;
        } else {
            idle.push(stream);
        }
    }
    assert!(refused >= 10, "only {refused} of 20 refused past the cap");

    // Every slow and idle connection is closed by the server, not left open.
    for stream in slow.iter_mut().chain(idle.iter_mut()) {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    }
    // And the address may connect again.
    assert_eq!(server.api().get("/health").status, 200);
}

/// `/metrics` is not on the public address, only on the metrics one (loopback by default).
#[test]
fn metrics_are_served_only_on_their_own_address() {
    let server = Server::start(&[]);
    let public = server.api().get("/metrics");
    assert_eq!(public.status, 404, "{}", public.body);
    let metrics = Api::new(server.metrics_port).get("/metrics").expect(200);
    let text = metrics.as_str().expect("Prometheus text");
    assert!(text.contains("# TYPE"), "{text}");
}

/// The report: a multi-byte character in a date panicked on the gateway thread and the
/// client got no answer. Now it is a 400 with the request id in the body, and the log lines
/// a request causes carry its id (JSON logs here).
#[test]
fn bad_input_is_a_clear_error_and_logs_carry_the_request_id() {
    let server = Server::start(&["--log-format", "json"]);
    let anon = server.api();
    let (alice, alice_id) = anon.signup("tracer");
    let reply = alice.get(&format!(
        "/api/v1/transactions/{alice_id}?date_from=2026-01-01T00:00:0%C3%A9"
    ));
    assert_eq!(reply.status, 400, "{}", reply.body);
    let id = reply.request_id.clone().expect("X-Request-ID");
    assert_eq!(reply.body["error"]["request_id"], id.as_str());
    assert_eq!(alice.get("/health").status, 200, "still serving");

    // A refresh token presented twice is logged (a warning) inside its request's span.
    let login = anon
        .post(
            "/api/v1/auth/login",
            &json!({"username": "tracer", "password": "password-of-tracer"}),
        )
        .expect(200);
    let refresh = json!({"refresh_token": login["refresh_token"]});
    anon.post("/api/v1/auth/refresh", &refresh).expect(200);
    let reused = anon.post("/api/v1/auth/refresh", &refresh);
    reused.expect_error(401, "refresh_token_reused");
    let id = reused.request_id.expect("X-Request-ID");
    let started = Instant::now();
    let line = loop {
        let log = server.log_text();
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("rotated refresh token was presented again"))
        {
            break line.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not logged:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let line: Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
    assert_eq!(line["level"], "WARN");
}
