//! Games end to end through the real binary: Connect Four played to a win and to a draw
//! with the money exact, clocks and deadlines, private sessions, spectators, the fairness
//! record recomputed here from the revealed seed, and a crash mid-game.

use betbet_tests::{Api, Server, assert_amount, funded, json};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// A 42-move Connect Four game that fills the board with no four in a row (the engine's
/// rules tests replay it too).
const DRAW: &str = "146660203633536103043506522512202545444111";

fn available(api: &Api, user: &str) -> String {
    let wallets = api.get(&format!("/api/v1/wallets/{user}")).expect(200);
    wallets["wallets"][0]["available_balance"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn admin(server: &Server) -> Api {
    let (name, password) = server.demo_login("admin");
    server.api().login(&name, &password)
}

fn connect_four(admin: &Api, extra: Value) -> String {
    let mut body = json!({
        "name": "Connect Four",
        "category": "board",
        "rule_set": "connect_four",
        "rake_bp": 500,
        "turn_clock_ms": 60_000,
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let game = admin.post("/api/v1/games/create", &body).expect(201);
    assert_eq!(game["game_type"], "turn_based");
    game["id"].as_str().unwrap().to_owned()
}

fn session_path(session: &Value, tail: &str) -> String {
    format!("/api/v1/sessions/{}{tail}", session["id"].as_str().unwrap())
}

/// The two players in move order (first mover first), as the session's draw decided.
fn in_move_order<'a>(session: &Value, players: [(&'a Api, &'a str); 2]) -> [(&'a Api, &'a str); 2] {
    let first = session["state"]["first_player_id"].as_str().unwrap();
    if players[0].1 == first {
        players
    } else {
        assert_eq!(players[1].1, first);
        [players[1], players[0]]
    }
}

/// Plays `columns` alternately, first mover first, checking each answer; the last answer.
fn play(session: &Value, order: [(&Api, &str); 2], columns: &str) -> Value {
    let mut last = Value::Null;
    for (i, column) in columns.trim().chars().enumerate() {
        let (api, _) = order[i % 2];
        last = api
            .post(
                &session_path(session, "/move"),
                &json!({"move": column.to_string()}),
            )
            .expect(200);
        assert_eq!(last["state"]["moves"].as_array().unwrap().len(), i + 1);
    }
    last
}

/// Waits (bounded) until the session reaches `status`.
fn await_status(api: &Api, session: &Value, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = api.get(&session_path(session, "")).expect(200);
        if now["status"] == status {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "session never became {status}: {now}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Recomputes the first mover from the revealed seeds, independently of the server.
fn check_fairness(api: &Api, session: &Value) {
    let fair = api.get(&session_path(session, "/fairness")).expect(200);
    let seed = fair["server_seed"]
        .as_str()
        .expect("revealed after the end");
    assert_eq!(seed.len(), 64);
    let hash: String = Sha256::digest(seed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(fair["server_seed_hash"], hash.as_str());
    assert_eq!(
        session["server_seed_hash"],
        hash.as_str(),
        "committed at creation"
    );
    let seeds: Vec<&str> = fair["client_seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["client_seed"].as_str().unwrap())
        .collect();
    let client_seed = seeds.join("|");
    assert_eq!(fair["client_seed"], client_seed.as_str());
    let draw = &fair["draws"][0];
    assert_eq!(draw["purpose"], "first_mover");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(seed.as_bytes()).unwrap();
    mac.update(format!("{client_seed}:{}:{}", draw["nonce"], draw["round"]).as_bytes());
    let block = mac.finalize().into_bytes();
    let at = draw["index"].as_u64().unwrap() as usize * 4;
    let fraction = u32::from_be_bytes(block[at..at + 4].try_into().unwrap());
    assert_eq!(draw["fraction"], fraction);
    let first_seat = (u64::from(fraction) * 2) >> 32;
    assert_eq!(draw["outcome"], first_seat);
    let ended = api.get(&session_path(session, "")).expect(200);
    assert_eq!(
        ended["players"][first_seat as usize]["user_id"],
        ended["state"]["first_player_id"]
    );
}

#[test]
fn connect_four_to_a_win_and_to_a_draw_pays_exactly() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let game = connect_four(&admin(&server), json!({}));
    let (alice, alice_id) = funded(&anon, "c4_alice", "100");
    let (bob, bob_id) = funded(&anon, "c4_bob", "100");

    // Alice opens a session: her stake is in escrow, the seed committed, not revealed.
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10", "is_private": false}),
        )
        .expect(201);
    assert_eq!(session["status"], "waiting");
    assert!(session["id"].as_str().unwrap().starts_with("gs_"));
    assert_eq!(session["server_seed"], Value::Null);
    assert_eq!(session["server_seed_hash"].as_str().unwrap().len(), 64);
    assert_amount(&Value::String(available(&alice, &alice_id)), "90");
    let listed = anon.get("/api/v1/sessions/active").expect(200);
    assert_eq!(listed["sessions"][0]["id"], session["id"]);
    assert_eq!(
        listed["sessions"][0].get("session_code"),
        None,
        "codes only to players"
    );

    // Bob takes the last seat: the session starts by itself.
    let started = bob
        .post(&session_path(&session, "/join"), &json!({}))
        .expect(200);
    assert_eq!(started["status"], "active");
    assert_amount(&Value::String(available(&bob, &bob_id)), "90");
    let order = in_move_order(&started, [(&alice, &alice_id), (&bob, &bob_id)]);
    let [(first, first_id), (second, second_id)] = order;

    // Out of turn, off the board, or not a player: refused, nothing changes.
    second
        .post(&session_path(&session, "/move"), &json!({"move": "3"}))
        .expect_error(409, "not_your_turn");
    first
        .post(&session_path(&session, "/move"), &json!({"move": "7"}))
        .expect_error(422, "illegal_move");
    let (carol, _) = funded(&anon, "c4_carol", "5");
    carol
        .post(&session_path(&session, "/move"), &json!({"move": "0"}))
        .expect_error(403, "not_in_session");
    let unchanged = first.get(&session_path(&session, "")).expect(200);
    assert_eq!(unchanged["version"], started["version"]);

    // The first mover stacks column 0, the other column 1: four in a column wins.
    let ended = play(&session, order, "0101010");
    assert_eq!(ended["status"], "completed");
    assert_eq!(ended["end_reason"], "win");
    assert_eq!(ended["state"]["winning_line"], json!([0, 7, 14, 21]));
    assert_amount(&ended["pot"], "20");
    assert_amount(&ended["rake"], "1");
    assert_amount(&Value::String(available(first, first_id)), "109");
    assert_amount(&Value::String(available(second, second_id)), "90");
    let winner = ended["players"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user_id"] == first_id)
        .unwrap();
    assert_eq!(winner["status"], "won");
    assert_amount(&winner["payout"], "19");
    check_fairness(&alice, &session);
    first
        .post(&session_path(&session, "/move"), &json!({"move": "2"}))
        .expect_error(409, "game_session_not_active");

    // A full board with no four: the pot less the rake is split exactly.
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10", "client_seed": "alice-chooses"}),
        )
        .expect(201);
    let started = bob
        .post(
            &session_path(&session, "/join"),
            &json!({"user_id": bob_id, "client_seed": "bob-chooses"}),
        )
        .expect(200);
    let order = in_move_order(&started, [(&alice, &alice_id), (&bob, &bob_id)]);
    let ended = play(&session, order, DRAW);
    assert_eq!(ended["end_reason"], "draw");
    assert_eq!(ended["state"]["to_move"], Value::Null);
    for player in ended["players"].as_array().unwrap() {
        assert_eq!(player["status"], "drew");
        assert_amount(&player["payout"], "9.5");
    }
    check_fairness(&bob, &session);
    // 109 + 9.5 − 10 and 90 + 9.5 − 10, whoever was first last time.
    let mut balances = [available(&alice, &alice_id), available(&bob, &bob_id)];
    balances.sort();
    assert_amount(&Value::String(balances[0].clone()), "108.5");
    assert_amount(&Value::String(balances[1].clone()), "89.5");
}

#[test]
fn clocks_deadlines_leaving_and_cancelling_refund_or_decide_exactly() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let game = connect_four(
        &admin(&server),
        json!({"turn_clock_ms": 1_000, "start_timeout_secs": 10, "rake_bp": 250}),
    );
    let (alice, alice_id) = funded(&anon, "clk_alice", "50");
    let (bob, bob_id) = funded(&anon, "clk_bob", "50");

    // Nobody moves: the first mover's clock runs out and they lose on time.
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "4"}),
        )
        .expect(201);
    let started = bob
        .post(&session_path(&session, "/join"), &json!({}))
        .expect(200);
    assert!(started["turn_deadline"].is_string());
    let [(first, first_id), (second, second_id)] =
        in_move_order(&started, [(&alice, &alice_id), (&bob, &bob_id)]);
    let ended = await_status(first, &session, "completed");
    assert_eq!(ended["end_reason"], "timeout");
    assert_amount(&ended["rake"], "0.2");
    assert_amount(&Value::String(available(first, first_id)), "46");
    assert_amount(&Value::String(available(second, second_id)), "53.8");

    // Before the start: only the creator starts (once enough have joined) or cancels; the
    // creator cannot leave, and a non-player has no seat to leave.
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "5"}),
        )
        .expect(201);
    let before_bob = available(&bob, &bob_id);
    assert_amount(
        &Value::String(available(&alice, &alice_id)),
        if first_id == alice_id.as_str() {
            "41"
        } else {
            "48.8"
        },
    );
    let (carol, carol_id) = funded(&anon, "clk_carol", "5");
    carol
        .post(&session_path(&session, "/leave"), &json!({}))
        .expect_error(403, "not_in_session");
    alice
        .post(&session_path(&session, "/leave"), &json!({}))
        .expect_error(403, "creator_cannot_leave");
    bob.post(&session_path(&session, "/cancel"), &json!({}))
        .expect_error(403, "not_session_creator");
    bob.post(&session_path(&session, "/start"), &json!({}))
        .expect_error(403, "not_session_creator");
    alice
        .post(&session_path(&session, "/start"), &json!({}))
        .expect_error(422, "not_enough_players");
    let cancelled = alice
        .post(&session_path(&session, "/cancel"), &json!({}))
        .expect(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["players"][0]["status"], "refunded");
    assert!(cancelled["server_seed"].is_string(), "revealed at the end");
    // Her stake is back: 46 if she lost on time above, 53.8 if she won.
    assert_amount(
        &Value::String(available(&alice, &alice_id)),
        if first_id == alice_id.as_str() {
            "46"
        } else {
            "53.8"
        },
    );
    assert_eq!(available(&bob, &bob_id), before_bob);

    // Nobody joins: the start deadline cancels the session and refunds the stake.
    let session = carol
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "5"}),
        )
        .expect(201);
    assert_amount(&Value::String(available(&carol, &carol_id)), "0");
    let expired = await_status(&carol, &session, "cancelled");
    assert_eq!(expired["end_reason"], "expired");
    assert_amount(&Value::String(available(&carol, &carol_id)), "5");
}

