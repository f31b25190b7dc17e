//! A core and a gateway as separate processes (`betbet core`, `betbet gateway --core`): the
//! link between them is mutual TLS with the deployment's certificates, and nothing else gets
//! in; when the core restarts, the gateway ends its client connections — they may have
//! missed events — and serves again once the link is back.

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

/// `betbet core init-certs`: a deployment's CA and the core's and gateways' certificates.
fn init_certs(dir: &Path) {
    let status = Command::new(binary())
        .args(["core", "init-certs"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("init-certs");
    assert!(status.success(), "init-certs failed");
}

fn start_core(dir: &Path, port: u16, certs: &Path) -> Process {
    let listen = format!("127.0.0.1:{port}");
    let core = spawn(
        &[
            "core",
            "--listen",
            &listen,
            "--data-dir",
            dir.to_str().unwrap(),
            "--tls-dir",
            certs.to_str().unwrap(),
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

/// A gateway linked to the core at `core_addr` with the certificates in `certs` and the
/// deployment's shared keys kept beside them (made on first use), healthy.
fn start_gateway(dir: &Path, core_addr: &str, certs: &Path, http_port: u16) -> (Process, Api) {
    start_gateway_with(dir, core_addr, certs, http_port, &[])
}

fn start_gateway_with(
    dir: &Path,
    core_addr: &str,
    certs: &Path,
    http_port: u16,
    extra: &[&str],
) -> (Process, Api) {
    let secrets = certs.join("gateway-secrets");
    if !secrets.exists() {
        let status = Command::new(binary())
            .args(["gateway", "init-secrets"])
            .arg(&secrets)
            .stdout(Stdio::null())
            .status()
            .expect("init-secrets");
        assert!(status.success(), "init-secrets failed");
    }
    let gateway = spawn(
        &[
            "gateway",
            "--core",
            core_addr,
            "--core-tls-dir",
            certs.to_str().unwrap(),
            "--secrets-dir",
            secrets.to_str().unwrap(),
            "--data-dir",
            dir.to_str().unwrap(),
            "--http-addr",
            &format!("127.0.0.1:{http_port}"),
            "--metrics-addr",
            "off",
            "--sandbox-payments",
            "--rate-limits",
            "default=100000/60,auth=100000/60,wallet=100000/60,trading=100000/1",
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect::<Vec<_>>(),
        &dir.join("gateway.log"),
    );
    let api = Api::new(http_port);
    let started = Instant::now();
    while api.try_get("/health").is_none_or(|r| r.status != 200) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway did not become healthy:\n{}",
            std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (gateway, api)
}

/// A gateway in front of a remote core without the deployment's shared keys refuses to
/// start (its own keys would make every other gateway's tokens fail), and says what to set.
#[test]
fn a_gateway_without_the_shared_keys_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    init_certs(certs.path());
    let output = Command::new(binary())
        .args(["gateway", "--core", "127.0.0.1:1", "--core-tls-dir"])
        .arg(certs.path())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--metrics-addr", "off", "--http-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("init-secrets") && said.contains("BETBET_SECRETS_DIR"),
        "{said}"
    );
    assert!(
        !dir.path().join("secrets/jwt.key").exists(),
        "made keys of its own"
    );
}

#[test]
fn a_gateway_ends_its_clients_connections_when_the_core_comes_back() {
    let core_dir = tempfile::tempdir().unwrap();
    let gateway_dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    init_certs(certs.path());
    let core_port = free_port();
    let http_port = free_port();
    let mut core = start_core(core_dir.path(), core_port, certs.path());
    let (_gateway, api) = start_gateway(
        gateway_dir.path(),
        &format!("127.0.0.1:{core_port}"),
        certs.path(),
        http_port,
    );
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
    core = start_core(core_dir.path(), core_port, certs.path());
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

/// Sits between a gateway and the core, forwarding both ways and keeping every byte the
/// gateway sent: a recording of a real, authenticated link.
fn recording_proxy(core_port: u16) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = recorded.clone();
    std::thread::spawn(move || {
        // The first link only: the one to record.
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        let mut core = std::net::TcpStream::connect(("127.0.0.1", core_port)).unwrap();
        let (mut client_back, mut core_back) =
            (client.try_clone().unwrap(), core.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut core_back, &mut client_back);
        });
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = client.read(&mut buf) {
            if n == 0 || core.write_all(&buf[..n]).is_err() {
                break;
            }
            keep.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        let _ = core.shutdown(std::net::Shutdown::Both);
    });
    (port, recorded)
}

/// Sends `bytes` to the core and reads what it answers until it closes the connection.
fn answer_to(core_port: u16, bytes: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", core_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// A TLS link to the core with `roots` trusted and, if given, a client certificate; sends a
/// protocol hello and a deposit confirmation as the system, and returns what came back.
fn tls_attempt(core_port: u16, roots: &Path, client: Option<&Path>) -> Result<Vec<u8>, String> {
    use betbet_protocol::command::{Command as CoreCommand, ConfirmDeposit};
    use betbet_protocol::message::{ClientMessage, Hello, Request, RequestBody, encode_frame};
    use betbet_protocol::types::{TxId, UserId};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(roots.join("ca.pem")).unwrap() {
        store.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(store);
    let config = match client {
        Some(dir) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(dir.join("gateway.pem"))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(dir.join("gateway.key")).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let name = "betbet-core".try_into().unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", core_port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut frames = Vec::new();
    encode_frame(&ClientMessage::Hello(Hello::new("intruder")), &mut frames).unwrap();
    let confirm = ClientMessage::Request(Request {
        correlation_id: 1,
        body: RequestBody::Command(CoreCommand::ConfirmDeposit(ConfirmDeposit {
            actor: UserId::SYSTEM,
            deposit: TxId(1),
            provider_reference: "free money".to_owned(),
        })),
    });
    encode_frame(&confirm, &mut frames).unwrap();
    tls.write_all(&frames).map_err(|e| e.to_string())?;
    tls.flush().map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer) {
        Ok(_) if answer.is_empty() => Err("closed".to_owned()),
        Ok(_) => Ok(answer),
        Err(e) => Err(e.to_string()),
    }
}

/// How many records the data directory's journal holds (the core stopped).
fn journal_records(dir: &Path) -> u64 {
    let output = Command::new(binary())
        .args(["journal", "verify"])
        .arg(dir)
        .output()
        .expect("journal verify");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "verify failed: {report}");
    let checked = report
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    checked.unwrap_or_else(|| panic!("no record count in: {report}"))
}

/// The report: anyone who could reach `betbet core --listen` could confirm deposits as the
/// system. Now a peer without the deployment's credentials — plain TCP, TLS without a
/// client certificate, another deployment's certificate, a replay of a recorded real link —
/// is refused before a frame is read and gets nothing written to the journal; a gateway
/// with the credentials works.
#[test]
fn only_gateways_with_the_deployments_certificates_reach_the_core() {
    use betbet_protocol::message::{ClientMessage, Hello, encode_frame};
    let core_dir = tempfile::tempdir().unwrap();
    let gateway_dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    init_certs(ours.path());
    init_certs(theirs.path());
    let core_port = free_port();
    let mut core = start_core(core_dir.path(), core_port, ours.path());

    // A real gateway's link, recorded on its way through a proxy.
    let (proxy_port, recorded) = recording_proxy(core_port);
    let (mut gateway, _) = start_gateway(
        gateway_dir.path(),
        &format!("127.0.0.1:{proxy_port}"),
        ours.path(),
        free_port(),
    );
    let _ = gateway.0.kill();
    let _ = gateway.0.wait();
    let replay = recorded.lock().unwrap().clone();
    assert!(replay.len() > 100, "nothing recorded");

    // Plain TCP speaking the protocol, as before the fix.
    let mut plain = Vec::new();
    encode_frame(&ClientMessage::Hello(Hello::new("intruder")), &mut plain).unwrap();
    let answer = answer_to(core_port, &plain);
    assert!(
        !answer
            .windows(8)
            .any(|w| w == betbet_protocol::message::PROTOCOL_MAGIC),
        "plain TCP got a protocol answer"
    );
    // The recorded link replayed byte for byte: the TLS 1.3 handshake cannot complete.
    let answer = answer_to(core_port, &replay);
    assert!(
        answer.len() < 4096,
        "the replay got a session: {} bytes",
        answer.len()
    );
    // TLS without a client certificate, and with another deployment's.
    assert!(tls_attempt(core_port, ours.path(), None).is_err());
    let theirs_result = tls_attempt(core_port, ours.path(), Some(theirs.path()));
    assert!(theirs_result.is_err(), "{theirs_result:?}");
    // Another deployment's gateway does not even accept our core.
    assert!(tls_attempt(core_port, theirs.path(), Some(theirs.path())).is_err());

    let log = std::fs::read_to_string(core_dir.path().join("core.log")).unwrap_or_default();
    assert!(
        log.matches("refused a core link").count() >= 4,
        "refusals not logged:\n{log}"
    );
    let _ = core.0.kill();
    let _ = core.0.wait();
    assert_eq!(
        journal_records(core_dir.path()),
        0,
        "an intruder wrote to the journal"
    );

    // With the credentials, a gateway works.
    core = start_core(core_dir.path(), core_port, ours.path());
    let (_gateway, api) = start_gateway(
        gateway_dir.path(),
        &format!("127.0.0.1:{core_port}"),
        ours.path(),
        free_port(),
    );
    funded(&api, "linked_user", "10");
    let _ = core.0.kill();
    let _ = core.0.wait();
    assert!(journal_records(core_dir.path()) > 0);
}

/// A socket request's deadline crosses the core link as a budget: in time the remote core
/// executes the order; past it (a gateway whose deadline is 0) the core refuses it with
/// `overloaded` and never executes it.
#[test]
fn a_socket_requests_deadline_holds_at_a_remote_core() {
    let core_dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    init_certs(certs.path());
    let core_port = free_port();
    let _core = start_core(core_dir.path(), core_port, certs.path());
    let core_addr = format!("127.0.0.1:{core_port}");
    let (prompt_dir, strict_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (prompt_port, strict_port) = (free_port(), free_port());
    let (_prompt, api) = start_gateway(prompt_dir.path(), &core_addr, certs.path(), prompt_port);
    let (_strict, _) = start_gateway_with(
        strict_dir.path(),
        &core_addr,
        certs.path(),
        strict_port,
        &["--ws-request-deadline-ms", "0"],
    );
    let (trader, _) = funded(&api, "split_deadline_trader", "100");
    let (host, _) = api.signup("split_deadline_host");
    let market = host
        .post(
            "/api/v1/markets/create",
            &json!({"title": "Deadline market", "description": "over the link",
                "market_type": "binary", "closes_at": in_a_day(), "category": "tests"}),
        )
        .expect(201);
    let market_id = market["id"].as_str().unwrap();
    let token = trader.token.clone().unwrap();
    let order = |port: u16, id: u64| {
        let (mut socket, _) = tungstenite::connect(format!(
            "ws://127.0.0.1:{port}/ws/markets/{market_id}?token={token}"
        ))
        .expect("ws connect");
        socket
            .send(tungstenite::Message::Text(
                json!({"type": "place_order", "request_id": id, "data": {"market_id": market_id,
                    "outcome_id": market["outcomes"][0]["id"], "order_type": "buy",
                    "price": "0.40", "quantity": "1"}})
                .to_string()
                .into(),
            ))
            .unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
        }
        loop {
            let message = socket.read().expect("an answer");
            let Ok(text) = message.to_text() else {
                continue;
            };
            let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            if value["request_id"] == id {
                return value;
            }
        }
    };
    let refused = order(strict_port, 1);
    assert_eq!(refused["data"]["code"], "overloaded", "{refused}");
    let orders = trader.get("/api/v1/orders?status=all").expect(200);
    assert_eq!(orders["orders"], json!([]), "{orders}");
    let acked = order(prompt_port, 2);
    assert_eq!(acked["type"], "order_ack", "{acked}");
    let orders = trader.get("/api/v1/orders?status=all").expect(200);
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1, "{orders}");
}
