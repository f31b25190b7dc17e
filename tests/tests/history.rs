//! The history store through the real binary: its tables against the core's own answers,
//! SIGKILLs mid-batch, a rebuild from the journal, reads past the core's windows, journal
//! retention tied to the store — on the embedded SQLite and on a real PostgreSQL.

use betbet_tests::history::{Acknowledged, StoreReader, assert_parity, wait_caught_up};
use betbet_tests::postgres::Postgres;
use betbet_tests::{Api, Server, close_and_resolve, funded, in_a_day, json};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

fn seed() -> u64 {
    let seed = std::env::var("BETBET_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("workload seed {seed} (BETBET_TEST_SEED={seed} repeats it)");
    seed
}

/// Users, a creator and two binary markets, and the acknowledgements so far.
fn setup(api: &Api, users: usize) -> Acknowledged {
    let mut acked = Acknowledged::default();
    let (creator, _) = funded(api, "creator", "10");
    for market in 0..2 {
        let reply = creator
            .post(
                "/api/v1/markets/create",
                &json!({
                    "title": format!("History market {market}"),
                    "description": "for the history store tests",
                    "market_type": "binary",
                    "outcomes": [],
                    "closes_at": in_a_day(),
                    "category": "tests",
                    "creator_fee_percent": "1.00",
                    "tick_size": "0.01",
                }),
            )
            .expect(201);
        let id = reply["id"].as_str().unwrap().to_owned();
        let outcomes = reply["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        acked.outcomes.insert(id.clone(), outcomes);
        acked.markets.insert(id);
    }
    for i in 0..users {
        let (user, id) = funded(api, &format!("trader{i}"), "1000");
        acked.users.push((user, id));
    }
    acked
}

/// What one workload step did, if the server answered.
enum Step {
    Order(String),
    Transactions(Vec<String>),
    Nothing,
}

/// One random request: an order (often crossing), a cancel, a deposit or a transfer.
/// `None` if the server did not answer (it was killed).
fn step(rng: &mut StdRng, acked: &Acknowledged, open: &mut Vec<(usize, String)>) -> Option<Step> {
    let who = rng.gen_range(0..acked.users.len());
    let (api, _) = &acked.users[who];
    let markets: Vec<&String> = acked.markets.iter().collect();
    let market = markets[rng.gen_range(0..markets.len())];
    let outcome = acked.outcomes[market][rng.gen_range(0..2)].clone();
    Some(match rng.gen_range(0..10) {
        0..=5 => {
            let price = format!("0.{}", rng.gen_range(30..70));
            let reply = api.try_post(
                &format!("/api/v1/markets/{market}/orders"),
                &json!({"outcome_id": outcome, "order_type": "buy", "price": price,
                        "quantity": rng.gen_range(1..6).to_string()}),
            )?;
            // A reply cut off by the kill acknowledges nothing.
            let Some(id) = reply.body["id"].as_str().filter(|_| reply.status == 201) else {
                return Some(Step::Nothing);
            };
            let id = id.to_owned();
            if reply.body["status"] == "open" || reply.body["status"] == "partially_filled" {
                open.push((who, id.clone()));
            }
            Step::Order(id)
        }
        6 if !open.is_empty() => {
            let (owner, id) = open.swap_remove(rng.gen_range(0..open.len()));
            acked.users[owner]
                .0
                .try_post(&format!("/api/v1/orders/{id}/cancel"), &json!({}))?;
            Step::Nothing
        }
        6 | 7 => {
            let reply = api.try_post(
                "/api/v1/deposits/initiate",
                &json!({"amount": rng.gen_range(1..50).to_string(), "currency": "USD",
                        "payment_method": "sandbox"}),
            )?;
            match reply.body["id"].as_str().filter(|_| reply.status == 201) {
                Some(id) => Step::Transactions(vec![id.to_owned()]),
                None => Step::Nothing,
            }
        }
        _ => {
            let to = (who + 1 + rng.gen_range(0..acked.users.len() - 1)) % acked.users.len();
            let reply = api.try_post(
                "/api/v1/transfers/send",
                &json!({"recipient": format!("trader{to}"), "amount": format!("0.{}", rng.gen_range(10..99)),
                        "currency": "USD"}),
            )?;
            match reply.body["id"].as_str().filter(|_| reply.status == 201) {
                Some(id) => Step::Transactions(vec![id.to_owned()]),
                None => Step::Nothing,
            }
        }
    })
}

/// Runs `steps` steps (or until the server stops answering), recording what was
/// acknowledged.
fn run(rng: &mut StdRng, acked: &mut Acknowledged, open: &mut Vec<(usize, String)>, steps: usize) {
    for _ in 0..steps {
        match step(rng, acked, open) {
            Some(Step::Order(id)) => {
                acked.orders.insert(id);
            }
            Some(Step::Transactions(ids)) => acked.transactions.extend(ids),
            Some(Step::Nothing) => {}
            None => return,
        }
    }
}

/// A Connect Four game played to a win and one left waiting, for the game tables.
fn play_games(admin: &Api, acked: &Acknowledged) {
    let game = admin
        .post(
            "/api/v1/games/create",
            &json!({"name": "History four", "category": "tests", "rule_set": "connect_four"}),
        )
        .expect(201);
    let [(alice, alice_id), (bob, bob_id)] = [&acked.users[0], &acked.users[1]];
    let path = |session: &serde_json::Value, tail: &str| {
        format!("/api/v1/sessions/{}{tail}", session["id"].as_str().unwrap())
    };
    let session = alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game["id"], "stake": "2"}),
        )
        .expect(201);
    let started = bob.post(&path(&session, "/join"), &json!({})).expect(200);
    let first = started["state"]["first_player_id"].as_str().unwrap();
    let order = if first == alice_id.as_str() {
        [alice, bob]
    } else {
        assert_eq!(first, bob_id.as_str());
        [bob, alice]
    };
    for (i, column) in "0101010".chars().enumerate() {
        order[i % 2]
            .post(
                &path(&session, "/move"),
                &json!({"move": column.to_string()}),
            )
            .expect(200);
    }
    alice
        .post(
            "/api/v1/sessions/create",
            &json!({"game_id": game["id"], "stake": "1"}),
        )
        .expect(201);
}

