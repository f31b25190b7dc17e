//! Markets, their outcomes and contracts, and how they end.
//!
//! A *contract* is one YES/NO pair with one order book. A binary market has one contract
//! (its two outcomes, YES and NO, are the two sides of it); a scalar market likewise (LONG
//! and SHORT); a multiple-outcome market has one contract per outcome (YES_k / NO_k), and a
//! complete set — one YES of every outcome — can be minted and redeemed for exactly one unit.
//!
//! Collateral sits in the market's escrow account. Shares are only created by minting (a
//! trade that pairs a YES buyer with a NO buyer mints; [`crate::command::MintShares`] mints
//! directly) and destroyed by burning (the reverse), each moving exactly one unit per pair or
//! set through escrow. Hence at all times, for every possible winner, escrow equals the total
//! payout — the invariant `check_trading` asserts, and settlement ends with escrow at zero.
//!
//! Status runs open → closed (at `closes_at`, or halted) → resolved, or → voided. Closing,
//! resolving and voiding cancel resting orders and release their holds first.
//!
//! Resolution is in two steps, so nobody — a market's creator least of all — can end a
//! market on their own word: only a closed market can be resolved (a resolution due past
//! `closes_at` closes trading first); the first resolution is a [`Proposal`] that becomes
//! final, and pays out, when the dispute window (`Config::dispute_window_micros`) ends; any
//! holder may dispute it before then, which stops the clock until an admin decides — an
//! admin's resolution of a proposed market is final at once. And the creator of a manually
//! resolved market, who proposes its result, may not trade in it.

use crate::ledger::Owner;
use crate::markets::book::Book;
use crate::wallet::Reference;
use crate::{Engine, done, text};
use betbet_protocol::command::{
    CreateMarket, DisputeResolution, HaltMarket, MarketStatus, MarketType, OracleType,
    ResolveMarket, TickSize, UpdateMarket, UserStatus, VoidMarket,
};
use betbet_protocol::event::{
    BookSide, DoneReason, Event, LedgerReason, MarketCreated, MarketResolved, MarketStatusChanged,
    Payout, ResolutionDisputed, ResolutionProposed, TxStatus, TxType,
};
use betbet_protocol::message::{MarketCreatedReply, Reply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{
    AccountId, Amount, Currency, MarketId, OutcomeId, PRICE_SCALE, Price, Qty, Timestamp, UserId,
    notional,
};
use betbet_protocol::view::Candle;
use std::collections::{BTreeSet, VecDeque};

/// The largest creator fee: 10 % of net winnings.
pub const CREATOR_FEE_BP_MAX: u16 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    pub id: MarketId,
    pub creator: UserId,
    pub title: String,
    pub description: String,
    pub category: String,
    pub market_type: MarketType,
    pub tick: TickSize,
    pub currency: Currency,
    pub opens_at: Timestamp,
    pub closes_at: Timestamp,
    pub creator_fee_bp: u16,
    pub oracle_type: OracleType,
    pub resolution_source: String,
    pub scalar_low: Amount,
    pub scalar_high: Amount,
    pub status: MarketStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub winner: Option<OutcomeId>,
    pub scalar_value: Option<Amount>,
    pub escrow: AccountId,
    pub outcomes: Vec<OutcomeId>,
    pub outcome_texts: Vec<String>,
    /// Contract indices, in outcome order for multiple markets.
    pub contracts: Vec<u32>,
    /// Net complete sets: how many more YES than NO shares every contract of a multiple
    /// market has (equal across contracts; negative once sets of YES bought on the books are
    /// redeemed). Escrow always equals `sets + Σ no_supply` units.
    pub sets: i64,
    /// Money committed by takers: Σ quantity × the taker's own price.
    pub volume: i64,
    pub trades: u64,
    /// Accounts holding a position record in this market, in arrival order.
    pub accounts: Vec<AccountId>,
    /// Accounts that have traded here at least once.
    pub participants: u32,
    /// Taker volume per hour over the last day (ring by hour of day), for trending.
    pub hourly_volume: [i64; 24],
    /// The hour (µs / 3.6e9) of the newest `hourly_volume` bucket.
    pub volume_hour: i64,
    /// The proposed resolution while it awaits its dispute window or an admin (kept after
    /// settlement as the record of how the market was decided).
    pub proposal: Option<Proposal>,
}

/// A proposed resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub winner: Option<OutcomeId>,
    pub scalar_value: Option<Amount>,
    pub proposed_by: UserId,
    pub proposed_at: Timestamp,
    /// When it becomes final unless disputed.
    pub final_at: Timestamp,
    pub dispute: Option<Dispute>,
}

/// A holder's dispute of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub by: UserId,
    pub reason: String,
    pub at: Timestamp,
}

