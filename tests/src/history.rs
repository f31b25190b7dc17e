//! Reading a server's history store from a test, and checking it against the core.
//!
//! The store is read with the `betbet-persistence` crate's own reader (the same SQL on
//! SQLite and Postgres); the core is read over the server's REST API, object by object, so
//! every answer compared is the core's own (per-object routes never read the store).

use crate::{Api, Server};
use betbet_persistence::schema::{self, Row, TABLES, Table, Value};
use betbet_persistence::{Location, Store};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// A connection to a store, with its own small runtime.
pub struct StoreReader {
    rt: tokio::runtime::Runtime,
    store: Store,
}

impl StoreReader {
    /// The store of `data_dir` (`database_url`: Postgres, else its embedded SQLite file).
    pub fn open(data_dir: &Path, database_url: Option<&str>) -> StoreReader {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let location = Location::new(database_url, data_dir).expect("location");
        let store = rt.block_on(Store::open(&location)).expect("open the store");
        StoreReader { rt, store }
    }

    pub fn rows(&self, table: &Table, filter: &str, params: &[Value]) -> Vec<Row> {
        let key: Vec<&str> = table.key.to_vec();
        self.rt
            .block_on(
                self.store
                    .select(table, filter, params, &key.join(", "), u32::MAX >> 1, 0),
            )
            .expect("select")
    }

    /// Every projected table, each in primary-key order.
    pub fn dump(&self) -> BTreeMap<&'static str, Vec<Row>> {
        TABLES
            .iter()
            .map(|table| (table.name, self.rows(table, "", &[])))
            .collect()
    }

    pub fn checkpoint(&self) -> Option<betbet_persistence::Checkpoint> {
        self.rt
            .block_on(self.store.checkpoint())
            .expect("checkpoint")
    }
}

impl Drop for StoreReader {
    fn drop(&mut self) {
        self.rt.block_on(self.store.close());
    }
}

