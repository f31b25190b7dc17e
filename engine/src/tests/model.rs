//! The fast engine against an obviously correct reference: a plain list of resting orders
//! scanned in price-time order and per-user cash and share totals, updated by the textbook
//! formulas. Proptest drives both with the same random commands; after every command they
//! must agree on every fill, every balance (total and available) and every holding.

use super::*;
use betbet_protocol::event::BookSide;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct RefOrder {
    engine_id: OrderId,
    user: usize,
    side: BookSide,
    /// YES price of the limit.
    price: u32,
    remaining: u64,
    /// Share part still to sell.
    shares: u64,
    seq: u64,
}

#[derive(Debug, Default)]
struct Reference {
    resting: Vec<RefOrder>,
    cash: Vec<i64>,
    yes: Vec<u64>,
    no: Vec<u64>,
    next_seq: u64,
}

const SCALE: i64 = PRICE_SCALE as i64;

impl Reference {
    fn cash_per_unit(side: BookSide, price: u32) -> i64 {
        match side {
            BookSide::Bid => i64::from(price),
            BookSide::Ask => SCALE - i64::from(price),
        }
    }

    fn locked_cash(&self, user: usize) -> i64 {
        self.resting
            .iter()
            .filter(|o| o.user == user)
            .map(|o| Self::cash_per_unit(o.side, o.price) * (o.remaining - o.shares) as i64)
            .sum()
    }

    fn locked_shares(&self, user: usize, side: BookSide) -> u64 {
        self.resting
            .iter()
            .filter(|o| o.user == user && o.side == side)
            .map(|o| o.shares)
            .sum()
    }

    /// Applies one fill to a party, straight from the definitions.
    fn settle(&mut self, user: usize, side: BookSide, shares: u64, cashed: u64, trade_price: u32) {
        let t = i64::from(trade_price);
        let (s, c) = (shares as i64, cashed as i64);
        match side {
            BookSide::Bid => {
                self.no[user] -= shares;
                self.yes[user] += cashed;
                self.cash[user] += (SCALE - t) * s - t * c;
            }
            BookSide::Ask => {
                self.yes[user] -= shares;
                self.no[user] += cashed;
                self.cash[user] += t * s - (SCALE - t) * c;
            }
        }
    }

