//! BetBet's core: one deterministic state machine for money, markets and users, and the
//! runtime thread that feeds it.
//!
//! [`Engine::apply`] takes a command and the context the runtime stamped on it (time, seed,
//! journal sequence) and returns a [`Response`], pushing the events it caused. It does no IO,
//! reads no clock, draws no randomness of its own and allocates nothing on the trading hot
//! path once its arenas are warm, so replaying the journal reproduces the live run exactly
//! (see [`Engine::state_hash`]).
//!
//! Every command either applies completely or is rejected with a [`ResultCode`] having
//! changed nothing: handlers check everything first and mutate after. Broken invariants
//! (a negative balance, a crossed book, an escrow that does not cover its shares) are
//! `assert!`s that stay on in release builds — stopping is better than inventing money.
//!
//! Module map: one folder per domain, each a command family registered once in
//! `families!` below — `accounts` (users, sessions, 2FA, KYC, feed API keys),
//! `wallet` (deposits, withdrawals, transfers, history) and `markets` (markets and
//! settlement, the order [`book`], matching and positions, betting pools) and `games`
//! (the catalog, staked sessions, rule sets and provably fair draws). Shared by all:
//! [`ledger`] (double-entry accounts), `query` (reads), [`snapshot`] (state encoding), and,
//! around the engine, `runtime` (the thread, the journal and the sockets — the only module
//! with IO).

#![deny(clippy::float_arithmetic)]

mod accounts;
mod family;
mod games;
pub mod ledger;
mod markets;
mod query;
pub mod runtime;
pub mod snapshot;
pub mod social;
pub mod text;
pub mod tournaments;
mod wallet;

pub use markets::book;

#[cfg(test)]
mod tests;

use betbet_protocol::command::{Command, Configure};
use betbet_protocol::event::Event;
use betbet_protocol::message::{Empty, Reply, Response};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{Amount, Currency, Timestamp, UserId};

pub use accounts::users::Users;
pub use markets::market::Markets;
pub use markets::pool::Pools;
pub use markets::trading::Trading;
pub use wallet::Wallet;

/// What the runtime stamps on a command before journaling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// The command's time. The engine's clock never runs backwards: an earlier stamp (a
    /// wall-clock step back) is treated as "no time passed".
    pub at: Timestamp,
    /// Randomness for this command (referral codes today).
    pub seed: u64,
    /// The command's journal sequence number.
    pub seq: u64,
}

/// Capacities fixed when the engine is created. Each collection the engine owns is bounded
/// by one of these; going over is a typed rejection, never growth without limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub users_max: u32,
    pub accounts_max: u32,
    pub markets_max: u32,
    pub outcomes_per_market_max: u32,
    /// Open (resting or being matched) orders across all books.
    pub orders_max: u32,
    /// Positions across all accounts and contracts.
    pub positions_max: u32,
    /// Ended orders kept findable by id, for order history and for answering a repeated
    /// client order id (older history lives in the Postgres projection).
    pub closed_orders_kept: u32,
    /// Wallet transactions kept in memory (older ones live in the Postgres projection).
    pub transactions_kept: u32,
    pub sessions_per_user_max: u32,
    pub sessions_max: u32,
    pub idempotency_kept: u32,
    pub pools_max: u32,
    pub pool_members_max: u32,
    pub kyc_documents_per_user_max: u32,
    pub payment_methods_per_user_max: u32,
    pub wallets_per_user_max: u32,
    /// Recent trades kept per contract for market-data snapshots.
    pub recent_trades_kept: u32,
    /// Games in the catalog.
    pub games_max: u32,
    /// Waiting and active game sessions.
    pub game_sessions_max: u32,
    /// Ended game sessions kept in memory (older ones live in the history store).
    pub game_sessions_kept: u32,
    pub spectators_per_session_max: u32,
    /// Seats one user may hold in waiting and active sessions at once.
    pub game_seats_per_user_max: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            users_max: 1_000_000,
            accounts_max: 4_000_000,
            markets_max: 100_000,
            outcomes_per_market_max: 32,
            orders_max: 1_000_000,
            positions_max: 4_000_000,
            closed_orders_kept: 100_000,
            transactions_kept: 1_000_000,
            sessions_per_user_max: 16,
            sessions_max: 2_000_000,
            idempotency_kept: 1_000_000,
            pools_max: 100_000,
            pool_members_max: 1_000,
            kyc_documents_per_user_max: 20,
            payment_methods_per_user_max: 10,
            wallets_per_user_max: 10,
            recent_trades_kept: 100,
            games_max: 1_000,
            game_sessions_max: 100_000,
            game_sessions_kept: 100_000,
            spectators_per_session_max: 1_000,
            game_seats_per_user_max: 20,
        }
    }
}

