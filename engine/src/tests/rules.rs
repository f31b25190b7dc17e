//! One test per rule of the ledger and the markets, with exact amounts.

use super::*;
use betbet_protocol::event::{DoneReason, OrderStatus};

const BUY: Side = Side::Buy;
const SELL: Side = Side::Sell;

fn usd_of(world: &World, user: UserId) -> i64 {
    let (available, locked) = world.balance(user);
    available + locked
}

#[test]
fn a_yes_buyer_and_a_no_buyer_mint_a_pair_at_the_makers_price() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 1_000);
    let bob = w.funded("bob", 1_000);
    let (market, yes, no) = w.binary(maker);

    let resting = w.placed(alice, market, yes, BUY, 6_000, shares(10));
    assert_eq!(resting.status, OrderStatus::Open);
    assert_eq!(w.balance(alice), (units(994), units(6)));
    // Bob buys NO at 0.45, i.e. asks YES at 0.55: he gets alice's 0.60 bid, paying 0.40.
    let taker = w.placed(bob, market, no, BUY, 4_500, shares(10));
    assert_eq!(taker.status, OrderStatus::Filled);
    assert_eq!(taker.filled_notional, Amount(units(4)));
    assert_eq!(w.balance(alice), (units(994), 0));
    assert_eq!(w.balance(bob), (units(996), 0));
    assert_eq!(w.holding(alice, yes), (shares(10).0, 0));
    assert_eq!(w.holding(bob, no), (0, shares(10).0));
    assert_eq!(w.escrow(market), units(10));
    let trades = w.trades();
    assert_eq!(trades.len(), 1);
    assert_eq!((trades[0].price, trades[0].qty), (Price(6_000), shares(10)));
}

#[test]
fn price_time_priority_better_price_first_then_earlier() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let (first, second, third, taker) = (
        w.funded("first", 100),
        w.funded("second", 100),
        w.funded("third", 100),
        w.funded("taker", 100),
    );
    let (market, yes, _) = w.binary(maker);
    let a = w.placed(first, market, yes, SELL, 5_500, shares(5));
    let b = w.placed(second, market, yes, SELL, 5_500, shares(5));
    let c = w.placed(third, market, yes, SELL, 5_400, shares(5));
    w.placed(taker, market, yes, BUY, 6_000, shares(12));
    let makers: Vec<(OrderId, u32, Qty)> = w
        .trades()
        .iter()
        .map(|t| (t.maker_order, t.price.0, t.qty))
        .collect();
    assert_eq!(
        makers,
        vec![
            (c.order, 5_400, shares(5)),
            (a.order, 5_500, shares(5)),
            (b.order, 5_500, shares(2)),
        ]
    );
}

#[test]
fn selling_held_shares_transfers_them_and_realizes_profit() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 1_000);
    let bob = w.funded("bob", 1_000);
    let carol = w.funded("carol", 1_000);
    let (market, yes, no) = w.binary(maker);
    w.placed(alice, market, yes, BUY, 6_000, shares(10));
    w.placed(bob, market, no, BUY, 4_000, shares(10));
    // Alice sells her 10 YES at 0.70: shares are locked, no cash.
    w.placed(alice, market, yes, SELL, 7_000, shares(10));
    assert_eq!(w.balance(alice), (units(994), 0));
    w.placed(carol, market, yes, BUY, 7_500, shares(10));
    assert_eq!(w.balance(alice), (units(1_001), 0));
    assert_eq!(w.balance(carol), (units(993), 0));
    assert_eq!(w.holding(alice, yes), (0, 0));
    assert_eq!(w.holding(carol, yes), (shares(10).0, 0));
    assert_eq!(w.escrow(market), units(10));
    let account = w.engine.users.get(alice).unwrap().wallet(usd()).unwrap();
    let contract = w.engine.markets.outcome(yes).unwrap().contract;
    assert_eq!(
        w.engine
            .trading
            .position(account, contract)
            .unwrap()
            .realized,
        units(1)
    );
}

#[test]
fn selling_shares_not_held_buys_the_complement() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let dave = w.funded("dave", 100);
    let (market, yes, _) = w.binary(maker);
    // Dave holds nothing: a sell of 5 YES at 0.80 locks 0.20 per share, as a NO buy would.
    w.placed(dave, market, yes, SELL, 8_000, shares(5));
    assert_eq!(w.balance(dave), (units(99), units(1)));
}