const HOUR_MICROS: i64 = 3_600_000_000;

impl Market {
    /// Adds taker volume at time `at` to the hourly ring, clearing hours that went stale.
    pub fn add_volume(&mut self, at: Timestamp, volume: i64) {
        let hour = at.0.div_euclid(HOUR_MICROS);
        if hour > self.volume_hour {
            let stale = (hour - self.volume_hour).min(24);
            for h in 1..=stale {
                self.hourly_volume[((self.volume_hour + h).rem_euclid(24)) as usize] = 0;
            }
            self.volume_hour = hour;
        }
        if hour > self.volume_hour - 24 {
            let bucket = &mut self.hourly_volume[hour.rem_euclid(24) as usize];
            *bucket = bucket.saturating_add(volume);
        }
    }

    /// Taker volume of the 24 hours before `now`.
    pub fn volume_24h(&self, now: Timestamp) -> i64 {
        let now_hour = now.0.div_euclid(HOUR_MICROS);
        (self.volume_hour - 23..=self.volume_hour)
            .filter(|&h| h > now_hour - 24)
            .map(|h| self.hourly_volume[h.rem_euclid(24) as usize])
            .fold(0i64, i64::saturating_add)
    }

    pub fn is_settled(&self) -> bool {
        matches!(self.status, MarketStatus::Resolved | MarketStatus::Voided)
    }

    /// Trading is allowed: open, past `opens_at`, before `closes_at`.
    pub fn is_trading(&self, now: Timestamp) -> bool {
        self.status == MarketStatus::Open && now >= self.opens_at && now < self.closes_at
    }

    /// The creator of a manually resolved market proposes its result, so may not hold a
    /// stake in it: no orders, quotes or minted shares.
    pub fn check_trader(&self, actor: UserId) -> Result<(), ResultCode> {
        if self.oracle_type == OracleType::Manual && self.creator == actor {
            return Err(ResultCode::ResolverMayNotTrade);
        }
        Ok(())
    }
}

/// One trade as kept for market-data snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeRecord {
    pub trade: u64,
    pub price: Price,
    pub qty: Qty,
    pub taker_side: BookSide,
    pub at: Timestamp,
    /// The book sequence of the trade.
    pub seq: u64,
}

/// One-minute candles kept per contract (a day), and one-hour candles (ninety days).
pub const CANDLES_1M_KEPT: usize = 1_440;
pub const CANDLES_1H_KEPT: usize = 2_160;
const MINUTE_MICROS: i64 = 60_000_000;

/// Folds a trade into the newest candle of `ring` if it falls in the same interval, else
/// starts a new one (dropping the oldest beyond `kept`).
fn fold_candle(
    ring: &mut VecDeque<Candle>,
    kept: usize,
    interval: i64,
    at: Timestamp,
    price: Price,
    qty: Qty,
) {
    let start = Timestamp(at.0 - at.0.rem_euclid(interval));
    let notional = betbet_protocol::types::notional(price, qty);
    match ring.back_mut() {
        Some(candle) if candle.start == start => {
            candle.high = candle.high.max(price);
            candle.low = candle.low.min(price);
            candle.close = price;
            candle.volume = Qty(candle.volume.0.saturating_add(qty.0));
            candle.notional = Amount(candle.notional.0 + notional.0);
        }
        _ => {
            if ring.len() >= kept {
                ring.pop_front();
            }
            ring.push_back(Candle {
                start,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: qty,
                notional,
            });
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub market: MarketId,
    /// The YES outcome of this contract (the book's id in market data).
    pub outcome: OutcomeId,
    pub book: Book,
    pub yes_supply: u64,
    pub no_supply: u64,
    pub last_price: Option<Price>,
    pub volume_shares: u64,
    pub trades: u64,
    pub recent: VecDeque<TradeRecord>,
    pub candles_1m: VecDeque<Candle>,
    pub candles_1h: VecDeque<Candle>,
}

impl Contract {
    pub fn record_candles(&mut self, at: Timestamp, price: Price, qty: Qty) {
        fold_candle(
            &mut self.candles_1m,
            CANDLES_1M_KEPT,
            MINUTE_MICROS,
            at,
            price,
            qty,
        );
        fold_candle(
            &mut self.candles_1h,
            CANDLES_1H_KEPT,
            60 * MINUTE_MICROS,
            at,
            price,
            qty,
        );
    }
}

/// Where an outcome id points: its market, contract, and whether it is the NO side of a
/// binary or scalar contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeRef {
    pub market: MarketId,
    pub contract: u32,
    pub index: u8,
    pub no_view: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Markets {
    /// `markets[i]` has id `i + 1`.
    pub markets: Vec<Market>,
    pub contracts: Vec<Contract>,
    /// `outcomes[i]` has id `i + 1`.
    pub outcomes: Vec<OutcomeRef>,
    /// Open markets by close time, so the timer finds due ones without a scan.
    pub closing: BTreeSet<(Timestamp, MarketId)>,
    /// Undisputed proposals by the time they become final.
    pub finalizing: BTreeSet<(Timestamp, MarketId)>,
    pub next_trade: u64,
}

impl Markets {
    pub fn get(&self, id: MarketId) -> Option<&Market> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.markets.get(index)
    }

    pub fn get_mut(&mut self, id: MarketId) -> Option<&mut Market> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.markets.get_mut(index)
    }

    pub fn outcome(&self, id: OutcomeId) -> Option<OutcomeRef> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.outcomes.get(index).copied()
    }
}

