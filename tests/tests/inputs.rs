//! Random input through the real binary, on every route of its own table and on the
//! WebSocket: JSON bodies built from the API's field names with values of every type and
//! shape, malformed JSON and multipart, and socket messages of every kind. Whatever the
//! input, the answer is a 4xx in the error envelope (or a success), never a 5xx or a dropped
//! connection, and the server goes on serving. Seeded, so a failure replays.

use betbet_tests::{Server, binary, funded, in_a_day, json};
use serde_json::Value;
use std::time::Duration;

/// A seeded generator with the two choices the inputs need.
struct Rng(rand::rngs::SmallRng);

impl Rng {
    fn next(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }

    fn below(&mut self, n: u64) -> u64 {
        rand::Rng::gen_range(&mut self.0, 0..n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Field names the API takes somewhere, so random bodies reach the validation behind the
/// strict field check too.
const FIELDS: &[&str] = &[
    "amount",
    "currency",
    "price",
    "quantity",
    "outcome_id",
    "order_type",
    "market_id",
    "closes_at",
    "expires_at",
    "title",
    "description",
    "market_type",
    "outcomes",
    "username",
    "password",
    "email",
    "recipient",
    "memo",
    "payment_method",
    "payment_method_id",
    "details",
    "method_type",
    "provider",
    "name",
    "entry_amount",
    "member_limit",
    "odds",
    "position_type",
    "time_in_force",
    "post_only",
    "client_order_id",
    "winning_outcome",
    "scalar_value",
    "reason",
    "status",
    "role",
    "kyc_level",
    "notes",
    "bio",
    "display_name",
    "refresh_token",
    "code",
    "deposit_id",
    "worst_price",
    "tick_size",
    "creator_fee_percent",
    "category",
];

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(-1),
        4 => json!(0.1),
        5 => json!("0.5"),
        6 => json!("1e400"),
        7 => json!("99999999999999999999999999999.123456789"),
        8 => json!("-0.00000001"),
        9 => json!("2026-01-01T00:00:0\u{e9}"),
        10 => json!("usr_18446744073709551616"),
        11 => json!("\u{0}\u{202e}\u{1F600}".repeat(rng.below(300) as usize)),
        12 => json!(in_a_day()),
        _ => json!("x".repeat(rng.below(5_000) as usize)),
    }
}

fn value(rng: &mut Rng, depth: u32) -> Value {
    match (rng.below(6), depth) {
        (0, d) if d < 4 => Value::Array((0..rng.below(5)).map(|_| value(rng, d + 1)).collect()),
        (1, d) if d < 4 => body(rng, d + 1),
        _ => scalar(rng),
    }
}

fn body(rng: &mut Rng, depth: u32) -> Value {
    let mut object = serde_json::Map::new();
    for _ in 0..rng.below(6) {
        object.insert((*rng.pick(FIELDS)).to_owned(), value(rng, depth));
    }
    Value::Object(object)
}

fn raw(rng: &mut Rng) -> Vec<u8> {
    match rng.below(5) {
        0 => b"{\"amount\": ".to_vec(),
        1 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        2 => b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".repeat(20),
        3 => "{\"a\":1}".repeat(2).into_bytes(),
        _ => body(rng, 0).to_string().into_bytes(),
    }
}

fn send(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(body)
        .unwrap();
    match agent.run(request) {
        Ok(response) => response.status().as_u16(),
        Err(error) => panic!("{method} {path}: no answer ({error})"),
    }
}

#[test]
fn random_bodies_and_socket_messages_get_answers_not_failures() {
    let output = std::process::Command::new(binary())
        .arg("routes")
        .output()
        .unwrap();
    let table: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let server = Server::start(&[]);
    let anon = server.api();
    let (user, user_id) = funded(&anon, "fuzzed", "100");
    let token = user.token.clone().unwrap();
    let market = user
        .post(
            "/api/v1/markets/create",
            &json!({"title": "Fuzzed", "description": "f", "market_type": "binary", "closes_at": in_a_day(), "category": "tests"}),
        )
        .expect(201);
    let market_id = market["id"].as_str().unwrap().to_owned();
    let mut rng = Rng(rand::SeedableRng::seed_from_u64(0x5EED_F00D_CAFE_BABE));
    let mut answered = 0;
    for entry in &table {
        let (method, path, kind) = (
            entry["method"].as_str().unwrap(),
            entry["path"].as_str().unwrap(),
            entry["body"].as_str().unwrap(),
        );
        if path.starts_with("/ws/") || (method == "POST" && path.ends_with("/auth/logout")) {
            continue;
        }
        let path = path
            .replace("{user_id}", &user_id)
            .replace("{market_id}", &market_id)
            .replace("{id}", &user_id)
            .replace("{provider}", "sandbox");
        let path: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "ord_1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let cases = if kind == "empty" { 2 } else { 40 };
        for _ in 0..cases {
            let (content_type, bytes) = match kind {
                "multipart" => (
                    "multipart/form-data; boundary=xyz",
                    [
                        b"--xyz\r\nContent-Disposition: form-data; name=\"".as_slice(),
                        &raw(&mut rng),
                    ]
                    .concat(),
                ),
                _ => ("application/json", raw(&mut rng)),
            };
            let status = send(server.port, method, &path, &token, content_type, bytes);
            assert!(
                status < 500,
                "{method} {path}: {status}\n{}",
                server.log_text()
            );
            answered += 1;
        }
    }
    assert!(answered > 300, "only {answered} requests");

    // The WebSocket: every kind of message with random data, and garbage.
    let (mut socket, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}?token={token}",
        server.port
    ))
    .unwrap();
    let kinds = [
        "ping",
        "subscribe",
        "unsubscribe",
        "place_order",
        "cancel_order",
        "authenticate",
        "market_order",
        "nonsense",
    ];
    for i in 0..300 {
        let message = match rng.below(4) {
            0 => String::from_utf8_lossy(&raw(&mut rng)).into_owned(),
            _ => json!({"type": rng.pick(&kinds), "request_id": i, "data": body(&mut rng, 0)})
                .to_string(),
        };
        if socket
            .send(tungstenite::Message::Text(message.into()))
            .is_err()
        {
            break;
        }
    }
    let _ = socket.close(None);
    // Still serving, sockets included.
    assert_eq!(anon.get("/health").status, 200);
    let (mut again, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}",
        server.port
    ))
    .expect("a new socket after the noise");
    let first = again.read().expect("the snapshot");
    assert!(first.to_text().unwrap().contains("snapshot"));
}