#[test]
fn a_no_seller_and_a_yes_seller_burn_a_pair() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, yes, no) = w.binary(maker);
    w.placed(alice, market, yes, BUY, 5_000, shares(10));
    w.placed(bob, market, no, BUY, 5_000, shares(10));
    assert_eq!(w.escrow(market), units(10));
    // Bob sells NO at 0.30 (a YES bid at 0.70 backed by his NO shares); alice sells YES at
    // 0.70: the pair is burned and escrow pays both.
    w.placed(bob, market, no, SELL, 3_000, shares(10));
    w.placed(alice, market, yes, SELL, 7_000, shares(10));
    assert_eq!(w.escrow(market), 0);
    assert_eq!(w.balance(alice), (units(102), 0));
    assert_eq!(w.balance(bob), (units(98), 0));
}

#[test]
fn market_orders_are_bounded_ioc() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let seller = w.funded("seller", 100);
    let buyer = w.funded("buyer", 100);
    let (market, yes, _) = w.binary(maker);
    let mut order = World::order_command(buyer, market, yes, BUY, 6_000, shares(10));
    order.kind = OrderKind::Market;
    assert_eq!(
        w.err(Command::PlaceOrder(order.clone())),
        ResultCode::NoLiquidity
    );
    w.placed(seller, market, yes, SELL, 5_500, shares(4));
    w.placed(seller, market, yes, SELL, 6_500, shares(4));
    let Reply::Order(report) = w.ok(Command::PlaceOrder(order)) else {
        panic!()
    };
    // Only the ask inside the bound trades; the rest is cancelled, not rested.
    assert_eq!(report.filled, shares(4));
    assert_eq!(report.status, OrderStatus::Cancelled);
    assert_eq!(w.balance(buyer), (units(100) - units(4) * 55 / 100, 0));
}

#[test]
fn fill_or_kill_trades_everything_or_changes_nothing() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let seller = w.funded("seller", 100);
    let buyer = w.funded("buyer", 100);
    let (market, yes, _) = w.binary(maker);
    w.placed(seller, market, yes, SELL, 5_500, shares(5));
    let mut order = World::order_command(buyer, market, yes, BUY, 6_000, shares(10));
    order.time_in_force = TimeInForce::Fok;
    assert_eq!(
        w.err(Command::PlaceOrder(order.clone())),
        ResultCode::FillOrKillUnfilled
    );
    order.qty = shares(5);
    let Reply::Order(report) = w.ok(Command::PlaceOrder(order)) else {
        panic!()
    };
    assert_eq!(report.status, OrderStatus::Filled);
}

#[test]
fn post_only_refuses_to_cross_and_ioc_does_not_rest() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let seller = w.funded("seller", 100);
    let buyer = w.funded("buyer", 100);
    let (market, yes, _) = w.binary(maker);
    w.placed(seller, market, yes, SELL, 5_500, shares(5));
    let mut order = World::order_command(buyer, market, yes, BUY, 5_500, shares(1));
    order.post_only = true;
    assert_eq!(
        w.err(Command::PlaceOrder(order.clone())),
        ResultCode::PostOnlyWouldCross
    );
    order.price = Price(5_400);
    w.ok(Command::PlaceOrder(order.clone()));
    order.post_only = false;
    order.time_in_force = TimeInForce::Ioc;
    order.price = Price(5_000);
    let Reply::Order(report) = w.ok(Command::PlaceOrder(order)) else {
        panic!()
    };
    assert_eq!(report.status, OrderStatus::Cancelled);
    assert_eq!(report.filled, Qty(0));
}

#[test]
fn order_input_is_validated() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 1);
    let (market, yes, _) = w.binary(maker);
    let cases: &[(u32, Qty, ResultCode)] = &[
        (5_050, shares(1), ResultCode::PriceOffTick),
        (0, shares(1), ResultCode::InvalidPrice),
        (10_000, shares(1), ResultCode::InvalidPrice),
        (5_000, Qty(0), ResultCode::InvalidQuantity),
        (5_000, Qty(QTY_ORDER_MAX + 1), ResultCode::InvalidQuantity),
        (5_000, shares(3), ResultCode::InsufficientFunds),
    ];
    for &(price, qty, expected) in cases {
        assert_eq!(
            w.place(alice, market, yes, BUY, price, qty).code(),
            Some(expected),
            "price {price} qty {qty:?}"
        );
    }
    let mut gtd = World::order_command(alice, market, yes, BUY, 5_000, shares(1));
    gtd.time_in_force = TimeInForce::Gtd;
    gtd.expires_at = w.now;
    assert_eq!(w.err(Command::PlaceOrder(gtd)), ResultCode::ExpiryInPast);
    let nobody = w.register("nobody");
    assert_eq!(
        w.place(nobody, market, yes, BUY, 5_000, shares(1)).code(),
        Some(ResultCode::UnknownAccount)
    );
    assert_eq!(
        w.place(alice, MarketId(99), yes, BUY, 5_000, shares(1))
            .code(),
        Some(ResultCode::MarketNotFound)
    );
}

