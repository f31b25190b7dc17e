//! Tournaments end to end through the real binary: single and double elimination of 8,
//! 13 and 16 players (a bracket reset included), round robin and Swiss, every match a real
//! game session the players join and play over REST; prizes exact to the unit; a no-show
//! forfeiting; refunds; the tournament room over WebSocket; and SIGKILL mid-tournament.

use betbet_tests::{Api, Server, assert_amount, funded, json};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The first mover wins with four in column 0; the second with four in column 1.
const FIRST_WINS: &str = "0101010";
const SECOND_WINS: &str = "01010121";
/// A 42-move Connect Four game that fills the board with no four in a row.
const DRAW: &str = "146660203633536103043506522512202545444111";

fn admin(server: &Server) -> Api {
    let (name, password) = server.demo_login("admin");
    server.api().login(&name, &password)
}

/// A Connect Four game with a 5 % rake.
fn connect_four(admin: &Api) -> String {
    let game = admin
        .post(
            "/api/v1/games/create",
            &json!({"name": "Cup Four", "category": "board", "rule_set": "connect_four",
                    "rake_bp": 500, "turn_clock_ms": 60_000}),
        )
        .expect(201);
    game["id"].as_str().unwrap().to_owned()
}

fn id(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not an id: {value}"))
        .to_owned()
}

fn path(tournament: &str, tail: &str) -> String {
    format!("/api/v1/tournaments/{tournament}{tail}")
}

/// Units of 10^-8 in a decimal string.
fn units(amount: &Value) -> i64 {
    let text = amount.as_str().expect("an amount string");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fraction = format!("{fraction:0<8}");
    whole.parse::<i64>().unwrap() * 100_000_000 + fraction.parse::<i64>().unwrap()
}

fn balance(api: &Api, user: &str) -> i64 {
    let wallets = api.get(&format!("/api/v1/wallets/{user}")).expect(200);
    units(&wallets["wallets"][0]["available_balance"])
}

/// Players by user id.
struct Field {
    players: HashMap<String, Api>,
    order: Vec<String>,
}

impl Field {
    fn new(anon: &Api, prefix: &str, n: usize) -> Field {
        let mut players = HashMap::new();
        let mut order = Vec::new();
        for i in 0..n {
            let (api, user) = funded(anon, &format!("{prefix}{i}"), "1000");
            order.push(user.clone());
            players.insert(user, api);
        }
        Field { players, order }
    }

    fn api(&self, user: &str) -> &Api {
        &self.players[user]
    }
}