/// How a market ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The winning outcome's index.
    Winner(u8),
    /// A scalar result: what one LONG share pays, in price units (0..=PRICE_SCALE).
    Scalar(u32),
    Void,
}

fn default_outcomes(market_type: MarketType) -> Option<[&'static str; 2]> {
    match market_type {
        MarketType::Binary => Some(["Yes", "No"]),
        MarketType::Scalar => Some(["Long", "Short"]),
        MarketType::Multiple => None,
    }
}

impl Engine {
    pub(crate) fn create_market(
        &mut self,
        c: &CreateMarket,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let creator = self.users.get(c.actor).ok_or(ResultCode::UserNotFound)?;
        if creator.status != UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        text::line(&c.title, text::TITLE_MAX)?;
        text::body(&c.description, text::DESCRIPTION_MAX)?;
        text::line(&c.category, text::CATEGORY_MAX)?;
        text::body(&c.resolution_source, text::RESOLUTION_SOURCE_MAX)?;
        if !self.currency_supported(c.currency) {
            return Err(ResultCode::UnsupportedCurrency);
        }
        if c.creator_fee_bp > CREATOR_FEE_BP_MAX {
            return Err(ResultCode::InvalidFee);
        }
        let opens_at = c.opens_at.max(self.now);
        if c.closes_at <= self.now || c.closes_at <= opens_at {
            return Err(ResultCode::InvalidCloseTime);
        }
        let outcomes: Vec<String> = match (c.market_type, default_outcomes(c.market_type)) {
            (_, Some(defaults)) if c.outcomes.is_empty() => {
                defaults.iter().map(|s| (*s).to_owned()).collect()
            }
            (MarketType::Multiple, _) => c.outcomes.clone(),
            _ if c.outcomes.len() == 2 => c.outcomes.clone(),
            _ => return Err(ResultCode::InvalidOutcomes),
        };
        let outcomes_max = self.limits.outcomes_per_market_max as usize;
        if outcomes.len() < 2 || outcomes.len() > outcomes_max {
            return Err(ResultCode::InvalidOutcomes);
        }
        for (i, outcome) in outcomes.iter().enumerate() {
            text::line(outcome, text::OUTCOME_TEXT_MAX)?;
            if outcomes[..i]
                .iter()
                .any(|other| other.trim().eq_ignore_ascii_case(outcome.trim()))
            {
                return Err(ResultCode::InvalidOutcomes);
            }
        }
        if c.market_type == MarketType::Scalar && c.scalar_low >= c.scalar_high {
            return Err(ResultCode::InvalidScalarRange);
        }
        if self.markets.markets.len() >= self.limits.markets_max as usize {
            return Err(ResultCode::TooManyMarkets);
        }
        // The escrow account, and the creator's wallet that collects the creator fee.
        let creator_wallet = creator.wallet(c.currency);
        let needed = 1 + usize::from(creator_wallet.is_none());
        if !self
            .ledger
            .can_open(needed, self.limits.accounts_max as usize)
        {
            return Err(ResultCode::AccountLimitReached);
        }
        if creator_wallet.is_none()
            && creator.wallets.len() >= self.limits.wallets_per_user_max as usize
        {
            return Err(ResultCode::TooManyWallets);
        }

        let id = MarketId(self.markets.markets.len() as u64 + 1);
        self.open_wallet(c.actor, c.currency, out);
        let escrow = self.ledger.open(Owner::Escrow(id), c.currency, self.now.0);
        let first_outcome = self.markets.outcomes.len() as u64 + 1;
        let outcome_ids: Vec<OutcomeId> = (0..outcomes.len() as u64)
            .map(|i| OutcomeId(first_outcome + i))
            .collect();
        let contract_count = match c.market_type {
            MarketType::Multiple => outcomes.len(),
            MarketType::Binary | MarketType::Scalar => 1,
        };
        let first_contract = self.markets.contracts.len() as u32;
        for &outcome in outcome_ids.iter().take(contract_count) {
            self.markets.contracts.push(Contract {
                market: id,
                outcome,
                book: Book::new(c.tick_size),
                yes_supply: 0,
                no_supply: 0,
                last_price: None,
                volume_shares: 0,
                trades: 0,
                recent: VecDeque::new(),
                candles_1m: VecDeque::new(),
                candles_1h: VecDeque::new(),
            });
        }
        for index in 0..outcomes.len() {
            let (contract, no_view) = match c.market_type {
                MarketType::Multiple => (first_contract + index as u32, false),
                MarketType::Binary | MarketType::Scalar => (first_contract, index == 1),
            };
            self.markets.outcomes.push(OutcomeRef {
                market: id,
                contract,
                index: index as u8,
                no_view,
            });
        }
        self.markets.markets.push(Market {
            id,
            creator: c.actor,
            title: c.title.clone(),
            description: c.description.clone(),
            category: c.category.clone(),
            market_type: c.market_type,
            tick: c.tick_size,
            currency: c.currency,
            opens_at,
            closes_at: c.closes_at,
            creator_fee_bp: c.creator_fee_bp,
            oracle_type: c.oracle_type,
            resolution_source: c.resolution_source.clone(),
            scalar_low: c.scalar_low,
            scalar_high: c.scalar_high,
            status: MarketStatus::Open,
            created_at: self.now,
            updated_at: self.now,
            resolved_at: None,
            winner: None,
            scalar_value: None,
            escrow,
            outcomes: outcome_ids.clone(),
            outcome_texts: outcomes,
            contracts: (first_contract..first_contract + contract_count as u32).collect(),
            sets: 0,
            volume: 0,
            trades: 0,
            accounts: Vec::new(),
            participants: 0,
            hourly_volume: [0; 24],
            volume_hour: 0,
            proposal: None,
        });
        self.markets.closing.insert((c.closes_at, id));
        out.push(Event::MarketCreated(MarketCreated {
            market: id,
            creator: c.actor,
        }));
        Ok(Reply::Market(MarketCreatedReply {
            market: id,
            outcomes: outcome_ids,
        }))
    }