#[test]
fn gtd_orders_expire_on_the_timer_and_release_their_hold() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 10);
    let (market, yes, _) = w.binary(maker);
    let mut order = World::order_command(alice, market, yes, BUY, 5_000, shares(10));
    order.time_in_force = TimeInForce::Gtd;
    order.expires_at = w.now.saturating_add_micros(60_000_000);
    w.ok(Command::PlaceOrder(order));
    assert_eq!(w.balance(alice), (units(5), units(5)));
    w.advance(59);
    assert_eq!(w.balance(alice), (units(5), units(5)));
    w.advance(1);
    assert_eq!(w.balance(alice), (units(10), 0));
    assert!(w.events.iter().any(|e| matches!(
        e,
        Event::OrderUpdated(u) if u.status == OrderStatus::Expired && u.reason == Some(DoneReason::Expired)
    )));
}

#[test]
fn a_repeated_client_order_id_returns_the_original_order() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 10);
    let (market, yes, _) = w.binary(maker);
    let mut order = World::order_command(alice, market, yes, BUY, 5_000, shares(4));
    order.client_order_id = ClientOrderId::new("my-order-1");
    let Reply::Order(first) = w.ok(Command::PlaceOrder(order.clone())) else {
        panic!()
    };
    let Reply::Order(again) = w.ok(Command::PlaceOrder(order.clone())) else {
        panic!()
    };
    assert_eq!(again.order, first.order);
    assert!(again.duplicate && !first.duplicate);
    assert_eq!(w.balance(alice), (units(8), units(2)));
    // Still the original after it was cancelled.
    w.ok(Command::CancelOrder(CancelOrder {
        actor: alice,
        order: first.order,
    }));
    let Reply::Order(after) = w.ok(Command::PlaceOrder(order)) else {
        panic!()
    };
    assert_eq!(
        (after.order, after.status),
        (first.order, OrderStatus::Cancelled)
    );
}

#[test]
fn cancel_amend_and_cancel_all() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let bob = w.funded("bob", 100);
    let carol = w.funded("carol", 100);
    let alice = w.funded("alice", 100);
    let (market, yes, _) = w.binary(maker);
    let b = w.placed(bob, market, yes, SELL, 5_500, shares(10));
    let c = w.placed(carol, market, yes, SELL, 5_500, shares(10));
    // Smaller at the same price keeps bob first in the queue.
    w.ok(Command::AmendOrder(AmendOrder {
        actor: bob,
        order: b.order,
        qty: shares(5),
        price: Price(5_500),
    }));
    assert_eq!(
        w.balance(bob),
        (units(100) - units(5) * 45 / 100, units(5) * 45 / 100)
    );
    w.placed(alice, market, yes, BUY, 5_500, shares(5));
    assert_eq!(w.trades().last().unwrap().maker_order, b.order);
    // A price change re-queues (and here trades nothing).
    w.ok(Command::AmendOrder(AmendOrder {
        actor: carol,
        order: c.order,
        qty: shares(10),
        price: Price(5_600),
    }));
    assert_eq!(
        w.err(Command::AmendOrder(AmendOrder {
            actor: carol,
            order: c.order,
            qty: shares(10),
            price: Price(5_600),
        })),
        ResultCode::AmendNoChange
    );
    // Nobody else can touch carol's order, and bob's filled order is no longer open.
    assert_eq!(
        w.err(Command::CancelOrder(CancelOrder {
            actor: alice,
            order: c.order
        })),
        ResultCode::OrderNotFound
    );
    assert_eq!(
        w.err(Command::CancelOrder(CancelOrder {
            actor: bob,
            order: b.order
        })),
        ResultCode::OrderNotOpen
    );
    w.placed(carol, market, yes, SELL, 5_900, shares(1));
    let Reply::Created(count) = w.ok(Command::CancelAll(CancelAll {
        actor: carol,
        market,
        pool: None,
    })) else {
        panic!()
    };
    assert_eq!(count.id, 2);
    assert_eq!(w.balance(carol), (units(100), 0));
}

