//! Mass quotes and feed API keys.

use super::*;
use crate::accounts::apikeys::API_KEYS_PER_USER_MAX;
use betbet_protocol::event::{ApiKeyRevoked, DoneReason, OrderStatus, OrderUpdated};
use betbet_protocol::feed::{LOGIN_SKEW_MICROS, MASS_QUOTE_MAX};
use betbet_protocol::message::{Authenticated, QuotesReply};

fn quote(outcome: OutcomeId, bid: u32, bid_qty: Qty, ask: u32, ask_qty: Qty) -> Quote {
    Quote {
        outcome,
        bid_price: Price(bid),
        bid_qty,
        ask_price: Price(ask),
        ask_qty,
    }
}

fn mass_quote(actor: UserId, market: MarketId, quotes: Vec<Quote>) -> Command {
    Command::MassQuote(MassQuote {
        actor,
        market,
        quotes,
    })
}

#[track_caller]
fn quoted(w: &mut World, actor: UserId, market: MarketId, quotes: Vec<Quote>) -> Vec<OrderId> {
    match w.ok(mass_quote(actor, market, quotes)) {
        Reply::Quotes(QuotesReply { orders }) => orders,
        other => panic!("{other:?}"),
    }
}

fn ended(w: &World, order: OrderId) -> Option<OrderUpdated> {
    w.events.iter().rev().find_map(|e| match e {
        Event::OrderUpdated(u) if u.order == order && u.reason.is_some() => Some(*u),
        _ => None,
    })
}

#[test]
fn mass_quote_replaces_only_earlier_quotes_on_its_books() {
    let mut w = World::new();
    let maker = w.funded("maker", 100);
    let (market, outcomes) = w.market(w.admin, MarketType::Multiple, &["a", "b", "c"]);
    let manual = w.placed(maker, market, outcomes[0], Side::Buy, 3_000, shares(1));
    let first = quoted(
        &mut w,
        maker,
        market,
        vec![
            quote(outcomes[0], 4_000, shares(10), 6_000, shares(10)),
            quote(outcomes[1], 2_000, shares(5), 0, Qty(0)),
        ],
    );
    assert_eq!(first.len(), 3);
    // YES bids lock price × qty, the uncovered ask (1 − price) × qty.
    let locked = units(3) / 10 + units(4) + units(4) + units(1);
    assert_eq!(w.balance(maker), (units(100) - locked, locked));

    let second = quoted(
        &mut w,
        maker,
        market,
        vec![quote(outcomes[0], 4_500, shares(10), 5_500, shares(10))],
    );
    assert_eq!(second.len(), 2);
    for &order in &first[..2] {
        let update = ended(&w, order).expect("replaced");
        assert_eq!(update.status, OrderStatus::Cancelled);
        assert_eq!(update.reason, Some(DoneReason::Replaced));
    }
    // The quote on outcome b and the manual order were not on the requoted book / not quotes.
    assert!(ended(&w, first[2]).is_none());
    assert!(ended(&w, manual.order).is_none());
    let locked = units(3) / 10 + units(45) / 10 + units(45) / 10 + units(1);
    assert_eq!(w.balance(maker), (units(100) - locked, locked));

    // Quoting nothing on a book withdraws its quotes.
    assert!(
        quoted(
            &mut w,
            maker,
            market,
            vec![quote(outcomes[1], 0, Qty(0), 0, Qty(0))]
        )
        .is_empty()
    );
    assert_eq!(
        ended(&w, first[2]).unwrap().reason,
        Some(DoneReason::Replaced)
    );
}

#[test]
fn mass_quote_is_all_or_nothing() {
    let mut w = World::new();
    let maker = w.funded("maker", 10);
    let other = w.funded("other", 10);
    let (market, outcomes) = w.market(w.admin, MarketType::Multiple, &["a", "b"]);
    let (binary, yes, no) = w.binary(w.admin);
    quoted(
        &mut w,
        maker,
        market,
        vec![quote(outcomes[0], 4_000, shares(10), 6_000, shares(10))],
    );
    // Each refusal below is checked by the harness to have changed nothing at all.
    let cases: Vec<(MarketId, Vec<Quote>, ResultCode)> = vec![
        // The second quote is bad, so the first (valid) one must not apply either.
        (
            market,
            vec![
                quote(outcomes[0], 4_100, shares(1), 5_900, shares(1)),
                quote(outcomes[1], 4_150, shares(1), 0, Qty(0)),
            ],
            ResultCode::PriceOffTick,
        ),
        (
            market,
            vec![
                quote(outcomes[0], 4_100, shares(1), 5_900, shares(1)),
                quote(OutcomeId(999), 4_100, shares(1), 0, Qty(0)),
            ],
            ResultCode::OutcomeNotFound,
        ),
        (
            market,
            vec![quote(outcomes[0], 5_000, shares(1), 5_000, shares(1))],
            ResultCode::PostOnlyWouldCross,
        ),
        // YES and NO of a binary market are one book.
        (
            binary,
            vec![
                quote(yes, 4_000, shares(1), 0, Qty(0)),
                quote(no, 4_000, shares(1), 0, Qty(0)),
            ],
            ResultCode::InvalidRequest,
        ),
        (
            market,
            vec![quote(outcomes[0], 4_000, shares(1), 0, Qty(0)); MASS_QUOTE_MAX + 1],
            ResultCode::LimitExceeded,
        ),
        (market, vec![], ResultCode::InvalidRequest),
        // 10 units cannot hold 2 × 9 × 0.5 + 1 × 0.5 even with the old quotes' 8 freed.
        (
            market,
            vec![
                quote(outcomes[0], 5_000, shares(9), 5_100, shares(9)),
                quote(outcomes[1], 5_000, shares(3), 0, Qty(0)),
            ],
            ResultCode::InsufficientFunds,
        ),
    ];
    for (market, quotes, expected) in cases {
        assert_eq!(w.err(mass_quote(maker, market, quotes)), expected);
    }
    // Someone else's quotes are not the maker's to replace: refused as crossing.
    let foreign = w.placed(other, market, outcomes[0], Side::Sell, 6_100, shares(1));
    assert_eq!(
        w.err(mass_quote(
            maker,
            market,
            vec![quote(outcomes[0], 6_200, shares(1), 7_000, shares(1))]
        )),
        ResultCode::PostOnlyWouldCross
    );
    assert!(ended(&w, foreign.order).is_none());
}

