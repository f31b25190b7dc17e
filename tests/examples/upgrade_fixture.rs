//! Writes an upgrade fixture: a data directory made by the `betbet` binary in `BETBET_BIN`
//! (the last build of a format), packed as `OUT.tar.gz`, and what that build answers about
//! it, as `OUT.json` (see `betbet_tests::upgrade`).
//!
//! ```sh
//! BETBET_BIN=/path/to/old/betbet cargo run -p betbet-tests --example upgrade_fixture -- \
//!     tests/fixtures/snapshot-v3
//! ```
//!
//! The server snapshots every 25 commands and is killed at the end, so the directory holds a
//! snapshot and a journal tail after it: a restart must read both. Markets close in 2036 and
//! no order has an expiry, so nothing in the fixture changes with the date it is started on.

use betbet_tests::{Api, Server, json, upgrade};
use serde_json::Value;
use std::path::PathBuf;

const CLOSES_AT: &str = "2036-01-01T00:00:00Z";

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: upgrade_fixture OUT"));
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let mut server = Server::start_in(&data, &["--snapshot-every", "25"]);
    let anon = server.api();
    let [(host, _), (maker, _), (alice, alice_id), (bob, _)] =
        upgrade::USERS.map(|name| betbet_tests::funded(&anon, name, "1000"));

    let binary = create(&host, "Will it rain in the fixture?", "binary", &[]);
    let (yes, no) = (outcome(&binary, 0), outcome(&binary, 1));
    let multiple = create(
        &host,
        "Who wins the fixture cup?",
        "multiple",
        &["Ann", "Ben", "Cat"],
    );
    let market = binary["id"].as_str().expect("id").to_owned();
    let cup = multiple["id"].as_str().expect("id").to_owned();

    // A cross at 0.60 (alice long YES, bob long NO), then resting orders on every side.
    order(
        &alice,
        &market,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.60", "quantity": "10"}),
    );
    order(
        &bob,
        &market,
        json!({"outcome_id": no, "order_type": "buy", "price": "0.45", "quantity": "10"}),
    );
    order(
        &alice,
        &market,
        json!({"outcome_id": yes, "order_type": "sell", "price": "0.75", "quantity": "4"}),
    );
    order(
        &maker,
        &market,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.40", "quantity": "25"}),
    );
    order(
        &maker,
        &market,
        json!({"outcome_id": no, "order_type": "buy", "price": "0.20", "quantity": "15"}),
    );
    order(
        &bob,
        &market,
        json!({"outcome_id": yes, "position_type": "back", "odds": "2.5", "quantity": "3"}),
    );
    order(
        &maker,
        &cup,
        json!({"outcome_id": outcome(&multiple, 0), "order_type": "buy", "price": "0.30", "quantity": "6"}),
    );
    order(
        &alice,
        &cup,
        json!({"outcome_id": outcome(&multiple, 1), "order_type": "buy", "price": "0.35", "quantity": "5"}),
    );
    order(
        &bob,
        &cup,
        json!({"outcome_id": outcome(&multiple, 1), "order_type": "sell", "price": "0.35", "quantity": "2"}),
    );
    alice
        .post(
            "/api/v1/transfers/send",
            &json!({"recipient": "fx_bob", "amount": "12.5", "currency": "USD", "memo": "fixture"}),
        )
        .expect(201);
    // A game played to its end (a session still live would expire or time out when the
    // fixture is started later): an admin is made offline, as an operator does.
    server.kill();
    let grant = std::process::Command::new(betbet_tests::binary())
        .args(["admin", "grant", "fx_host", "--data-dir"])
        .arg(&data)
        .output()
        .expect("betbet admin grant");
    assert!(grant.status.success(), "{grant:?}");
    server.restart();
    let host = anon.login("fx_host", "password-of-fx_host");
    let game = host
        .post(
            "/api/v1/games/create",
            &json!({"name": "Fixture four", "category": "board", "rule_set": "connect_four", "rake_bp": 300}),
        )
        .expect(201);
    // Three games, so the newest snapshot holds sessions and the catalog in the old
    // layout; then a game created and deactivated after it, in the journal's tail.
    for _ in 0..3 {
        play_connect_four(&game, [(&alice, &alice_id), (&bob, "")]);
    }
    let late = host
        .post(
            "/api/v1/games/create",
            &json!({"name": "Fixture four, late", "category": "board", "rule_set": "connect_four", "turn_clock_ms": 45_000}),
        )
        .expect(201);
    host.put(
        &format!("/api/v1/games/{}", late["id"].as_str().expect("id")),
        &json!({"rake_bp": 200, "is_active": false}),
    )
    .expect(200);

    // The last commands land after the newest snapshot (25 commands apart).
    order(
        &maker,
        &market,
        json!({"outcome_id": yes, "order_type": "buy", "price": "0.41", "quantity": "2"}),
    );

    let expected = upgrade::observe(&server);
    server.kill();
    std::fs::remove_file(data.join("server.log")).ok();
    let archive = out.with_extension("tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(work.path())
        .arg("data")
        .status()
        .expect("tar");
    assert!(status.success(), "tar failed");
    std::fs::write(
        out.with_extension("json"),
        serde_json::to_string_pretty(&expected).expect("json") + "\n",
    )
    .expect("write expected state");
    println!("wrote {} and its .json", archive.display());
}

/// One Connect Four session of `game` played to a win: `players[0]` creates it (and is
/// named by `id`), `players[1]` joins; the first mover plays a vertical four.
fn play_connect_four(game: &Value, players: [(&Api, &str); 2]) {
    let [(alice, alice_id), (bob, _)] = players;
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game["id"], "stake": "4", "currency": "USD", "client_seed": "alice-seed"}),
        )
        .expect(201);
    let path = format!("/api/v1/sessions/{}", session["id"].as_str().expect("id"));
    let joined = bob
        .post(&format!("{path}/join"), &json!({"client_seed": "bob-seed"}))
        .expect(200);
    let first = joined["state"]["first_player_id"].as_str().expect("first");
    let movers = if first == alice_id {
        [alice, bob]
    } else {
        [bob, alice]
    };
    for (i, column) in "0101010".chars().enumerate() {
        movers[i % 2]
            .post(
                &format!("{path}/move"),
                &json!({"move": column.to_string()}),
            )
            .expect(200);
    }
}

fn create(api: &Api, title: &str, market_type: &str, outcomes: &[&str]) -> Value {
    api.post(
        "/api/v1/markets/create",
        &json!({
            "title": title,
            "description": "an upgrade fixture",
            "market_type": market_type,
            "outcomes": outcomes,
            "closes_at": CLOSES_AT,
            "category": "fixtures",
            "creator_fee_percent": "1.00",
            "tick_size": "0.01",
        }),
    )
    .expect(201)
}

fn order(api: &Api, market: &str, body: Value) -> Value {
    let reply = api.post(&format!("/api/v1/markets/{market}/orders"), &body);
    assert!(
        reply.status == 201 || reply.status == 200,
        "order refused: {}",
        reply.body
    );
    reply.body
}

fn outcome(market: &Value, index: usize) -> String {
    market["outcomes"][index]["id"]
        .as_str()
        .expect("outcome")
        .to_owned()
}