#[test]
fn self_trade_prevention_cancels_the_resting_order_by_default() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 100);
    let (market, yes, _) = w.binary(maker);
    let bid = w.placed(alice, market, yes, BUY, 5_000, shares(10));
    let ask = w.placed(alice, market, yes, SELL, 5_000, shares(10));
    assert!(w.trades().is_empty());
    assert!(w.events.iter().any(|e| matches!(
        e,
        Event::OrderUpdated(u) if u.order == bid.order && u.reason == Some(DoneReason::SelfTrade)
    )));
    assert_eq!(ask.status, OrderStatus::Open);
    let mut taking = World::order_command(alice, market, yes, BUY, 5_000, shares(1));
    taking.self_trade = SelfTradePrevention::CancelTaking;
    let Reply::Order(report) = w.ok(Command::PlaceOrder(taking)) else {
        panic!()
    };
    assert_eq!(report.status, OrderStatus::Cancelled);
    assert_eq!(w.balance(alice), (units(95), units(5)));
}

#[test]
fn the_open_order_limit_applies_to_resting_orders() {
    let mut w = World::new();
    let maker = w.funded("maker", 1);
    let alice = w.funded("alice", 1_000);
    let (market, yes, _) = w.binary(maker);
    w.verify_rejections = false;
    for i in 0..50 {
        w.placed(alice, market, yes, BUY, 100 * (1 + i % 40), shares(1));
    }
    assert_eq!(
        w.place(alice, market, yes, BUY, 100, shares(1)).code(),
        Some(ResultCode::TooManyOpenOrders)
    );
}

#[test]
fn resolution_pays_winners_and_takes_fees_from_net_winnings() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, yes, no) = w.binary(creator);
    w.placed(alice, market, yes, BUY, 6_000, shares(10));
    w.placed(bob, market, no, BUY, 4_000, shares(10));
    w.placed(bob, market, no, BUY, 3_000, shares(3)); // rests; released at resolution
    let stranger = w.funded("stranger", 1);
    w.ok(Command::HaltMarket(HaltMarket {
        actor: creator,
        market,
    }));
    assert_eq!(
        w.err(Command::ResolveMarket(ResolveMarket {
            actor: stranger,
            market,
            winner: Some(yes),
            scalar_value: None,
        })),
        ResultCode::NotMarketCreator
    );
    assert_eq!(
        w.err(Command::ResolveMarket(ResolveMarket {
            actor: creator,
            market,
            winner: Some(OutcomeId(999)),
            scalar_value: None,
        })),
        ResultCode::InvalidResolution
    );
    w.resolve(creator, market, Some(yes), None);
    // Alice paid 6, is paid 10: winnings 4, 1% creator fee 0.04, 2% platform fee 0.08.
    assert_eq!(
        w.balance(alice),
        (units(94) + units(10) - units(12) / 100, 0)
    );
    assert_eq!(w.balance(bob), (units(96), 0));
    assert_eq!(w.balance(creator), (units(4) / 100, 0));
    assert_eq!(w.fees_balance(), units(8) / 100);
    assert_eq!(w.escrow(market), 0);
    assert_eq!(
        w.err(Command::VoidMarket(VoidMarket {
            actor: w.admin,
            market
        })),
        ResultCode::MarketAlreadySettled
    );
    assert_eq!(
        w.place(alice, market, yes, BUY, 5_000, shares(1)).code(),
        Some(ResultCode::MarketNotOpen)
    );
}

#[test]
fn void_refunds_at_cost() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, yes, no) = w.binary(creator);
    w.placed(alice, market, yes, BUY, 6_000, shares(10));
    w.placed(bob, market, no, BUY, 4_000, shares(10));
    assert_eq!(
        w.err(Command::VoidMarket(VoidMarket {
            actor: creator,
            market
        })),
        ResultCode::Forbidden
    );
    let admin = w.admin;
    w.ok(Command::VoidMarket(VoidMarket {
        actor: admin,
        market,
    }));
    assert_eq!(w.balance(alice), (units(100), 0));
    assert_eq!(w.balance(bob), (units(100), 0));
    assert_eq!(w.escrow(market), 0);
}

#[test]
fn void_after_profit_taking_shares_escrow_pro_rata_and_invents_nothing() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let carol = w.funded("carol", 100);
    let (market, yes, no) = w.binary(creator);
    w.placed(alice, market, yes, BUY, 5_000, shares(10));
    w.placed(bob, market, no, BUY, 5_000, shares(10));
    w.placed(alice, market, yes, SELL, 9_000, shares(10));
    w.placed(carol, market, yes, BUY, 9_000, shares(10));
    // Net in: alice −4 (took profit), bob 5, carol 9; escrow holds 10.
    let admin = w.admin;
    w.ok(Command::VoidMarket(VoidMarket {
        actor: admin,
        market,
    }));
    assert_eq!(usd_of(&w, alice), units(104));
    assert_eq!(usd_of(&w, bob), units(95) + 357_142_857);
    assert_eq!(usd_of(&w, carol), units(91) + 642_857_142);
    assert_eq!(w.fees_balance(), 1);
}

