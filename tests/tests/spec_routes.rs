//! One request per route of the product spec (its FastAPI signatures) that we serve,
//! written from the spec's signature as a client would write it: the spec's
//! parameter names, in the query for GET routes and in a JSON body for POST/PUT, path
//! parameters in the path, identity parameters (`user_id`, `sender_id`, …) naming the
//! caller. Each must be accepted (a 2xx, answering what the spec says it returns where that
//! is checkable), and each identity parameter naming someone else must be a 403.
//!
//! The spec's routes we do not serve yet (Analytics & Expert, most of Social Forum) are listed in
//! [`not_yet_served`] and must answer 404: when one arrives, its entry moves into
//! [`served`] as a row.
//!
//! Adding a route is one row of [`served`]: the spec's route as written, the caller, the
//! request's path, its parameters, the status, which parameter names the caller, and what
//! the answer must hold. Placeholders such as `{me}` (the caller's id), `{other}` (another
//! user's id) or `{pool}` (made in [`World::setup`]) are filled in before the request.

use betbet_tests::{Api, Server, in_a_day, json, now_secs, totp};
use serde_json::Value;
use std::collections::HashMap;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image body";

/// Who makes a request.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Caller {
    Anon,
    /// The demo's `alice` (`usr_2`): KYC level 1, sandbox money, a position, orders…
    Alice,
    /// The demo's `bob` (`usr_3`), who created the game sessions alice joins and watches.
    Bob,
    /// A user registered for the 2FA and session routes (2FA changes how they log in).
    Carol,
    /// Anonymous, on the metrics address: `/metrics` is served there, never on the API's.
    Scraper,
}
use Caller::*;

