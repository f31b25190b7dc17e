//! A core and a gateway as separate processes (`betbet core`, `betbet gateway --core`): when
//! the core restarts, the gateway ends its client connections — they may have missed
//! events — and serves again once the link is back.

use betbet_tests::{Api, binary, free_port, funded, in_a_day, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], log: &Path) -> Process {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Process(
        Command::new(binary())
            .args(args)
            .env("BETBET_LOG", "warn")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start betbet"),
    )
}

fn start_core(dir: &Path, port: u16) -> Process {
    let listen = format!("127.0.0.1:{port}");
    let core = spawn(
        &[
            "core",
            "--listen",
            &listen,
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        &dir.join("core.log"),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the core did not listen:\n{}",
            std::fs::read_to_string(dir.join("core.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    core
}

#[test]
fn a_gateway_ends_its_clients_connections_when_the_core_comes_back() {
    let core_dir = tempfile::tempdir().unwrap();
    let gateway_dir = tempfile::tempdir().unwrap();
    let core_port = free_port();
    let http_port = free_port();
    let mut core = start_core(core_dir.path(), core_port);
    let _gateway = spawn(
        &[
            "gateway",
            "--core",
            &format!("127.0.0.1:{core_port}"),
            "--data-dir",
            gateway_dir.path().to_str().unwrap(),
            "--http-addr",
            &format!("127.0.0.1:{http_port}"),
            "--metrics-addr",
            "off",
            "--sandbox-payments",
            "--rate-limits",
            "default=100000/60,auth=100000/60,wallet=100000/60,trading=100000/1",
        ],
        &gateway_dir.path().join("gateway.log"),
    );
    let api = Api::new(http_port);
    let started = Instant::now();
    while api.try_get("/health").is_none_or(|r| r.status != 200) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway did not become healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (trader, _) = funded(&api, "split_trader", "100");
    // Created by someone else: a market's creator may not trade in it.
    let (host, _) = api.signup("split_host");
    let market = host
        .post(
            "/api/v1/markets/create",
            &json!({
                "title": "Split market",
                "description": "core and gateway apart",
                "market_type": "binary",
                "closes_at": in_a_day(),
                "category": "tests",
            }),
        )
        .expect(201);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let (mut socket, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{http_port}/ws/markets/{market_id}"))
            .expect("ws connect");
    let snapshot = socket.read().expect("the snapshot");
    assert!(snapshot.to_text().unwrap().contains("\"snapshot\""));

    // The core crashes and comes back on the same journal: the gateway reconnects, cannot
    // know what it missed, and ends the socket with a reason.
    drop(core);
    core = start_core(core_dir.path(), core_port);
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let close = loop {
        assert!(
            Instant::now() < deadline,
            "the socket outlived the reconnection"
        );
        match socket.read() {
            Ok(tungstenite::Message::Close(frame)) => break frame,
            Ok(_) => continue,
            Err(error) => panic!("no close frame: {error}"),
        }
    };
    let frame = close.expect("a close frame with a reason");
    assert_eq!(u16::from(frame.code), 1008, "{}", frame.reason);

    // And it serves again: what was there before the crash, and new orders.
    let deadline = Instant::now() + Duration::from_secs(30);
    let order = loop {
        let reply = trader.post(
            &format!("/api/v1/markets/{market_id}/orders"),
            &json!({"outcome_id": market["outcomes"][0]["id"], "order_type": "buy", "price": "0.40", "quantity": "1"}),
        );
        if reply.status == 201 || Instant::now() > deadline {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(order.status, 201, "{}", order.body);
    drop(core);
}
