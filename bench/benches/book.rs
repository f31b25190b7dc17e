//! Order-book benchmarks: BetBet's book against matchcore 0.4.0 and lobster 0.7.0 on the
//! same input. Setup (building the books) is outside the timed region.
//!
//! - `book_add_cancel_10k`: add 10 000 passive bids over 100 price levels, then cancel them
//!   all in the order they were added.
//! - `book_market_10k`: 10 000 one-lot market buys into 10 000 resting one-lot asks.
//!
//! Each library reports fills its own way; BetBet's standalone book hands each fill to a
//! callback that records it, so every contender does the work of reporting.
//!
//! Run: `cargo bench -p betbet-bench --bench book`

use betbet_engine::book::StandaloneBook;
use betbet_protocol::command::TickSize;
use betbet_protocol::event::BookSide;
use betbet_protocol::types::Price;
use criterion::{BatchSize, Criterion, Throughput, black_box, criterion_group, criterion_main};

const ORDERS: u64 = 10_000;
const LEVELS: u64 = 100;
/// Bids sit at 0.4000..0.4099 on the finest grid; asks at 0.6000..0.6099.
const BID_BASE: u64 = 4_000;
const ASK_BASE: u64 = 6_000;

fn matchcore_limit(i: u64, price: u64, side: matchcore::Side) -> matchcore::Command {
    use matchcore::*;
    Command {
        meta: CommandMeta {
            sequence_number: SequenceNumber(i),
            timestamp: Timestamp(i),
        },
        kind: CommandKind::Submit(SubmitCmd {
            order: NewOrder::Limit(LimitOrder::new(
                Price(price),
                QuantityPolicy::Standard {
                    quantity: Quantity(1),
                },
                OrderFlags::new(side, false, TimeInForce::Gtc),
            )),
        }),
    }
}

fn matchcore_cancel(i: u64, order: u64) -> matchcore::Command {
    use matchcore::*;
    Command {
        meta: CommandMeta {
            sequence_number: SequenceNumber(i),
            timestamp: Timestamp(i),
        },
        kind: CommandKind::Cancel(CancelCmd {
            order_id: OrderId(order),
            order_kind: OrderKind::Limit,
        }),
    }
}

fn matchcore_market(i: u64) -> matchcore::Command {
    use matchcore::*;
    Command {
        meta: CommandMeta {
            sequence_number: SequenceNumber(i),
            timestamp: Timestamp(i),
        },
        kind: CommandKind::Submit(SubmitCmd {
            order: NewOrder::Market(MarketOrder::new(Quantity(1), Side::Buy, false)),
        }),
    }
}

fn add_cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_add_cancel_10k");
    group.throughput(Throughput::Elements(ORDERS));

    group.bench_function("betbet", |b| {
        b.iter_batched_ref(
            || {
                (
                    StandaloneBook::new(TickSize::TenThousandth, ORDERS as usize),
                    Vec::with_capacity(ORDERS as usize),
                )
            },
            |(book, slots)| {
                for i in 0..ORDERS {
                    let price = Price((BID_BASE + i % LEVELS) as u32);
                    slots.push(book.add(BookSide::Bid, black_box(price), 1).unwrap());
                }
                for &slot in slots.iter() {
                    book.cancel(black_box(slot));
                }
            },
            BatchSize::LargeInput,
        )
    });

    let adds: Vec<matchcore::Command> = (0..ORDERS)
        .map(|i| matchcore_limit(i, BID_BASE + i % LEVELS, matchcore::Side::Buy))
        .collect();
    let cancels: Vec<matchcore::Command> = (0..ORDERS)
        .map(|i| matchcore_cancel(ORDERS + i, i))
        .collect();
    group.bench_function("matchcore", |b| {
        b.iter_batched_ref(
            || matchcore::OrderBook::new("BENCH"),
            |book| {
                for command in adds.iter().chain(&cancels) {
                    black_box(book.execute(black_box(command)));
                }
            },
            BatchSize::LargeInput,
        )
    });

    group.bench_function("lobster", |b| {
        b.iter_batched_ref(
            lobster::OrderBook::default,
            |book| {
                for i in 0..ORDERS {
                    black_box(book.execute(lobster::OrderType::Limit {
                        id: u128::from(i),
                        side: lobster::Side::Bid,
                        qty: 1,
                        price: black_box(BID_BASE + i % LEVELS),
                    }));
                }
                for i in 0..ORDERS {
                    black_box(book.execute(lobster::OrderType::Cancel { id: u128::from(i) }));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn market(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_market_10k");
    group.throughput(Throughput::Elements(ORDERS));

    group.bench_function("betbet", |b| {
        b.iter_batched_ref(
            || {
                let mut book = StandaloneBook::new(TickSize::TenThousandth, ORDERS as usize);
                for i in 0..ORDERS {
                    book.add(BookSide::Ask, Price((ASK_BASE + i % LEVELS) as u32), 1)
                        .unwrap();
                }
                (book, Vec::with_capacity(ORDERS as usize))
            },
            |(book, fills)| {
                for _ in 0..ORDERS {
                    book.market(BookSide::Bid, black_box(1), |slot, price, qty| {
                        fills.push((slot, price, qty))
                    });
                }
            },
            BatchSize::LargeInput,
        )
    });

    let markets: Vec<matchcore::Command> =
        (0..ORDERS).map(|i| matchcore_market(ORDERS + i)).collect();
    group.bench_function("matchcore", |b| {
        b.iter_batched_ref(
            || {
                let mut book = matchcore::OrderBook::new("BENCH");
                for i in 0..ORDERS {
                    book.execute(&matchcore_limit(
                        i,
                        ASK_BASE + i % LEVELS,
                        matchcore::Side::Sell,
                    ));
                }
                book
            },
            |book| {
                for command in &markets {
                    black_box(book.execute(black_box(command)));
                }
            },
            BatchSize::LargeInput,
        )
    });

    group.bench_function("lobster", |b| {
        b.iter_batched_ref(
            || {
                let mut book = lobster::OrderBook::default();
                for i in 0..ORDERS {
                    book.execute(lobster::OrderType::Limit {
                        id: u128::from(i),
                        side: lobster::Side::Ask,
                        qty: 1,
                        price: ASK_BASE + i % LEVELS,
                    });
                }
                book
            },
            |book| {
                for i in 0..ORDERS {
                    black_box(book.execute(lobster::OrderType::Market {
                        id: u128::from(ORDERS + i),
                        side: lobster::Side::Bid,
                        qty: black_box(1),
                    }));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, add_cancel, market);
criterion_main!(benches);