    /// The market, if the actor is its creator or an admin.
    fn market_for_manager(&self, actor: UserId, id: MarketId) -> Result<&Market, ResultCode> {
        let market = self.markets.get(id).ok_or(ResultCode::MarketNotFound)?;
        if market.creator != actor && !self.is_admin(actor) {
            return Err(ResultCode::NotMarketCreator);
        }
        Ok(market)
    }

    pub(crate) fn update_market(
        &mut self,
        c: &UpdateMarket,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self.market_for_manager(c.actor, c.market)?;
        if market.status != MarketStatus::Open {
            return Err(ResultCode::MarketNotUpdatable);
        }
        if let Some(title) = &c.title {
            text::line(title, text::TITLE_MAX)?;
        }
        if let Some(description) = &c.description {
            text::body(description, text::DESCRIPTION_MAX)?;
        }
        if let Some(category) = &c.category {
            text::line(category, text::CATEGORY_MAX)?;
        }
        if let Some(source) = &c.resolution_source {
            text::body(source, text::RESOLUTION_SOURCE_MAX)?;
        }
        // What a trader agreed to — the question and how it is decided — is fixed once
        // anyone has traded; wording and category may still be tidied.
        if market.trades > 0 && (c.title.is_some() || c.resolution_source.is_some()) {
            return Err(ResultCode::MarketNotUpdatable);
        }
        if let Some(closes_at) = c.closes_at
            && (closes_at <= self.now || closes_at <= market.opens_at)
        {
            return Err(ResultCode::InvalidCloseTime);
        }
        let now = self.now;
        let old_close = market.closes_at;
        let market = self.markets.get_mut(c.market).expect("found");
        if let Some(title) = &c.title {
            market.title.clone_from(title);
        }
        if let Some(description) = &c.description {
            market.description.clone_from(description);
        }
        if let Some(category) = &c.category {
            market.category.clone_from(category);
        }
        if let Some(source) = &c.resolution_source {
            market.resolution_source.clone_from(source);
        }
        if let Some(closes_at) = c.closes_at {
            market.closes_at = closes_at;
            self.markets.closing.remove(&(old_close, c.market));
            self.markets.closing.insert((closes_at, c.market));
        }
        let market = self.markets.get_mut(c.market).expect("found");
        market.updated_at = now;
        out.push(Event::MarketUpdated(MarketCreated {
            market: c.market,
            creator: market.creator,
        }));
        Ok(done())
    }