#[test]
fn scalar_markets_pay_long_and_short_by_where_the_value_falls() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, outcomes) = w.market(creator, MarketType::Scalar, &[]);
    let (long, short) = (outcomes[0], outcomes[1]);
    w.placed(alice, market, long, BUY, 4_000, shares(10));
    w.placed(bob, market, short, BUY, 6_000, shares(10));
    w.resolve(creator, market, None, Some(Amount(units(25))));
    // LONG pays 0.25, SHORT 0.75. Alice lost 1.5; bob won 1.5 and pays 3% of it.
    assert_eq!(usd_of(&w, alice), units(100) - units(15) / 10);
    assert_eq!(
        usd_of(&w, bob),
        units(100) + units(15) / 10 - units(15) * 3 / 1_000
    );
    assert_eq!(w.escrow(market), 0);
}

#[test]
fn complete_sets_mint_and_redeem_for_one_unit() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, outcomes) = w.market(creator, MarketType::Multiple, &["A", "B", "C"]);
    w.ok(Command::MintShares(MintShares {
        actor: alice,
        pool: None,
        market,
        outcome: None,
        qty: shares(10),
    }));
    assert_eq!(usd_of(&w, alice), units(90));
    for &outcome in &outcomes {
        assert_eq!(w.holding(alice, outcome), (shares(10).0, 0));
    }
    w.ok(Command::MergeShares(MergeShares {
        actor: alice,
        pool: None,
        market,
        outcome: None,
        qty: shares(4),
    }));
    assert_eq!(usd_of(&w, alice), units(94));
    // Alice sells 6 YES of B to bob at 0.30; A wins.
    w.placed(alice, market, outcomes[1], SELL, 3_000, shares(6));
    w.placed(bob, market, outcomes[1], BUY, 3_000, shares(6));
    assert_eq!(
        w.err(Command::MergeShares(MergeShares {
            actor: alice,
            pool: None,
            market,
            outcome: None,
            qty: shares(1),
        })),
        ResultCode::InsufficientShares
    );
    w.resolve(creator, market, Some(outcomes[0]), None);
    assert_eq!(w.escrow(market), 0);
    assert_eq!(usd_of(&w, bob), units(100) - units(18) / 10);
    // Alice: 94 + 1.8 from bob + 6 from A; her 6 sets cost 6, so she won 1.8 − 0 … minus
    // fees on what is left of her winnings.
    let alice_total = usd_of(&w, alice);
    let fees = w.fees_balance() + usd_of(&w, creator);
    assert_eq!(alice_total + fees, units(94) + units(18) / 10 + units(6));
    // Her settled positions (one per contract) split what settlement paid her exactly,
    // and their profit adds up to what her wallet gained from the market.
    let account = w.engine.users.get(alice).unwrap().wallet(usd()).unwrap();
    let settled = &w.engine.trading.settled[&account];
    assert_eq!(settled.len(), 3);
    let received: i64 = settled.iter().map(|s| s.received).sum();
    let profit: i64 = settled
        .iter()
        .map(|s| s.position.realized + s.settlement_pnl)
        .sum();
    assert_eq!(received, alice_total - units(94) - units(18) / 10);
    assert_eq!(profit, alice_total - units(100));
}

#[test]
fn a_pair_of_yes_and_no_merges_back_into_collateral() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let (market, yes, no) = w.binary(creator);
    w.ok(Command::MintShares(MintShares {
        actor: alice,
        pool: None,
        market,
        outcome: Some(no),
        qty: shares(10),
    }));
    assert_eq!(w.holding(alice, yes), (shares(10).0, shares(10).0));
    assert_eq!(w.escrow(market), units(10));
    w.ok(Command::MergeShares(MergeShares {
        actor: alice,
        pool: None,
        market,
        outcome: None,
        qty: shares(10),
    }));
    assert_eq!(w.balance(alice), (units(100), 0));
    assert_eq!(w.escrow(market), 0);
}