/// The seed (from 1) of each entrant.
fn seeds(bracket: &Value) -> HashMap<String, u64> {
    bracket["tournament"]["entrants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (id(&e["user_id"]), e["seed"].as_u64().expect("seeded")))
        .collect()
}

/// Plays every match until the tournament ends: both players sit down in its session and
/// play so that `decide`'s seed wins (a draw for none). The number of games played.
fn drive(
    anon: &Api,
    field: &Field,
    tournament: &str,
    decide: impl Fn(&Value, [u64; 2]) -> Option<u64>,
) -> usize {
    let mut games = 0;
    loop {
        let bracket = anon.get(&path(tournament, "/bracket")).expect(200);
        if bracket["tournament"]["status"] != "running" {
            return games;
        }
        let seed_of = seeds(&bracket);
        let playing: Vec<&Value> = bracket["matches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["state"] == "playing")
            .collect();
        assert!(
            !playing.is_empty(),
            "a running tournament has a match: {bracket}"
        );
        for m in playing {
            let session = id(m["sessions"].as_array().unwrap().last().unwrap());
            let users = [id(&m["players"][0]), id(&m["players"][1])];
            // Both sit down (one may have already).
            let seated = anon_session(field.api(&users[0]), &session);
            for user in &users {
                let sat = seated["players"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["user_id"] == user.as_str());
                if !sat {
                    field
                        .api(user)
                        .post(&format!("/api/v1/sessions/{session}/join"), &json!({}))
                        .expect(200);
                }
            }
            let started = anon_session(field.api(&users[0]), &session);
            assert_eq!(started["status"], "active");
            let first = id(&started["state"]["first_player_id"]);
            let second = if first == users[0] {
                &users[1]
            } else {
                &users[0]
            };
            let movers = [first.as_str(), second.as_str()];
            let columns = match decide(m, [seed_of[&users[0]], seed_of[&users[1]]]) {
                None => DRAW,
                Some(seed) if seed_of[&first] == seed => FIRST_WINS,
                Some(_) => SECOND_WINS,
            };
            for (i, column) in columns.chars().enumerate() {
                field
                    .api(movers[i % 2])
                    .post(
                        &format!("/api/v1/sessions/{session}/move"),
                        &json!({"move": column.to_string()}),
                    )
                    .expect(200);
            }
            games += 1;
        }
    }
}

fn anon_session(api: &Api, session: &str) -> Value {
    api.get(&format!("/api/v1/sessions/{session}")).expect(200)
}

/// The better seed wins.
fn favourite(_: &Value, [a, b]: [u64; 2]) -> Option<u64> {
    Some(a.min(b))
}

/// Creates a tournament of `body` (with the game), registers `entrants` and starts it.
fn started(creator: &Api, field: &Field, entrants: &[String], body: Value) -> (String, Value) {
    let created = creator
        .post("/api/v1/tournaments/create", &body)
        .expect(201);
    let tournament = id(&created["tournament"]["id"]);
    assert_eq!(created["tournament"]["status"], "registration");
    assert!(created["matches"].as_array().unwrap().is_empty());
    for user in entrants {
        field
            .api(user)
            .post(&path(&tournament, "/register"), &json!({"user_id": user}))
            .expect(200);
    }
    let running = creator
        .post(&path(&tournament, "/start"), &json!({}))
        .expect(200);
    assert_eq!(running["tournament"]["status"], "running");
    (tournament, running)
}

#[test]
fn elimination_brackets_of_8_13_and_16_play_to_the_end_and_pay_exactly() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let admin = admin(&server);
    let game = connect_four(&admin);
    let (host, host_id) = funded(&anon, "cup_host", "10000");
    let field = Field::new(&anon, "cup_p", 16);
    for (format, n, third_place) in [
        ("single_elimination", 8, true),
        ("single_elimination", 13, false),
        ("single_elimination", 16, false),
        ("double_elimination", 8, false),
        ("double_elimination", 13, false),
        ("double_elimination", 16, false),
    ] {
        let entrants = &field.order[..n];
        let before: Vec<i64> = entrants.iter().map(|u| balance(field.api(u), u)).collect();
        let host_before = balance(&host, &host_id);
        let body = json!({"game_id": game, "format": format, "prize_pool": "100",
            "entry_fee": "10", "max_players": 16, "third_place": third_place,
            "prize_distribution": [50, 30, 20], "name": format!("{format} {n}")});
        let (tournament, running) = started(&host, &field, entrants, body);
        assert_eq!(balance(&host, &host_id), host_before - 100 * 100_000_000);
        // The whole graph is there before any game: 2P − 1 matches for double
        // elimination of a field padded to P (with the reset), P − 1 (+ third place)
        // for single.
        let size = n.next_power_of_two();
        let expected_matches = if format == "double_elimination" {
            2 * size - 1
        } else {
            size - 1 + usize::from(third_place)
        };
        assert_eq!(
            running["matches"].as_array().unwrap().len(),
            expected_matches
        );
        // Seeds go by rating in the game (the earlier tournaments' games were rated),
        // then by registration: unrated in the first, in registration order.
        let ranked: Vec<(i64, usize, u64)> = running["tournament"]["entrants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let registered = entrants.iter().position(|u| e["user_id"] == u.as_str());
                (
                    -e["rating"].as_i64().unwrap(),
                    registered.unwrap(),
                    e["seed"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut by_rating = ranked.clone();
        by_rating.sort();
        let seeds_in_order: Vec<u64> = by_rating.iter().map(|r| r.2).collect();
        assert_eq!(
            seeds_in_order,
            (1..=n as u64).collect::<Vec<_>>(),
            "{running}"
        );
        if format == "single_elimination" && n == 8 {
            assert!(ranked.iter().all(|r| r.0 == -1000), "unrated at first");
        }
        let games = drive(&anon, &field, &tournament, |m, [a, b]| {
            // Double elimination: 2 beats 1 in the winners' final; 1 comes back through
            // the losers' bracket and wins the grand final and its reset.
            match m["stage"].as_str().unwrap() {
                "winners" if format == "double_elimination" && a.min(b) == 1 && a.max(b) == 2 => {
                    Some(2)
                }
                "grand_final" | "reset" => Some(1),
                _ => Some(a.min(b)),
            }
        });
        let done = anon.get(&path(&tournament, "/bracket")).expect(200);
        assert_eq!(done["tournament"]["status"], "completed", "{done}");
        let expected_games = if format == "double_elimination" {
            2 * (n - 1) + 1
        } else {
            n - 1 + usize::from(third_place)
        };
        assert_eq!(games, expected_games, "{format} {n}");
        if format == "double_elimination" {
            let reset = done["matches"].as_array().unwrap().last().unwrap();
            assert_eq!(reset["stage"], "reset");
            assert_eq!(
                reset["state"], "won",
                "the grand final was reset and played"
            );
        }
        // Prizes: 100 + 10n less 5 % of 10n, by 50 / 30 / 20.
        let fees = 10 * n as i64 * 100_000_000;
        let total = 100 * 100_000_000 + fees - fees / 20;
        assert_eq!(units(&done["tournament"]["prizes_total"]), total);
        let standings = done["standings"].as_array().unwrap();
        assert_eq!(
            (standings[0]["seed"].clone(), standings[0]["place"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(standings[1]["seed"], 2);
        let prize_of = |place: u64| match place {
            1 => total / 2,
            2 => total * 3 / 10,
            _ => 0,
        };
        let mut paid = 0;
        for s in standings {
            let user = id(&s["user_id"]);
            let seed = s["seed"].as_u64().unwrap();
            let place = s["place"].as_u64().unwrap();
            // Third place: alone with a third-place match or in double elimination, else
            // two semi-finalists share 20 % and nothing.
            let prize = match (place, third_place || format == "double_elimination") {
                (3, true) => total / 5,
                (3, false) => total / 5 / 2,
                (p, _) => prize_of(p),
            };
            assert_eq!(units(&s["prize"]), prize, "seed {seed} place {place}");
            let i = entrants.iter().position(|u| *u == user).unwrap();
            assert_eq!(
                balance(field.api(&user), &user),
                before[i] - 10 * 100_000_000 + prize,
                "seed {seed}'s wallet"
            );
            paid += prize;
        }
        assert_eq!(
            paid + units(&done["tournament"]["rake"]),
            100 * 100_000_000 + fees
        );
    }
    let list = anon
        .get("/api/v1/tournaments?status=completed&limit=100")
        .expect(200);
    assert_eq!(list["total"], 6);
}

#[test]
fn round_robin_and_swiss_pair_by_their_rules_and_split_ties_exactly() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let admin = admin(&server);
    let game = connect_four(&admin);
    let (host, _) = funded(&anon, "rr_host", "1000");
    let field = Field::new(&anon, "rr_p", 9);

    // Round robin of five: everyone draws: five tied for first share all three prizes.
    let body = json!({"game_id": game, "format": "round_robin", "prize_pool": "100",
        "entry_fee": "10", "max_players": 5, "min_players": 3});
    let (tournament, running) = started(&host, &field, &field.order[..5], body);
    assert_eq!(running["matches"].as_array().unwrap().len(), 10);
    let games = drive(&anon, &field, &tournament, |_, _| None);
    assert_eq!(games, 10);
    let done = anon.get(&path(&tournament, "/bracket")).expect(200);
    let mut pairs = BTreeSet::new();
    for m in done["matches"].as_array().unwrap() {
        let (a, b) = (id(&m["players"][0]), id(&m["players"][1]));
        assert!(
            pairs.insert((a.clone().min(b.clone()), a.max(b))),
            "every pair once"
        );
        assert_eq!(m["state"], "drawn");
    }
    let total = 100 * 100_000_000 + 50 * 100_000_000 - 50 * 100_000_000 / 20;
    for s in done["standings"].as_array().unwrap() {
        assert_eq!(s["place"], 1);
        assert_eq!(s["points"], "2");
        assert_eq!(units(&s["prize"]), total / 5);
    }

    // Swiss of nine, four rounds: no rematch, one bye a round, never two for a player.
    let body = json!({"game_id": game, "format": "swiss", "rounds": 4, "prize_pool": "0",
        "max_players": 9, "min_players": 5, "prize_distribution": [100]});
    let (tournament, running) = started(&host, &field, &field.order, body);
    // Round 1 is paired at the start: top half against bottom half, the bye to seed 9.
    let first: Vec<&Value> = running["matches"].as_array().unwrap().iter().collect();
    assert_eq!(first.len(), 5);
    assert_eq!(first[4]["slots"][1]["kind"], "bye");
    assert_eq!(first[4]["slots"][0]["value"], 9);
    assert_eq!(first[0]["slots"][0]["value"], 1);
    assert_eq!(first[0]["slots"][1]["value"], 5);
    let games = drive(&anon, &field, &tournament, favourite);
    assert_eq!(games, 16);
    let done = anon.get(&path(&tournament, "/bracket")).expect(200);
    let mut pairs = BTreeSet::new();
    let mut byes = BTreeSet::new();
    for round in 1..=4 {
        let matches: Vec<&Value> = done["matches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["round"] == round)
            .collect();
        assert_eq!(matches.len(), 5, "round {round}");
        for m in matches {
            if m["slots"][1]["kind"] == "bye" {
                assert!(
                    byes.insert(m["slots"][0]["value"].as_u64().unwrap()),
                    "one bye each"
                );
                assert_eq!(m["state"], "walkover");
            } else {
                let (a, b) = (
                    m["slots"][0]["value"].as_u64().unwrap(),
                    m["slots"][1]["value"].as_u64().unwrap(),
                );
                assert!(pairs.insert((a.min(b), a.max(b))), "rematch {a} v {b}");
            }
        }
    }
    let standings = done["standings"].as_array().unwrap();
    assert_eq!(
        (standings[0]["seed"].clone(), standings[0]["points"].clone()),
        (json!(1), json!("4"))
    );
    // Buchholz and Sonneborn–Berger are shown exactly.
    assert!(
        standings
            .iter()
            .all(|s| s["buchholz"].is_string() && s["sonneborn_berger"].is_string())
    );
}

#[test]
fn no_shows_forfeit_and_cancelled_tournaments_refund_everyone() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let admin = admin(&server);
    let game = connect_four(&admin);
    let (host, host_id) = funded(&anon, "ns_host", "1000");
    let field = Field::new(&anon, "ns_p", 4);
    let body = json!({"game_id": game, "format": "single_elimination", "prize_pool": "10",
        "entry_fee": "5", "max_players": 4, "check_in_secs": 10, "prize_distribution": [100]});
    let (tournament, running) = started(&host, &field, &field.order, body);
    // Match 0 (seeds 1 v 4): only seed 1 sits down. Match 1: both do and play.
    let m0 = &running["matches"][0];
    let s0 = id(&m0["sessions"][0]);
    let seed1 = id(&m0["players"][0]);
    let seed4 = id(&m0["players"][1]);
    field
        .api(&seed1)
        .post(&format!("/api/v1/sessions/{s0}/join"), &json!({}))
        .expect(200);
    // Nobody else takes a match's seat, and a player cannot leave it.
    let outsider = &field
        .order
        .iter()
        .find(|u| **u != seed1 && **u != seed4)
        .unwrap();
    let refused = field
        .api(outsider)
        .post(&format!("/api/v1/sessions/{s0}/join"), &json!({}));
    refused.expect(403);
    field
        .api(&seed1)
        .post(&format!("/api/v1/sessions/{s0}/leave"), &json!({}))
        .expect(409);
    // Match 1's players sit down at once (their game starts), so only match 0 forfeits.
    let m1 = &running["matches"][1];
    let s1 = id(&m1["sessions"][0]);
    for user in [id(&m1["players"][0]), id(&m1["players"][1])] {
        field
            .api(&user)
            .post(&format!("/api/v1/sessions/{s1}/join"), &json!({}))
            .expect(200);
    }
    // The check-in deadline passes: seed 4 forfeits.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bracket = anon.get(&path(&tournament, "/bracket")).expect(200);
        if bracket["matches"][0]["state"] == "won" {
            assert_eq!(bracket["matches"][0]["winner_side"], 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the no-show never forfeited: {bracket}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let games = drive(&anon, &field, &tournament, favourite);
    assert_eq!(games, 2, "the semi-final played and the final");
    let done = anon.get(&path(&tournament, "/bracket")).expect(200);
    assert_eq!(done["standings"][0]["user_id"], seed1.as_str());
    assert_eq!(
        balance(field.api(&seed1), &seed1),
        1000 * 100_000_000 - 5 * 100_000_000 + 2_900_000_000
    );

    // A tournament its creator cancels: every fee and the pool come back exactly.
    let host_before = balance(&host, &host_id);
    let body = json!({"game_id": game, "format": "round_robin", "prize_pool": "7.5",
        "entry_fee": "2.25", "max_players": 4, "min_players": 4});
    let created = host.post("/api/v1/tournaments/create", &body).expect(201);
    let cancelled = id(&created["tournament"]["id"]);
    let before: Vec<i64> = field
        .order
        .iter()
        .map(|u| balance(field.api(u), u))
        .collect();
    for user in &field.order[..3] {
        field
            .api(user)
            .post(&path(&cancelled, "/register"), &json!({}))
            .expect(200);
    }
    host.post(&path(&cancelled, "/start"), &json!({}))
        .expect(422);
    field
        .api(&field.order[0])
        .post(&path(&cancelled, "/cancel"), &json!({}))
        .expect(403);
    let ended = host
        .post(&path(&cancelled, "/cancel"), &json!({}))
        .expect(200);
    assert_eq!(ended["tournament"]["status"], "cancelled");
    for (user, before) in field.order.iter().zip(before) {
        assert_eq!(balance(field.api(user), user), before, "{user} refunded");
    }
    assert_eq!(balance(&host, &host_id), host_before);
    field
        .api(&field.order[3])
        .post(&path(&cancelled, "/register"), &json!({}))
        .expect(409);

    // One whose start comes with too few players is cancelled by the core's clock.
    let host_before = balance(&host, &host_id);
    let starts_at = betbet_tests::in_seconds(2);
    let body = json!({"game_id": game, "format": "swiss", "rounds": 2, "prize_pool": "1",
        "min_players": 3, "starts_at": starts_at, "prize_distribution": [100]});
    let created = host.post("/api/v1/tournaments/create", &body).expect(201);
    let lonely = id(&created["tournament"]["id"]);
    field
        .api(&field.order[0])
        .post(&path(&lonely, "/register"), &json!({}))
        .expect(200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bracket = anon.get(&path(&lonely, "/bracket")).expect(200);
        if bracket["tournament"]["status"] == "cancelled" {
            break;
        }
        assert!(Instant::now() < deadline, "never cancelled: {bracket}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(balance(&host, &host_id), host_before, "the pool came back");
    assert_amount(&created["tournament"]["prize_pool"], "1");

    // Bad input is a clear error.
    let bad = |body: Value, status: u16| {
        host.post("/api/v1/tournaments/create", &body)
            .expect(status)
    };
    bad(
        json!({"game_id": game, "format": "knockout", "prize_pool": "1"}),
        400,
    );
    bad(
        json!({"game_id": game, "format": "swiss", "prize_pool": "1"}),
        400,
    );
    bad(
        json!({"game_id": game, "format": "round_robin", "prize_pool": "1", "prize_distribution": [60, 30]}),
        400,
    );
    bad(
        json!({"game_id": game, "format": "round_robin", "prize_pool": "-1"}),
        400,
    );
    bad(
        json!({"game_id": "game_999", "format": "round_robin", "prize_pool": "1"}),
        404,
    );
    bad(
        json!({"game_id": game, "format": "round_robin", "prize_pool": "1", "is_admin": true}),
        400,
    );
    anon.get("/api/v1/tournaments/trn_999/bracket").expect(404);
    anon.get("/api/v1/tournaments/nope/bracket").expect(400);
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn read(socket: &mut Ws) -> Value {
    loop {
        match socket.read().expect("a message from the room") {
            tungstenite::Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            tungstenite::Message::Close(frame) => {
                let frame = frame.expect("a close frame says why");
                return json!({"type": "close", "code": u16::from(frame.code)});
            }
            _ => {}
        }
    }
}

#[test]
fn the_room_announces_matches_and_a_sigkill_keeps_the_bracket() {
    let mut server = Server::start(&["--demo"]);
    let anon = server.api();
    let admin = admin(&server);
    let game = connect_four(&admin);
    let (host, _) = funded(&anon, "room_host", "1000");
    let field = Field::new(&anon, "room_p", 4);
    let body = json!({"game_id": game, "format": "double_elimination", "prize_pool": "40",
        "entry_fee": "1", "max_players": 4});
    let created = host.post("/api/v1/tournaments/create", &body).expect(201);
    let tournament = id(&created["tournament"]["id"]);
    // Anyone may watch, without a token.
    let url = format!("ws://127.0.0.1:{}/ws/tournament/{tournament}", server.port);
    let (mut socket, _) = tungstenite::connect(url).expect("the room opens");
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
    }
    let snapshot = read(&mut socket);
    assert_eq!(snapshot["type"], "snapshot");
    let mut seq = snapshot["seq"].as_u64().unwrap();
    assert_eq!(snapshot["data"]["bracket"]["tournament"]["version"], seq);
    for user in &field.order {
        field
            .api(user)
            .post(&path(&tournament, "/register"), &json!({}))
            .expect(200);
    }
    host.post(&path(&tournament, "/start"), &json!({}))
        .expect(200);
    let mut changes = Vec::new();
    while changes.len() < 4 + 1 + 2 {
        let update = read(&mut socket);
        assert_eq!(update["type"], "tournament_update", "{update}");
        assert_eq!(update["seq"], seq + 1, "consecutive");
        seq += 1;
        changes.push(update["data"]["change"].as_str().unwrap().to_owned());
        if update["data"]["change"] == "match_ready" {
            assert!(
                update["data"]["session_id"]
                    .as_str()
                    .unwrap()
                    .starts_with("gs_")
            );
        }
    }
    assert_eq!(
        changes,
        [
            "registered",
            "registered",
            "registered",
            "registered",
            "started",
            "match_ready",
            "match_ready"
        ]
    );
    // One match played, then a SIGKILL: the bracket comes back exactly.
    let bracket = anon.get(&path(&tournament, "/bracket")).expect(200);
    let first = &bracket["matches"][0];
    let session = id(&first["sessions"][0]);
    for user in [id(&first["players"][0]), id(&first["players"][1])] {
        field
            .api(&user)
            .post(&format!("/api/v1/sessions/{session}/join"), &json!({}))
            .expect(200);
    }
    let before = anon.get(&path(&tournament, "/bracket")).expect(200);
    drop(socket);
    server.restart();
    assert_eq!(anon.get(&path(&tournament, "/bracket")).expect(200), before);
    let games = drive(&anon, &field, &tournament, favourite);
    assert_eq!(games, 6, "two losses each for three players");
    let done = anon.get(&path(&tournament, "/bracket")).expect(200);
    assert_eq!(done["tournament"]["status"], "completed");
    assert_eq!(done["standings"][0]["seed"], 1);
    // 40 + 4 × 1 less 5 % of the fees (0.2), halved for first place.
    assert_eq!(
        units(&done["standings"][0]["prize"]),
        (4_400_000_000 - 20_000_000) / 2
    );
}