    pub(crate) fn halt_market(
        &mut self,
        c: &HaltMarket,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self.market_for_manager(c.actor, c.market)?;
        if market.status != MarketStatus::Open {
            return Err(ResultCode::MarketNotOpen);
        }
        self.close_market(c.market, out);
        Ok(done())
    }

    /// Open → closed: cancel every resting order and stop the close timer.
    fn close_market(&mut self, id: MarketId, out: &mut Vec<Event>) {
        let market = self.markets.get_mut(id).expect("caller found the market");
        assert_eq!(market.status, MarketStatus::Open);
        market.status = MarketStatus::Closed;
        market.updated_at = self.now;
        let closes_at = market.closes_at;
        self.markets.closing.remove(&(closes_at, id));
        self.cancel_market_orders(id, out);
        out.push(Event::MarketStatusChanged(MarketStatusChanged {
            market: id,
            status: MarketStatus::Closed,
        }));
    }

    pub(crate) fn close_due_markets(&mut self, out: &mut Vec<Event>) {
        while let Some(&(closes_at, id)) = self.markets.closing.first() {
            if closes_at > self.now {
                break;
            }
            self.close_market(id, out);
        }
    }

    /// Creator (of a manual-oracle market) or admin: proposes the result of a closed market;
    /// an admin's resolution of an already proposed (or disputed) market is final at once.
    pub(crate) fn resolve_market(
        &mut self,
        c: &ResolveMarket,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        let admin = self.is_admin(c.actor);
        if !admin {
            if market.creator != c.actor {
                return Err(ResultCode::NotMarketCreator);
            }
            if market.oracle_type != OracleType::Manual {
                return Err(ResultCode::OracleNotManual);
            }
        }
        if market.is_settled() {
            return Err(ResultCode::MarketAlreadySettled);
        }
        if market.status == MarketStatus::Open && self.now < market.closes_at {
            return Err(ResultCode::MarketNotClosed);
        }
        if market.proposal.is_some() && !admin {
            return Err(ResultCode::ResolutionPending);
        }
        Self::ending_of(market, c.winner, c.scalar_value)?;
        let decides = market.proposal.is_some();
        if market.status == MarketStatus::Open {
            // Past `closes_at` before the timer ran: trading ends first.
            self.close_market(c.market, out);
        }
        if decides {
            // The proposal stays as the record of what was proposed; the admin's values
            // are the result.
            self.finalize(c.market, c.winner, c.scalar_value, out);
            return Ok(done());
        }
        let final_at = self
            .now
            .saturating_add_micros(self.config.dispute_window_micros);
        let now = self.now;
        let market = self.markets.get_mut(c.market).expect("found");
        market.proposal = Some(Proposal {
            winner: c.winner,
            scalar_value: c.scalar_value,
            proposed_by: c.actor,
            proposed_at: now,
            final_at,
            dispute: None,
        });
        market.updated_at = now;
        self.markets.finalizing.insert((final_at, c.market));
        out.push(Event::ResolutionProposed(ResolutionProposed {
            market: c.market,
            winner: c.winner,
            scalar_value: c.scalar_value,
            proposed_by: c.actor,
            final_at,
        }));
        Ok(done())
    }

    /// How a market ends under a resolution, or why the resolution does not fit it.
    fn ending_of(
        market: &Market,
        winner: Option<OutcomeId>,
        scalar_value: Option<Amount>,
    ) -> Result<Ending, ResultCode> {
        Ok(match (market.market_type, winner, scalar_value) {
            (MarketType::Scalar, None, Some(value)) => {
                let (low, high) = (
                    i128::from(market.scalar_low.0),
                    i128::from(market.scalar_high.0),
                );
                let value = i128::from(value.0).clamp(low, high);
                let long = (value - low) * i128::from(PRICE_SCALE) / (high - low);
                Ending::Scalar(long as u32)
            }
            (MarketType::Binary | MarketType::Multiple, Some(winner), None) => {
                let index = market
                    .outcomes
                    .iter()
                    .position(|&o| o == winner)
                    .ok_or(ResultCode::InvalidResolution)?;
                Ending::Winner(index as u8)
            }
            _ => return Err(ResultCode::InvalidResolution),
        })
    }