#[test]
fn markets_close_at_their_time_and_cancel_resting_orders() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let (market, yes, _) = w.binary(creator);
    w.placed(alice, market, yes, BUY, 5_000, shares(10));
    w.advance(86_399);
    assert_eq!(w.balance(alice), (units(95), units(5)));
    w.advance(1);
    assert_eq!(w.balance(alice), (units(100), 0));
    assert_eq!(
        w.engine.markets.get(market).unwrap().status,
        MarketStatus::Closed
    );
    assert_eq!(
        w.place(alice, market, yes, BUY, 5_000, shares(1)).code(),
        Some(ResultCode::MarketNotOpen)
    );
    // Halting an already closed market is refused; resolving it works.
    assert_eq!(
        w.err(Command::HaltMarket(HaltMarket {
            actor: creator,
            market
        })),
        ResultCode::MarketNotOpen
    );
    w.resolve(creator, market, Some(yes), None);
}

#[test]
fn market_creation_is_validated() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let base = CreateMarket {
        actor: creator,
        title: "Title".to_owned(),
        description: String::new(),
        category: "sports".to_owned(),
        market_type: MarketType::Binary,
        outcomes: vec![],
        tick_size: TickSize::Cent,
        currency: usd(),
        opens_at: Timestamp::ZERO,
        closes_at: w.now.saturating_add_micros(1_000_000),
        creator_fee_bp: 100,
        oracle_type: OracleType::Manual,
        resolution_source: String::new(),
        scalar_low: Amount(0),
        scalar_high: Amount(1),
    };
    type Change = Box<dyn Fn(&mut CreateMarket)>;
    let cases: Vec<(Change, ResultCode)> = vec![
        (
            Box::new(|c| c.title = String::new()),
            ResultCode::InvalidText,
        ),
        (
            Box::new(|c| c.title = "x".repeat(501)),
            ResultCode::TextTooLong,
        ),
        (
            Box::new(|c| c.creator_fee_bp = 1_001),
            ResultCode::InvalidFee,
        ),
        (
            Box::new(|c| c.closes_at = Timestamp(0)),
            ResultCode::InvalidCloseTime,
        ),
        (
            Box::new(|c| c.outcomes = vec!["a".into()]),
            ResultCode::InvalidOutcomes,
        ),
        (
            Box::new(|c| {
                c.market_type = MarketType::Multiple;
                c.outcomes = vec!["a".into(), "A".into()];
            }),
            ResultCode::InvalidOutcomes,
        ),
        (
            Box::new(|c| {
                c.market_type = MarketType::Scalar;
                c.scalar_low = Amount(5);
                c.scalar_high = Amount(5);
            }),
            ResultCode::InvalidScalarRange,
        ),
        (
            Box::new(|c| c.currency = Currency::new("XYZ").unwrap()),
            ResultCode::UnsupportedCurrency,
        ),
    ];
    for (change, expected) in cases {
        let mut command = base.clone();
        change(&mut command);
        assert_eq!(w.err(Command::CreateMarket(command)), expected);
    }
    w.ok(Command::CreateMarket(base));
}

#[test]
fn market_updates_respect_what_traders_agreed_to() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, yes, no) = w.binary(creator);
    let update = |actor, title: Option<&str>, description: Option<&str>| {
        Command::UpdateMarket(UpdateMarket {
            actor,
            market,
            title: title.map(str::to_owned),
            description: description.map(str::to_owned),
            category: None,
            closes_at: None,
            resolution_source: None,
        })
    };
    assert_eq!(
        w.err(update(alice, Some("Mine now"), None)),
        ResultCode::NotMarketCreator
    );
    w.ok(update(
        creator,
        Some("Will it rain in Harare tomorrow?"),
        None,
    ));
    w.placed(alice, market, yes, BUY, 5_000, shares(1));
    w.placed(bob, market, no, BUY, 5_000, shares(1));
    assert_eq!(
        w.err(update(creator, Some("Changed"), None)),
        ResultCode::MarketNotUpdatable
    );
    w.ok(update(
        creator,
        None,
        Some("Clarified: measured at the airport."),
    ));
}

