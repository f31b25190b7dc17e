//! Engine tests: a harness that applies commands the way the runtime does and checks, after
//! every single command, every invariant the engine promises — the ledger balances, nothing
//! is negative, books are sound, escrow covers shares — and that a rejected command left the
//! state hash untouched.

mod feed;
mod games;
mod model;
mod replay;
mod rules;
mod safety;
mod social;
mod tournaments;
mod users;

use crate::{Ctx, Engine, Limits};
use betbet_protocol::command::*;
use betbet_protocol::event::Event;
use betbet_protocol::message::{OrderReport, Reply, Response};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::*;

pub fn usd() -> Currency {
    Currency::new("USD").unwrap()
}

/// Whole currency units.
pub fn units(n: i64) -> i64 {
    n * AMOUNT_SCALE
}

/// Whole shares.
pub fn shares(n: u64) -> Qty {
    Qty(n * QTY_SCALE)
}

pub struct World {
    pub engine: Engine,
    pub seq: u64,
    pub now: Timestamp,
    pub journal: Vec<JournalEntry>,
    pub events: Vec<Event>,
    pub admin: UserId,
    /// Compare state hashes around rejections (costs a snapshot per command).
    pub verify_rejections: bool,
}

impl World {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        let mut world = World {
            engine: Engine::new(limits),
            seq: 0,
            now: Timestamp::from_secs(1_700_000_000),
            journal: Vec::new(),
            events: Vec::new(),
            admin: UserId(0),
            verify_rejections: true,
        };
        world.ok(Command::Configure(Configure {
            actor: UserId::SYSTEM,
            platform_fee_bp: 200,
            withdrawal_fee_bp: 100,
            withdrawal_limits: vec![Amount(0), Amount(units(1_000)), Amount(units(100_000))],
            open_orders_per_user_max: 50,
            currencies: vec![usd(), Currency::new("EUR").unwrap()],
            // Proposals become final at the next tick unless a test sets a window.
            dispute_window_micros: 0,
            ..crate::Config::default().to_command(UserId::SYSTEM)
        }));
        let admin = world.register("admin");
        world.ok(Command::SetUserRole(SetUserRole {
            actor: UserId::SYSTEM,
            user: admin,
            role: Role::Admin,
        }));
        world.admin = admin;
        world
    }

    pub fn apply(&mut self, command: Command) -> Response {
        self.seq += 1;
        let ctx = Ctx {
            at: self.now,
            seed: self.seq.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            seq: self.seq,
        };
        let before = self.verify_rejections.then(|| self.engine.state_hash());
        let (seq_before, now_before) = (self.engine.seq, self.engine.now);
        let mut out = Vec::new();
        let response = self.engine.apply(&command, &ctx, &mut out);
        self.engine.check();
        if matches!(command, Command::Tick(_)) {
            // The runtime sleeps until the next deadline: one a tick leaves due would wake it
            // in a loop.
            assert!(
                self.engine.next_deadline().is_none_or(|d| d > ctx.at),
                "a tick left a deadline due"
            );
        }
        if let (Response::Rejected(code), Some(before)) = (&response, before)
            && *code != ResultCode::RefreshTokenReused
        {
            // The journal position and the clock move for every command; nothing else may.
            let (seq, now) = (self.engine.seq, self.engine.now);
            (self.engine.seq, self.engine.now) = (seq_before, now_before);
            let after = self.engine.state_hash();
            (self.engine.seq, self.engine.now) = (seq, now);
            assert_eq!(
                before,
                after,
                "{} was rejected with {code} but changed the state",
                command.kind()
            );
            assert!(out.is_empty());
        }
        self.journal.push(JournalEntry {
            at: ctx.at,
            seed: ctx.seed,
            command,
        });
        self.events.extend(out);
        response
    }

    #[track_caller]
    pub fn ok(&mut self, command: Command) -> Reply {
        let kind = command.kind();
        match self.apply(command) {
            Response::Accepted(reply) => reply,
            Response::Rejected(code) => panic!("{kind} rejected: {code}"),
        }
    }

    #[track_caller]
    pub fn err(&mut self, command: Command) -> ResultCode {
        let kind = command.kind();
        match self.apply(command) {
            Response::Accepted(reply) => panic!("{kind} accepted: {reply:?}"),
            Response::Rejected(code) => code,
        }
    }

    /// Resolves a market the way its tests mean it: trading halted first if it is still
    /// open, the resolution proposed by `actor`, and (with no dispute window) final at the
    /// next tick.
    #[track_caller]
    pub fn resolve(
        &mut self,
        actor: UserId,
        market: MarketId,
        winner: Option<OutcomeId>,
        scalar_value: Option<Amount>,
    ) {
        let open = self
            .engine
            .markets
            .get(market)
            .is_some_and(|m| m.status == MarketStatus::Open);
        if open {
            self.ok(Command::HaltMarket(HaltMarket { actor, market }));
        }
        self.ok(Command::ResolveMarket(ResolveMarket {
            actor,
            market,
            winner,
            scalar_value,
        }));
        self.ok(Command::Tick(Tick {}));
    }

    pub fn advance(&mut self, seconds: i64) {
        self.now = self.now.saturating_add_micros(seconds * 1_000_000);
        self.ok(Command::Tick(Tick {}));
    }

    pub fn register(&mut self, name: &str) -> UserId {
        match self.ok(Command::RegisterUser(RegisterUser {
            username: name.to_owned(),
            email: format!("{name}@example.com"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            referral_code: None,
        })) {
            Reply::UserRegistered(r) => r.user,
            other => panic!("{other:?}"),
        }
    }

    /// A sandbox deposit of `amount` by `user` into their USD wallet.
    pub fn deposit_command(user: UserId, amount: i64) -> Command {
        Command::InitiateDeposit(InitiateDeposit {
            actor: user,
            user,
            currency: usd(),
            amount: Amount(amount),
            payment_method: "sandbox".to_owned(),
            idempotency_key: None,
        })
    }

    /// Credits `user` through a confirmed deposit.
    pub fn deposit(&mut self, user: UserId, amount: i64) {
        let Reply::Tx(tx) = self.ok(Self::deposit_command(user, amount)) else {
            panic!()
        };
        self.ok(Command::ConfirmDeposit(ConfirmDeposit {
            actor: UserId::SYSTEM,
            deposit: tx.tx,
            provider_reference: "test".to_owned(),
        }));
    }

    pub fn funded(&mut self, name: &str, whole_units: i64) -> UserId {
        let user = self.register(name);
        if whole_units > 0 {
            self.deposit(user, units(whole_units));
        }
        user
    }

    pub fn market(
        &mut self,
        creator: UserId,
        market_type: MarketType,
        outcomes: &[&str],
    ) -> (MarketId, Vec<OutcomeId>) {
        match self.ok(Command::CreateMarket(CreateMarket {
            actor: creator,
            title: "Will it rain tomorrow?".to_owned(),
            description: "Resolves YES if it rains.".to_owned(),
            category: "weather".to_owned(),
            market_type,
            outcomes: outcomes.iter().map(|s| (*s).to_owned()).collect(),
            tick_size: TickSize::Cent,
            currency: usd(),
            opens_at: Timestamp::ZERO,
            closes_at: self.now.saturating_add_micros(86_400_000_000),
            creator_fee_bp: 100,
            oracle_type: OracleType::Manual,
            resolution_source: "the weather office".to_owned(),
            scalar_low: Amount(0),
            scalar_high: Amount(units(100)),
        })) {
            Reply::Market(m) => (m.market, m.outcomes),
            other => panic!("{other:?}"),
        }
    }

    pub fn binary(&mut self, creator: UserId) -> (MarketId, OutcomeId, OutcomeId) {
        let (market, outcomes) = self.market(creator, MarketType::Binary, &[]);
        (market, outcomes[0], outcomes[1])
    }

    pub fn order_command(
        user: UserId,
        market: MarketId,
        outcome: OutcomeId,
        side: Side,
        price: u32,
        qty: Qty,
    ) -> PlaceOrder {
        PlaceOrder {
            actor: user,
            pool: None,
            market,
            outcome,
            side,
            kind: OrderKind::Limit,
            price: Price(price),
            qty,
            time_in_force: TimeInForce::Gtc,
            expires_at: Timestamp::ZERO,
            post_only: false,
            client_order_id: None,
            self_trade: SelfTradePrevention::CancelResting,
        }
    }

    pub fn place(
        &mut self,
        user: UserId,
        market: MarketId,
        outcome: OutcomeId,
        side: Side,
        price: u32,
        qty: Qty,
    ) -> Response {
        self.apply(Command::PlaceOrder(Self::order_command(
            user, market, outcome, side, price, qty,
        )))
    }

    #[track_caller]
    pub fn placed(
        &mut self,
        user: UserId,
        market: MarketId,
        outcome: OutcomeId,
        side: Side,
        price: u32,
        qty: Qty,
    ) -> OrderReport {
        match self.place(user, market, outcome, side, price, qty) {
            Response::Accepted(Reply::Order(report)) => report,
            other => panic!("{other:?}"),
        }
    }

    /// (available, locked) of the user's USD wallet.
    pub fn balance(&self, user: UserId) -> (i64, i64) {
        let account = self.engine.users.get(user).unwrap().wallet(usd()).unwrap();
        let account = self.engine.ledger.get(account);
        (account.available, account.locked)
    }

    /// (YES, NO) shares the user holds on the contract of `outcome`.
    pub fn holding(&self, user: UserId, outcome: OutcomeId) -> (u64, u64) {
        let account = self.engine.users.get(user).unwrap().wallet(usd()).unwrap();
        let contract = self.engine.markets.outcome(outcome).unwrap().contract;
        self.engine
            .trading
            .position(account, contract)
            .map_or((0, 0), |p| (p.yes, p.no))
    }

    pub fn fees_balance(&self) -> i64 {
        self.engine
            .ledger
            .find(crate::ledger::Owner::Fees, usd())
            .map_or(0, |id| self.engine.ledger.get(id).balance())
    }

    pub fn escrow(&self, market: MarketId) -> i64 {
        let escrow = self.engine.markets.get(market).unwrap().escrow;
        self.engine.ledger.get(escrow).balance()
    }

    pub fn trades(&self) -> Vec<betbet_protocol::event::Trade> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Trade(t) => Some(*t),
                _ => None,
            })
            .collect()
    }
}