    /// A holder disputes the proposal within its window; an admin then decides.
    pub(crate) fn dispute_resolution(
        &mut self,
        c: &DisputeResolution,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        if market.is_settled() {
            return Err(ResultCode::MarketAlreadySettled);
        }
        let proposal = market
            .proposal
            .as_ref()
            .ok_or(ResultCode::NoResolutionProposed)?;
        if proposal.dispute.is_some() {
            return Err(ResultCode::AlreadyDisputed);
        }
        if self.now >= proposal.final_at {
            return Err(ResultCode::DisputeWindowOver);
        }
        let holder = self
            .users
            .get(c.actor)
            .and_then(|u| u.wallet(market.currency))
            .is_some_and(|wallet| market.accounts.contains(&wallet));
        if !holder {
            return Err(ResultCode::NotAHolder);
        }
        text::line(&c.reason, text::DISPUTE_REASON_MAX)?;
        let final_at = proposal.final_at;
        let now = self.now;
        let market = self.markets.get_mut(c.market).expect("found");
        market.proposal.as_mut().expect("proposed").dispute = Some(Dispute {
            by: c.actor,
            reason: c.reason.clone(),
            at: now,
        });
        market.updated_at = now;
        self.markets.finalizing.remove(&(final_at, c.market));
        out.push(Event::ResolutionDisputed(ResolutionDisputed {
            market: c.market,
            by: c.actor,
        }));
        Ok(done())
    }

    /// Undisputed proposals whose window has ended become final.
    pub(crate) fn finalize_due_resolutions(&mut self, out: &mut Vec<Event>) {
        while let Some(&(final_at, id)) = self.markets.finalizing.first() {
            if final_at > self.now {
                break;
            }
            let proposal = self.markets.get(id).and_then(|m| m.proposal.as_ref());
            let proposal = proposal.expect("a proposal behind every finalization timer");
            let (winner, scalar_value) = (proposal.winner, proposal.scalar_value);
            self.finalize(id, winner, scalar_value, out);
        }
    }

    /// Settles a market with a result that was checked against it (settlement also stops
    /// the proposal's timer).
    fn finalize(
        &mut self,
        id: MarketId,
        winner: Option<OutcomeId>,
        scalar_value: Option<Amount>,
        out: &mut Vec<Event>,
    ) {
        let market = self.markets.get(id).expect("caller found the market");
        let ending = Self::ending_of(market, winner, scalar_value).expect("checked by the caller");
        self.settle(id, ending, out);
        let market = self.markets.get_mut(id).expect("found");
        market.winner = winner;
        market.scalar_value =
            scalar_value.map(|v| Amount(v.0.clamp(market.scalar_low.0, market.scalar_high.0)));
        let scalar_value = market.scalar_value;
        out.push(Event::MarketResolved(MarketResolved {
            market: id,
            winner,
            scalar_value,
        }));
        out.push(Event::MarketStatusChanged(MarketStatusChanged {
            market: id,
            status: MarketStatus::Resolved,
        }));
    }

    pub(crate) fn void_market(
        &mut self,
        c: &VoidMarket,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        if !self.is_admin(c.actor) {
            return Err(ResultCode::Forbidden);
        }
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        if market.is_settled() {
            return Err(ResultCode::MarketAlreadySettled);
        }
        self.settle(c.market, Ending::Void, out);
        out.push(Event::MarketStatusChanged(MarketStatusChanged {
            market: c.market,
            status: MarketStatus::Voided,
        }));
        Ok(done())
    }

    /// What `yes` YES and `no` NO shares of `contract_pos` (the contract's place in the
    /// market) pay under `ending`.
    fn payout_of(
        market_type: MarketType,
        ending: Ending,
        contract_pos: usize,
        yes: u64,
        no: u64,
    ) -> i64 {
        let (yes_pays, no_pays) = match (market_type, ending) {
            (_, Ending::Scalar(long)) => (long, PRICE_SCALE - long),
            (MarketType::Multiple, Ending::Winner(w)) if usize::from(w) == contract_pos => {
                (PRICE_SCALE, 0)
            }
            (MarketType::Multiple, Ending::Winner(_)) => (0, PRICE_SCALE),
            (_, Ending::Winner(0)) => (PRICE_SCALE, 0),
            (_, Ending::Winner(_)) => (0, PRICE_SCALE),
            (_, Ending::Void) => unreachable!("void refunds at cost"),
        };
        notional(Price(yes_pays), Qty(yes)).0 + notional(Price(no_pays), Qty(no)).0
    }