#[test]
fn pools_trade_as_one_account_and_share_the_payout() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let carol = w.funded("carol", 100);
    let (market, yes, no) = w.binary(creator);
    let Reply::Created(pool) = w.ok(Command::CreatePool(CreatePool {
        actor: alice,
        name: "Office pool".to_owned(),
        description: String::new(),
        currency: usd(),
        entry_amount: Amount(units(10)),
        member_limit: 2,
    })) else {
        panic!()
    };
    let pool = PoolId(pool.id);
    let action = |actor| PoolAction { actor, pool };
    w.ok(Command::JoinPool(action(bob)));
    assert_eq!(
        w.err(Command::JoinPool(action(carol))),
        ResultCode::PoolFull
    );
    assert_eq!(w.balance(bob), (units(90), units(10)));
    let mut order = World::order_command(alice, market, yes, BUY, 5_000, shares(40));
    order.pool = Some(pool);
    assert_eq!(
        w.err(Command::PlaceOrder(order.clone())),
        ResultCode::PoolNotActive
    );
    assert_eq!(
        w.err(Command::StartPool(action(bob))),
        ResultCode::NotPoolManager
    );
    w.ok(Command::StartPool(action(alice)));
    assert_eq!(w.balance(bob), (units(90), 0));
    w.ok(Command::PlaceOrder(order));
    w.placed(carol, market, no, BUY, 5_000, shares(40));
    assert_eq!(
        w.err(Command::SettlePool(action(alice))),
        ResultCode::PoolHasOpenExposure
    );
    w.resolve(creator, market, Some(yes), None);
    w.ok(Command::SettlePool(action(alice)));
    // The pool paid 20 for 40 YES, was paid 40 less 3% of 20: 39.4, half each.
    assert_eq!(w.balance(alice), (units(90) + units(197) / 10, 0));
    assert_eq!(w.balance(bob), (units(90) + units(197) / 10, 0));
}

#[test]
fn deposits_withdrawals_and_kyc_limits() {
    let mut w = World::new();
    let alice = w.funded("alice", 500);
    let admin = w.admin;
    let Reply::Created(method) = w.ok(Command::AddPaymentMethod(AddPaymentMethod {
        actor: alice,
        user: alice,
        method_type: PaymentMethodType::MobileMoney,
        provider: "ecocash".to_owned(),
        details_sealed: vec![1, 2, 3],
        display_hint: "•••• 1234".to_owned(),
    })) else {
        panic!()
    };
    let withdraw = |amount: i64| {
        Command::RequestWithdrawal(RequestWithdrawal {
            actor: alice,
            user: alice,
            currency: usd(),
            amount: Amount(amount),
            payment_method: PaymentMethodId(method.id),
            idempotency_key: None,
        })
    };
    // Level 0 may not withdraw at all.
    assert_eq!(
        w.err(withdraw(units(100))),
        ResultCode::WithdrawalLimitExceeded
    );
    let Reply::Created(doc) = w.ok(Command::SubmitKyc(SubmitKyc {
        user: alice,
        document_type: "passport".to_owned(),
        document_url: "kyc/1/passport.png".to_owned(),
        content_type: "image/png".to_owned(),
        size_bytes: 1_000,
        sha256: [7; 32],
    })) else {
        panic!()
    };
    w.ok(Command::DecideKyc(DecideKyc {
        actor: admin,
        document: KycDocumentId(doc.id),
        approve: true,
        kyc_level: 1,
        notes: String::new(),
    }));
    assert_eq!(
        w.err(withdraw(units(1_001))),
        ResultCode::WithdrawalLimitExceeded
    );
    assert_eq!(w.err(withdraw(-1)), ResultCode::InvalidAmount);
    // 100 plus a 1% fee is held.
    let Reply::Tx(first) = w.ok(withdraw(units(100))) else {
        panic!()
    };
    assert_eq!(w.balance(alice), (units(399), units(101)));
    w.ok(Command::CancelWithdrawal(CancelWithdrawal {
        actor: alice,
        withdrawal: first.tx,
    }));
    assert_eq!(w.balance(alice), (units(500), 0));
    let Reply::Tx(second) = w.ok(withdraw(units(100))) else {
        panic!()
    };
    assert_eq!(
        w.err(Command::DecideWithdrawal(DecideWithdrawal {
            actor: alice,
            withdrawal: second.tx,
            approve: true,
            notes: String::new(),
        })),
        ResultCode::Forbidden
    );
    w.ok(Command::DecideWithdrawal(DecideWithdrawal {
        actor: admin,
        withdrawal: second.tx,
        approve: true,
        notes: "paid".to_owned(),
    }));
    assert_eq!(w.balance(alice), (units(399), 0));
    assert_eq!(w.fees_balance(), units(1));
    assert_eq!(
        w.err(Command::CancelWithdrawal(CancelWithdrawal {
            actor: alice,
            withdrawal: second.tx,
        })),
        ResultCode::WithdrawalNotPending
    );
    assert_eq!(w.err(withdraw(units(400))), ResultCode::InsufficientFunds);
}

