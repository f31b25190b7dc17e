//! A seeded trading workload for the engine: about 60 % passive limit orders, 30 % cancels
//! and 10 % marketable orders over ten binary markets and a thousand funded users.
//!
//! The workload is generated adaptively (cancels name orders that are really resting) by
//! running it once; the recorded commands, with the exact context each was stamped with,
//! then replay deterministically on a clone of the starting engine, which is what the
//! benchmark times.

use betbet_engine::{Ctx, Engine, Limits};
use betbet_protocol::command::{
    CancelOrder, Command, Configure, ConfirmDeposit, CreateMarket, InitiateDeposit, MarketType,
    OracleType, OrderKind, PlaceOrder, RegisterUser, SelfTradePrevention, Side, Tick, TickSize,
    TimeInForce,
};
use betbet_protocol::event::Event;
use betbet_protocol::message::{Reply, Response};
use betbet_protocol::types::{
    AMOUNT_SCALE, Amount, Currency, MarketId, OrderId, OutcomeId, Price, QTY_SCALE, Qty, Timestamp,
    UserId,
};
use std::collections::HashMap;

/// Each user's deposit: far more than ~300 resting orders of at most 10 shares need, and
/// a thousand of them stay inside the largest currency supply the engine allows.
const BALANCE_UNITS: i64 = 10_000_000;

pub const USERS: usize = 1_000;
pub const MARKETS: usize = 10;

/// The starting engine and the recorded commands.
pub struct Workload {
    pub engine: Engine,
    /// The commands that built `engine` from an empty one (configuration, users, deposits,
    /// markets), with their contexts: with `commands` after them, a whole journal.
    pub setup: Vec<(Command, Ctx)>,
    pub commands: Vec<(Command, Ctx)>,
    pub places: usize,
    pub cancels: usize,
    pub marketable: usize,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: plenty for a workload, and no dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Driver {
    engine: Engine,
    seq: u64,
    now: Timestamp,
    out: Vec<Event>,
}

impl Driver {
    fn apply(&mut self, command: &Command) -> (Response, Ctx) {
        self.seq += 1;
        self.now = self.now.saturating_add_micros(1);
        let ctx = Ctx {
            at: self.now,
            seed: self.seq,
            seq: self.seq,
        };
        self.out.clear();
        let response = self.engine.apply(command, &ctx, &mut self.out);
        (response, ctx)
    }
}

fn place(
    user: UserId,
    market: MarketId,
    outcome: OutcomeId,
    price: u32,
    qty: u64,
    tif: TimeInForce,
) -> Command {
    Command::PlaceOrder(PlaceOrder {
        actor: user,
        pool: None,
        market,
        outcome,
        side: Side::Buy,
        kind: OrderKind::Limit,
        price: Price(price),
        qty: Qty(qty * QTY_SCALE),
        time_in_force: tif,
        expires_at: Timestamp::ZERO,
        post_only: false,
        client_order_id: None,
        self_trade: SelfTradePrevention::CancelResting,
    })
}

/// Builds the starting engine and records `count` workload commands.
pub fn build(seed: u64, count: usize) -> Workload {
    let mut driver = Driver {
        engine: Engine::new(Limits::default()),
        seq: 0,
        now: Timestamp::from_secs(1_700_000_000),
        out: Vec::with_capacity(1 << 10),
    };
    let usd = Currency::new("USD").expect("valid");
    let mut recorded = Vec::new();
    let mut setup = |driver: &mut Driver, command: Command| {
        let (response, ctx) = driver.apply(&command);
        let reply = match response {
            Response::Accepted(reply) => reply,
            Response::Rejected(code) => panic!("setup {} rejected: {code}", command.kind()),
        };
        recorded.push((command, ctx));
        reply
    };
    setup(
        &mut driver,
        Command::Configure(Configure {
            platform_fee_bp: 200,
            withdrawal_fee_bp: 0,
            withdrawal_limits: vec![Amount(0)],
            open_orders_per_user_max: 100_000,
            currencies: vec![usd],
            wallet_balance_max: Amount(BALANCE_UNITS * AMOUNT_SCALE),
            currency_supply_max: Amount(betbet_engine::CURRENCY_SUPPLY_CEILING),
            ..betbet_engine::Config::default().to_command(UserId::SYSTEM)
        }),
    );
    let mut users = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let Reply::UserRegistered(user) = setup(
            &mut driver,
            Command::RegisterUser(RegisterUser {
                username: format!("trader{i:04}"),
                email: format!("trader{i:04}@bench.betbet"),
                password_hash: "$argon2id$bench".to_owned(),
                referral_code: None,
            }),
        ) else {
            unreachable!()
        };
        let Reply::Tx(deposit) = setup(
            &mut driver,
            Command::InitiateDeposit(InitiateDeposit {
                actor: user.user,
                user: user.user,
                currency: usd,
                amount: Amount(BALANCE_UNITS * AMOUNT_SCALE),
                payment_method: "sandbox".to_owned(),
                idempotency_key: None,
            }),
        ) else {
            unreachable!()
        };
        setup(
            &mut driver,
            Command::ConfirmDeposit(ConfirmDeposit {
                actor: UserId::SYSTEM,
                deposit: deposit.tx,
                provider_reference: "bench".to_owned(),
            }),
        );
        users.push(user.user);
    }
    let mut markets = Vec::with_capacity(MARKETS);
    for i in 0..MARKETS {
        let Reply::Market(market) = setup(
            &mut driver,
            Command::CreateMarket(CreateMarket {
                actor: users[0],
                title: format!("Benchmark market {i}"),
                description: String::new(),
                category: "bench".to_owned(),
                market_type: MarketType::Binary,
                outcomes: vec![],
                tick_size: TickSize::Cent,
                currency: usd,
                opens_at: Timestamp::ZERO,
                closes_at: Timestamp::from_secs(2_000_000_000),
                creator_fee_bp: 100,
                oracle_type: OracleType::Manual,
                resolution_source: String::new(),
                scalar_low: Amount(0),
                scalar_high: Amount(1),
            }),
        ) else {
            unreachable!()
        };
        markets.push((market.market, market.outcomes[0], market.outcomes[1]));
    }
    setup(&mut driver, Command::Tick(Tick {}));
    let recorded = recorded;
    let engine = driver.engine.clone();