    /// Returns `None` if the order is refused (insufficient funds), else the fills as
    /// (maker user, YES price, qty) and the order if it rests.
    #[allow(clippy::type_complexity)]
    fn place(
        &mut self,
        user: usize,
        side: BookSide,
        sell: bool,
        price: u32,
        qty: u64,
        rests: bool,
    ) -> Option<(Vec<(usize, u32, u64)>, Option<RefOrder>)> {
        let held = match side {
            BookSide::Ask => self.yes[user] - self.locked_shares(user, BookSide::Ask),
            BookSide::Bid => self.no[user] - self.locked_shares(user, BookSide::Bid),
        };
        let shares = if sell { held.min(qty) } else { 0 };
        let need = Self::cash_per_unit(side, price) * (qty - shares) as i64;
        if self.cash[user] - self.locked_cash(user) < need {
            return None;
        }
        let mut taker = RefOrder {
            engine_id: OrderId(0),
            user,
            side,
            price,
            remaining: qty,
            shares,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let mut fills = Vec::new();
        while taker.remaining > 0 {
            // Best opposite order: lowest ask / highest bid, then earliest.
            let best = self
                .resting
                .iter()
                .enumerate()
                .filter(|(_, o)| o.side != side)
                .min_by_key(|(_, o)| {
                    let key = if side == BookSide::Bid {
                        o.price as i64
                    } else {
                        -(o.price as i64)
                    };
                    (key, o.seq)
                })
                .map(|(i, _)| i);
            let Some(i) = best else { break };
            let maker_price = self.resting[i].price;
            let acceptable = match side {
                BookSide::Bid => maker_price <= price,
                BookSide::Ask => maker_price >= price,
            };
            if !acceptable {
                break;
            }
            if self.resting[i].user == user {
                self.resting.remove(i);
                continue;
            }
            let q = taker.remaining.min(self.resting[i].remaining);
            let maker_shares = q.min(self.resting[i].shares);
            let taker_shares = q.min(taker.shares);
            let maker = self.resting[i].clone();
            self.settle(
                maker.user,
                maker.side,
                maker_shares,
                q - maker_shares,
                maker_price,
            );
            self.settle(user, side, taker_shares, q - taker_shares, maker_price);
            taker.remaining -= q;
            taker.shares -= taker_shares;
            self.resting[i].remaining -= q;
            self.resting[i].shares -= maker_shares;
            if self.resting[i].remaining == 0 {
                self.resting.remove(i);
            }
            fills.push((maker.user, maker_price, q));
        }
        let rested = (rests && taker.remaining > 0).then_some(taker);
        Some((fills, rested))
    }
}

#[derive(Debug, Clone)]
enum Op {
    Place {
        user: usize,
        no_view: bool,
        sell: bool,
        price: u32,
        qty: u64,
        rests: bool,
    },
    Cancel {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, any::<bool>(), any::<bool>(), 40..=60u32, 1..=20u64, any::<bool>()).prop_map(
            |(user, no_view, sell, tick, qty, rests)| Op::Place {
                user,
                no_view,
                sell,
                price: tick * 100,
                qty,
                rests,
            }
        ),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_model(ops in proptest::collection::vec(op(), 1..80)) {
        let mut w = World::new();
        w.verify_rejections = false;
        let maker = w.funded("maker", 1);
        let users: Vec<UserId> = (0..4).map(|i| w.funded(&format!("user{i}"), 200)).collect();
        let (market, yes, no) = w.binary(maker);
        let mut model = Reference {
            cash: vec![units(200); 4],
            yes: vec![0; 4],
            no: vec![0; 4],
            ..Reference::default()
        };
        let user_index = |id: UserId| users.iter().position(|&u| u == id).unwrap();
        for op in ops {
            let trades_before = w.trades().len();
            match op {
                Op::Place { user, no_view, sell, price, qty, rests } => {
                    let (side, yes_price) = match (no_view, sell) {
                        (false, false) => (BookSide::Bid, price),
                        (false, true) => (BookSide::Ask, price),
                        (true, false) => (BookSide::Ask, PRICE_SCALE - price),
                        (true, true) => (BookSide::Bid, PRICE_SCALE - price),
                    };
                    let mut command = World::order_command(
                        users[user],
                        market,
                        if no_view { no } else { yes },
                        if sell { Side::Sell } else { Side::Buy },
                        price,
                        shares(qty),
                    );
                    if !rests {
                        command.time_in_force = TimeInForce::Ioc;
                    }
                    let expected = model.place(user, side, sell, yes_price, shares(qty).0, rests);
                    let response = w.apply(Command::PlaceOrder(command));
                    match (expected, response) {
                        (None, Response::Rejected(code)) => {
                            prop_assert_eq!(code, ResultCode::InsufficientFunds);
                        }
                        (Some((fills, rested)), Response::Accepted(Reply::Order(report))) => {
                            let got: Vec<(usize, u32, u64)> = w.trades()[trades_before..]
                                .iter()
                                .map(|t| (user_index(t.maker_user), t.price.0, t.qty.0))
                                .collect();
                            prop_assert_eq!(got, fills);
                            if let Some(mut order) = rested {
                                order.engine_id = report.order;
                                model.resting.push(order);
                            }
                        }
                        (expected, response) => {
                            prop_assert!(false, "model {:?} engine {:?}", expected, response);
                        }
                    }
                }
                Op::Cancel { pick } => {
                    if model.resting.is_empty() {
                        continue;
                    }
                    let order = model.resting.remove(pick % model.resting.len());
                    w.ok(Command::CancelOrder(CancelOrder {
                        actor: users[order.user],
                        order: order.engine_id,
                    }));
                }
            }
            // Self-trade prevention may have cancelled resting orders in the engine; the
            // model removed the same ones. Now every balance and holding must agree.
            for (i, &user) in users.iter().enumerate() {
                let (available, locked) = w.balance(user);
                prop_assert_eq!(available + locked, model.cash[i], "total of user {}", i);
                prop_assert_eq!(available, model.cash[i] - model.locked_cash(i), "available of user {}", i);
                prop_assert_eq!(w.holding(user, yes), (model.yes[i], model.no[i]), "shares of user {}", i);
            }
        }
    }
}

/// A seeded mix of everything the engine does, for the determinism tests. Returns a random
/// point of the journal to cut a snapshot at.
pub fn random_workload(w: &mut World, seed: u64, commands: usize) -> usize {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n.max(1)
    };
    let creator = w.funded("creator", 10);
    let users: Vec<UserId> = (0..6)
        .map(|i| w.funded(&format!("user{i}"), 1_000))
        .collect();
    let mut markets = vec![w.binary(creator).0];
    markets.push(w.market(creator, MarketType::Multiple, &["A", "B", "C"]).0);
    markets.push(w.market(creator, MarketType::Scalar, &[]).0);
    let start = w.journal.len();
    let mut orders: Vec<(UserId, OrderId)> = Vec::new();
    for _ in 0..commands {
        let user = users[next(users.len() as u64) as usize];
        // Mostly live markets, now and then a settled one (whose commands must be refused).
        let live: Vec<MarketId> = markets
            .iter()
            .copied()
            .filter(|&m| !w.engine.markets.get(m).unwrap().is_settled())
            .collect();
        let market = if live.is_empty() || next(20) == 0 {
            markets[next(markets.len() as u64) as usize]
        } else {
            live[next(live.len() as u64) as usize]
        };
        let record = w.engine.markets.get(market).unwrap().clone();
        let outcome = record.outcomes[next(record.outcomes.len() as u64) as usize];
        match next(20) {
            0..=10 => {
                let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
                let mut order = World::order_command(
                    user,
                    market,
                    outcome,
                    side,
                    100 * (30 + next(40) as u32),
                    shares(1 + next(20)),
                );
                order.time_in_force = [
                    TimeInForce::Gtc,
                    TimeInForce::Ioc,
                    TimeInForce::Gtd,
                    TimeInForce::Fok,
                ][next(4) as usize];
                order.expires_at = w
                    .now
                    .saturating_add_micros(1_000_000 * (1 + next(120) as i64));
                order.post_only = order.time_in_force == TimeInForce::Gtc && next(5) == 0;
                if next(7) == 0 {
                    order.kind = OrderKind::Market;
                }
                if next(5) == 0 {
                    order.client_order_id = ClientOrderId::new(&format!("c{}", next(30)));
                }
                if let Response::Accepted(Reply::Order(report)) =
                    w.apply(Command::PlaceOrder(order))
                {
                    orders.push((user, report.order));
                }
            }
            11..=12 if !orders.is_empty() => {
                let (owner, order) = orders[next(orders.len() as u64) as usize];
                w.apply(Command::CancelOrder(CancelOrder {
                    actor: owner,
                    order,
                }));
            }
            13 if !orders.is_empty() => {
                let (owner, order) = orders[next(orders.len() as u64) as usize];
                w.apply(Command::AmendOrder(AmendOrder {
                    actor: owner,
                    order,
                    qty: shares(1 + next(10)),
                    price: Price(100 * (30 + next(40) as u32)),
                }));
            }
            14 => {
                w.apply(Command::MintShares(MintShares {
                    actor: user,
                    pool: None,
                    market,
                    outcome: None,
                    qty: shares(1 + next(5)),
                }));
            }
            15 => {
                w.apply(Command::MergeShares(MergeShares {
                    actor: user,
                    pool: None,
                    market,
                    outcome: None,
                    qty: shares(1 + next(3)),
                }));
            }
            16 => {
                let other = users[next(users.len() as u64) as usize];
                w.apply(Command::Transfer(Transfer {
                    actor: user,
                    sender: user,
                    recipient: other,
                    currency: usd(),
                    amount: Amount(units(1 + next(20) as i64)),
                    memo: String::new(),
                    idempotency_key: IdempotencyKey::new(&format!("t{}", next(10))),
                }));
            }
            17 => {
                w.now = w.now.saturating_add_micros(1_000_000 * next(90) as i64);
                w.apply(Command::Tick(Tick {}));
            }
            18 if next(10) == 0 => {
                let ending = if record.market_type == MarketType::Scalar {
                    (None, Some(Amount(units(next(100) as i64))))
                } else {
                    (Some(outcome), None)
                };
                // Halted first (resolution needs a closed market); final at the next tick.
                w.apply(Command::HaltMarket(HaltMarket {
                    actor: creator,
                    market,
                }));
                w.apply(Command::ResolveMarket(ResolveMarket {
                    actor: creator,
                    market,
                    winner: ending.0,
                    scalar_value: ending.1,
                }));
                w.apply(Command::Tick(Tick {}));
                let fresh = w.binary(creator).0;
                markets.push(fresh);
            }
            19 if next(10) == 0 => {
                let admin = w.admin;
                w.apply(Command::VoidMarket(VoidMarket {
                    actor: admin,
                    market,
                }));
                let fresh = w.market(creator, MarketType::Multiple, &["X", "Y"]).0;
                markets.push(fresh);
            }
            _ if next(4) == 0 => {
                w.apply(Command::CancelAll(CancelAll {
                    actor: user,
                    market,
                    pool: None,
                }));
            }
            _ if next(3) == 0 => {
                // A mass quote on one or two books (two outcomes of a binary market share
                // one book, which is refused).
                let quotes = (0..1 + next(2))
                    .map(|_| {
                        let bid = 100 * (30 + next(30) as u32);
                        Quote {
                            outcome: record.outcomes[next(record.outcomes.len() as u64) as usize],
                            bid_price: Price(bid),
                            bid_qty: shares(next(8)),
                            ask_price: Price(bid + 100 * (1 + next(20) as u32)),
                            ask_qty: shares(next(8)),
                        }
                    })
                    .collect();
                if let Response::Accepted(Reply::Quotes(quoted)) =
                    w.apply(Command::MassQuote(MassQuote {
                        actor: user,
                        market,
                        quotes,
                    }))
                {
                    orders.extend(quoted.orders.iter().map(|&order| (user, order)));
                }
            }
            _ => {}
        }
    }
    start + next((w.journal.len() - start) as u64) as usize
}