/// Waits until the server's history store has applied every durable journal record (its
/// `/health` says so), at most a minute.
pub fn wait_caught_up(api: &Api) -> Json {
    let started = Instant::now();
    loop {
        let health = api.get("/health").body;
        if health["history"]["lag_records"] == 0 && !health["history"]["applied_seq"].is_null() {
            return health;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the history store did not catch up: {health}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw fixed-point integer as the API's decimal text (`scale` digits after the point,
/// trailing zeros dropped).
pub fn decimal(raw: i64, scale: u32) -> String {
    let unit = 10i128.pow(scale);
    let raw = i128::from(raw);
    let sign = if raw < 0 { "-" } else { "" };
    let (whole, frac) = (raw.abs() / unit, raw.abs() % unit);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let frac = format!("{frac:0width$}", width = scale as usize);
    format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
}

fn int(row: &Row, table: &Table, column: &str) -> i64 {
    match &row[table.index_of(column).expect("column")] {
        Value::Int(Some(v)) | Value::Time(Some(v)) => *v,
        other => panic!("{}.{column} is {other:?}", table.name),
    }
}

fn text<'a>(row: &'a Row, table: &Table, column: &str) -> &'a str {
    match &row[table.index_of(column).expect("column")] {
        Value::Text(Some(v)) => v,
        other => panic!("{}.{column} is {other:?}", table.name),
    }
}

/// The number of a public id (`txn_12` → 12).
pub fn number(id: &str) -> i64 {
    id.rsplit('_')
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .expect("a public id") as i64
}

/// What a workload was told was done: ids the server acknowledged.
#[derive(Default)]
pub struct Acknowledged {
    pub users: Vec<(Api, String)>,
    pub orders: BTreeSet<String>,
    pub transactions: BTreeSet<String>,
    pub markets: BTreeSet<String>,
    /// Each market's outcome ids, in order.
    pub outcomes: BTreeMap<String, Vec<String>>,
}

/// Checks the store against the core and the acknowledgements: no row missing, none extra,
/// every row equal to the core's answer for its object. `admin` may read every user's
/// objects. Returns the number of rows compared.
pub fn assert_parity(
    server: &Server,
    admin: &Api,
    store: &StoreReader,
    acked: &Acknowledged,
) -> usize {
    let mut compared = 0;
    // Users and their wallets: every balance as the core has it, and as the ledger sums it.
    let users = store.rows(&schema::USERS, "", &[]);
    let status = admin.get("/health").expect(200);
    assert_eq!(
        users.len() as u64,
        status["core"]["users"].as_u64().unwrap(),
        "one users row per user"
    );
    let ledger = store.rows(&schema::LEDGER_ENTRIES, "", &[]);
    let mut sums: BTreeMap<i64, i64> = BTreeMap::new();
    for entry in &ledger {
        let amount = int(entry, &schema::LEDGER_ENTRIES, "amount");
        *sums
            .entry(int(entry, &schema::LEDGER_ENTRIES, "debit_account"))
            .or_default() -= amount;
        *sums
            .entry(int(entry, &schema::LEDGER_ENTRIES, "credit_account"))
            .or_default() += amount;
    }
    assert_eq!(sums.values().sum::<i64>(), 0, "the ledger sums to zero");
    for user in &users {
        let id = int(user, &schema::USERS, "id");
        let profile = store.rows(
            &schema::USER_PROFILES,
            "user_id = $1",
            &[schema::id(id as u64)],
        );
        let core = admin.get(&format!("/api/v1/users/usr_{id}")).expect(200);
        assert_eq!(text(user, &schema::USERS, "username"), core["username"]);
        assert_eq!(text(user, &schema::USERS, "status"), core["status"]);
        assert_eq!(
            decimal(int(&profile[0], &schema::USER_PROFILES, "total_wagered"), 8),
            core["profile"]["total_wagered"],
            "total_wagered of usr_{id}"
        );
        assert_eq!(
            decimal(
                int(&profile[0], &schema::USER_PROFILES, "total_earnings"),
                8
            ),
            core["profile"]["total_earnings"],
            "total_earnings of usr_{id}"
        );
        let core = admin.get(&format!("/api/v1/wallets/usr_{id}")).expect(200);
        let rows = store.rows(&schema::WALLETS, "user_id = $1", &[schema::id(id as u64)]);
        let wallets = core["wallets"].as_array().unwrap();
        assert_eq!(rows.len(), wallets.len(), "wallets of usr_{id}");
        for wallet in wallets {
            let wallet_id = number(wallet["id"].as_str().unwrap());
            let row = rows
                .iter()
                .find(|r| int(r, &schema::WALLETS, "id") == wallet_id)
                .unwrap_or_else(|| panic!("wallet {wallet} is not in the store"));
            let balance = int(row, &schema::WALLETS, "balance");
            assert_eq!(
                decimal(balance, 8),
                wallet["balance"].as_str().unwrap(),
                "balance of {wallet}"
            );
            assert_eq!(
                decimal(int(row, &schema::WALLETS, "locked_balance"), 8),
                wallet["locked_balance"].as_str().unwrap()
            );
            assert_eq!(
                sums.get(&wallet_id).copied().unwrap_or(0),
                balance,
                "the ledger entries of wallet {wallet_id} sum to its balance"
            );
            compared += 1;
        }
    }
    // Transactions: ids are allocated one after another, so the store must hold 1..=N with
    // N the last the core has, each as the core shows it.
    let txs = store.rows(&schema::TRANSACTIONS, "", &[]);
    let ids: Vec<i64> = txs
        .iter()
        .map(|r| int(r, &schema::TRANSACTIONS, "id"))
        .collect();
    assert_eq!(
        ids,
        (1..=ids.len() as i64).collect::<Vec<_>>(),
        "transactions 1..=N, no gap"
    );
    admin
        .get(&format!("/api/v1/transactions/txn_{}", ids.len() + 1))
        .expect_error(404, "not_found");
    for tx in &acked.transactions {
        assert!(
            ids.contains(&number(tx)),
            "acknowledged {tx} is not in the store"
        );
    }
    for row in &txs {
        let id = int(row, &schema::TRANSACTIONS, "id");
        let core = admin
            .get(&format!("/api/v1/transactions/txn_{id}"))
            .expect(200);
        assert_eq!(
            text(row, &schema::TRANSACTIONS, "status"),
            core["status"],
            "txn_{id}"
        );
        assert_eq!(
            text(row, &schema::TRANSACTIONS, "type"),
            core["type"],
            "txn_{id}"
        );
        assert_eq!(
            decimal(int(row, &schema::TRANSACTIONS, "amount"), 8),
            core["amount"],
            "txn_{id}"
        );
        assert_eq!(
            decimal(int(row, &schema::TRANSACTIONS, "fee"), 8),
            core["fee"],
            "txn_{id}"
        );
        assert_eq!(
            format!("usr_{}", int(row, &schema::TRANSACTIONS, "user_id")),
            core["user_id"]
        );
        compared += 1;
    }
    // Orders: every acknowledged one, as many per user as the core counts, each as the
    // core has it now.
    let orders = store.rows(&schema::MARKET_ORDERS, "", &[]);
    let stored: BTreeSet<String> = orders
        .iter()
        .map(|r| format!("ord_{}", int(r, &schema::MARKET_ORDERS, "id") as u64))
        .collect();
    let missing: Vec<&String> = acked.orders.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged orders missing from the store: {missing:?}"
    );
    for user in &users {
        let id = int(user, &schema::USERS, "id");
        let stats = admin
            .get(&format!("/api/v1/users/usr_{id}/stats"))
            .expect(200);
        let count = orders
            .iter()
            .filter(|o| int(o, &schema::MARKET_ORDERS, "user_id") == id)
            .count();
        assert_eq!(
            count as u64,
            stats["orders_placed"].as_u64().unwrap(),
            "orders of usr_{id}: {stats}"
        );
    }
    for row in &orders {
        let id = int(row, &schema::MARKET_ORDERS, "id") as u64;
        let core = admin.get(&format!("/api/v1/orders/ord_{id}")).expect(200);
        assert_eq!(
            text(row, &schema::MARKET_ORDERS, "status"),
            core["status"],
            "ord_{id}"
        );
        assert_eq!(
            decimal(int(row, &schema::MARKET_ORDERS, "filled_quantity"), 4),
            core["filled_quantity"],
            "ord_{id}"
        );
        assert_eq!(
            decimal(int(row, &schema::MARKET_ORDERS, "remaining_quantity"), 4),
            core["remaining_quantity"],
            "ord_{id}"
        );
        compared += 1;
    }
    // Trades and markets: every trade of every market, numbered 1..=N.
    let trades = store.rows(&schema::TRADES, "", &[]);
    let trade_ids: Vec<i64> = trades
        .iter()
        .map(|r| int(r, &schema::TRADES, "id"))
        .collect();
    assert_eq!(
        trade_ids,
        (1..=trade_ids.len() as i64).collect::<Vec<_>>(),
        "trades 1..=N"
    );
    let prices = store.rows(&schema::MARKET_PRICES, "", &[]);
    assert_eq!(prices.len(), trades.len(), "one price point per trade");
    let mut core_trades = 0;
    let markets = store.rows(&schema::MARKETS, "", &[]);
    for market in &acked.markets {
        assert!(
            markets
                .iter()
                .any(|m| int(m, &schema::MARKETS, "id") == number(market)),
            "{market} in the store"
        );
    }
    for row in &markets {
        let id = int(row, &schema::MARKETS, "id");
        let core = admin.get(&format!("/api/v1/markets/mkt_{id}")).expect(200);
        assert_eq!(
            int(row, &schema::MARKETS, "trade_count"),
            core["trades"].as_i64().unwrap()
        );
        assert_eq!(
            decimal(int(row, &schema::MARKETS, "total_volume"), 8),
            core["total_volume"]
        );
        assert_eq!(text(row, &schema::MARKETS, "status"), core["status"]);
        core_trades += core["trades"].as_i64().unwrap();
        compared += 1;
    }
    assert_eq!(
        core_trades,
        trades.len() as i64,
        "every trade of the core is in the store"
    );
    // Open positions, user by user.
    for (api, user) in &acked.users {
        let core = api
            .get(&format!("/api/v1/users/{user}/positions"))
            .expect(200);
        let mut core_positions: Vec<(String, String, String)> = core["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["outcome_id"].as_str().unwrap().to_owned(),
                    p["position_type"].as_str().unwrap().to_owned(),
                    p["quantity"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut stored: Vec<(String, String, String)> = store
            .rows(
                &schema::MARKET_POSITIONS,
                "user_id = $1 AND status = 'open'",
                &[schema::id(number(user) as u64)],
            )
            .iter()
            .map(|r| {
                (
                    format!("out_{}", int(r, &schema::MARKET_POSITIONS, "outcome_id")),
                    text(r, &schema::MARKET_POSITIONS, "position_type").to_owned(),
                    decimal(int(r, &schema::MARKET_POSITIONS, "quantity"), 4),
                )
            })
            .collect();
        core_positions.sort();
        stored.sort();
        assert_eq!(stored, core_positions, "open positions of {user}");
        compared += stored.len();
    }
    // Game sessions: numbered 1..=N, each with its players as the core has them.
    let sessions = store.rows(&schema::GAME_SESSIONS, "", &[]);
    let session_ids: Vec<i64> = sessions
        .iter()
        .map(|r| int(r, &schema::GAME_SESSIONS, "id"))
        .collect();
    assert_eq!(
        session_ids,
        (1..=session_ids.len() as i64).collect::<Vec<_>>(),
        "game sessions 1..=N"
    );
    for row in &sessions {
        let id = int(row, &schema::GAME_SESSIONS, "id");
        let core = admin.get(&format!("/api/v1/sessions/gs_{id}")).expect(200);
        for (column, field) in [
            ("status", "status"),
            ("server_seed_hash", "server_seed_hash"),
        ] {
            assert_eq!(
                text(row, &schema::GAME_SESSIONS, column),
                core[field],
                "gs_{id}"
            );
        }
        assert_eq!(
            decimal(int(row, &schema::GAME_SESSIONS, "rake"), 8),
            core["rake"],
            "gs_{id}"
        );
        let players = store.rows(
            &schema::GAME_PLAYERS,
            "session_id = $1",
            &[schema::id(id as u64)],
        );
        let core_players = core["players"].as_array().unwrap();
        assert_eq!(players.len(), core_players.len(), "players of gs_{id}");
        for player in core_players {
            let row = players
                .iter()
                .find(|r| {
                    format!("usr_{}", int(r, &schema::GAME_PLAYERS, "user_id")) == player["user_id"]
                })
                .unwrap_or_else(|| panic!("{player} of gs_{id} is not in the store"));
            assert_eq!(text(row, &schema::GAME_PLAYERS, "status"), player["status"]);
            assert_eq!(
                decimal(int(row, &schema::GAME_PLAYERS, "payout"), 8),
                player["payout"]
            );
            compared += 1;
        }
    }
    let _ = server;
    compared
}
