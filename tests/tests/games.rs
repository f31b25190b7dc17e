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

/// Adds a game of `rule_set` (5% rake) with `extra` settings; its id.
fn new_game(admin: &Api, name: &str, rule_set: &str, extra: Value) -> String {
    let mut body = json!({
        "name": name,
        "category": "board",
        "rule_set": rule_set,
        "rake_bp": 500,
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let game = admin.post("/api/v1/games/create", &body).expect(201);
    let game_type = if rule_set == "quick_math" {
        "countdown"
    } else {
        "turn_based"
    };
    assert_eq!(game["game_type"], game_type);
    game["id"].as_str().unwrap().to_owned()
}

fn connect_four(admin: &Api, extra: Value) -> String {
    let mut settings = json!({"turn_clock_ms": 60_000});
    for (key, value) in extra.as_object().unwrap() {
        settings[key] = value.clone();
    }
    new_game(admin, "Connect Four", "connect_four", settings)
}

fn chess(admin: &Api, extra: Value) -> String {
    new_game(admin, "Chess", "chess", extra)
}

/// The two players ordered by the session's draw: the one named by `state.{field}` first.
fn drawn_order<'a>(
    session: &Value,
    field: &str,
    players: [(&'a Api, &'a str); 2],
) -> [(&'a Api, &'a str); 2] {
    let first = session["state"][field].as_str().unwrap();
    if players[0].1 == first {
        players
    } else {
        assert_eq!(players[1].1, first);
        [players[1], players[0]]
    }
}

/// The two players in move order (first mover first), as the session's draw decided.
fn in_move_order<'a>(session: &Value, players: [(&'a Api, &'a str); 2]) -> [(&'a Api, &'a str); 2] {
    drawn_order(session, "first_player_id", players)
}

/// White and black, as the session's draw decided.
fn by_colour<'a>(session: &Value, players: [(&'a Api, &'a str); 2]) -> [(&'a Api, &'a str); 2] {
    drawn_order(session, "white_player_id", players)
}

/// `creator` opens a session of `game` at `stake` and `joiner` takes the other seat,
/// which starts it: the session as created, and as started.
fn start_two(creator: &Api, joiner: &Api, game: &str, stake: &str) -> (Value, Value) {
    let session = creator
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": stake}),
        )
        .expect(201);
    let started = joiner
        .post(&session_path(&session, "/join"), &json!({}))
        .expect(200);
    (session, started)
}

/// Plays `moves` (space-separated, any notation) alternately, white first; the last answer.
fn play_chess(session: &Value, sides: [(&Api, &str); 2], moves: &str) -> Value {
    let mut last = Value::Null;
    for (i, mv) in moves.split_whitespace().enumerate() {
        last = sides[i % 2]
            .0
            .post(&session_path(session, "/move"), &json!({"move": mv}))
            .expect(200);
    }
    last
}

fn session_path(session: &Value, tail: &str) -> String {
    format!("/api/v1/sessions/{}{tail}", session["id"].as_str().unwrap())
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

/// A draw's fraction recomputed from the fairness route's revealed seeds, independently of
/// the server (and checked against the one it reports).
fn recompute_fraction(fair: &Value, draw: &Value) -> u32 {
    let seed = fair["server_seed"]
        .as_str()
        .expect("revealed after the end");
    let client_seed = fair["client_seed"].as_str().unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(seed.as_bytes()).unwrap();
    mac.update(format!("{client_seed}:{}:{}", draw["nonce"], draw["round"]).as_bytes());
    let block = mac.finalize().into_bytes();
    let at = draw["index"].as_u64().unwrap() as usize * 4;
    let fraction = u32::from_be_bytes(block[at..at + 4].try_into().unwrap());
    assert_eq!(draw["fraction"], fraction);
    fraction
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
    let fraction = recompute_fraction(&fair, draw);
    let first_seat = (u64::from(fraction) * 2) >> 32;
    assert_eq!(draw["outcome"], first_seat);
    let ended = api.get(&session_path(session, "")).expect(200);
    // Connect Four's first mover, chess's white.
    let first = match ended["rule_set"].as_str() {
        Some("chess") => &ended["state"]["white_player_id"],
        _ => &ended["state"]["first_player_id"],
    };
    assert_eq!(&ended["players"][first_seat as usize]["user_id"], first);
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

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

/// One connection to a session's room: every sequenced message must be the one after the
/// last (`seq` + 1), checked as it is read.
struct Room {
    socket: Ws,
    seq: u64,
}

impl Room {
    /// Connects as `api`'s user and returns the room with its snapshot.
    fn open(server: &Server, session: &Value, api: &Api) -> (Room, Value) {
        let url = format!(
            "ws://127.0.0.1:{}/ws/game/{}?token={}",
            server.port,
            session["id"].as_str().unwrap(),
            api.token.as_deref().unwrap()
        );
        let (mut socket, _) = tungstenite::connect(url).expect("the room opens");
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
        }
        let mut room = Room { socket, seq: 0 };
        let snapshot = room.read();
        assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
        room.seq = snapshot["seq"].as_u64().unwrap();
        assert_eq!(snapshot["data"]["session"]["version"], room.seq);
        (room, snapshot)
    }

    fn read(&mut self) -> Value {
        loop {
            match self.socket.read().expect("a message from the room") {
                tungstenite::Message::Text(text) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if let Some(seq) = message["seq"].as_u64()
                        && message["type"] != "snapshot"
                    {
                        assert_eq!(seq, self.seq + 1, "consecutive: {message}");
                        self.seq = seq;
                    }
                    return message;
                }
                tungstenite::Message::Close(frame) => {
                    let frame = frame.expect("a close frame says why");
                    return json!({"type": "close", "code": u16::from(frame.code)});
                }
                _ => {}
            }
        }
    }

    /// Reads until a message of `kind`, returning it.
    fn until(&mut self, kind: &str) -> Value {
        loop {
            let message = self.read();
            if message["type"] == kind {
                return message;
            }
            assert_ne!(message["type"], "close", "closed before {kind}");
        }
    }

    fn send(&mut self, kind: &str, request_id: u64, data: Value) {
        let message = json!({"type": kind, "request_id": request_id, "data": data});
        self.socket
            .send(tungstenite::Message::Text(message.to_string().into()))
            .unwrap();
    }
}