    /// Pays out (or refunds) every account of a market, leaving its escrow empty.
    fn settle(&mut self, id: MarketId, ending: Ending, out: &mut Vec<Event>) {
        let market = self.markets.get(id).expect("caller found the market");
        let open = market.status == MarketStatus::Open;
        let closes_at = market.closes_at;
        // Settled while proposed (voided, or decided by an admin): no timer is left behind.
        let final_at = market.proposal.as_ref().map(|p| p.final_at);
        if open {
            self.markets.closing.remove(&(closes_at, id));
        }
        if let Some(final_at) = final_at {
            self.markets.finalizing.remove(&(final_at, id));
        }
        self.cancel_market_orders(id, out);
        let market = self.markets.get(id).expect("found");
        let (escrow, currency, creator, market_type) = (
            market.escrow,
            market.currency,
            market.creator,
            market.market_type,
        );
        let creator_fee_bp = i128::from(market.creator_fee_bp);
        let platform_fee_bp = i128::from(self.config.platform_fee_bp);
        let contracts = market.contracts.clone();
        let accounts = market.accounts.clone();
        let creator_wallet = self
            .users
            .get(creator)
            .and_then(|u| u.wallet(currency))
            .expect("the creator's wallet is opened with the market");
        let fees = self.system_account(Owner::Fees, currency);

        // Per account: (payout, cost basis, net cash paid in).
        let mut books: Vec<(AccountId, i64, i64, i64)> = Vec::with_capacity(accounts.len());
        for &account in &accounts {
            let (mut payout, mut cost, mut net) = (0i64, 0i64, 0i64);
            for (k, &contract) in contracts.iter().enumerate() {
                if let Some(position) = self.trading.position(account, contract) {
                    if ending != Ending::Void {
                        payout +=
                            Self::payout_of(market_type, ending, k, position.yes, position.no);
                    }
                    cost += position.yes_cost + position.no_cost;
                    net += position.net_cash;
                }
            }
            books.push((account, payout, cost, net));
        }

        // What each account received (refund or net payout), and the fees it paid, for the
        // settled positions' figures below.
        let mut received: Vec<(i64, i64)> = vec![(0, 0); accounts.len()];
        let escrow_balance = self.ledger.get(escrow).balance();
        if ending == Ending::Void {
            // Refund what each account put in net. If some accounts took profits out before
            // the void, the rest share what escrow holds pro rata; no one is charged.
            let owed: i128 = books.iter().map(|b| i128::from(b.3.max(0))).sum();
            let mut paid = 0i64;
            for (n, &(account, _, _, net)) in books.iter().enumerate() {
                if net <= 0 || owed == 0 {
                    continue;
                }
                let refund = (i128::from(net) * i128::from(escrow_balance) / owed) as i64;
                received[n] = (refund, 0);
                if refund > 0 {
                    self.ledger.transfer(
                        escrow,
                        account,
                        refund,
                        false,
                        LedgerReason::Refund,
                        id.0,
                        out,
                    );
                    self.settlement_tx(account, TxType::Refund, refund, 0, id, out);
                    paid += refund;
                }
                self.credit_earnings(account, refund - net.max(0), None);
            }
            // Rounding dust (at most one unit per account) goes to the platform.
            self.ledger.transfer(
                escrow,
                fees,
                escrow_balance - paid,
                false,
                LedgerReason::Refund,
                id.0,
                out,
            );
        } else {
            for (n, &(account, payout, cost, _)) in books.iter().enumerate() {
                let winnings = i128::from(payout - cost).max(0);
                let creator_fee = (winnings * creator_fee_bp / 10_000) as i64;
                let platform_fee = (winnings * platform_fee_bp / 10_000) as i64;
                let net_payout = payout - creator_fee - platform_fee;
                received[n] = (net_payout, creator_fee + platform_fee);
                self.ledger.transfer(
                    escrow,
                    account,
                    net_payout,
                    false,
                    LedgerReason::Release,
                    id.0,
                    out,
                );
                self.ledger.transfer(
                    escrow,
                    creator_wallet,
                    creator_fee,
                    false,
                    LedgerReason::CreatorFee,
                    id.0,
                    out,
                );
                self.ledger.transfer(
                    escrow,
                    fees,
                    platform_fee,
                    false,
                    LedgerReason::PlatformFee,
                    id.0,
                    out,
                );
                if payout > 0 || cost > 0 {
                    out.push(Event::Payout(Payout {
                        market: id,
                        user: self.account_user(account).unwrap_or(UserId::SYSTEM),
                        account,
                        amount: Amount(net_payout),
                        fee: Amount(creator_fee + platform_fee),
                    }));
                }
                if net_payout > 0 {
                    self.settlement_tx(
                        account,
                        TxType::Payout,
                        net_payout,
                        creator_fee + platform_fee,
                        id,
                        out,
                    );
                }
                if creator_fee > 0 {
                    self.settlement_tx(creator_wallet, TxType::Fee, creator_fee, 0, id, out);
                }
                let won = (payout > cost)
                    .then_some(true)
                    .or((cost > payout).then_some(false));
                self.credit_earnings(account, net_payout - cost, won);
            }
        }
        assert_eq!(
            self.ledger.get(escrow).balance(),
            0,
            "escrow of market {id} not empty after settlement"
        );
        for (n, &account) in accounts.iter().enumerate() {
            let shares =
                self.settlement_shares(account, &contracts, market_type, ending, received[n]);
            for (&contract, (got, pnl)) in contracts.iter().zip(shares) {
                self.trading
                    .settle_position(account, contract, self.now, got, pnl);
            }
            let entry = self.ledger.get_mut(account);
            entry.unsettled_markets -= 1;
        }
        for &contract in &contracts {
            let contract = &mut self.markets.contracts[contract as usize];
            contract.yes_supply = 0;
            contract.no_supply = 0;
        }
        let now = self.now;
        let market = self.markets.get_mut(id).expect("found");
        market.sets = 0;
        market.status = if ending == Ending::Void {
            MarketStatus::Voided
        } else {
            MarketStatus::Resolved
        };
        market.resolved_at = Some(now);
        market.updated_at = now;
    }