/// Settings that change results; they arrive as a journaled [`Command::Configure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub platform_fee_bp: u16,
    pub withdrawal_fee_bp: u16,
    /// What a user may withdraw per currency over any 24 hours, per KYC level.
    pub withdrawal_limits: Vec<Amount>,
    pub open_orders_per_user_max: u32,
    pub currencies: Vec<Currency>,
    /// The largest balance, pending deposits included, that deposits and transfers received
    /// may bring a wallet to (payouts of what it already staked may go past it).
    pub wallet_balance_max: Amount,
    /// The most of one currency inside the platform (deposited and not withdrawn). Every
    /// account but the world's is at most this, and so is every sum of them: at most
    /// [`CURRENCY_SUPPLY_CEILING`], no balance, escrow, payout or sum of them can overflow.
    pub currency_supply_max: Amount,
    /// How long a proposed resolution may be disputed before it is final, in µs.
    pub dispute_window_micros: i64,
}

/// The largest `currency_supply_max` (2^60 units of 10^-8, about 11.5 billion): eight
/// times over it still fits in an `i64`.
pub const CURRENCY_SUPPLY_CEILING: i64 = 1 << 60;
/// The longest dispute window: 30 days.
pub const DISPUTE_WINDOW_MAX_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;

impl Config {
    /// The settings a `Configure` command sets.
    pub fn from_command(c: &Configure) -> Config {
        Config {
            platform_fee_bp: c.platform_fee_bp,
            withdrawal_fee_bp: c.withdrawal_fee_bp,
            withdrawal_limits: c.withdrawal_limits.clone(),
            open_orders_per_user_max: c.open_orders_per_user_max,
            currencies: c.currencies.clone(),
            wallet_balance_max: c.wallet_balance_max,
            currency_supply_max: c.currency_supply_max,
            dispute_window_micros: c.dispute_window_micros,
        }
    }

    /// A `Configure` command that sets these settings.
    pub fn to_command(&self, actor: UserId) -> Configure {
        Configure {
            actor,
            platform_fee_bp: self.platform_fee_bp,
            withdrawal_fee_bp: self.withdrawal_fee_bp,
            withdrawal_limits: self.withdrawal_limits.clone(),
            open_orders_per_user_max: self.open_orders_per_user_max,
            currencies: self.currencies.clone(),
            wallet_balance_max: self.wallet_balance_max,
            currency_supply_max: self.currency_supply_max,
            dispute_window_micros: self.dispute_window_micros,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let units = |n: i64| Amount(n * betbet_protocol::types::AMOUNT_SCALE);
        Config {
            platform_fee_bp: 200,
            withdrawal_fee_bp: 0,
            // Level 0 (unverified) may not withdraw; each verified level raises the cap.
            withdrawal_limits: vec![units(0), units(1_000), units(10_000), units(1_000_000)],
            open_orders_per_user_max: 1_000,
            currencies: ["USD", "EUR", "GBP", "USDC", "BTC", "ETH", "ZWG"]
                .iter()
                .map(|c| Currency::new(c).expect("valid currency"))
                .collect(),
            wallet_balance_max: units(100_000_000),
            currency_supply_max: units(10_000_000_000),
            dispute_window_micros: 24 * 3600 * 1_000_000,
        }
    }
}

/// Validation limits of `Configure` itself.
const CONFIG_CURRENCIES_MAX: usize = 64;
const CONFIG_LEVELS_MAX: usize = 16;
const FEE_BP_MAX: u16 = 5_000;

/// The state machine. See the crate docs. Compare two engines by [`Engine::state_hash`].
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) limits: Limits,
    pub(crate) config: Config,
    pub(crate) now: Timestamp,
    /// The journal sequence of the last applied command.
    pub(crate) seq: u64,
    pub(crate) ledger: ledger::Ledger,
    pub(crate) users: Users,
    pub(crate) wallet: Wallet,
    pub(crate) markets: Markets,
    pub(crate) trading: Trading,
    pub(crate) pools: Pools,
    pub(crate) api_keys: accounts::apikeys::ApiKeys,
    pub(crate) games: games::Games,
    pub(crate) social: social::Social,
}

impl Engine {
    pub fn new(limits: Limits) -> Self {
        Engine {
            trading: Trading::new(&limits),
            limits,
            config: Config::default(),
            now: Timestamp::ZERO,
            seq: 0,
            ledger: ledger::Ledger::new(),
            users: Users::default(),
            wallet: Wallet::default(),
            markets: Markets::default(),
            pools: Pools::default(),
            api_keys: accounts::apikeys::ApiKeys::default(),
            games: games::Games::default(),
            social: social::Social::default(),
        }
    }