#[test]
fn idempotency_keys_replay_the_first_answer() {
    let mut w = World::new();
    let alice = w.register("alice");
    let deposit = |amount: i64| {
        Command::InitiateDeposit(InitiateDeposit {
            actor: alice,
            user: alice,
            currency: usd(),
            amount: Amount(amount),
            payment_method: "sandbox".to_owned(),
            idempotency_key: IdempotencyKey::new("key-1"),
        })
    };
    let first = w.ok(deposit(units(5)));
    let second = w.ok(deposit(units(5)));
    assert_eq!(first, second);
    assert_eq!(w.engine.wallet.txs.len(), 1);
    assert_eq!(w.err(deposit(units(6))), ResultCode::IdempotencyKeyConflict);
    // Keys age out after a day.
    w.advance(86_401);
    let third = w.ok(deposit(units(6)));
    assert_ne!(first, third);
}

#[test]
fn transfers_move_money_between_users() {
    let mut w = World::new();
    let alice = w.funded("alice", 100);
    let bob = w.register("bob");
    let send = |actor, recipient, amount| {
        Command::Transfer(Transfer {
            actor,
            sender: alice,
            recipient,
            currency: usd(),
            amount: Amount(amount),
            memo: "lunch".to_owned(),
            idempotency_key: None,
        })
    };
    assert_eq!(w.err(send(bob, bob, units(1))), ResultCode::Forbidden);
    assert_eq!(
        w.err(send(alice, alice, units(1))),
        ResultCode::SelfTransfer
    );
    assert_eq!(
        w.err(send(alice, bob, units(101))),
        ResultCode::InsufficientFunds
    );
    assert_eq!(
        w.err(send(alice, UserId(999), units(1))),
        ResultCode::UserNotFound
    );
    w.ok(send(alice, bob, units(30)));
    assert_eq!(w.balance(alice), (units(70), 0));
    assert_eq!(w.balance(bob), (units(30), 0));
    let history: Vec<bool> = w.engine.wallet.history(bob).map(|tx| tx.credit).collect();
    assert_eq!(history, vec![true]);
}

#[test]
fn wallets_are_one_per_currency_and_only_yours() {
    let mut w = World::new();
    let alice = w.register("alice");
    let bob = w.register("bob");
    let create = |actor, currency: &str| {
        Command::CreateWallet(CreateWallet {
            actor,
            user: alice,
            currency: Currency::new(currency).unwrap(),
        })
    };
    w.ok(create(alice, "EUR"));
    assert_eq!(w.err(create(alice, "EUR")), ResultCode::WalletExists);
    assert_eq!(w.err(create(bob, "USD")), ResultCode::Forbidden);
    assert_eq!(w.err(create(alice, "JPY")), ResultCode::UnsupportedCurrency);
}

#[test]
fn positions_close_against_the_book_back_and_lay() {
    let mut w = World::new();
    let creator = w.funded("creator", 0);
    let alice = w.funded("alice", 100);
    let bob = w.funded("bob", 100);
    let (market, outcomes) = w.market(creator, MarketType::Multiple, &["A", "B"]);
    // Alice lays A (sells YES she does not hold = buys NO_A at 0.60); bob backs A at 0.40.
    w.placed(alice, market, outcomes[0], SELL, 4_000, shares(10));
    w.placed(bob, market, outcomes[0], BUY, 4_000, shares(10));
    assert_eq!(w.holding(alice, outcomes[0]), (0, shares(10).0));
    assert_eq!(w.holding(bob, outcomes[0]), (shares(10).0, 0));
    // Bob offers his YES at 0.45; alice closes her lay by selling NO, no worse than 0.50.
    w.placed(bob, market, outcomes[0], SELL, 4_500, shares(10));
    let close = |actor, lay, worst| {
        Command::ClosePosition(ClosePosition {
            actor,
            pool: None,
            market,
            outcome: outcomes[0],
            lay,
            worst_price: Price(worst),
        })
    };
    assert_eq!(
        w.err(close(alice, false, 100)),
        ResultCode::PositionNotFound
    );
    let Reply::Order(report) = w.ok(close(alice, true, 5_000)) else {
        panic!()
    };
    assert_eq!(report.filled, shares(10));
    // The NO seller met the YES seller: the pair is burned and escrow pays both out.
    assert_eq!(w.holding(alice, outcomes[0]), (0, 0));
    assert_eq!(w.holding(bob, outcomes[0]), (0, 0));
    assert_eq!(
        w.balance(alice),
        (units(100) - units(6) + units(55) / 10, 0)
    );
    assert_eq!(w.balance(bob), (units(100) - units(4) + units(45) / 10, 0));
    assert_eq!(w.escrow(market), 0);
}