#[test]
fn private_sessions_and_spectators_keep_to_their_rules() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let game = connect_four(&admin(&server), json!({"spectator_share_bp": 5_000}));
    let (alice, alice_id) = funded(&anon, "pv_alice", "100");
    let (bob, bob_id) = funded(&anon, "pv_bob", "100");
    let (eve, eve_id) = funded(&anon, "pv_eve", "100");

    // A private session is unlisted, invisible to outsiders and joined only by its code.
    let private = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10", "is_private": true}),
        )
        .expect(201);
    let code = private["session_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    let listed = anon.get("/api/v1/sessions/active").expect(200);
    assert_eq!(listed["total"], 0);
    eve.get(&session_path(&private, ""))
        .expect_error(404, "game_session_not_found");
    eve.post(&session_path(&private, "/spectate"), &json!({}))
        .expect_error(404, "game_session_not_found");
    // Without the code the session does not exist for bob, whatever its state; a
    // lowercase code works as well as the one shown.
    bob.post(&session_path(&private, "/join"), &json!({}))
        .expect_error(404, "game_session_not_found");
    bob.post(
        &session_path(&private, "/join"),
        &json!({"session_code": "ZZZZZZZZ"}),
    )
    .expect_error(404, "game_session_not_found");
    eve.post(&session_path(&private, "/resign"), &json!({}))
        .expect_error(404, "game_session_not_found");
    eve.post(&session_path(&private, "/cancel"), &json!({}))
        .expect_error(404, "game_session_not_found");
    bob.post(
        &session_path(&private, "/join"),
        &json!({"user_id": eve_id}),
    )
    .expect_error(403, "forbidden");
    assert_amount(&Value::String(available(&bob, &bob_id)), "100");
    let joined = bob
        .post(
            &format!("/api/v1/sessions/{}/join", code.to_lowercase()),
            &json!({}),
        )
        .expect(200);
    assert_eq!(joined["status"], "active");
    assert_eq!(joined["session_code"], code.as_str());

    // A public session with a spectator fee: charged once, half to the players.
    let public = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10", "spectator_fee": "2"}),
        )
        .expect(201);
    let started = bob
        .post(&session_path(&public, "/join"), &json!({}))
        .expect(200);
    let watching = eve
        .post(&session_path(&public, "/spectate"), &json!({}))
        .expect(200);
    assert_eq!(watching["spectator_count"], 1);
    eve.post(&session_path(&public, "/spectate"), &json!({}))
        .expect(200);
    assert_amount(&Value::String(available(&eve, &eve_id)), "98");
    assert_amount(&Value::String(available(&alice, &alice_id)), "80.5");
    assert_amount(&Value::String(available(&bob, &bob_id)), "80.5");
    let spectators = alice.get(&session_path(&public, "/spectators")).expect(200);
    assert_eq!(spectators["spectators"][0]["user_id"], eve_id.as_str());
    assert_amount(&spectators["spectators"][0]["fee_paid"], "2");
    // A spectator cannot move, a player cannot spectate.
    eve.post(&session_path(&public, "/move"), &json!({"move": "0"}))
        .expect_error(403, "not_in_session");
    alice
        .post(&session_path(&public, "/spectate"), &json!({}))
        .expect_error(403, "player_cannot_spectate");
    // Resigning hands the opponent the pot less the rake.
    let [(first, first_id), (second, second_id)] =
        in_move_order(&started, [(&alice, &alice_id), (&bob, &bob_id)]);
    let resigned = second
        .post(&session_path(&public, "/resign"), &json!({}))
        .expect(200);
    assert_eq!(resigned["end_reason"], "resignation");
    assert_amount(&Value::String(available(first, first_id)), "99.5");
    assert_amount(&Value::String(available(second, second_id)), "80.5");
}