/// How the spec's non-path parameters travel.
enum Params {
    /// The spec names no parameters besides the path's: no query, no body.
    Bare,
    /// A GET's parameters: the query string.
    Query(&'static [(&'static str, &'static str)]),
    /// A POST's or PUT's parameters: a JSON object.
    Json(Value),
    /// `multipart/form-data`: these text fields and a PNG as `document_file` (the spec's
    /// `bytes` parameter).
    Form(&'static [(&'static str, &'static str)]),
    /// The spec's `@app.websocket`: a WebSocket handshake.
    Socket,
}
use Params::*;

/// The parameter that names the caller, if any.
#[derive(Clone, Copy)]
enum Identity {
    No,
    /// `{me}` in the path: another user's id there is a 403.
    Path,
    /// A parameter holding `{me}`: another user's id there is a 403.
    Param(&'static str),
    /// A parameter holding one of the caller's tokens: another user's token is a 403.
    Token(&'static str),
}
use Identity::*;

/// An answer's field must be present and not null.
const ANY: &str = "*";
/// An answer's field must be a non-empty array.
const SOME: &str = "[...]";

struct Case {
    /// The spec's route, as its decorator writes it (`WS` for `@app.websocket`).
    route: &'static str,
    caller: Caller,
    /// The request's path, with placeholders.
    path: &'static str,
    params: Params,
    status: u16,
    identity: Identity,
    /// JSON pointers into the answer and what they must be ([`ANY`], [`SOME`], or a value,
    /// with placeholders).
    expect: &'static [(&'static str, &'static str)],
    /// Fields of the answer kept as placeholders for later rows: (name, JSON pointer).
    save: &'static [(&'static str, &'static str)],
}

fn case(
    route: &'static str,
    caller: Caller,
    path: &'static str,
    params: Params,
    status: u16,
    identity: Identity,
    expect: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        route,
        caller,
        path,
        params,
        status,
        identity,
        expect,
        save: &[],
    }
}

impl Case {
    fn save(self, save: &'static [(&'static str, &'static str)]) -> Case {
        Case { save, ..self }
    }

    fn method(&self) -> &'static str {
        self.route.split(' ').next().expect("a method")
    }
}

/// Every spec route we serve, in the spec's order except where a row needs an earlier one
/// (the 2FA and session rows chain through `save`). Everything else a row needs is made in
/// [`World::setup`], so each row stands alone. One row per route; the comment above it is
/// the spec's signature (and how we map it where the signature leaves room).
#[rustfmt::skip]
fn served() -> Vec<Case> {
    vec![
        // ---- Service 1: Authentication & User Service ------------------------------------
        // register(username, email, password, referral_code)
        case("POST /api/v1/auth/register", Anon, "/api/v1/auth/register",
            Json(json!({"username": "spec_newcomer", "email": "spec_newcomer@example.com",
                "password": "password-of-spec_newcomer", "referral_code": "{alice_referral}"})),
            201, No, &[("/id", ANY), ("/username", "spec_newcomer"), ("/referred_by", "{alice}")]),
        // enable_2fa(user_id)
        case("POST /api/v1/auth/2fa/enable", Carol, "/api/v1/auth/2fa/enable",
            Json(json!({"user_id": "{me}"})),
            200, Param("user_id"), &[("/secret", ANY), ("/otpauth_uri", ANY)])
            .save(&[("secret", "/secret")]),
        // verify_2fa(user_id, code)
        case("POST /api/v1/auth/2fa/verify", Carol, "/api/v1/auth/2fa/verify",
            Json(json!({"user_id": "{me}", "code": "{totp}"})),
            200, Param("user_id"), &[("/two_fa_enabled", "true"), ("/user_id", "{me}")]),
        // login(username, password, two_fa_code): 2FA is on now, so the code is needed. A
        // code counts once: this is the next step's (within the allowed skew).
        case("POST /api/v1/auth/login", Anon, "/api/v1/auth/login",
            Json(json!({"username": "spec_carol", "password": "password-of-spec_carol",
                "two_fa_code": "{totp_next}"})),
            200, No, &[("/access_token", ANY), ("/refresh_token", ANY), ("/user_id", "{carol}")])
            .save(&[("carol_access", "/access_token"), ("carol_refresh", "/refresh_token"),
                ("carol_session", "/session_id")]),
        // refresh_token(refresh_token)
        case("POST /api/v1/auth/refresh", Anon, "/api/v1/auth/refresh",
            Json(json!({"refresh_token": "{carol_refresh}"})),
            200, No, &[("/access_token", ANY), ("/session_id", "{carol_session}")]),
        // logout(token): that token's session ends; someone else's token is a 403.
        case("POST /api/v1/auth/logout", Carol, "/api/v1/auth/logout",
            Json(json!({"token": "{carol_access}"})),
            200, Token("token"), &[("/logged_out", "true"), ("/session_id", "{carol_session}")]),
        // submit_kyc(user_id, document_type, document_file: bytes): a file, so
        // multipart/form-data with the spec's field names (our only non-JSON body).
        case("POST /api/v1/kyc/submit", Alice, "/api/v1/kyc/submit",
            Form(&[("user_id", "{me}"), ("document_type", "passport")]),
            201, Param("user_id"), &[("/user_id", "{me}"), ("/document_type", "passport"), ("/status", "pending")]),
        // get_kyc_status(user_id)
        case("GET /api/v1/kyc/status/{user_id}", Alice, "/api/v1/kyc/status/{me}", Bare,
            200, Path, &[("/user_id", "{me}"), ("/kyc_level", "1"), ("/documents", SOME)]),
        // get_user_profile(user_id): names whose profile, not the caller (anyone signed in
        // reads another user's public part), so it is no identity parameter.
        case("GET /api/v1/users/{user_id}", Alice, "/api/v1/users/{me}", Bare,
            200, No, &[("/id", "{me}"), ("/username", "alice"), ("/email", ANY)]),
        // update_user_profile(user_id, profile_data: dict): the dict under its spec name.
        case("PUT /api/v1/users/{user_id}", Alice, "/api/v1/users/{me}",
            Json(json!({"profile_data": {"bio": "Spec bio", "display_name": "Alice"}})),
            200, Path, &[("/id", "{me}"), ("/profile/bio", "Spec bio")]),
        // get_user_stats(user_id)
        case("GET /api/v1/users/{user_id}/stats", Alice, "/api/v1/users/{me}/stats", Bare,
            200, Path, &[("/user_id", "{me}"), ("/total_wagered", ANY)]),
        // ---- Service 2: Game Engine Service ---------------------------------------------
        // list_games(category, page, limit)
        case("GET /api/v1/games", Anon, "/api/v1/games",
            Query(&[("category", "board"), ("page", "1"), ("limit", "20")]),
            200, No, &[("/games/0/id", "{game}"), ("/games/0/category", "board"), ("/games/1/rule_set", "chess"), ("/total", "2")]),
        // get_game_details(game_id)
        case("GET /api/v1/games/{game_id}", Anon, "/api/v1/games/{game}", Bare,
            200, No, &[("/id", "{game}"), ("/game_type", "turn_based"), ("/min_players", "2")]),
        // get_game_categories()
        case("GET /api/v1/games/categories", Anon, "/api/v1/games/categories", Bare,
            200, No, &[("/categories/0/category", "board"), ("/categories/0/active", "2")]),
        // create_game_session(game_id, stake: float, is_private: bool)
        case("POST /api/v1/sessions/create", Alice, "/api/v1/sessions/create",
            Json(json!({"game_id": "{game}", "stake": 2.5, "is_private": false})),
            201, No, &[("/id", ANY), ("/status", "waiting"), ("/stake_amount", "2.5"),
                ("/created_by", "{me}"), ("/server_seed_hash", ANY)]),
        // join_game_session(session_id, user_id): the last seat starts the session.
        case("POST /api/v1/sessions/{session_id}/join", Alice, "/api/v1/sessions/{game_session}/join",
            Json(json!({"user_id": "{me}"})),
            200, Param("user_id"), &[("/id", "{game_session}"), ("/status", "active"),
                ("/players/1/user_id", "{me}")]),
        // get_active_sessions(game_id, stake_range: List[float]): the list as repeated values.
        case("GET /api/v1/sessions/active", Anon, "/api/v1/sessions/active",
            Query(&[("game_id", "{game}"), ("stake_range", "1"), ("stake_range", "100")]),
            200, No, &[("/sessions", SOME), ("/sessions/0/game_id", "{game}")]),
        // start_game_session(session_id): a Connect Four session starts by itself when its
        // second seat is taken, so starting one still waiting is too early. Games with
        // fewer required than possible players are started here once the minimum joined.
        case("POST /api/v1/sessions/{session_id}/start", Bob, "/api/v1/sessions/{waiting_session}/start", Bare,
            422, No, &[("/error/code", "not_enough_players")]),
        // join_as_spectator(session_id, user_id)
        case("POST /api/v1/sessions/{session_id}/spectate", Alice, "/api/v1/sessions/{waiting_session}/spectate",
            Json(json!({"user_id": "{me}"})),
            200, Param("user_id"), &[("/id", "{waiting_session}"), ("/spectator_count", "1")]),
        // get_spectators(session_id)
        case("GET /api/v1/sessions/{session_id}/spectators", Alice, "/api/v1/sessions/{waiting_session}/spectators", Bare,
            200, No, &[("/session_id", "{waiting_session}"), ("/spectators/0/user_id", "{me}")]),
        // game_websocket(websocket, session_id): a player's room opens with the snapshot.
        case("WS /ws/game/{session_id}", Bob, "/ws/game/{game_session}?token={other_token}", Socket,
            101, No, &[("/type", "snapshot"), ("/seq", ANY), ("/data/session/id", "{game_session}"),
                ("/data/you/role", "player")]),
        // create_tournament(game_id, format, prize_pool): the rest has defaults.
        case("POST /api/v1/tournaments/create", Bob, "/api/v1/tournaments/create",
            Json(json!({"game_id": "{game}", "format": "single_elimination", "prize_pool": 5})),
            201, No, &[("/tournament/id", ANY), ("/tournament/status", "registration"),
                ("/tournament/prize_pool", "5"), ("/tournament/creator_id", "{me}")])
            .save(&[("tournament", "/tournament/id")]),
        // register_for_tournament(tournament_id, user_id)
        case("POST /api/v1/tournaments/{tournament_id}/register", Alice, "/api/v1/tournaments/{tournament}/register",
            Json(json!({"user_id": "{me}"})),
            200, Param("user_id"), &[("/tournament/id", "{tournament}"), ("/tournament/players", "1"),
                ("/tournament/entrants/0/user_id", "{me}")]),
        // get_tournament_bracket(tournament_id)
        case("GET /api/v1/tournaments/{tournament_id}/bracket", Anon, "/api/v1/tournaments/{tournament}/bracket", Bare,
            200, No, &[("/tournament/id", "{tournament}"), ("/tournament/format", "single_elimination"),
                ("/standings", ANY)]),
        // ---- Service 3: Betting Market Service -------------------------------------------
        // list_markets(category, status='open', sort_by='volume', page=1)
        case("GET /api/v1/markets", Anon, "/api/v1/markets",
            Query(&[("category", "sports"), ("status", "open"), ("sort_by", "volume"), ("page", "1")]),
            200, No, &[("/page", "1"), ("/markets", SOME), ("/markets/0/category", "sports")]),
        // get_trending_markets(limit=10)
        case("GET /api/v1/markets/trending", Anon, "/api/v1/markets/trending", Query(&[("limit", "10")]),
            200, No, &[("/markets", SOME)]),
        // get_market_details(market_id)
        case("GET /api/v1/markets/{market_id}", Anon, "/api/v1/markets/mkt_1", Bare,
            200, No, &[("/id", "mkt_1"), ("/outcomes/0/id", "out_1"), ("/outcomes/1/id", "out_2")]),
        // get_market_categories()
        case("GET /api/v1/markets/categories", Anon, "/api/v1/markets/categories", Bare,
            200, No, &[("/categories", SOME), ("/categories/0/category", ANY)]),
        // create_market(title, description, market_type, outcomes: List[str], closes_at: datetime)
        case("POST /api/v1/markets/create", Alice, "/api/v1/markets/create",
            Json(json!({"title": "Spec market: which colour wins?", "description": "Written from the spec",
                "market_type": "multiple", "outcomes": ["Red", "Blue", "Green"], "closes_at": "{in_a_day}"})),
            201, No, &[("/id", ANY), ("/creator_id", "{me}"), ("/market_type", "multiple"),
                ("/outcomes/2/outcome_text", "Green"), ("/status", "open")]),
        // update_market(market_id, updates: dict): the dict under its spec name, as
        // `profile_data` is for PUT /users/{user_id}.
        case("PUT /api/v1/markets/{market_id}", Alice, "/api/v1/markets/{my_market}",
            Json(json!({"updates": {"title": "Spec market, renamed"}})),
            200, No, &[("/id", "{my_market}"), ("/title", "Spec market, renamed")]),
        // resolve_market(market_id, winning_outcome): an outcome id (its text works too). The
        // creator's resolution of a manual market is a proposal.
        case("POST /api/v1/markets/{market_id}/resolve", Alice, "/api/v1/markets/{closed_market}/resolve",
            Json(json!({"winning_outcome": "{closed_yes}"})),
            200, No, &[("/id", "{closed_market}"), ("/resolution/proposed_value", "{closed_yes}")]),
        // place_order(market_id, outcome_id, order_type, price: float, quantity: float): JSON
        // numbers, as floats are sent. Below the demo's ask, so it rests.
        case("POST /api/v1/markets/{market_id}/orders", Alice, "/api/v1/markets/mkt_1/orders",
            Json(json!({"outcome_id": "out_1", "order_type": "buy", "price": 0.5, "quantity": 10.0})),
            201, No, &[("/id", ANY), ("/user_id", "{me}"), ("/outcome_id", "out_1"), ("/order_type", "buy"),
                ("/price", "0.5"), ("/status", "open")]),
        // get_orderbook(market_id, outcome_id)
        case("GET /api/v1/markets/{market_id}/orderbook", Anon, "/api/v1/markets/mkt_1/orderbook",
            Query(&[("outcome_id", "out_1")]),
            200, No, &[("/market_id", "mkt_1"), ("/outcome_id", "out_1"), ("/bids", SOME), ("/asks", SOME)]),
        // get_price_chart(market_id, timeframe='1h')
        case("GET /api/v1/markets/{market_id}/chart", Anon, "/api/v1/markets/mkt_1/chart",
            Query(&[("timeframe", "1h")]),
            200, No, &[("/market_id", "mkt_1"), ("/timeframe", "1h"), ("/candles", SOME)]),
        // cancel_order(order_id)
        case("DELETE /api/v1/orders/{order_id}", Alice, "/api/v1/orders/{order}", Bare,
            200, No, &[("/id", "{order}"), ("/status", "cancelled")]),
        // get_user_positions(user_id, status='open')
        case("GET /api/v1/users/{user_id}/positions", Alice, "/api/v1/users/{me}/positions",
            Query(&[("status", "open")]),
            200, Path, &[("/user_id", "{me}"), ("/status", "open"), ("/positions", SOME)]),
        // close_position(position_id): sells the holding into the book.
        case("POST /api/v1/positions/{position_id}/close", Alice, "/api/v1/positions/{position}/close", Bare,
            200, No, &[("/user_id", "{me}"), ("/order_type", "sell"), ("/fills", SOME)]),
        // create_betting_pool(name, entry_amount: float, member_limit: int)
        case("POST /api/v1/pools/create", Alice, "/api/v1/pools/create",
            Json(json!({"name": "Spec pool", "entry_amount": 10.0, "member_limit": 5})),
            201, No, &[("/id", ANY), ("/name", "Spec pool"), ("/creator_id", "{me}"), ("/member_limit", "5"),
                ("/entry_amount", "10")]),
        // join_pool(pool_id, user_id)
        case("POST /api/v1/pools/{pool_id}/join", Alice, "/api/v1/pools/{pool}/join",
            Json(json!({"user_id": "{me}"})),
            200, Param("user_id"), &[("/id", "{pool}"), ("/member_count", ANY)]),
        // get_pool_members(pool_id)
        case("GET /api/v1/pools/{pool_id}/members", Alice, "/api/v1/pools/{pool}/members", Bare,
            200, No, &[("/pool_id", "{pool}"), ("/members", SOME)]),
        // market_websocket(websocket, market_id): the first message is the snapshot.
        case("WS /ws/markets/{market_id}", Anon, "/ws/markets/mkt_1", Socket,
            101, No, &[("/type", "snapshot")]),
        // ---- Service 5: Wallet Service ---------------------------------------------------
        // get_user_wallets(user_id): our route is /wallets/{id}, whose id is a user id (the
        // spec's /wallets/{wallet_id}/balance takes a wallet id).
        case("GET /api/v1/wallets/{user_id}", Alice, "/api/v1/wallets/{me}", Bare,
            200, Path, &[("/user_id", "{me}"), ("/wallets", SOME), ("/wallets/0/currency", "USD")]),
        // create_wallet(user_id, currency)
        case("POST /api/v1/wallets/create", Alice, "/api/v1/wallets/create",
            Json(json!({"user_id": "{me}", "currency": "EUR"})),
            201, Param("user_id"), &[("/id", ANY), ("/user_id", "{me}"), ("/currency", "EUR")]),
        // get_wallet_balance(wallet_id)
        case("GET /api/v1/wallets/{wallet_id}/balance", Alice, "/api/v1/wallets/{wallet}/balance", Bare,
            200, No, &[("/id", "{wallet}"), ("/currency", "USD"), ("/available_balance", ANY)]),
        // initiate_deposit(user_id, amount: float, currency, payment_method): a provider's
        // name; the sandbox provider completes the deposit at once.
        case("POST /api/v1/deposits/initiate", Alice, "/api/v1/deposits/initiate",
            Json(json!({"user_id": "{me}", "amount": 25.0, "currency": "USD", "payment_method": "sandbox"})),
            201, Param("user_id"), &[("/type", "deposit"), ("/amount", "25"), ("/status", "completed")]),
        // confirm_deposit(deposit_id, payment_proof: dict): a real provider's deposit stays
        // pending until its signed webhook, so the answer is a 202 with the deposit.
        case("POST /api/v1/deposits/confirm", Alice, "/api/v1/deposits/confirm",
            Json(json!({"deposit_id": "{pending_deposit}", "payment_proof": {"reference": "ECO-12345"}})),
            202, No, &[("/id", "{pending_deposit}"), ("/status", "pending")]),
        // get_deposit_history(user_id, limit=50)
        case("GET /api/v1/deposits/{user_id}/history", Alice, "/api/v1/deposits/{me}/history",
            Query(&[("limit", "50")]),
            200, Path, &[("/user_id", "{me}"), ("/items", SOME), ("/items/0/type", "deposit")]),
        // request_withdrawal(user_id, amount: float, payment_method_id)
        case("POST /api/v1/withdrawals/request", Alice, "/api/v1/withdrawals/request",
            Json(json!({"user_id": "{me}", "amount": 5.0, "payment_method_id": "{method}"})),
            201, Param("user_id"), &[("/type", "withdrawal"), ("/status", "pending"), ("/amount", "5"),
                ("/payment_method_id", "{method}")]),
        // get_withdrawal_history(user_id): our route is /withdrawals/{id}/history, whose id is
        // a user id (the spec's /withdrawals/{withdrawal_id}/cancel takes a withdrawal id).
        case("GET /api/v1/withdrawals/{user_id}/history", Alice, "/api/v1/withdrawals/{me}/history", Bare,
            200, Path, &[("/user_id", "{me}"), ("/items", SOME), ("/items/0/type", "withdrawal")]),
        // cancel_withdrawal(withdrawal_id)
        case("POST /api/v1/withdrawals/{withdrawal_id}/cancel", Alice, "/api/v1/withdrawals/{withdrawal}/cancel",
            Bare, 200, No, &[("/id", "{withdrawal}"), ("/status", "cancelled")]),
        // get_transactions(user_id, type, date_from: datetime): the spec's two paths
        // /transactions/{user_id} and /transactions/{transaction_id} are one route of ours,
        // /transactions/{id}, which tells them apart by the id's prefix (usr_ or txn_).
        case("GET /api/v1/transactions/{user_id}", Alice, "/api/v1/transactions/{me}",
            Query(&[("type", "deposit"), ("date_from", "2020-01-01T00:00:00")]),
            200, Path, &[("/user_id", "{me}"), ("/items", SOME), ("/items/0/type", "deposit")]),
        // get_transaction_details(transaction_id)
        case("GET /api/v1/transactions/{transaction_id}", Alice, "/api/v1/transactions/{tx}", Bare,
            200, No, &[("/id", "{tx}"), ("/type", "transfer"), ("/user_id", "{me}")]),
        // send_p2p_transfer(sender_id, recipient, amount: float, memo): recipient a username.
        case("POST /api/v1/transfers/send", Alice, "/api/v1/transfers/send",
            Json(json!({"sender_id": "{me}", "recipient": "bob", "amount": 2.5, "memo": "lunch"})),
            201, Param("sender_id"), &[("/type", "transfer"), ("/amount", "2.5"), ("/memo", "lunch"),
                ("/counterparty_id", "{bob}"), ("/currency", "USD")]),
        // get_transfer_history(user_id)
        case("GET /api/v1/transfers/{user_id}/history", Alice, "/api/v1/transfers/{me}/history", Bare,
            200, Path, &[("/user_id", "{me}"), ("/items", SOME), ("/items/0/type", "transfer")]),
        // add_payment_method(user_id, method_type, details: dict)
        case("POST /api/v1/payment-methods/add", Alice, "/api/v1/payment-methods/add",
            Json(json!({"user_id": "{me}", "method_type": "bank",
                "details": {"bank_name": "CBZ", "account_number": "0123456789"}})),
            201, Param("user_id"), &[("/id", ANY), ("/user_id", "{me}"), ("/method_type", "bank"),
                ("/account_hint", "•••• 6789")]),
        // get_payment_methods(user_id): our route is /payment-methods/{id}; on GET the id is
        // a user id, on DELETE a payment method id.
        case("GET /api/v1/payment-methods/{user_id}", Alice, "/api/v1/payment-methods/{me}", Bare,
            200, Path, &[("/user_id", "{me}"), ("/payment_methods", SOME)]),
        // remove_payment_method(method_id)
        case("DELETE /api/v1/payment-methods/{method_id}", Alice, "/api/v1/payment-methods/{method_to_remove}",
            Bare, 204, No, &[]),
        // ---- Service 6: Social Forum Service --------------------------------------------
        // create_community(name, description, type)
        case("POST /api/v1/communities/create", Bob, "/api/v1/communities/create",
            Json(json!({"name": "Spec Community", "description": "Written from the spec", "type": "public"})),
            201, No, &[("/id", ANY), ("/name", "Spec Community"), ("/type", "public"),
                ("/owner_id", "{me}"), ("/member_count", "1"), ("/membership/role", "owner")])
            .save(&[("community", "/id")]),
        // join_community(community_id, user_id)
        case("POST /api/v1/communities/{community_id}/join", Alice, "/api/v1/communities/{community}/join",
            Json(json!({"user_id": "{me}"})),
            200, Param("user_id"), &[("/id", "{community}"), ("/member_count", "2"),
                ("/membership/user_id", "{me}"), ("/membership/status", "active")]),
        // list_communities(category, page=1)
        case("GET /api/v1/communities", Anon, "/api/v1/communities",
            Query(&[("page", "1")]),
            200, No, &[("/page", "1"), ("/communities", SOME)]),
        // get_community_members(community_id)
        case("GET /api/v1/communities/{community_id}/members", Alice, "/api/v1/communities/{community}/members", Bare,
            200, No, &[("/total", "2"), ("/members/0/role", "owner"), ("/members/1/user_id", "{me}")]),
        // create_thread(community_id, title, content)
        case("POST /api/v1/threads/create", Alice, "/api/v1/threads/create",
            Json(json!({"community_id": "{community}", "title": "Spec thread", "content": "Written from the spec"})),
            201, No, &[("/id", ANY), ("/title", "Spec thread"), ("/author_id", "{me}"),
                ("/content", "Written from the spec"), ("/thread_type", "discussion")])
            .save(&[("thread", "/id")]),
        // reply_to_thread(thread_id, content)
        case("POST /api/v1/threads/{thread_id}/reply", Bob, "/api/v1/threads/{thread}/reply",
            Json(json!({"content": "A reply from the spec"})),
            201, No, &[("/id", ANY), ("/thread_id", "{thread}"), ("/depth", "1")]),
        // vote_on_thread(thread_id, vote_type)
        case("POST /api/v1/threads/{thread_id}/vote", Bob, "/api/v1/threads/{thread}/vote",
            Json(json!({"vote_type": "upvote"})),
            200, No, &[("/upvotes", "1"), ("/your_vote", "up")]),
        // get_thread(thread_id)
        case("GET /api/v1/threads/{thread_id}", Bob, "/api/v1/threads/{thread}", Bare,
            200, No, &[("/thread/id", "{thread}"), ("/thread/upvotes", "1"), ("/total", "1"),
                ("/replies/0/content", "A reply from the spec")]),
        // create_group(name, type, max_members)
        case("POST /api/v1/groups/create", Bob, "/api/v1/groups/create",
            Json(json!({"name": "Spec Group", "type": "public", "max_members": 10})),
            201, No, &[("/id", ANY), ("/name", "Spec Group"), ("/type", "public"),
                ("/max_members", "10"), ("/owner_id", "{me}"), ("/your_role", "owner")])
            .save(&[("group", "/id")]),
        // join_group(group_id, user_id)
        case("POST /api/v1/groups/{group_id}/join", Alice, "/api/v1/groups/{group}/join",
            Json(json!({"user_id": "{me}"})),
            200, Param("user_id"), &[("/id", "{group}"), ("/member_count", "2"), ("/your_role", "member")]),
        // get_group_wallet(group_id)
        case("GET /api/v1/groups/{group_id}/wallet", Alice, "/api/v1/groups/{group}/wallet", Bare,
            200, No, &[("/group_id", "{group}"), ("/balance", "0"), ("/currency", "USD")]),
        // send_direct_message(sender_id, recipient_id, content)
        case("POST /api/v1/messages/send", Alice, "/api/v1/messages/send",
            Json(json!({"sender_id": "{me}", "recipient_id": "{bob}", "content": "A DM from the spec"})),
            201, Param("sender_id"), &[("/conversation_id", ANY), ("/message/sender_id", "{me}"),
                ("/message/recipient_id", "{bob}"), ("/message/content", "A DM from the spec"),
                ("/message/message_type", "text")])
            .save(&[("conversation", "/conversation_id")]),
        // get_conversations(user_id)
        case("GET /api/v1/messages/{user_id}/conversations", Alice, "/api/v1/messages/{me}/conversations", Bare,
            200, Path, &[("/total", "1"), ("/conversations/0/conversation_id", "{conversation}"),
                ("/conversations/0/user_id", "{bob}"), ("/conversations/0/unread_count", "0")]),
        // get_messages(conversation_id, limit=50)
        case("GET /api/v1/messages/{conversation_id}", Alice, "/api/v1/messages/{conversation}",
            Query(&[("limit", "50")]),
            200, No, &[("/conversation_id", "{conversation}"), ("/messages/0/content", "A DM from the spec")]),
        // chat_websocket(websocket, room_id): the community's room, for its members.
        case("WS /ws/chat/{room_id}", Anon, "/ws/chat/{community}?token={bob_token}", Socket,
            101, No, &[("/type", "snapshot"), ("/data/room_id", "{community}")]),
        // voice_websocket(websocket, channel_id): the community's voice channel.
        case("WS /ws/voice/{channel_id}", Anon, "/ws/voice/{community}?token={bob_token}", Socket,
            101, No, &[("/type", "joined"), ("/data/channel_id", "{community}")]),
        // ---- Every service: the template's endpoints and the WebSocket manager ----------
        // health_check(): {"status": "healthy", "service": …}
        case("GET /health", Anon, "/health", Bare,
            200, No, &[("/status", "healthy"), ("/service", ANY)]),
        // get_metrics(): ours is Prometheus text (not the template's JSON), on the metrics
        // address only.
        case("GET /metrics", Scraper, "/metrics", Bare, 200, No, &[]),
        // The WebSocket manager's /ws/{room_type}/{room_id}: room type `markets` today.
        case("WS /ws/{room_type}/{room_id}", Anon, "/ws/markets/mkt_2", Socket,
            101, No, &[("/type", "snapshot")]),
    ]
}

/// The spec's routes we do not serve yet, each as a request that must answer 404 — HTTP
/// routes with `route_not_found`; WebSocket rooms reach our generic `/ws/{room_type}/…` and
/// are refused there as an unknown room type (`not_found`). When one is built, its entry
/// moves into [`served`] as a row.
#[rustfmt::skip]
fn not_yet_served() -> Vec<(&'static str, &'static str)> {
    vec![
        // Service 4: Analytics & Expert.
        ("POST /api/v1/datasources/upload", "/api/v1/datasources/upload"),
        ("POST /api/v1/datasources/connect", "/api/v1/datasources/connect"),
        ("GET /api/v1/datasources/{user_id}", "/api/v1/datasources/usr_2"),
        ("POST /api/v1/analysis/query", "/api/v1/analysis/query"),
        ("GET /api/v1/analysis/history/{user_id}", "/api/v1/analysis/history/usr_2"),
        ("GET /api/v1/analysis/suggestions", "/api/v1/analysis/suggestions"),
        ("POST /api/v1/picks/create", "/api/v1/picks/create"),
        ("GET /api/v1/picks/{expert_id}", "/api/v1/picks/usr_2"),
        ("GET /api/v1/picks/{pick_id}/performance", "/api/v1/picks/pck_1/performance"),
        ("POST /api/v1/booking/generate", "/api/v1/booking/generate"),
        ("GET /api/v1/booking/{code}", "/api/v1/booking/ABC123"),
        ("POST /api/v1/experts/{expert_id}/subscribe", "/api/v1/experts/usr_3/subscribe"),
        ("GET /api/v1/experts/{expert_id}/stats", "/api/v1/experts/usr_3/stats"),
        ("GET /api/v1/subscriptions/{user_id}", "/api/v1/subscriptions/usr_2"),
        // Service 6: Social Forum.
    ]
}

/// An answer: status and JSON body (a string for a non-JSON body, null for none).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// The running demo server, its callers, and the placeholders' values.
struct World {
    server: Server,
    agent: ureq::Agent,
    tokens: HashMap<Caller, String>,
    ids: HashMap<Caller, String>,
    vars: HashMap<String, String>,
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn field(value: &Value, pointer: &str) -> String {
    let found = value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {value}"));
    text(found)
}

/// Logs in with the harness and keeps the token and the user id.
fn login(anon: &Api, username: &str, password: &str) -> (Api, String, String) {
    let body = anon
        .post(
            "/api/v1/auth/login",
            &json!({"username": username, "password": password}),
        )
        .expect(200);
    let token = field(&body, "/access_token");
    (anon.with_token(&token), token, field(&body, "/user_id"))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl World {
    /// The demo, plus everything the rows act on, made with our documented requests.
    fn setup() -> World {
        let server = Server::start(&["--demo"]);
        let anon = server.api();
        let (alice_user, alice_password) = server.demo_login("alice");
        let (alice, alice_token, alice_id) = login(&anon, &alice_user, &alice_password);
        let (bob_user, bob_password) = server.demo_login("bob");
        let (bob, bob_token, bob_id) = login(&anon, &bob_user, &bob_password);
        let (admin_user, admin_password) = server.demo_login("admin");
        let (admin, _, _) = login(&anon, &admin_user, &admin_password);
        let (carol, carol_id) = anon.signup("spec_carol");
        let carol_token = carol.token.clone().expect("token");
        assert_eq!(
            (alice_id.as_str(), bob_id.as_str()),
            ("usr_2", "usr_3"),
            "the demo's users"
        );

        let mut vars: HashMap<String, String> = HashMap::new();
        let mut set = |name: &str, value: String| vars.insert(name.to_owned(), value);
        set("alice", alice_id.clone());
        set("bob", bob_id.clone());
        set("carol", carol_id.clone());
        set("bob_token", bob_token.clone());
        set("in_a_day", in_a_day());
        let profile = alice.get(&format!("/api/v1/users/{alice_id}")).expect(200);
        set("alice_referral", field(&profile, "/referral_code"));

        // KYC level 1, so that alice may withdraw.
        let document = alice
            .upload(
                "/api/v1/kyc/submit",
                &[("document_type", "id_card")],
                ("document_file", "image/png", PNG),
            )
            .expect(201);
        admin
            .post(
                &format!("/api/v1/admin/kyc/{}/approve", field(&document, "/id")),
                &json!({"kyc_level": 1}),
            )
            .expect(200);
        // Payment methods: one to withdraw to, one to remove; a withdrawal to cancel.
        let add_method = |number: &str| {
            let method = alice
                .post(
                    "/api/v1/payment-methods/add",
                    &json!({"method_type": "bank", "details": {"account_number": number}}),
                )
                .expect(201);
            field(&method, "/id")
        };
        set("method", add_method("1111222233"));
        set("method_to_remove", add_method("4444555566"));
        let withdrawal = alice
            .post(
                "/api/v1/withdrawals/request",
                &json!({"amount": "5", "payment_method_id": vars["method"]}),
            )
            .expect(201);
        let mut set = |name: &str, value: String| vars.insert(name.to_owned(), value);
        set("withdrawal", field(&withdrawal, "/id"));
        // A deposit a real provider has not confirmed yet.
        let pending = alice
            .post(
                "/api/v1/deposits/initiate",
                &json!({"amount": "3", "payment_method": "ecocash"}),
            )
            .expect(201);
        assert_eq!(field(&pending, "/status"), "pending");
        set("pending_deposit", field(&pending, "/id"));
        // A transfer (a transaction of alice's) and her USD wallet.
        let transfer = alice
            .post(
                "/api/v1/transfers/send",
                &json!({"recipient": "bob", "amount": "1"}),
            )
            .expect(201);
        set("tx", field(&transfer, "/id"));
        let wallets = alice
            .get(&format!("/api/v1/wallets/{alice_id}"))
            .expect(200);
        set("wallet", field(&wallets, "/wallets/0/id"));
        // A position (bought from the demo maker's ask) and a resting order.
        let order = |price: &str| {
            alice
                .post(
                    "/api/v1/markets/mkt_1/orders",
                    &json!({"outcome_id": "out_1", "order_type": "buy", "price": price, "quantity": "5"}),
                )
                .expect(201)
        };
        assert_eq!(field(&order("0.60"), "/status"), "filled");
        set("order", field(&order("0.45"), "/id"));
        let positions = alice
            .get(&format!("/api/v1/users/{alice_id}/positions"))
            .expect(200);
        set("position", field(&positions, "/positions/0/id"));
        // Markets of alice's: one to edit, one closed to resolve.
        let create = |title: &str| {
            alice
                .post(
                    "/api/v1/markets/create",
                    &json!({"title": title, "market_type": "binary", "closes_at": in_a_day()}),
                )
                .expect(201)
        };
        set("my_market", field(&create("Spec: to edit"), "/id"));
        let closed = create("Spec: to resolve");
        let closed_id = field(&closed, "/id");
        alice
            .put(
                &format!("/api/v1/markets/{closed_id}"),
                &json!({"status": "closed"}),
            )
            .expect(200);
        set("closed_market", closed_id);
        set("closed_yes", field(&closed, "/outcomes/0/id"));
        // A pool of bob's for alice to join.
        let pool = bob
            .post(
                "/api/v1/pools/create",
                &json!({"name": "Bob's pool", "entry_amount": "10", "member_limit": 5}),
            )
            .expect(201);
        set("pool", field(&pool, "/id"));
        // The demo's Connect Four game, a session of bob's for alice to join and one still
        // waiting for alice to watch.
        set("game", "game_1".to_owned());
        let session = |stake: &str| {
            let session = bob
                .post(
                    "/api/v1/sessions/create",
                    &json!({"game_id": "game_1", "stake": stake}),
                )
                .expect(201);
            field(&session, "/id")
        };
        let game_session = session("3");
        let waiting_session = session("4");
        set("game_session", game_session);
        set("waiting_session", waiting_session);

        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        World {
            server,
            agent,
            tokens: HashMap::from([(Alice, alice_token), (Bob, bob_token), (Carol, carol_token)]),
            ids: HashMap::from([(Alice, alice_id), (Bob, bob_id), (Carol, carol_id)]),
            vars,
        }
    }

    /// `text` with its placeholders filled in for `caller`.
    fn fill(&self, text: &str, caller: Caller) -> String {
        let mut out = text.to_owned();
        if out.contains("{me}") {
            let me = self
                .ids
                .get(&caller)
                .expect("{me} needs a signed-in caller");
            out = out.replace("{me}", me);
        }
        // Another user: bob, for every caller here.
        out = out.replace("{other}", &self.vars["bob"]);
        out = out.replace("{other_token}", &self.vars["bob_token"]);
        if out.contains("{totp") {
            let secret = self
                .vars
                .get("secret")
                .expect("{totp} needs the secret the 2FA enable row saves");
            out = out
                .replace("{totp}", &totp(secret, now_secs()))
                .replace("{totp_next}", &totp(secret, now_secs() + 30));
        }
        for (name, value) in &self.vars {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        assert!(
            !(out.contains('{') && out.contains('}')),
            "an unknown placeholder in {text}"
        );
        out
    }

    fn fill_value(&self, value: &Value, caller: Caller) -> Value {
        match value {
            Value::String(s) => Value::String(self.fill(s, caller)),
            Value::Array(items) => items.iter().map(|v| self.fill_value(v, caller)).collect(),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.fill_value(v, caller)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Sends one request: `method` and `path` with `params`, everything already filled in.
    fn send(&self, caller: Caller, method: &str, path: &str, params: &Sent) -> Answer {
        let port = if caller == Scraper {
            self.server.metrics_port
        } else {
            self.server.port
        };
        if let Sent::Socket = params {
            return self.socket(port, path);
        }
        let mut url = format!("http://127.0.0.1:{port}{path}");
        // A connection per request: the server answers a route it does not serve without
        // reading the request's body and then closes the connection, and a pooled
        // connection could be picked for the next request before the close is seen.
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .header("connection", "close");
        if let Some(token) = self.tokens.get(&caller) {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match params {
            Sent::Bare | Sent::Socket => Vec::new(),
            Sent::Query(pairs) => {
                let query: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                    .collect();
                url = format!("{url}?{}", query.join("&"));
                Vec::new()
            }
            Sent::Json(value) => {
                builder = builder.header("content-type", "application/json");
                value.to_string().into_bytes()
            }
            Sent::Form(fields) => {
                let boundary = "----betbet-spec-boundary";
                builder = builder.header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                );
                let mut body = Vec::new();
                for (name, value) in fields {
                    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
                }
                body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"document_file\"; filename=\"passport.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
                body.extend_from_slice(PNG);
                body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
                body
            }
        };
        let request = builder.uri(url).body(body).expect("a request");
        let mut response = self.agent.run(request).expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        });
        Answer { status, body }
    }

    /// A WebSocket handshake: 101 and the first message, or the refusal.
    fn socket(&self, port: u16, path: &str) -> Answer {
        match tungstenite::connect(format!("ws://127.0.0.1:{port}{path}")) {
            Ok((mut socket, response)) => {
                if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
                    stream
                        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                        .expect("timeout");
                }
                let body = loop {
                    match socket.read() {
                        Ok(tungstenite::Message::Text(text)) => {
                            break serde_json::from_str(&text).unwrap_or(Value::Null);
                        }
                        Ok(_) => {}
                        Err(e) => break Value::String(format!("socket: {e}")),
                    }
                };
                let _ = socket.close(None);
                Answer {
                    status: response.status().as_u16(),
                    body,
                }
            }
            Err(tungstenite::Error::Http(response)) => Answer {
                status: response.status().as_u16(),
                body: response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null),
            },
            Err(e) => panic!("WebSocket to {path}: {e}"),
        }
    }
}

/// A row's parameters with the placeholders filled in.
enum Sent {
    Bare,
    Query(Vec<(String, String)>),
    Json(Value),
    Form(Vec<(String, String)>),
    Socket,
}

impl Sent {
    fn of(world: &World, params: &Params, caller: Caller) -> Sent {
        let pairs = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), world.fill(v, caller)))
                .collect()
        };
        match params {
            Bare => Sent::Bare,
            Query(q) => Sent::Query(pairs(q)),
            Json(value) => Sent::Json(world.fill_value(value, caller)),
            Form(fields) => Sent::Form(pairs(fields)),
            Socket => Sent::Socket,
        }
    }

    /// The same parameters with `name` set to `value` (it must be one of them).
    fn with(self, name: &str, value: &str) -> Sent {
        let set = |mut pairs: Vec<(String, String)>| {
            let pair = pairs
                .iter_mut()
                .find(|(k, _)| k == name)
                .unwrap_or_else(|| panic!("no parameter {name}"));
            pair.1 = value.to_owned();
            pairs
        };
        match self {
            Sent::Query(pairs) => Sent::Query(set(pairs)),
            Sent::Form(pairs) => Sent::Form(set(pairs)),
            Sent::Json(mut body) => {
                assert!(body.get(name).is_some(), "no parameter {name}");
                body[name] = value.into();
                Sent::Json(body)
            }
            Sent::Bare | Sent::Socket => panic!("no parameter {name}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Sent::Bare => String::new(),
            Sent::Query(pairs) | Sent::Form(pairs) => format!("{pairs:?}"),
            Sent::Json(value) => value.to_string(),
            Sent::Socket => "(WebSocket handshake)".to_owned(),
        }
    }
}

