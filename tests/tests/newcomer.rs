//! What a newcomer stumbled on, fixed: errors always in the envelope, every bad field of a
//! request named at once, resolutions by outcome text, the mirrored NO book explained, and
//! the demo's markets listed with their outcome ids.

use betbet_tests::{Server, funded, in_a_day, json};

#[test]
fn a_newcomer_gets_whole_answers() {
    let server = Server::start(&["--demo", "--dispute-window-secs", "0"]);
    let anon = server.api();
    let (alice, _) = funded(&anon, "newcomer", "10");

    // Every missing or invalid field at once, as a list; category is optional.
    let reply = alice.post(
        "/api/v1/markets/create",
        &json!({"tick_size": "0.5", "description": "no title, no type, no close"}),
    );
    reply.expect_error(400, "invalid_request");
    let fields: Vec<&str> = reply.body["error"]["fields"]
        .as_array()
        .expect("error.fields")
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "market_type", "closes_at", "tick_size"]);
    let market = alice
        .post(
            "/api/v1/markets/create",
            &json!({"title": "Will the newcomer find it?", "market_type": "binary", "closes_at": in_a_day()}),
        )
        .expect(201);
    assert_eq!(market["category"], "general");
    let id = market["id"].as_str().unwrap();

    // Resolving: which field is missing, and the outcome's text works as well as its id.
    alice
        .put(
            &format!("/api/v1/markets/{id}"),
            &json!({"status": "closed"}),
        )
        .expect(200);
    let reply = alice.post(&format!("/api/v1/markets/{id}/resolve"), &json!({}));
    reply.expect_error(400, "invalid_request");
    assert_eq!(reply.body["error"]["fields"][0]["field"], "winning_outcome");
    let reply = alice.post(
        &format!("/api/v1/markets/{id}/resolve"),
        &json!({"winning_outcome": "Maybe"}),
    );
    reply.expect_error(400, "invalid_resolution");
    let resolved = alice
        .post(
            &format!("/api/v1/markets/{id}/resolve"),
            &json!({"winning_outcome": "yes"}),
        )
        .expect(200);
    assert_eq!(
        resolved["resolution"]["proposed_value"],
        market["outcomes"][0]["id"]
    );

    // Unknown routes and wrong methods answer in the envelope.
    let reply = anon.post("/api/v1/orders/", &json!({}));
    assert!(reply.status == 404 || reply.status == 405, "{}", reply.body);
    assert!(reply.body["error"]["code"].is_string(), "{}", reply.body);
    anon.post("/api/v1/markets", &json!({}))
        .expect_error(405, "method_not_allowed");

    // The demo lists its markets and their outcome ids.
    let credentials =
        std::fs::read_to_string(server.data_dir.join("demo-credentials.txt")).unwrap();
    assert!(credentials.contains("Demo markets"), "{credentials}");
    let rain = credentials
        .lines()
        .find(|l| l.contains("rain"))
        .expect("the rain market");
    assert!(
        rain.starts_with("mkt_") && rain.contains("out_") && rain.contains("Yes"),
        "{rain}"
    );

    // A binary market's snapshot says which outcome its one book mirrors.
    let market_id = rain.split_whitespace().next().unwrap();
    let (mut socket, _) = tungstenite::connect(format!(
        "ws://127.0.0.1:{}/ws/markets/{market_id}",
        server.port
    ))
    .unwrap();
    let snapshot: serde_json::Value =
        serde_json::from_str(socket.read().unwrap().to_text().unwrap()).unwrap();
    let book = &snapshot["data"]["books"][0];
    assert!(
        book["mirrored_outcome_id"]
            .as_str()
            .unwrap()
            .starts_with("out_"),
        "{book}"
    );
    assert!(book["mirror"].as_str().unwrap().contains("1 − price"));
}