#[test]
fn two_players_play_over_their_sockets_while_a_spectator_watches() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let game = connect_four(&admin(&server), json!({}));
    let (alice, alice_id) = funded(&anon, "ws_alice", "100");
    let (bob, bob_id) = funded(&anon, "ws_bob", "100");
    let (eve, eve_id) = funded(&anon, "ws_eve", "100");
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10", "spectator_fee": "1"}),
        )
        .expect(201);

    // The room is for players and paying spectators only.
    let url = |api: &Api| {
        format!(
            "ws://127.0.0.1:{}/ws/game/{}?token={}",
            server.port,
            session["id"].as_str().unwrap(),
            api.token.as_deref().unwrap_or("")
        )
    };
    match tungstenite::connect(url(&eve)) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a non-spectator was let in: {:?}", other.map(|_| ())),
    }
    match tungstenite::connect(url(&anon)) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("an anonymous client was let in: {:?}", other.map(|_| ())),
    }

    // Alice waits in her room; bob's join starts the game, and both see it in sequence.
    let (mut alice_room, snapshot) = Room::open(&server, &session, &alice);
    assert_eq!(snapshot["data"]["you"]["role"], "player");
    assert_eq!(snapshot["data"]["session"]["status"], "waiting");
    assert!(snapshot["data"]["session"]["session_code"].is_string());
    let started = bob
        .post(&session_path(&session, "/join"), &json!({}))
        .expect(200);
    let joined = alice_room.until("game_update");
    assert_eq!(joined["data"]["change"], "joined");
    assert_eq!(joined["data"]["user_id"], bob_id.as_str());
    let begun = alice_room.read();
    assert_eq!(begun["data"]["change"], "started");
    assert_eq!(begun["data"]["session"]["status"], "active");
    assert_eq!(begun["seq"], started["version"]);
    // Updates are the public view: no session code.
    assert_eq!(begun["data"]["session"].get("session_code"), None);
    let (mut bob_room, _) = Room::open(&server, &session, &bob);
    eve.post(&session_path(&session, "/spectate"), &json!({}))
        .expect(200);
    let (mut eve_room, watching) = Room::open(&server, &session, &eve);
    assert_eq!(watching["data"]["you"]["role"], "spectator");
    assert_eq!(watching["data"]["session"].get("session_code"), None);
    alice_room.until("game_update");
    bob_room.until("game_update");
    assert_amount(&Value::String(available(&eve, &eve_id)), "99");

    // A spectator is read-only; a move out of turn is refused and changes nothing.
    eve_room.send("game_move", 1, json!({"move": "3"}));
    let refused = eve_room.read();
    assert_eq!(
        (refused["type"].as_str(), refused["request_id"].as_u64()),
        (Some("error"), Some(1))
    );
    assert_eq!(refused["data"]["code"], "not_in_session");
    eve_room.send("chat", 2, json!({"text": "hello"}));
    assert_eq!(eve_room.read()["data"]["code"], "not_in_session");
    let order = in_move_order(&started, [(&alice, &alice_id), (&bob, &bob_id)]);
    let (mut first, mut second) = if order[0].1 == alice_id {
        (alice_room, bob_room)
    } else {
        (bob_room, alice_room)
    };
    second.send("game_move", 3, json!({"move": "0"}));
    let refused = second.read();
    assert_eq!(refused["data"]["code"], "not_your_turn");
    assert_eq!(refused["data"]["status"], 409);

    // Chat reaches the other player and the spectator, in the same sequence as the moves.
    second.send("chat_message", 4, json!({"text": "good luck"}));
    assert_eq!(second.read()["type"], "chat_accepted");
    for room in [&mut first, &mut second, &mut eve_room] {
        let chat = room.until("chat");
        assert_eq!(chat["data"]["text"], "good luck");
        assert_eq!(chat["data"]["user_id"], order[1].1);
    }

    // The first mover stacks column 0, the other column 1, over the sockets: each move is
    // acknowledged before its update, and everyone sees every update once, in order.
    for (i, column) in "0101010".chars().enumerate() {
        let (mover, other) = if i % 2 == 0 {
            (&mut first, &mut second)
        } else {
            (&mut second, &mut first)
        };
        mover.send(
            "game_move",
            10 + i as u64,
            json!({"move": column.to_string()}),
        );
        let accepted = mover.read();
        assert_eq!(accepted["type"], "move_accepted", "{accepted}");
        assert_eq!(accepted["request_id"], 10 + i as u64);
        for room in [mover, other, &mut eve_room] {
            let update = room.until("game_update");
            assert_eq!(update["data"]["move"], column.to_string());
            assert_eq!(
                update["data"]["session"]["state"]["moves"]
                    .as_array()
                    .unwrap()
                    .len(),
                i + 1
            );
        }
    }
    // The last move ended it: the update carries the payouts, then the room closes.
    let seq = first.seq;
    assert_eq!(
        (second.seq, eve_room.seq),
        (seq, seq),
        "one sequence for all"
    );
    let ended = api_session(&alice, &session);
    assert_eq!(ended["status"], "completed");
    assert_eq!(ended["version"], seq);
    for room in [&mut first, &mut second, &mut eve_room] {
        assert_eq!(room.read()["code"], 1000, "closed after the end");
    }
    // 10 stake each, a 1 spectator fee half to the players, 5% rake on the 20 pot.
    assert_amount(&Value::String(available(order[0].0, order[0].1)), "109.25");
    assert_amount(&Value::String(available(order[1].0, order[1].1)), "90.25");
}