    /// Splits what an account received at settlement (`(received, fees)`) over its positions
    /// in the market's contracts: each position's payout less its share of the fees (in
    /// proportion to its winnings), or its share of a refund (in proportion to the money it
    /// put in), and the profit or loss that makes against its cost. The parts add up to
    /// the whole exactly; a market with one contract gives that position all of it.
    fn settlement_shares(
        &self,
        account: AccountId,
        contracts: &[u32],
        market_type: MarketType,
        ending: Ending,
        (received, fees): (i64, i64),
    ) -> Vec<(i64, i64)> {
        let held: Vec<Option<(i64, i64, i64)>> = contracts
            .iter()
            .enumerate()
            .map(|(k, &contract)| {
                self.trading.position(account, contract).map(|p| {
                    let gross = match ending {
                        Ending::Void => 0,
                        _ => Self::payout_of(market_type, ending, k, p.yes, p.no),
                    };
                    (gross, p.yes_cost + p.no_cost, p.net_cash.max(0))
                })
            })
            .collect();
        // The weight of each position in what is split: winnings for fees, money put in for
        // a refund.
        let weight = |&(gross, cost, net): &(i64, i64, i64)| match ending {
            Ending::Void => i128::from(net),
            _ => i128::from((gross - cost).max(0)),
        };
        let total: i128 = held.iter().flatten().map(weight).sum();
        let last = held.iter().rposition(|h| h.is_some_and(|h| weight(&h) > 0));
        let split = if ending == Ending::Void {
            received
        } else {
            fees
        };
        let mut left = split;
        held.iter()
            .enumerate()
            .map(|(k, h)| {
                let Some(h) = h else { return (0, 0) };
                let part = if Some(k) == last {
                    left
                } else if total > 0 {
                    (i128::from(split) * weight(h) / total) as i64
                } else {
                    0
                };
                left -= part;
                let (gross, cost, net) = *h;
                match ending {
                    Ending::Void => (part, part - net),
                    _ => (gross - part, gross - part - cost),
                }
            })
            .collect()
    }

    /// A settlement transaction in the history of the account's user (pools have no user
    /// history; their members see the pool's distribution instead).
    fn settlement_tx(
        &mut self,
        account: AccountId,
        tx_type: TxType,
        amount: i64,
        fee: i64,
        market: MarketId,
        out: &mut Vec<Event>,
    ) {
        if let Some(user) = self.account_user(account) {
            self.record_tx(
                user,
                account,
                tx_type,
                TxStatus::Completed,
                amount,
                fee,
                true,
                Reference::Market(market.0),
                out,
            );
        }
    }

    /// The user who owns an account, if a user does.
    pub(crate) fn account_user(&self, account: AccountId) -> Option<UserId> {
        match self.ledger.get(account).owner {
            Owner::User(user) => Some(user),
            _ => None,
        }
    }

    fn credit_earnings(&mut self, account: AccountId, pnl: i64, won: Option<bool>) {
        if let Some(user) = self.account_user(account)
            && let Some(stats) = self.users.stats_mut(user)
        {
            stats.total_earnings = stats.total_earnings.saturating_add(pnl);
            match won {
                Some(true) => stats.markets_won += 1,
                Some(false) => stats.markets_lost += 1,
                None => {}
            }
        }
    }

    /// Cancels every resting order of a market (closing, resolving, voiding).
    fn cancel_market_orders(&mut self, id: MarketId, out: &mut Vec<Event>) {
        let contracts = self.markets.get(id).expect("found").contracts.clone();
        for contract in contracts {
            for side in [BookSide::Bid, BookSide::Ask] {
                while let Some(level) = self.markets.contracts[contract as usize].book.best(side) {
                    let slot = self.markets.contracts[contract as usize]
                        .book
                        .level(side, level)
                        .head;
                    self.cancel_resting(slot, DoneReason::MarketClosed, out);
                }
            }
        }
    }
}