    let mut rng = Rng(seed | 1);
    let mut live: Vec<(UserId, OrderId)> = Vec::new();
    let mut index: HashMap<OrderId, usize> = HashMap::new();
    let mut commands = Vec::with_capacity(count);
    let (mut places, mut cancels, mut marketable) = (0, 0, 0);
    for _ in 0..count {
        let roll = rng.below(100);
        let user = users[rng.below(USERS as u64) as usize];
        let (market, yes, no) = markets[rng.below(MARKETS as u64) as usize];
        let command = if roll < 60 || (roll < 90 && live.is_empty()) {
            places += 1;
            // Bids at 0.40..0.49 (buy YES), asks at 0.51..0.60 (buy NO at 0.40..0.49):
            // passive on both sides, spread never crossed.
            let outcome = if rng.below(2) == 0 { yes } else { no };
            let price = 4_000 + 100 * rng.below(10) as u32;
            place(
                user,
                market,
                outcome,
                price,
                1 + rng.below(10),
                TimeInForce::Gtc,
            )
        } else if roll < 90 {
            cancels += 1;
            let pick = rng.below(live.len() as u64) as usize;
            let (owner, order) = live[pick];
            Command::CancelOrder(CancelOrder {
                actor: owner,
                order,
            })
        } else {
            marketable += 1;
            let outcome = if rng.below(2) == 0 { yes } else { no };
            place(
                user,
                market,
                outcome,
                6_000,
                1 + rng.below(5),
                TimeInForce::Ioc,
            )
        };
        let (response, ctx) = driver.apply(&command);
        if let (Command::PlaceOrder(_), Response::Accepted(Reply::Order(report))) =
            (&command, &response)
            && report.status.is_open()
        {
            let owner = match &command {
                Command::PlaceOrder(p) => p.actor,
                _ => unreachable!(),
            };
            index.insert(report.order, live.len());
            live.push((owner, report.order));
        }
        for event in &driver.out {
            if let Event::OrderUpdated(update) = event
                && !update.status.is_open()
                && let Some(position) = index.remove(&update.order)
            {
                live.swap_remove(position);
                if let Some(&(_, moved)) = live.get(position) {
                    index.insert(moved, position);
                }
            }
        }
        commands.push((command, ctx));
    }
    Workload {
        engine,
        setup: recorded,
        commands,
        places,
        cancels,
        marketable,
    }
}

/// Writes the workload's whole journal — setup, then `count` seeded commands — into the
/// data directory `data_dir` (its `journal/`), as a running core would have: the input of
/// the history store's rebuild benchmark (`betbet projection rebuild`). Returns the number
/// of records.
pub fn write_journal(data_dir: &std::path::Path, seed: u64, count: usize) -> std::io::Result<u64> {
    use betbet_protocol::codec::Encode;
    let workload = build(seed, count);
    let options = betbet_journal::Options {
        durability: betbet_journal::Durability::None,
        ..betbet_journal::Options::default()
    };
    let (mut journal, _) = betbet_journal::Journal::open_dir(data_dir.join("journal"), options)
        .map_err(std::io::Error::other)?;
    let mut bytes = Vec::with_capacity(256);
    for (command, ctx) in workload.setup.into_iter().chain(workload.commands) {
        let entry = betbet_protocol::command::JournalEntry {
            at: ctx.at,
            seed: ctx.seed,
            command,
        };
        bytes.clear();
        entry.encode(&mut bytes);
        let seq = journal.append(&bytes).map_err(std::io::Error::other)?;
        assert_eq!(seq, ctx.seq, "the journal's seqs are the workload's");
    }
    journal.sync().map_err(std::io::Error::other)?;
    journal.close().map_err(std::io::Error::other)
}