fn api_session(api: &Api, session: &Value) -> Value {
    api.get(&session_path(session, "")).expect(200)
}

#[test]
fn a_dropped_player_has_a_grace_to_reconnect_then_forfeits() {
    let server = Server::start(&["--demo", "--game-seat-grace-ms", "1500"]);
    let anon = server.api();
    let game = connect_four(&admin(&server), json!({"turn_clock_ms": 600_000}));
    let (alice, alice_id) = funded(&anon, "gr_alice", "100");
    let (bob, bob_id) = funded(&anon, "gr_bob", "100");
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10"}),
        )
        .expect(201);
    bob.post(&session_path(&session, "/join"), &json!({}))
        .expect(200);
    let (mut alice_room, _) = Room::open(&server, &session, &alice);

    // Bob drops and comes back within the grace: he resumes from a snapshot at the
    // current version, and nothing was decided meanwhile.
    let (bob_room, _) = Room::open(&server, &session, &bob);
    drop(bob_room);
    let (bob_room, resumed) = Room::open(&server, &session, &bob);
    assert_eq!(resumed["data"]["session"]["status"], "active");
    assert_eq!(resumed["data"]["session"]["version"], alice_room.seq);
    assert_eq!(resumed["data"]["you"]["seat"], 1);

    // He drops for good: once the grace runs out he has abandoned and alice wins.
    drop(bob_room);
    let ended = alice_room.until("game_update");
    assert_eq!(ended["data"]["change"], "ended");
    assert_eq!(ended["data"]["user_id"], bob_id.as_str());
    assert_eq!(ended["data"]["session"]["end_reason"], "abandoned");
    assert_amount(&Value::String(available(&alice, &alice_id)), "109");
    assert_amount(&Value::String(available(&bob, &bob_id)), "90");
    let reconnect = api_session(&bob, &session);
    assert_eq!(reconnect["players"][1]["status"], "lost");
}

