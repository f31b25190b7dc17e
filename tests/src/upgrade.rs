//! Data directories written by earlier builds, and what they must still show.
//!
//! Each format change of the snapshot or the journal adds a fixture under `tests/fixtures/`:
//! a data directory written by the last build of the old format (`DIR.tar.gz`: a snapshot
//! plus a journal tail after it) and what that build answered about it (`DIR.json`, from
//! [`observe`]). `tests/tests/upgrade.rs` starts today's binary on a copy of each and
//! requires the same answers. The fixtures are made by `examples/upgrade_fixture.rs`, run
//! with `BETBET_BIN` pointing at the old build (see `tests/fixtures/README.md`).

use crate::{Server, json};
use serde_json::Value;

/// The users a fixture creates; each signs up with the harness's `password-of-{name}`.
pub const USERS: [&str; 4] = ["fx_host", "fx_maker", "fx_alice", "fx_bob"];

/// Logs in as each fixture user and records what the API says of their money, orders and
/// positions, and of every book of every market they trade in — only the fields whose
/// meaning a format change must not alter, in a stable order.
pub fn observe(server: &Server) -> Value {
    let anon = server.api();
    let mut users = serde_json::Map::new();
    let mut markets = std::collections::BTreeSet::new();
    let mut first_user = None;
    for name in USERS {
        let password = format!("password-of-{name}");
        let login = anon
            .post(
                "/api/v1/auth/login",
                &json!({ "username": name, "password": password }),
            )
            .expect(200);
        let api = anon.with_token(login["access_token"].as_str().expect("token"));
        first_user.get_or_insert_with(|| api.clone());
        let id = login["user_id"].as_str().expect("user id").to_owned();
        let wallets = api.get(&format!("/api/v1/wallets/{id}")).expect(200);
        let wallets: Vec<Value> = wallets["wallets"]
            .as_array()
            .expect("wallets")
            .iter()
            .map(|w| {
                json!({
                    "currency": w["currency"],
                    "available_balance": w["available_balance"],
                    "locked_balance": w["locked_balance"],
                })
            })
            .collect();
        let orders = api.get("/api/v1/orders?status=open&limit=100").expect(200);
        let mut orders: Vec<Value> = orders["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .map(|o| {
                markets.insert(o["market_id"].as_str().expect("market").to_owned());
                json!({
                    "id": o["id"],
                    "market_id": o["market_id"],
                    "outcome_id": o["outcome_id"],
                    "order_type": o["order_type"],
                    "price": o["price"],
                    "remaining_quantity": o["remaining_quantity"],
                    "filled_quantity": o["filled_quantity"],
                })
            })
            .collect();
        orders.sort_by_key(|o| o["id"].as_str().unwrap_or("").to_owned());
        let positions = api
            .get(&format!("/api/v1/users/{id}/positions"))
            .expect(200);
        let mut positions: Vec<Value> = positions["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .map(|p| {
                markets.insert(p["market_id"].as_str().expect("market").to_owned());
                json!({
                    "market_id": p["market_id"],
                    "outcome_id": p["outcome_id"],
                    "position_type": p["position_type"],
                    "quantity": p["quantity"],
                    "stake": p["stake"],
                })
            })
            .collect();
        positions.sort_by_key(|p| p.to_string());
        let transactions = api
            .get(&format!("/api/v1/transactions/{id}?limit=100"))
            .expect(200);
        let mut transactions: Vec<Value> = transactions["items"]
            .as_array()
            .expect("transactions")
            .iter()
            .map(|t| {
                json!({
                    "id": t["id"],
                    "type": t["type"],
                    "direction": t["direction"],
                    "amount": t["amount"],
                    "counterparty_id": t["counterparty_id"],
                    "status": t["status"],
                })
            })
            .collect();
        transactions.sort_by_key(|t| t["id"].as_str().unwrap_or("").to_owned());
        users.insert(
            name.to_owned(),
            json!({
                "id": id,
                "wallets": wallets,
                "open_orders": orders,
                "positions": positions,
                "transactions": transactions,
            }),
        );
    }
    let mut books = serde_json::Map::new();
    for market in &markets {
        let details = anon.get(&format!("/api/v1/markets/{market}")).expect(200);
        let mut outcomes = Vec::new();
        for outcome in details["outcomes"].as_array().expect("outcomes") {
            let outcome_id = outcome["id"].as_str().expect("outcome id");
            let book = anon
                .get(&format!(
                    "/api/v1/markets/{market}/orderbook?outcome_id={outcome_id}"
                ))
                .expect(200);
            outcomes.push(json!({
                "outcome_id": outcome_id,
                "bids": book["bids"],
                "asks": book["asks"],
            }));
        }
        books.insert(
            market.clone(),
            json!({ "status": details["status"], "books": outcomes }),
        );
    }
    let mut observed = json!({ "users": users, "markets": books });
    // Games came with snapshot format 5: older fixtures have none, and say nothing of them.
    let games = observe_games(&first_user.expect("a fixture user"));
    if !games["games"].as_array().expect("games").is_empty() {
        observed["games"] = games;
    }
    observed
}

/// The catalog and every session the core still keeps (sessions are numbered from 1).
fn observe_games(api: &crate::Api) -> Value {
    let catalog = api.get("/api/v1/games?limit=100").expect(200);
    let games: Vec<Value> = catalog["games"]
        .as_array()
        .expect("games")
        .iter()
        .map(|g| {
            json!({
                "id": g["id"],
                "name": g["name"],
                "rule_set": g["rule_set"],
                "turn_clock_ms": g["turn_clock_ms"],
                "rake_bp": g["rake_bp"],
                "stake_min": g["stake_min"],
                "stake_max": g["stake_max"],
                "is_active": g["is_active"],
            })
        })
        .collect();
    let mut sessions = Vec::new();
    for n in 1..=100 {
        let reply = api.get(&format!("/api/v1/sessions/gs_{n}"));
        if reply.status == 404 {
            break;
        }
        let s = reply.expect(200);
        let players: Vec<Value> = s["players"]
            .as_array()
            .expect("players")
            .iter()
            .map(|p| json!({"user_id": p["user_id"], "status": p["status"], "payout": p["payout"]}))
            .collect();
        sessions.push(json!({
            "id": s["id"],
            "status": s["status"],
            "end_reason": s["end_reason"],
            "pot": s["pot"],
            "rake": s["rake"],
            "version": s["version"],
            "players": players,
            "board": s["state"]["board"],
            "server_seed_hash": s["server_seed_hash"],
            "server_seed": s["server_seed"],
        }));
    }
    json!({ "games": games, "sessions": sessions })
}