fn admin(server: &Server) -> Api {
    let (name, password) = server.demo_login("admin");
    server.api().login(&name, &password)
}

/// A workload with SIGKILLs at random moments (the store is written in batches while
/// requests keep coming), then the tables against the core.
fn killed_many_times(extra: &[&str], database_url: Option<&str>) {
    let mut args = vec!["--demo"];
    args.extend_from_slice(extra);
    let mut server = Server::start(&args);
    let admin = admin(&server);
    let mut acked = setup(&server.api(), 4);
    let mut rng = StdRng::seed_from_u64(seed());
    let mut open = Vec::new();
    for _ in 0..6 {
        // The workload runs on a second thread; this one kills the server under it.
        let kill_after = Duration::from_millis(rng.gen_range(100..600));
        let mut thread_rng = StdRng::seed_from_u64(rng.r#gen());
        let mut thread_acked = std::mem::take(&mut acked);
        let mut thread_open = std::mem::take(&mut open);
        let worker = std::thread::spawn(move || {
            run(
                &mut thread_rng,
                &mut thread_acked,
                &mut thread_open,
                100_000,
            );
            (thread_acked, thread_open)
        });
        std::thread::sleep(kill_after);
        server.kill();
        (acked, open) = worker.join().expect("workload thread");
        server.restart();
    }
    run(&mut rng, &mut acked, &mut open, 200);
    play_games(&admin, &acked);
    wait_caught_up(&server.api());
    let store = StoreReader::open(&server.data_dir, database_url);
    let compared = assert_parity(&server, &admin, &store, &acked);
    let games = &betbet_persistence::schema::GAME_SESSIONS;
    assert_eq!(store.rows(games, "", &[]).len(), 2, "both game sessions");
    assert!(
        compared > 100 && acked.orders.len() > 50,
        "the workload did too little: {compared} rows, {} orders",
        acked.orders.len()
    );
}

#[test]
fn sqlite_history_matches_the_core_after_many_kills() {
    killed_many_times(&[], None);
}

#[test]
fn postgres_history_matches_the_core_after_many_kills() {
    let pg = Postgres::start();
    killed_many_times(&["--database-url", &pg.url], Some(&pg.url));
}

/// Deleting the store and rebuilding it from the journal gives the same tables, row for
/// row; `projection status` reports the checkpoint and no lag.
fn rebuilt_identically(database_url: Option<&str>, wipe: impl FnOnce(&Server)) {
    let mut args = vec!["--demo"];
    if let Some(url) = database_url {
        args.extend(["--database-url", url]);
    }
    let mut server = Server::start(&args);
    let mut acked = setup(&server.api(), 3);
    let mut rng = StdRng::seed_from_u64(seed());
    run(&mut rng, &mut acked, &mut Vec::new(), 150);
    wait_caught_up(&server.api());
    assert!(server.terminate().success());
    let before = StoreReader::open(&server.data_dir, database_url).dump();
    assert!(before["market_orders"].len() > 20 && !before["trades"].is_empty());
    wipe(&server);
    let mut rebuild = std::process::Command::new(betbet_tests::binary());
    rebuild
        .args(["projection", "rebuild", "--data-dir"])
        .arg(&server.data_dir);
    if let Some(url) = database_url {
        rebuild.args(["--database-url", url]);
    }
    let output = rebuild.output().expect("betbet projection rebuild");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "rebuild failed: {printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("from the journal's first record"),
        "{printed}"
    );
    let progress = String::from_utf8_lossy(&output.stderr);
    assert!(
        progress.contains("records/s") && progress.contains("ETA"),
        "{progress}"
    );
    let after = StoreReader::open(&server.data_dir, database_url).dump();
    for (table, rows) in &before {
        assert_eq!(rows, &after[table], "table {table} after the rebuild");
    }
    let mut status = std::process::Command::new(betbet_tests::binary());
    status
        .args(["projection", "status", "--data-dir"])
        .arg(&server.data_dir);
    if let Some(url) = database_url {
        status.args(["--database-url", url]);
    }
    let output = status.output().expect("betbet projection status");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("lag 0 records"), "{printed}");
    // The server starts on the rebuilt store and carries on from its checkpoint.
    server.restart();
    run(&mut rng, &mut acked, &mut Vec::new(), 20);
    wait_caught_up(&server.api());
}