#[test]
fn chess_over_rest_mates_draws_by_repetition_refuses_illegal_moves_and_flags() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let admin = admin(&server);
    let game = chess(
        &admin,
        json!({"turn_clock_ms": 600_000, "increment_ms": 5_000}),
    );
    let (alice, alice_id) = funded(&anon, "chess_alice", "100");
    let (bob, bob_id) = funded(&anon, "chess_bob", "100");
    let players = [(&alice, alice_id.as_str()), (&bob, bob_id.as_str())];

    // Scholar's mate, in UCI and SAN mixed, with refusals on the way.
    let (session, started) = start_two(&alice, &bob, &game, "10");
    assert_eq!(started["state"]["rule_set"], "chess");
    assert_eq!(started["state"]["white_clock_ms"], 600_000);
    assert_eq!(started["state"]["increment_ms"], 5_000);
    let sides = by_colour(&started, players);
    let [(white, white_id), (black, black_id)] = sides;
    black
        .post(&session_path(&session, "/move"), &json!({"move": "e7e5"}))
        .expect_error(409, "not_your_turn");
    for illegal in ["e2e5", "O-O", "Ke2", "e2e4e5", "offer_draw_now"] {
        white
            .post(&session_path(&session, "/move"), &json!({"move": illegal}))
            .expect_error(422, "illegal_move");
    }
    let before = white.get(&session_path(&session, "")).expect(200);
    assert_eq!(
        before["version"], started["version"],
        "refusals change nothing"
    );
    play_chess(&session, sides, "e2e4 e5 Bc4 Nc6");
    let pinned = play_chess(&session, sides, "d1h5");
    assert_eq!(pinned["state"]["san"][4], "Qh5");
    assert_eq!(pinned["state"]["to_move"], black_id);
    let before_mate = play_chess(&session, [sides[1], sides[0]], "Nf6");
    assert_eq!(before_mate["state"]["moves"][5], "g8f6");
    let mated = play_chess(&session, sides, "Qxf7#");
    assert_eq!(mated["status"], "completed");
    assert_eq!(mated["end_reason"], "win");
    assert_eq!(mated["state"]["termination"], "checkmate");
    assert_eq!(mated["state"]["to_move"], Value::Null);
    assert!(mated["state"]["in_check"].as_bool().unwrap());
    assert_eq!(
        mated["state"]["fen"],
        "r1bqkb1r/pppp1Qpp/2n2n2/4p3/2B1P3/8/PPPP1PPP/RNB1K1NR b KQkq - 0 4"
    );
    // 20 pot, 5% rake: the winner gets 19.
    assert_amount(&Value::String(available(white, white_id)), "109");
    assert_amount(&Value::String(available(black, black_id)), "90");
    check_fairness(white, &session);

    // Knights out and back twice: the start position a third time is a draw.
    let (session, started) = start_two(&alice, &bob, &game, "10");
    let sides = by_colour(&started, players);
    let drawn = play_chess(&session, sides, "Nf3 Nf6 Ng1 Ng8 g1f3 g8f6 f3g1 f6g8");
    assert_eq!(drawn["end_reason"], "draw");
    assert_eq!(drawn["state"]["termination"], "threefold_repetition");
    for (_, id) in sides {
        let payout = drawn["players"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["user_id"] == id)
            .unwrap()["payout"]
            .clone();
        assert_amount(&payout, "9.5");
    }

    // A flag: one second each and nobody moves; white's falls, and black wins.
    let blitz = chess(&admin, json!({"turn_clock_ms": 1_000, "increment_ms": 0}));
    let (session, started) = start_two(&alice, &bob, &blitz, "10");
    let [(_, white_id), (black, black_id)] = by_colour(&started, players);
    let flagged = await_status(black, &session, "completed");
    assert_eq!(flagged["end_reason"], "timeout");
    assert_eq!(flagged["state"]["termination"], "timeout");
    assert_eq!(flagged["state"]["white_clock_ms"], 0);
    let winner = flagged["players"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"] == "won")
        .unwrap();
    assert_eq!(winner["user_id"], black_id);
    assert_ne!(winner["user_id"], white_id);
}

/// A crash multiplier's text ("1.52") in hundredths.
fn hundredths(text: &Value) -> u64 {
    let (whole, cents) = text.as_str().unwrap().split_once('.').unwrap();
    whole.parse::<u64>().unwrap() * 100 + cents.parse::<u64>().unwrap()
}