/// What is wrong with `answer` against `expect`, if anything.
fn mismatches(
    world: &World,
    caller: Caller,
    answer: &Value,
    expect: &[(&str, &str)],
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (pointer, wanted) in expect {
        let got = answer.pointer(pointer);
        let ok = match (*wanted, got) {
            (_, None) | (_, Some(Value::Null)) => false,
            (ANY, Some(_)) => true,
            (SOME, Some(value)) => value.as_array().is_some_and(|a| !a.is_empty()),
            (value, Some(got)) => text(got) == world.fill(value, caller),
        };
        if !ok {
            wrong.push(format!("{pointer} is {got:?}, wanted {wanted}"));
        }
    }
    wrong
}

/// `{param}` segments are the path's parameters.
fn shape(path: &str) -> Vec<&str> {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect()
}

#[test]
fn every_served_spec_route_accepts_the_specs_request() {
    let mut world = World::setup();
    let cases = served();

    // The table against our route table: every row is a route we serve, its request's path
    // has the spec's shape (parameters in the path where the spec has them), and no spec
    // route appears twice.
    let output = std::process::Command::new(betbet_tests::binary())
        .arg("routes")
        .output()
        .expect("betbet routes");
    let ours: Vec<(String, Vec<String>)> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let path = shape(v["path"].as_str().expect("path"));
            (
                v["method"].as_str().expect("method").to_owned(),
                path.into_iter().map(str::to_owned).collect(),
            )
        })
        .collect();
    let serves = |method: &str, path: &str| {
        let method = if method == "WS" { "GET" } else { method };
        ours.iter().any(|(m, p)| m == method && *p == shape(path))
    };
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        assert!(seen.insert(case.route), "{} twice", case.route);
        let (method, spec_path) = case.route.split_once(' ').expect("METHOD /path");
        let (spec_shape, path_shape) = (shape(spec_path), shape(case.path));
        assert_eq!(
            spec_shape.len(),
            path_shape.len(),
            "{}: {}",
            case.route,
            case.path
        );
        for (spec, ours) in spec_shape.iter().zip(&path_shape) {
            assert!(
                *spec == "{}" || spec == ours,
                "{}: the request's path {} is not the spec's",
                case.route,
                case.path
            );
        }
        if case.caller != Scraper {
            assert!(
                serves(method, spec_path),
                "{} is not in `betbet routes`",
                case.route
            );
        }
    }

    let mut failures = Vec::new();
    for case in &cases {
        let method = case.method();
        let sent = Sent::of(&world, &case.params, case.caller);
        let path = world.fill(case.path, case.caller);

        // The identity parameter naming someone else: a 403, whatever the rest says.
        let other = match case.identity {
            No => None,
            Path => Some((
                case.path.replace("{me}", "{other}"),
                Sent::of(&world, &case.params, case.caller),
            )),
            Param(name) => Some((
                case.path.to_owned(),
                Sent::of(&world, &case.params, case.caller)
                    .with(name, &world.fill("{other}", case.caller)),
            )),
            Token(name) => Some((
                case.path.to_owned(),
                Sent::of(&world, &case.params, case.caller)
                    .with(name, &world.fill("{other_token}", case.caller)),
            )),
        };
        if let Some((other_path, other_sent)) = other {
            let other_path = world.fill(&other_path, case.caller);
            let answer = world.send(case.caller, method, &other_path, &other_sent);
            if (answer.status, answer.code()) != (403, "forbidden") {
                failures.push(format!(
                    "{} naming another user: {method} {other_path} {} answered {} {}",
                    case.route,
                    other_sent.describe(),
                    answer.status,
                    answer.body
                ));
            }
        }

        let answer = world.send(case.caller, method, &path, &sent);
        let request = format!("{method} {path} {}", sent.describe());
        let mut wrong = Vec::new();
        if answer.status != case.status {
            wrong.push(format!("status {}, wanted {}", answer.status, case.status));
        } else {
            wrong.extend(mismatches(&world, case.caller, &answer.body, case.expect));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {request}\n    answered {} {}\n    {}",
                case.route,
                answer.status,
                answer.body,
                wrong.join("; ")
            ));
        }
        for (name, pointer) in case.save {
            if let Some(value) = answer.body.pointer(pointer) {
                world.vars.insert((*name).to_owned(), text(value));
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} spec routes:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_spec_routes_not_built_yet_answer_404() {
    let server = Server::start(&["--demo"]);
    let anon = server.api();
    let (user, password) = server.demo_login("alice");
    let (_, token, _) = login(&anon, &user, &password);
    let world = World {
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
        tokens: HashMap::from([(Alice, token)]),
        ids: HashMap::new(),
        vars: HashMap::new(),
        server,
    };
    let served: Vec<&str> = served().iter().map(|c| c.route).collect();
    let mut wrong = Vec::new();
    for (route, path) in not_yet_served() {
        assert!(
            !served.contains(&route),
            "{route} is served: remove it from this list"
        );
        let (method, _) = route.split_once(' ').expect("METHOD /path");
        let (sent, expected) = match method {
            "WS" => (Sent::Socket, "not_found"),
            "POST" => (Sent::Json(json!({})), "route_not_found"),
            _ => (Sent::Bare, "route_not_found"),
        };
        let answer = world.send(Alice, method, path, &sent);
        if (answer.status, answer.code()) != (404, expected) {
            wrong.push(format!(
                "{route} ({method} {path}) answered {} {}: if it is built now, move it into `served`",
                answer.status, answer.body
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