#[test]
fn a_deleted_sqlite_store_is_rebuilt_identically() {
    rebuilt_identically(None, |server| {
        for file in ["history.sqlite", "history.sqlite-wal", "history.sqlite-shm"] {
            let _ = std::fs::remove_file(server.data_dir.join(file));
        }
    });
}

#[test]
fn a_postgres_store_is_rebuilt_identically() {
    let pg = Postgres::start();
    let url = pg.url.clone();
    rebuilt_identically(Some(&url), |_| {
        pg.psql("TRUNCATE market_orders, trades, transactions, ledger_entries");
    });
}

/// With windows of five, a user's older transactions and orders come from the store, in
/// the same order and shape as the core's; charts too.
#[test]
fn reads_past_the_core_windows_come_from_the_store() {
    let server = Server::start(&[
        "--demo",
        "--transactions-kept",
        "5",
        "--closed-orders-kept",
        "5",
        "--dispute-window-secs",
        "0",
    ]);
    let anon = server.api();
    let acked = setup(&anon, 2);
    let (alice, alice_id) = &acked.users[0];
    let (bob, _) = &acked.users[1];
    let mut deposits = Vec::new();
    for amount in 1..=12 {
        let reply = alice
            .post(
                "/api/v1/deposits/initiate",
                &json!({"amount": amount.to_string(), "currency": "USD", "payment_method": "sandbox"}),
            )
            .expect(201);
        deposits.push(reply["id"].as_str().unwrap().to_owned());
    }
    // Read-your-writes: the very next read sees the newest deposit, and the oldest.
    let page = alice
        .get(&format!("/api/v1/transactions/{alice_id}?limit=100"))
        .expect(200);
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = deposits.iter().map(String::as_str).collect();
    expected.reverse();
    // Newest first: the twelve deposits, then the first funding deposit.
    assert_eq!(&ids[..12], expected.as_slice());
    assert_eq!(ids.len(), 13);
    let typed = alice
        .get(&format!(
            "/api/v1/deposits/{alice_id}/history?limit=3&page=5"
        ))
        .expect(200);
    assert_eq!(typed["items"].as_array().unwrap().len(), 1, "{typed}");
    // The core itself keeps only five; the oldest is still found, in the history store.
    let oldest = alice
        .get(&format!("/api/v1/transactions/{}", deposits[0]))
        .expect(200);
    assert_eq!(oldest["amount"], "1", "{oldest}");
    // Someone else's is still nobody else's business, wherever it is kept.
    bob.get(&format!("/api/v1/transactions/{}", deposits[0]))
        .expect_error(404, "not_found");

    // Orders: ten crossing pairs end twenty orders; the caller's full history pages.
    let market = acked.markets.iter().next().unwrap().clone();
    let (yes, no) = (
        acked.outcomes[&market][0].clone(),
        acked.outcomes[&market][1].clone(),
    );
    let mut alice_orders = Vec::new();
    for i in 0..10 {
        let price = format!("0.{}", 40 + i);
        let made = alice
            .post(
                &format!("/api/v1/markets/{market}/orders"),
                &json!({"outcome_id": yes, "order_type": "buy", "price": price, "quantity": "1"}),
            )
            .expect(201);
        alice_orders.push(made["id"].as_str().unwrap().to_owned());
        let counter = format!("0.{}", 60 - i);
        bob.post(
            &format!("/api/v1/markets/{market}/orders"),
            &json!({"outcome_id": no, "order_type": "buy", "price": counter, "quantity": "1"}),
        )
        .expect(201);
    }
    let listed = alice.get("/api/v1/orders?status=all&limit=100").expect(200);
    let mut listed: Vec<String> = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["status"], "filled", "{o}");
            o["id"].as_str().unwrap().to_owned()
        })
        .collect();
    listed.sort();
    alice_orders.sort();
    assert_eq!(
        listed, alice_orders,
        "every ended order, older ones from the store"
    );
    for id in &alice_orders {
        let order = alice.get(&format!("/api/v1/orders/{id}")).expect(200);
        assert_eq!(order["status"], "filled", "{order}");
        bob.get(&format!("/api/v1/orders/{id}"))
            .expect_error(404, "order_not_found");
    }

    // The chart's candles come from the store's price points the same as the core's.
    let core = anon
        .get(&format!(
            "/api/v1/markets/{market}/chart?timeframe=1m&limit=1000"
        ))
        .expect(200);
    let candles = core["candles"].as_array().unwrap();
    assert!(!candles.is_empty());
    let volume: f64 = candles
        .iter()
        .map(|c| c["volume"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(volume, 10.0, "ten trades of one share: {core}");
    let no_chart = anon
        .get(&format!(
            "/api/v1/markets/{market}/chart?timeframe=1m&limit=1000&outcome_id={no}"
        ))
        .expect(200);
    assert_eq!(
        no_chart["candles"][0]["open"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            + candles[0]["open"].as_str().unwrap().parse::<f64>().unwrap(),
        1.0,
        "the NO outcome's chart mirrors the YES book's"
    );

    // Settled positions come from the store, with their payouts.
    let creator = anon.login("creator", "password-of-creator");
    close_and_resolve(&creator, &market, &yes);
    let started = Instant::now();
    let settled = loop {
        let page = alice
            .get(&format!(
                "/api/v1/users/{alice_id}/positions?status=settled"
            ))
            .expect(200);
        if !page["positions"].as_array().unwrap().is_empty() {
            break page;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no settled position: {page}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let position = &settled["positions"][0];
    assert_eq!(position["status"], "settled", "{settled}");
    assert_eq!(position["outcome_id"], yes.as_str(), "{settled}");
    assert_eq!(position["position_type"], "back", "{settled}");
    assert!(
        position["payout"].as_str().unwrap().parse::<f64>().unwrap() > 9.0,
        "ten winning shares pay out: {settled}"
    );
    // The loser's NO shares settle too, though no payout and no money moves for them:
    // nothing open is left in the store, and every table still matches the core.
    let lost = bob
        .get(&format!(
            "/api/v1/users/{}/positions?status=settled",
            acked.users[1].1
        ))
        .expect(200);
    assert!(!lost["positions"].as_array().unwrap().is_empty(), "{lost}");
    wait_caught_up(&anon);
    let store = StoreReader::open(&server.data_dir, None);
    assert_parity(&server, &admin(&server), &store, &acked);
}

fn segments(server: &Server) -> usize {
    std::fs::read_dir(server.data_dir.join("journal"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("segment-")
        })
        .count()
}

/// While the store is down the journal keeps every segment it has not applied, however
/// many snapshots pass; once it is back and caught up, they go.
#[test]
fn journal_segments_stay_while_the_store_is_behind() {
    let mut pg = Postgres::start();
    let server = Server::start(&[
        "--demo",
        "--database-url",
        &pg.url.clone(),
        "--journal-segment-bytes",
        "65536",
        "--snapshot-every",
        "100",
    ]);
    let mut acked = setup(&server.api(), 3);
    let mut rng = StdRng::seed_from_u64(seed());
    wait_caught_up(&server.api());
    pg.stop();
    let mut open = Vec::new();
    let started = Instant::now();
    while segments(&server) < 6 {
        run(&mut rng, &mut acked, &mut open, 50);
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the journal did not grow"
        );
    }
    // The writer notices (its writes time out and are retried) and says so.
    let started = Instant::now();
    let health = loop {
        let health = server.api().get("/health").expect(200);
        if health["history"]["failing"] == true {
            break health;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{health}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        health["history"]["lag_records"].as_u64().unwrap() > 300,
        "{health}"
    );
    let behind = segments(&server);
    assert!(
        behind >= 6,
        "segments were pruned while the store was behind"
    );
    pg.start_again();
    wait_caught_up(&server.api());
    // More commands bring the next snapshot, after which the applied segments go.
    let started = Instant::now();
    while segments(&server) >= behind {
        run(&mut rng, &mut acked, &mut open, 20);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "segments were not pruned after the store caught up"
        );
    }
    wait_caught_up(&server.api());
    let store = StoreReader::open(&server.data_dir, Some(&pg.url));
    assert_parity(&server, &admin(&server), &store, &acked);
}