#[test]
fn a_crash_round_over_rest_pays_its_cash_outs_and_proves_its_crash_point() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let admin = admin(&server);
    let (alice, alice_id) = funded(&anon, "crash_alice", "100");
    let (bob, bob_id) = funded(&anon, "crash_bob", "100");

    // The demo funded the house's bankroll; an admin adds to it from their own wallet.
    alice
        .get("/api/v1/games/bankroll")
        .expect_error(403, "forbidden");
    let bankroll = admin.get("/api/v1/games/bankroll?currency=USD").expect(200);
    assert_amount(&bankroll["reserved"], "0");
    let funded_more = admin
        .post("/api/v1/games/bankroll", &json!({"amount": "250"}))
        .expect(200);
    assert_eq!(
        cents(&funded_more["available"]),
        cents(&bankroll["available"]) + 25_000
    );
    admin
        .post("/api/v1/games/bankroll", &json!({"amount": "-1"}))
        .expect_error(400, "invalid_amount");

    // A crash game takes no rake (its edge is the house's).
    admin
        .post(
            "/api/v1/games/create",
            &json!({"name": "Raked crash", "category": "casino", "rule_set": "crash", "rake_bp": 500}),
        )
        .expect_error(400, "invalid_game_settings");
    let game = admin
        .post(
            "/api/v1/games/create",
            &json!({"name": "Crash", "category": "casino", "rule_set": "crash",
                    "tick_hz": 20, "house_edge_bp": 100, "round_profit_max": "10"}),
        )
        .expect(201);
    assert_eq!(game["game_type"], "realtime");
    assert_eq!(
        (game["min_players"].as_u64(), game["max_players"].as_u64()),
        (Some(1), Some(100))
    );
    let game = game["id"].as_str().unwrap().to_owned();

    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10"}),
        )
        .expect(201);
    assert_amount(&session["reserve"], "10");
    let reserved = admin.get("/api/v1/games/bankroll").expect(200);
    assert_amount(&reserved["reserved"], "10");
    let joined = bob
        .post(&session_path(&session, "/join"), &json!({}))
        .expect(200);
    assert_eq!(
        joined["status"], "waiting",
        "a crash round takes up to 100 players"
    );
    // Bob follows the round over the room: every tick arrives as a `game_tick` delta.
    let (mut room, _) = Room::open(&server, &session, &bob);
    let started = alice
        .post(&session_path(&session, "/start"), &json!({}))
        .expect(200);
    assert_eq!(started["state"]["rule_set"], "crash");
    assert_eq!(started["state"]["crash_point"], Value::Null);
    let fair = alice.get(&session_path(&session, "/fairness")).expect(200);
    assert_eq!(
        fair["draws"],
        json!([]),
        "the crash point is secret while the round runs"
    );

    // Alice cashes out at 1.01× or later, Bob at 1.20× or later, each if the round gets
    // there: then the round ends when both are out, or at the crash.
    let targets = [
        (&alice, alice_id.as_str(), 101),
        (&bob, bob_id.as_str(), 120),
    ];
    let mut cashed = [false, false];
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        let now = alice.get(&session_path(&session, "")).expect(200);
        if now["status"] == "completed" {
            break now;
        }
        assert!(Instant::now() < deadline, "the round never ended: {now}");
        let shown = hundredths(&now["state"]["multiplier"]);
        for (i, (api, _, target)) in targets.iter().enumerate() {
            if !cashed[i] && shown >= *target {
                let reply = api.post(
                    &session_path(&session, "/move"),
                    &json!({"move": "cashout"}),
                );
                match reply.status {
                    200 => {
                        cashed[i] = true;
                        // Once: again is illegal, or too late if it ended the round.
                        let again = api.post(
                            &session_path(&session, "/move"),
                            &json!({"move": "cashout"}),
                        );
                        assert!(
                            matches!(again.code(), "illegal_move" | "game_session_not_active"),
                            "{}",
                            again.body
                        );
                    }
                    // The crash (or the last cash-out) came first.
                    409 => assert_eq!(reply.code(), "game_session_not_active"),
                    other => panic!("cash-out answered {other}: {}", reply.body),
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };

    // The revealed seeds give the crash point, and every cash-out was below it.
    let fair = alice.get(&session_path(&session, "/fairness")).expect(200);
    let seed = fair["server_seed"].as_str().expect("revealed");
    let draw = &fair["draws"][0];
    assert_eq!(draw["purpose"], "crash_point");
    assert_eq!(seed.len(), 64);
    let fraction = recompute_fraction(&fair, draw);
    let point = ((9_900u128 << 32) / (((1u128 << 32) - u128::from(fraction)) * 100))
        .clamp(100, 100_000_000) as u64;
    assert_eq!(draw["outcome"], point);
    let state = &ended["state"];
    assert_eq!(hundredths(&state["crash_point"]), point);
    let mut paid = 0i64;
    for (i, (api, id, _)) in targets.iter().enumerate() {
        let player = ended["players"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["user_id"] == *id)
            .unwrap();
        let out = state["cash_outs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["user_id"] == *id);
        match out {
            Some(out) => {
                let m = hundredths(&out["multiplier"]);
                assert!(m < point, "cashed out at {m} below the crash at {point}");
                // 10 × m / 100, in cents of the unit: exact.
                let payout = 10 * m as i64;
                assert_eq!(cents(&out["payout"]), payout);
                assert_eq!(player["payout"], out["payout"]);
                assert_eq!(player["status"], "won");
                paid += payout;
                assert!(cashed[i] || out["forced"] == true);
            }
            None => {
                assert_eq!(player["status"], "lost");
                assert_amount(&player["payout"], "0");
            }
        }
        let balance = cents(&Value::String(available(api, id)));
        assert_eq!(balance, 9_000 + cents(&player["payout"]));
    }
    // The house got back its reserve and the stakes, less what it paid.
    let house = 1_000 + 2_000 - paid;
    assert_eq!(cents(&ended["house_return"]), house);
    assert_eq!(
        ended["end_reason"],
        if state["crashed"] == true {
            "crashed"
        } else {
            "all_cashed_out"
        }
    );
    let after = admin.get("/api/v1/games/bankroll").expect(200);
    assert_amount(&after["reserved"], "0");
    assert_eq!(
        cents(&after["available"]),
        cents(&funded_more["available"]) - 1_000 + house
    );

    // The room saw the start, then the rise tick by tick (consecutive `seq`s, checked as
    // read), the cash-outs as moves, and the end with the session as REST shows it.
    assert_eq!(room.until("game_update")["data"]["change"], "started");
    // A tick applied late catches up to the time it runs at, so a delta can skip ticks
    // (under load); it never repeats or goes back.
    let (mut ticks, mut last, mut moves) = (0u64, 100u64, 0);
    let end = loop {
        let message = room.read();
        match message["type"].as_str() {
            Some("game_tick") => {
                let tick = &message["data"];
                let number = tick["tick"].as_u64().expect("a tick number");
                assert!(number > ticks, "ticks only move on: {message}");
                ticks = number;
                let m = hundredths(&tick["multiplier"]);
                assert!(m >= last, "the multiplier only rises: {message}");
                last = m;
                assert!(tick["next_tick_at"].is_string());
            }
            Some("game_update") if message["data"]["change"] == "moved" => moves += 1,
            Some("game_update") if message["data"]["change"] == "ended" => break message,
            _ => panic!("unexpected in the room: {message}"),
        }
    };
    // The deltas went up to the tick before the one that ended the round (if one did).
    let last_tick = ended["state"]["tick"].as_u64().unwrap();
    assert!(
        ticks <= last_tick,
        "deltas up to tick {ticks} for {last_tick} ticks"
    );
    assert_eq!(end["data"]["session"]["version"], ended["version"]);
    assert_eq!(end["data"]["session"]["state"], ended["state"]);
    let cashed_out = ended["state"]["cash_outs"].as_array().unwrap();
    let voluntary = cashed_out.iter().filter(|c| c["forced"] != true).count();
    assert!(moves <= voluntary, "a move per cash-out at most");
    assert!(last < hundredths(&ended["state"]["multiplier"]) || ended["state"]["crashed"] != true);
}

/// An amount's text ("12.5") in hundredths of the unit (amounts here have at most two
/// decimals).
fn cents(amount: &Value) -> i64 {
    let text = amount.as_str().unwrap();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(fraction.len() <= 2, "{text} has more than cents");
    whole.parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}").parse::<i64>().unwrap()
}

/// The answer to a quick-math question of the session's state.
fn solve(question: &Value) -> i64 {
    let (left, right) = (
        question["left"].as_i64().unwrap(),
        question["right"].as_i64().unwrap(),
    );
    match question["op"].as_str().unwrap() {
        "+" => left + right,
        "-" => left - right,
        "*" => left * right,
        "/" => {
            assert_eq!(left % right, 0, "division is exact");
            left / right
        }
        other => panic!("op {other}"),
    }
}

#[test]
fn quick_math_over_rest_hides_answers_until_the_end_and_pays_the_best() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let game = new_game(
        &admin(&server),
        "Quick math",
        "quick_math",
        json!({"questions": 5, "turn_clock_ms": 60_000}),
    );
    let (alice, alice_id) = funded(&anon, "qm_alice", "100");
    let (bob, bob_id) = funded(&anon, "qm_bob", "100");
    let (carol, carol_id) = funded(&anon, "qm_carol", "100");
    let (dave, _) = funded(&anon, "qm_dave", "100");

    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "10"}),
        )
        .expect(201);
    for api in [&bob, &carol] {
        api.post(&session_path(&session, "/join"), &json!({}))
            .expect(200);
    }
    let started = alice
        .post(&session_path(&session, "/start"), &json!({}))
        .expect(200);
    assert_eq!(started["state"]["rule_set"], "quick_math");
    dave.post(&session_path(&session, "/spectate"), &json!({}))
        .expect(200);
    let questions = started["state"]["questions"].as_array().unwrap().clone();
    assert_eq!(questions.len(), 5);

    let answer = |api: &Api, i: usize, value: i64| {
        api.post(
            &session_path(&session, "/move"),
            &json!({"move": format!("{i}:{value}")}),
        )
    };
    // Alice answers all right; Bob all wrong; Carol all right but one, with a repeat refused.
    for (i, q) in questions.iter().enumerate() {
        answer(&alice, i, solve(q)).expect(200);
        answer(&bob, i, solve(q) + 1).expect(200);
    }
    answer(&carol, 0, solve(&questions[0])).expect(200);
    answer(&carol, 0, solve(&questions[0])).expect_error(422, "illegal_move");
    answer(&carol, 9, 1).expect_error(422, "illegal_move");

    // While the round runs: a player sees their own answers, nobody else's.
    let players = |view: &Value| -> Vec<(String, usize, u64)> {
        view["state"]["players"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["user_id"].as_str().unwrap().to_owned(),
                    p["answers"].as_array().unwrap().len(),
                    p["answered"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let seen_by_carol = players(&carol.get(&session_path(&session, "")).expect(200));
    let seen_by_dave = players(&dave.get(&session_path(&session, "")).expect(200));
    for (seen, own) in [
        (&seen_by_carol, Some(carol_id.as_str())),
        (&seen_by_dave, None),
    ] {
        for (user, shown, answered) in seen {
            let expected_answered = if *user == carol_id { 1 } else { 5 };
            assert_eq!(*answered, expected_answered, "counts are public");
            let mine = Some(user.as_str()) == own;
            assert_eq!(*shown, if mine { 1 } else { 0 }, "answers of {user}");
        }
    }

    for (i, q) in questions.iter().enumerate().skip(1) {
        let value = if i == 3 { solve(q) - 1 } else { solve(q) };
        let last = answer(&carol, i, value).expect(200);
        if i == 4 {
            assert_eq!(
                last["status"], "completed",
                "everyone has answered everything"
            );
        }
    }
    let ended = dave.get(&session_path(&session, "")).expect(200);
    assert_eq!(ended["end_reason"], "win");
    let winner = ended["players"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"] == "won")
        .unwrap();
    // The most points win (five right answers need not beat four faster ones).
    let points = |id: &str| {
        ended["state"]["players"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["user_id"] == id)
            .unwrap()["points"]
            .as_u64()
            .unwrap()
    };
    let best = [&alice_id, &bob_id, &carol_id]
        .into_iter()
        .max_by_key(|id| points(id))
        .unwrap();
    assert_eq!(winner["user_id"], best.as_str());
    assert_eq!(points(&bob_id), 0);
    assert_eq!(winner["score"].as_u64(), Some(points(best)));
    assert_amount(&winner["payout"], "28.5");
    // Everyone's answers at the end.
    assert!(
        players(&ended)
            .iter()
            .all(|(_, shown, answered)| *shown as u64 == *answered)
    );

    // The questions are the revealed seeds' draws: op = floor(f × 4), operands from their
    // ranges (docs/games.md).
    let fair = dave.get(&session_path(&session, "/fairness")).expect(200);
    let draws = fair["draws"].as_array().unwrap();
    assert_eq!(draws.len(), 15);
    let pick = |d: &Value, n: u64| (u64::from(recompute_fraction(&fair, d)) * n) >> 32;
    for (q, d) in questions.iter().zip(draws.chunks(3)) {
        let op = pick(&d[0], 4);
        assert_eq!(q["op"], ["+", "-", "*", "/"][op as usize]);
        let (a, b) = match op {
            0 | 1 => (1 + pick(&d[1], 99), 1 + pick(&d[2], 99)),
            2 => (2 + pick(&d[1], 11), 2 + pick(&d[2], 11)),
            _ => (2 + pick(&d[1], 11), 1 + pick(&d[2], 12)),
        };
        let (left, right) = match op {
            1 => (a.max(b), a.min(b)),
            3 => (a * b, a),
            _ => (a, b),
        };
        assert_eq!(
            (q["left"].as_u64(), q["right"].as_u64()),
            (Some(left), Some(right))
        );
    }
}

/// Glicko-2 in floating point, independently of the core's fixed-point one: `player`'s
/// (rating, deviation, volatility) after one period against `opponents` (rating,
/// deviation, score), on the 1000-based scale.
fn glicko2(player: (f64, f64, f64), opponents: &[(f64, f64, f64)]) -> (f64, f64, f64) {
    const SCALE: f64 = 173.7178;
    const TAU: f64 = 0.5;
    let (mu, phi, sigma) = ((player.0 - 1000.0) / SCALE, player.1 / SCALE, player.2);
    let g = |phi: f64| 1.0 / (1.0 + 3.0 * phi * phi / std::f64::consts::PI.powi(2)).sqrt();
    let (mut inverse_v, mut improvement) = (0.0, 0.0);
    for &(r, rd, score) in opponents {
        let (mu_j, g_j) = ((r - 1000.0) / SCALE, g(rd / SCALE));
        let e = 1.0 / (1.0 + (-g_j * (mu - mu_j)).exp());
        inverse_v += g_j * g_j * e * (1.0 - e);
        improvement += g_j * (score - e);
    }
    let v = 1.0 / inverse_v;
    let delta = v * improvement;
    let a = (sigma * sigma).ln();
    let f = |x: f64| {
        let ex = x.exp();
        ex * (delta * delta - phi * phi - v - ex) / (2.0 * (phi * phi + v + ex).powi(2))
            - (x - a) / (TAU * TAU)
    };
    let mut big_a = a;
    let mut big_b = if delta * delta > phi * phi + v {
        (delta * delta - phi * phi - v).ln()
    } else {
        let mut k = 1.0;
        while f(a - k * TAU) < 0.0 {
            k += 1.0;
        }
        a - k * TAU
    };
    let (mut f_a, mut f_b) = (f(big_a), f(big_b));
    while (big_b - big_a).abs() > 1e-6 {
        let c = big_a + (big_a - big_b) * f_a / (f_b - f_a);
        let f_c = f(c);
        if f_c * f_b < 0.0 {
            (big_a, f_a) = (big_b, f_b);
        } else {
            f_a /= 2.0;
        }
        (big_b, f_b) = (c, f_c);
    }
    let sigma = (big_a / 2.0).exp();
    let phi_star = (phi * phi + sigma * sigma).sqrt();
    let phi = 1.0 / (1.0 / (phi_star * phi_star) + 1.0 / v).sqrt();
    let mu = mu + phi * phi * improvement;
    (1000.0 + mu * SCALE, phi * SCALE, sigma)
}

fn decimal(value: &Value) -> f64 {
    value.as_str().expect("a decimal string").parse().unwrap()
}

#[test]
fn rated_games_move_glicko2_ratings_the_leaderboard_and_the_profile() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();
    let game = connect_four(&admin(&server), json!({}));
    let (alice, alice_id) = funded(&anon, "rated_alice", "100");
    let (bob, bob_id) = funded(&anon, "rated_bob", "100");
    let (carol, carol_id) = funded(&anon, "rated_carol", "100");
    let board = |query: &str| anon.get(&format!("/api/v1/games/{game}/leaderboard{query}"));
    assert_eq!(board("").expect(200)["total"], 0);

    // Game 1: the first mover wins with four in column 0.
    let (session, started) = start_two(&alice, &bob, &game, "10");
    let [(winner, winner_id), (loser, loser_id)] =
        in_move_order(&started, [(&alice, &alice_id), (&bob, &bob_id)]);
    let ended = play(
        &session,
        [(winner, winner_id), (loser, loser_id)],
        "0101010",
    );
    assert_eq!(ended["status"], "completed");
    let top = board("").expect(200);
    assert_eq!(top["total"], 2);
    let players = top["players"].as_array().unwrap();
    assert_eq!(players[0]["user_id"], *winner_id);
    assert_eq!(players[1]["user_id"], *loser_id);
    assert_eq!(
        (players[0]["rank"].clone(), players[1]["rank"].clone()),
        (json!(1), json!(2))
    );
    let newcomer = (1000.0, 350.0, 0.06);
    let expected_win = glicko2(newcomer, &[(1000.0, 350.0, 1.0)]);
    let expected_loss = glicko2(newcomer, &[(1000.0, 350.0, 0.0)]);
    for (player, (rating, deviation, volatility)) in
        players.iter().zip([expected_win, expected_loss])
    {
        assert!(
            (decimal(&player["rating_exact"]) - rating).abs() < 0.01,
            "{player} {rating}"
        );
        assert!((player["rating_deviation"].as_f64().unwrap() - deviation).abs() <= 0.5);
        assert!((decimal(&player["volatility"]) - volatility).abs() < 1e-5);
        assert_eq!(player["games"], 1);
        assert_eq!(player["provisional"], true);
    }
    assert_eq!(players[0]["wins"], 1);
    assert_eq!(players[1]["losses"], 1);
    let win_gain = decimal(&players[0]["rating_exact"]) - 1000.0;
    let loss_drop = 1000.0 - decimal(&players[1]["rating_exact"]);
    assert!(
        win_gain > 100.0 && (win_gain - loss_drop).abs() < 0.0015,
        "symmetric"
    );
    let profile = winner
        .get(&format!("/api/v1/users/{winner_id}"))
        .expect(200);
    assert_eq!(
        profile["profile"]["skill_rating"], players[0]["rating"],
        "{profile}"
    );
    let winner_rating = players[0].clone();

    // Game 2: the winner and carol draw; a cancelled session rates nobody.
    let lobby = carol
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game, "stake": "1"}),
        )
        .expect(201);
    carol
        .post(&session_path(&lobby, "/cancel"), &json!({}))
        .expect(200);
    assert_eq!(
        board("").expect(200)["total"],
        2,
        "a cancelled session is not rated"
    );
    let (session, started) = start_two(winner, &carol, &game, "10");
    let order = in_move_order(&started, [(winner, winner_id), (&carol, &carol_id)]);
    let ended = play(&session, order, DRAW);
    assert_eq!(ended["end_reason"], "draw");
    // Carol is a newcomer; the winner's deviation is shown rounded, hence the tolerance.
    let (expected, _, _) = glicko2(
        (
            decimal(&winner_rating["rating_exact"]),
            winner_rating["rating_deviation"].as_f64().unwrap(),
            decimal(&winner_rating["volatility"]),
        ),
        &[(1000.0, 350.0, 0.5)],
    );
    let ratings = anon
        .get(&format!("/api/v1/users/{winner_id}/ratings"))
        .expect(200);
    assert_eq!(ratings["ratings"].as_array().unwrap().len(), 1);
    let now = &ratings["ratings"][0];
    assert_eq!(
        (
            now["games"].clone(),
            now["wins"].clone(),
            now["draws"].clone()
        ),
        (json!(2), json!(1), json!(1))
    );
    // A draw with a newcomer rated below them costs the winner points.
    assert!(decimal(&now["rating_exact"]) < decimal(&winner_rating["rating_exact"]));
    assert!(
        (decimal(&now["rating_exact"]) - expected).abs() < 0.5,
        "{now} {expected}"
    );
    assert_eq!(ratings["skill_rating"], now["rating"]);
    let history = ratings["history"].as_array().expect("the store's history");
    assert_eq!(history.len(), 2, "{ratings}");
    assert_eq!(history[0]["result"], "draw");
    assert_eq!(history[0]["rating_before"], winner_rating["rating_exact"]);
    assert_eq!(history[0]["rating"], now["rating_exact"]);
    assert_eq!(history[1]["result"], "win");
    assert_eq!(history[1]["rating_before"], "1000.000");
    assert_eq!(history[1]["games"], 1);
    let paged = anon
        .get(&format!(
            "/api/v1/users/{winner_id}/ratings?game_id={game}&limit=1&page=2"
        ))
        .expect(200);
    assert_eq!(paged["history"].as_array().unwrap().len(), 1);
    assert_eq!(paged["history"][0]["result"], "win");
    let page = board("?limit=2&page=2").expect(200);
    assert_eq!(page["total"], 3);
    assert_eq!(page["players"][0]["rank"], 3);

    // Bad input is a clear error.
    board("?limit=0").expect(400);
    anon.get("/api/v1/games/game_999/leaderboard").expect(404);
    anon.get("/api/v1/games/nope/leaderboard").expect(400);
    anon.get("/api/v1/users/usr_99999/ratings").expect(404);
    anon.get(&format!("/api/v1/users/{winner_id}/ratings?game_id=x"))
        .expect(400);

    // The ratings are state: a SIGKILL and restart keeps them exactly.
    let before = board("").expect(200);
    server.restart();
    assert_eq!(board("").expect(200), before);
}