#[test]
fn requoting_uses_the_funds_and_shares_the_old_quotes_held() {
    let mut w = World::new();
    let maker = w.funded("maker", 10);
    let taker = w.funded("taker", 100);
    let (market, yes, _) = w.binary(w.admin);
    // 8 of 10 units locked; the same again fits only because the old quotes are released.
    quoted(
        &mut w,
        maker,
        market,
        vec![quote(yes, 4_000, shares(10), 6_000, shares(10))],
    );
    // A requote whose bid crosses the maker's own old ask is fine: that ask is replaced.
    let orders = quoted(
        &mut w,
        maker,
        market,
        vec![quote(yes, 6_000, shares(5), 7_000, shares(10))],
    );
    assert_eq!(orders.len(), 2);
    // The taker sells YES into the bid: the maker now holds 5 YES.
    w.placed(taker, market, yes, Side::Sell, 6_000, shares(5));
    assert_eq!(w.holding(maker, yes), (shares(5).0, 0));
    assert_eq!(ended(&w, orders[0]).unwrap().status, OrderStatus::Filled);
    // The ask of the next quote sells the 5 held shares first (no cash for them).
    let (available_before, _) = w.balance(maker);
    quoted(
        &mut w,
        maker,
        market,
        vec![quote(yes, 0, Qty(0), 7_000, shares(5))],
    );
    let (available, locked) = w.balance(maker);
    assert_eq!(locked, 0, "a covered ask locks shares, not cash");
    assert_eq!(
        available,
        available_before + units(3),
        "the old uncovered ask was released"
    );
}

#[test]
fn api_key_logins_check_revocation_clock_and_nonces() {
    let mut w = World::new();
    let maker = w.funded("maker", 0);
    let intruder = w.funded("intruder", 0);
    let create = |name: &str| {
        Command::CreateApiKey(CreateApiKey {
            actor: maker,
            name: name.to_owned(),
            sealed_secret: vec![7; 60],
        })
    };
    let Reply::Created(created) = w.ok(create("bot")) else {
        panic!()
    };
    let key = created.id;
    let login = |w: &World, nonce: u8, offset: i64| {
        Command::ApiKeyLogin(ApiKeyLogin {
            key,
            timestamp: w.now.saturating_add_micros(offset),
            nonce: [nonce; 16],
        })
    };
    assert_eq!(
        w.ok(login(&w, 1, 0)),
        Reply::Authenticated(Authenticated { user: maker, key })
    );
    assert_eq!(w.err(login(&w, 1, 0)), ResultCode::NonceReused);
    assert_eq!(
        w.err(login(&w, 2, LOGIN_SKEW_MICROS + 1)),
        ResultCode::StaleTimestamp
    );
    assert_eq!(
        w.err(login(&w, 2, -LOGIN_SKEW_MICROS - 1)),
        ResultCode::StaleTimestamp
    );
    w.ok(login(&w, 2, -LOGIN_SKEW_MICROS));
    // Long after, the nonce has left the window but its timestamp can no longer pass.
    let old = login(&w, 1, 0);
    w.advance(60);
    assert_eq!(w.err(old), ResultCode::StaleTimestamp);
    assert_eq!(w.engine.api_keys.get(key).unwrap().nonces.len(), 2);
    w.ok(login(&w, 3, 0));
    assert_eq!(w.engine.api_keys.get(key).unwrap().nonces.len(), 1);

    // Only its owner (or an admin) may revoke it; a revoked key logs in no more.
    let revoke = |actor| Command::RevokeApiKey(RevokeApiKey { actor, key });
    assert_eq!(w.err(revoke(intruder)), ResultCode::ApiKeyNotFound);
    w.ok(revoke(maker));
    assert_eq!(
        w.events.last(),
        Some(&Event::ApiKeyRevoked(ApiKeyRevoked { key, user: maker })),
        "gateways learn of the revocation to close live connections"
    );
    assert_eq!(w.err(revoke(maker)), ResultCode::ApiKeyRevoked);
    assert_eq!(w.err(login(&w, 4, 0)), ResultCode::ApiKeyRevoked);
    assert_eq!(
        w.err(Command::ApiKeyLogin(ApiKeyLogin {
            key: 999,
            timestamp: w.now,
            nonce: [5; 16]
        })),
        ResultCode::ApiKeyNotFound
    );

    let mut live = 0;
    for i in 0..API_KEYS_PER_USER_MAX {
        let Reply::Created(created) = w.ok(create(&format!("bot-{i}"))) else {
            panic!()
        };
        live = created.id;
    }
    assert_eq!(w.err(create("one too many")), ResultCode::TooManyApiKeys);
    // A suspended user's keys stop working.
    w.ok(Command::SetUserStatus(SetUserStatus {
        actor: w.admin,
        user: maker,
        status: UserStatus::Suspended,
    }));
    assert_eq!(
        w.err(Command::ApiKeyLogin(ApiKeyLogin {
            key: live,
            timestamp: w.now,
            nonce: [6; 16]
        })),
        ResultCode::AccountSuspended
    );
}