    /// Sizes the engine's arenas to its limits up front, so the trading hot path never
    /// reallocates, and writes them once so the hot path takes no page faults either (the
    /// order arena at the default limits is 256 MB, resident from then on). The runtime
    /// calls it once at start-up (after restoring a snapshot, whose collections are only as
    /// large as their contents).
    pub fn reserve_arenas(&mut self) {
        self.trading.reserve(&self.limits);
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The journal sequence of the last command applied.
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    pub fn ledger(&self) -> &ledger::Ledger {
        &self.ledger
    }

    /// Applies one command. Rejections change nothing and push no events (with one
    /// deliberate exception: presenting a rotated-away refresh token revokes its session
    /// *and* is refused, because the token is evidence of theft).
    pub fn apply(&mut self, command: &Command, ctx: &Ctx, out: &mut Vec<Event>) -> Response {
        if ctx.at > self.now {
            self.now = ctx.at;
        }
        self.seq = ctx.seq;
        let events_before = out.len();
        let result = self.dispatch(command, ctx, out);
        if let Err(code) = result {
            assert!(
                out.len() == events_before || code == ResultCode::RefreshTokenReused,
                "{} rejected with {code} after emitting events",
                command.kind()
            );
        }
        Response::from(result)
    }

    /// The engine's own commands: a `Tick` runs every family's timers; `Configure` sets
    /// the results-changing settings.
    fn apply_system(
        &mut self,
        command: &Command,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        match command {
            Command::Tick(_) => {
                self.tick_families(out);
                Ok(done())
            }
            Command::Configure(c) => self.configure(c),
            Command::ConfigureV1(c) => {
                // The settings the first layout does not have stay as they are.
                let mut upgraded = self.config.to_command(c.actor);
                upgraded.platform_fee_bp = c.platform_fee_bp;
                upgraded.withdrawal_fee_bp = c.withdrawal_fee_bp;
                upgraded.withdrawal_limits.clone_from(&c.withdrawal_limits);
                upgraded.open_orders_per_user_max = c.open_orders_per_user_max;
                upgraded.currencies.clone_from(&c.currencies);
                self.configure(&upgraded)
            }
            other => family::misrouted(other, "system"),
        }
    }

    fn configure(&mut self, c: &Configure) -> Result<Reply, ResultCode> {
        if c.actor != UserId::SYSTEM && !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        if c.platform_fee_bp > FEE_BP_MAX || c.withdrawal_fee_bp > FEE_BP_MAX {
            return Err(ResultCode::InvalidFee);
        }
        if c.withdrawal_limits.is_empty()
            || c.withdrawal_limits.len() > CONFIG_LEVELS_MAX
            || c.withdrawal_limits.iter().any(|a| a.0 < 0)
            || c.currencies.is_empty()
            || c.currencies.len() > CONFIG_CURRENCIES_MAX
            || c.open_orders_per_user_max == 0
            || c.open_orders_per_user_max > self.limits.orders_max
            || !(1..=CURRENCY_SUPPLY_CEILING).contains(&c.currency_supply_max.0)
            || !(1..=c.currency_supply_max.0).contains(&c.wallet_balance_max.0)
            || !(0..=DISPUTE_WINDOW_MAX_MICROS).contains(&c.dispute_window_micros)
        {
            return Err(ResultCode::InvalidRequest);
        }
        self.config = Config::from_command(c);
        Ok(done())
    }

    pub(crate) fn is_admin(&self, user: UserId) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| u.role == betbet_protocol::command::Role::Admin)
    }

    pub(crate) fn currency_supported(&self, currency: Currency) -> bool {
        self.config.currencies.contains(&currency)
    }

    /// The earliest time at which a timer rule of any family (GTD expiry, market close,
    /// resolution finality, session or idempotency expiry) has something to do, so the
    /// runtime injects a `Tick` only when one would change something.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.families_deadline()
    }

    /// Asserts every cross-cutting invariant: the ledger balances, no balance is negative,
    /// then each family's (books consistent and uncrossed, escrow covering every
    /// outstanding share, locks matching open orders, …). O(state), so tests call it after
    /// every command and production does not.
    pub fn check(&self) {
        self.ledger.check();
        self.check_families();
    }
}

// The command families, in the order their timers run on a `Tick` (replay depends on it:
// append, never reorder). A new domain is one line here, one `Domain` variant in the
// protocol, and its folder.
family::families! {
    Markets => markets::Family,
    Accounts => accounts::Family,
    Wallet => wallet::Family,
    Games => games::Family,
    Social => social::Family,
}

pub(crate) fn done() -> Reply {
    Reply::Done(Empty {})
}