#[test]
fn a_game_survives_sigkill_with_its_position_clock_and_stakes() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();
    let game = connect_four(&admin(&server), json!({"turn_clock_ms": 600_000}));
    let (alice, alice_id) = funded(&anon, "kill_alice", "100");
    let (bob, bob_id) = funded(&anon, "kill_bob", "100");
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "25"}),
        )
        .expect(201);
    let started = bob
        .post(&session_path(&session, "/join"), &json!({}))
        .expect(200);
    let order = in_move_order(&started, [(&alice, &alice_id), (&bob, &bob_id)]);
    let before = play(&session, order, "33421");

    server.restart();
    let after = alice.get(&session_path(&session, "")).expect(200);
    for field in [
        "state",
        "turn_deadline",
        "version",
        "status",
        "pot",
        "players",
    ] {
        assert_eq!(after[field], before[field], "{field} after the crash");
    }
    assert_amount(&Value::String(available(&alice, &alice_id)), "75");
    assert_amount(&Value::String(available(&bob, &bob_id)), "75");
    // The game goes on from there: the second mover (to move) resigns.
    let [(first, first_id), (second, second_id)] = order;
    second
        .post(&session_path(&session, "/resign"), &json!({}))
        .expect(200);
    assert_amount(&Value::String(available(first, first_id)), "122.5");
    assert_amount(&Value::String(available(second, second_id)), "75");
}
