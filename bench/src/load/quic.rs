//! The QUIC transport: the market-maker feed (`betbet serve --quic-addr`), through the
//! client crate `betbet-feed-client`.
//!
//! A **trader** is one feed connection logged in with its own API key (by default each of
//! its own user, so no connection receives another's execution reports). It sends on its
//! [`Schedule`] whatever the replies do (open loop), with `client_ref` equal to the slot
//! number, so the intended send time of a report is recomputed from it. Latency is taken to
//! the execution report `Accepted` or `Rejected` carrying that `client_ref` (the server
//! answers a connection's requests in the order they were sent); a cancel's latency runs to the
//! `Cancelled` report of its order (a successful cancel has no reply of its own) or to its
//! `Rejected` report.
//!
//! The mix is the WebSocket one: a cancel of one of the connection's resting orders when it
//! has `max_resting` or by chance (`cancel_percent`); an immediate-or-cancel buy of YES or
//! NO at 0.60 (`marketable_percent`), which trades against the other side's bids; else a
//! post-only buy of YES or NO at 0.4001–0.4999. The market has a 0.0001 tick, and each of
//! those passive prices belongs to **one** connection, which keeps at most one order there
//! at a time: that is what lets market data be attributed to orders exactly (below); whole
//! cents hold the fixture's seed liquidity. A connection counts its unacknowledged passive
//! orders as open: with `max_resting` open, or none of its prices free, a passive order is
//! sent as an IOC instead, so when the server falls behind the mix turns into IOCs (the run
//! says how many) while the books stay within `connections × max_resting` orders plus the
//! seed and no user reaches the engine's open-order limit.
//!
//! A **subscriber** is a feed connection (of users that do not trade) subscribed to the
//! market: it reads the snapshot and then every delta and trade, counts them, checks each
//! book's sequence numbers and times each trade from the core's stamp (as the WebSocket
//! subscribers do). Subscriber 0 also measures **order → market data**: it keeps the level
//! of every passive price, and a level going from empty to non-empty is the arrival of the
//! order its owner sent there. A shared table ([`Slots`]) holds, per price, the intended
//! send time of the order in flight there; the subscriber records the latency from it and
//! marks the price live, and marks it free again when the level empties. A trader places
//! only at its prices that are free both in its own view (no order of its own there) and in
//! the table (the last order's removal was seen on the market data), so one level change can
//! belong to one order only.

use super::fixture::{ApiKey, Fixture};
use super::report::{RequestKind, Stats};
use super::{Outcome, Rng, Schedule, Shape};
use betbet_feed_client::{FeedClient, FeedConfig, MarketData, OrderSender, ReplyReceiver, Trust};
use betbet_protocol::command::{OrderKind, SelfTradePrevention, Side, TimeInForce};
use betbet_protocol::event::BookSide;
use betbet_protocol::feed::{
    CancelRequest, ExecKind, FeedData, FeedReply, FeedRequest, MarketRequest, NewOrder,
};
use betbet_protocol::types::{MarketId, OrderId, OutcomeId, Price, QTY_SCALE, Qty, Timestamp};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How long a connection attempt (handshake, login, subscription) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections one API key may hold (the server's `FEED_CONNECTIONS_PER_KEY_MAX`).
pub const CONNECTIONS_PER_KEY_MAX: usize = 8;
/// Live API keys one user may hold (the engine's limit).
pub const KEYS_PER_USER_MAX: usize = 10;
/// Feed connections the server accepts at once (`FEED_CONNECTIONS_MAX`).
pub const FEED_CONNECTIONS_MAX: usize = 1_024;

/// The passive prices: YES (the book's bids) and NO (the book's asks at 1 − p) at
/// `SLOT_PRICE_LOW + 1 ..= SLOT_PRICE_LOW + 999` in 10^-4, i.e. 0.4001–0.4999.
const SLOT_PRICE_LOW: u32 = 4_000;
const SLOTS_PER_OUTCOME: usize = 1_000;
const SLOTS: usize = 2 * SLOTS_PER_OUTCOME;
/// The marketable price, 0.60.
const MARKETABLE_PRICE: u32 = 6_000;

/// Whether a slot is a price some connection owns: not 0.40 itself, no whole cent.
fn owned(slot: usize) -> bool {
    !slot.is_multiple_of(100)
}

/// Outcome index (0 YES, 1 NO) and price in the order's own terms of a slot.
fn slot_order(slot: usize) -> (usize, u32) {
    (
        slot / SLOTS_PER_OUTCOME,
        SLOT_PRICE_LOW + (slot % SLOTS_PER_OUTCOME) as u32,
    )
}

/// The slot a YES book level is, if any: a YES bid is itself, a YES ask at `p` is a NO bid
/// at `1 − p`.
fn slot_of(side: BookSide, yes_price: u32) -> Option<usize> {
    let own_price = match side {
        BookSide::Bid => yes_price,
        BookSide::Ask => 10_000u32.checked_sub(yes_price)?,
    };
    let offset = own_price.checked_sub(SLOT_PRICE_LOW)? as usize;
    let slot = match side {
        BookSide::Bid => offset,
        BookSide::Ask => SLOTS_PER_OUTCOME + offset,
    };
    (offset < SLOTS_PER_OUTCOME && owned(slot)).then_some(slot)
}

/// The slots connection `index` of `connections` owns.
pub fn own_slots(index: usize, connections: usize) -> Vec<usize> {
    (0..SLOTS)
        .filter(|&s| owned(s))
        .skip(index)
        .step_by(connections.max(1))
        .collect()
}

/// How many slots the connection with the fewest has.
pub fn slots_per_connection(connections: usize) -> usize {
    (0..SLOTS).filter(|&s| owned(s)).count() / connections.max(1)
}

const FREE: u64 = 0;
const LIVE: u64 = u64::MAX;

/// Per passive price, what the market data last showed and what is in flight: `FREE` (the
/// level is empty), a sent order's intended send time (nanoseconds after `base`, plus one),
/// or `LIVE` (the level shows an order).
pub struct Slots {
    states: Vec<AtomicU64>,
    base: Instant,
    /// Off when no subscriber attributes market data (none asked for, or it stopped):
    /// traders then place at any of their prices without an order of their own.
    active: AtomicBool,
    /// Passive orders sent, and passive orders sent as IOCs instead because the connection
    /// had `max_resting` open or no free price (acknowledgements lagging).
    pub passive_sent: AtomicU64,
    pub substituted: AtomicU64,
}

impl Slots {
    fn new(base: Instant, active: bool) -> Slots {
        Slots {
            states: (0..SLOTS).map(|_| AtomicU64::new(FREE)).collect(),
            base,
            active: AtomicBool::new(active),
            passive_sent: AtomicU64::new(0),
            substituted: AtomicU64::new(0),
        }
    }

    fn is_free(&self, slot: usize) -> bool {
        !self.active.load(Ordering::Relaxed) || self.states[slot].load(Ordering::Acquire) == FREE
    }

    /// An order for `slot`, due at `intended`, is about to be sent.
    fn sent(&self, slot: usize, intended: Instant) {
        let nanos = intended.saturating_duration_since(self.base).as_nanos();
        let state = u64::try_from(nanos).unwrap_or(LIVE - 1).min(LIVE - 2) + 1;
        self.states[slot].store(state, Ordering::Release);
    }

    /// The order sent for `slot` was refused: it will never show.
    fn refused(&self, slot: usize) {
        let state = self.states[slot].load(Ordering::Acquire);
        if state != FREE && state != LIVE {
            let _ = self.states[slot].compare_exchange(
                state,
                FREE,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    /// The market data showed an order appear at `slot`; returns its intended send time.
    fn appeared(&self, slot: usize) -> Option<Instant> {
        match self.states[slot].swap(LIVE, Ordering::AcqRel) {
            FREE | LIVE => None,
            sent => Some(self.base + Duration::from_nanos(sent - 1)),
        }
    }

    /// The market data showed `slot`'s level empty.
    fn emptied(&self, slot: usize) {
        self.states[slot].store(FREE, Ordering::Release);
    }
}

#[derive(Debug, Clone)]
pub struct QuicOptions {
    pub server: SocketAddr,
    pub server_name: String,
    pub trust: Trust,
    /// Connections, rate, mix and timing.
    pub shape: Shape,
}

/// The API keys a run logs in with.
#[derive(Debug, Clone)]
pub struct Keys {
    /// One per trading connection.
    pub traders: Vec<ApiKey>,
    /// One per [`CONNECTIONS_PER_KEY_MAX`] subscribers.
    pub subscribers: Vec<ApiKey>,
}

/// Users a run needs besides the traders': subscribers log in as users that do not trade,
/// so they receive no execution reports.
pub fn watcher_users(subscribers: usize) -> usize {
    subscribers
        .div_ceil(CONNECTIONS_PER_KEY_MAX)
        .div_ceil(KEYS_PER_USER_MAX)
}

/// Creates the keys over REST: trader `i` gets a key of user `i % trader_users`; the
/// subscribers' keys belong to the users after the traders'.
pub fn create_keys(
    base: &str,
    fixture: &Fixture,
    trader_users: usize,
    connections: usize,
    subscribers: usize,
) -> Result<Keys, String> {
    let rest = super::fixture::Rest::new(base);
    let started = Instant::now();
    let traders = (0..connections)
        .map(|i| {
            super::fixture::create_api_key(
                &rest,
                &fixture.users[i % trader_users],
                &format!("load trader {i}"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let subscribers = (0..subscribers.div_ceil(CONNECTIONS_PER_KEY_MAX))
        .map(|j| {
            super::fixture::create_api_key(
                &rest,
                &fixture.users[trader_users + j / KEYS_PER_USER_MAX],
                &format!("load subscribers {j}"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    eprintln!(
        "setup: {} API keys in {:.1} s",
        traders.len() + subscribers.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(Keys {
        traders,
        subscribers,
    })
}

/// The number in a public id like `mkt_12`.
fn numeric(id: &str, prefix: &str) -> Result<u64, String> {
    id.strip_prefix(prefix)
        .and_then(|n| n.strip_prefix('_'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("`{id}` is not a {prefix}_ id"))
}

fn config(options: &QuicOptions, key: &ApiKey) -> FeedConfig {
    FeedConfig {
        server: options.server,
        server_name: options.server_name.clone(),
        trust: options.trust.clone(),
        key_id: key.key_id,
        secret: key.secret.as_bytes().to_vec(),
    }
}

async fn connect(config: FeedConfig) -> Result<(OrderSender, ReplyReceiver), String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, FeedClient::connect(&config)).await {
        Ok(Ok((client, _))) => Ok(client.order_entry()),
        Ok(Err(e)) => Err(format!("connect: {e}")),
        Err(_) => Err("connect: timed out".to_owned()),
    }
}

/// A trader's request in flight.
struct PendingOrder {
    kind: RequestKind,
    /// For a post-only order, the price of this connection's it was sent to.
    slot: Option<usize>,
    /// When it was written (set once the write returned).
    sent: Option<Instant>,
}

/// One trading connection.
struct Trader {
    orders: OrderSender,
    replies: ReplyReceiver,
    market: MarketId,
    outcomes: [OutcomeId; 2],
    options: Arc<QuicOptions>,
    stats: Arc<Stats>,
    schedule: Schedule,
    /// Requests due at or after this are not sent.
    end: Instant,
    slots: Arc<Slots>,
    /// The passive prices this connection owns.
    own: Vec<usize>,
    /// Slots with an order of this connection (in flight, resting or being cancelled).
    busy: Vec<bool>,
    /// Orders and cancels sent and not answered, by `client_ref`.
    pending: HashMap<u64, PendingOrder>,
    /// Cancels sent and not answered: order → `client_ref` of the cancel.
    cancelling: HashMap<OrderId, u64>,
    /// Passive orders believed to be resting, and their slots.
    resting: Vec<OrderId>,
    /// Passive orders sent and not yet answered.
    placing: usize,
    order_slots: HashMap<OrderId, usize>,
    rng: Rng,
}

impl Trader {
    fn unanswered(&self) -> u64 {
        (self.pending.len() + self.cancelling.len()) as u64
    }

    fn free_slot(&mut self) -> Option<usize> {
        let start = self.rng.below(self.own.len() as u64) as usize;
        (0..self.own.len())
            .map(|i| self.own[(start + i) % self.own.len()])
            .find(|&slot| !self.busy[slot] && self.slots.is_free(slot))
    }

    fn cancel(&mut self, k: u64) -> (FeedRequest, RequestKind) {
        let at = self.rng.below(self.resting.len() as u64) as usize;
        let order = self.resting.swap_remove(at);
        self.cancelling.insert(order, k);
        (
            FeedRequest::Cancel(CancelRequest {
                client_ref: k,
                order,
            }),
            RequestKind::Cancel,
        )
    }

    /// A post-only order at `slot`, one of this connection's prices.
    fn passive(&mut self, k: u64, slot: usize) -> (FeedRequest, RequestKind) {
        self.busy[slot] = true;
        self.slots.sent(slot, self.schedule.due(k));
        self.slots.passive_sent.fetch_add(1, Ordering::Relaxed);
        self.placing += 1;
        self.pending.insert(
            k,
            PendingOrder {
                kind: RequestKind::Place,
                slot: Some(slot),
                sent: None,
            },
        );
        let (outcome, price) = slot_order(slot);
        let qty = 1 + self.rng.below(10);
        (
            FeedRequest::NewOrder(NewOrder {
                client_ref: k,
                market: self.market,
                outcome: self.outcomes[outcome],
                side: Side::Buy,
                kind: OrderKind::Limit,
                price: Price(price),
                qty: Qty(qty * QTY_SCALE),
                time_in_force: TimeInForce::Gtc,
                expires_at: Timestamp(0),
                post_only: true,
                self_trade: SelfTradePrevention::CancelTaking,
            }),
            RequestKind::Place,
        )
    }

    /// Request `k`.
    fn request(&mut self, k: u64) -> (FeedRequest, RequestKind) {
        let roll = self.rng.below(100);
        let options = Arc::clone(&self.options);
        // Orders that may rest: those known to rest and those not yet acknowledged.
        let open = self.resting.len() + self.placing;
        if !self.resting.is_empty()
            && (open >= options.shape.max_resting || roll < options.shape.cancel_percent)
        {
            return self.cancel(k);
        }
        let marketable = (options.shape.cancel_percent
            ..options.shape.cancel_percent + options.shape.marketable_percent)
            .contains(&roll);
        if !marketable {
            // When the acknowledgements lag (the server is behind), the open orders or the
            // connection's prices run out; the order is then an IOC, which never rests, so
            // the books and each user's open orders stay bounded whatever the rate.
            match self
                .free_slot()
                .filter(|_| open < options.shape.max_resting)
            {
                Some(slot) => return self.passive(k, slot),
                None => {
                    self.slots.substituted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let outcome = self.outcomes[self.rng.below(2) as usize];
        let qty = 1 + self.rng.below(5);
        self.pending.insert(
            k,
            PendingOrder {
                kind: RequestKind::Marketable,
                slot: None,
                sent: None,
            },
        );
        (
            FeedRequest::NewOrder(NewOrder {
                client_ref: k,
                market: self.market,
                outcome,
                side: Side::Buy,
                kind: OrderKind::Limit,
                price: Price(MARKETABLE_PRICE),
                qty: Qty(qty * QTY_SCALE),
                time_in_force: TimeInForce::Ioc,
                expires_at: Timestamp(0),
                post_only: false,
                self_trade: SelfTradePrevention::CancelTaking,
            }),
            RequestKind::Marketable,
        )
    }

    /// An order of this connection ended (filled, cancelled, expired): its price is free
    /// on this side.
    fn ended(&mut self, order: OrderId) {
        if let Some(slot) = self.order_slots.remove(&order) {
            self.busy[slot] = false;
        }
        if let Some(at) = self.resting.iter().position(|&o| o == order) {
            self.resting.swap_remove(at);
        }
    }

    /// A request failed before it placed anything.
    fn refused(&mut self, client_ref: u64, order: OrderId, code: &str, now: Instant) {
        if let Some(pending) = self.pending.remove(&client_ref) {
            let intended = self.schedule.due(client_ref);
            self.stats.replied(intended, now, pending.kind, Some(code));
            if let Some(sent) = pending.sent {
                self.stats.order_answered_since_sent(intended, sent, now);
            }
            if let Some(slot) = pending.slot {
                self.placing -= 1;
                self.busy[slot] = false;
                self.slots.refused(slot);
            }
            return;
        }
        let cancel = match self.cancelling.get(&order) {
            Some(&k) if k == client_ref => Some(order),
            // A refusal without the order (a rate limit): find the cancel by its number.
            _ => self
                .cancelling
                .iter()
                .find(|&(_, &k)| k == client_ref)
                .map(|(&o, _)| o),
        };
        if let Some(order) = cancel {
            self.cancelling.remove(&order);
            self.stats.replied(
                self.schedule.due(client_ref),
                now,
                RequestKind::Cancel,
                Some(code),
            );
        }
    }

    fn on_reply(&mut self, reply: FeedReply, now: Instant) {
        match reply {
            FeedReply::Exec(report) => match report.kind {
                ExecKind::Accepted => {
                    if let Some(pending) = self.pending.remove(&report.client_ref) {
                        let intended = self.schedule.due(report.client_ref);
                        self.stats.replied(intended, now, pending.kind, None);
                        if let Some(sent) = pending.sent {
                            self.stats.order_answered_since_sent(intended, sent, now);
                        }
                        if let Some(slot) = pending.slot {
                            self.placing -= 1;
                            self.order_slots.insert(report.order, slot);
                            self.resting.push(report.order);
                        }
                    }
                }
                ExecKind::Rejected => {
                    let code = report.code.map_or("unknown", |c| c.name());
                    self.refused(report.client_ref, report.order, code, now);
                }
                ExecKind::Cancelled | ExecKind::Filled | ExecKind::Expired => {
                    if report.kind == ExecKind::Cancelled
                        && let Some(k) = self.cancelling.remove(&report.order)
                    {
                        self.stats
                            .replied(self.schedule.due(k), now, RequestKind::Cancel, None);
                    }
                    self.ended(report.order);
                }
                ExecKind::PartiallyFilled | ExecKind::Amended => {}
            },
            FeedReply::Error(error) => {
                self.refused(error.client_ref, OrderId(0), error.code.name(), now);
            }
            _ => {}
        }
    }

    /// Runs the schedule, then waits for the replies; returns the requests never answered.
    async fn run(mut self) -> u64 {
        let mut k = 1u64;
        let drain_until = self.end + self.options.shape.drain;
        let timer = tokio::time::sleep_until(self.schedule.due(k).into());
        tokio::pin!(timer);
        loop {
            let sending = self.schedule.due(k) < self.end;
            if !sending && self.unanswered() == 0 {
                break;
            }
            tokio::select! {
                reply = self.replies.next() => match reply {
                    Ok(Some(reply)) => self.on_reply(reply, Instant::now()),
                    Ok(None) => {
                        self.stats.disconnected(false, Some("reply stream ended".to_owned()));
                        return self.unanswered();
                    }
                    Err(e) => {
                        self.stats.disconnected(false, Some(e.to_string()));
                        return self.unanswered();
                    }
                },
                () = &mut timer, if sending => {
                    // Send everything due by now; late requests still count from their slots.
                    let now = Instant::now();
                    while self.schedule.due(k) <= now && self.schedule.due(k) < self.end {
                        let (request, kind) = self.request(k);
                        if let Err(e) = self.orders.send(&request).await {
                            self.stats.disconnected(false, Some(format!("send: {e}")));
                            return self.unanswered();
                        }
                        if let Some(pending) = self.pending.get_mut(&k) {
                            pending.sent = Some(Instant::now());
                        }
                        self.stats.sent(self.schedule.due(k), kind);
                        k += 1;
                    }
                    timer.as_mut().reset(self.schedule.due(k).into());
                }
                () = tokio::time::sleep_until(drain_until.into()), if !sending => break,
            }
        }
        let unanswered = self.unanswered();
        self.orders.connection.close(0u32.into(), b"done");
        unanswered
    }
}

/// A subscriber's connection: login, subscription and its market-data stream.
struct Subscriber {
    /// Kept so the connection stays open.
    orders: OrderSender,
    replies: ReplyReceiver,
    data: MarketData,
}

async fn subscribe(config: FeedConfig, market: MarketId) -> Result<Subscriber, String> {
    let (mut orders, replies) = connect(config).await?;
    orders
        .send(&FeedRequest::Subscribe(MarketRequest { market }))
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    let data = tokio::time::timeout(CONNECT_TIMEOUT, orders.next_market_stream())
        .await
        .map_err(|_| "subscribe: no market-data stream in time".to_owned())?
        .map_err(|e| format!("subscribe: {e}"))?;
    Ok(Subscriber {
        orders,
        replies,
        data,
    })
}

/// What subscriber 0 keeps to attribute market data to orders: each passive price's level.
struct Attribution {
    slots: Arc<Slots>,
    levels: Vec<u64>,
}

impl Attribution {
    fn level(&mut self, side: BookSide, price: Price, qty: Qty, stats: &Stats, now: Instant) {
        let Some(slot) = slot_of(side, price.0) else {
            return;
        };
        let before = std::mem::replace(&mut self.levels[slot], qty.0);
        if qty.0 == 0 {
            self.slots.emptied(slot);
        } else if before == 0
            && let Some(intended) = self.slots.appeared(slot)
        {
            stats.order_data(intended, now);
        }
    }
}

impl Subscriber {
    /// Reads until `stop`; subscriber 0 attributes market data to orders.
    async fn run(mut self, stats: Arc<Stats>, stop: Instant, mut attribution: Option<Attribution>) {
        let mut books: Vec<(OutcomeId, u64)> = Vec::new();
        let deadline = tokio::time::sleep_until(stop.into());
        tokio::pin!(deadline);
        let ended = loop {
            tokio::select! {
                data = self.data.next() => match data {
                    Ok(Some(data)) => {
                        let now = Instant::now();
                        let (book, seq) = match &data {
                            FeedData::Snapshot(snapshot) => {
                                if let Some(attribution) = &mut attribution {
                                    for (side, levels) in
                                        [(BookSide::Bid, &snapshot.bids), (BookSide::Ask, &snapshot.asks)]
                                    {
                                        for level in levels {
                                            attribution.level(side, level.price, level.qty, &stats, now);
                                        }
                                    }
                                }
                                match books.iter_mut().find(|(b, _)| *b == snapshot.book) {
                                    Some((_, last)) => *last = snapshot.seq,
                                    None => books.push((snapshot.book, snapshot.seq)),
                                }
                                continue;
                            }
                            FeedData::Delta(delta) => {
                                if let Some(attribution) = &mut attribution {
                                    attribution.level(delta.side, delta.price, delta.qty, &stats, now);
                                }
                                (delta.book, delta.seq)
                            }
                            FeedData::Trade(trade) => {
                                stats.delivered(now, super::now_micros() - trade.at.0);
                                (trade.book, trade.seq)
                            }
                            FeedData::Top(_) => continue,
                        };
                        let mut gaps = 0;
                        match books.iter_mut().find(|(b, _)| *b == book) {
                            Some((_, last)) => {
                                if seq != *last + 1 {
                                    gaps = 1;
                                }
                                *last = seq;
                            }
                            None => books.push((book, seq)),
                        }
                        stats.market_data(now, 1, gaps);
                    }
                    Ok(None) => break Some("market-data stream ended".to_owned()),
                    Err(e) => break Some(e.to_string()),
                },
                reply = self.replies.next() => match reply {
                    Ok(Some(_)) => {}
                    Ok(None) => break Some("reply stream ended".to_owned()),
                    Err(e) => break Some(e.to_string()),
                },
                () = &mut deadline => break None,
            }
        };
        if let Some(attribution) = &attribution {
            attribution.slots.active.store(false, Ordering::Relaxed);
        }
        match ended {
            Some(reason) => stats.disconnected(true, Some(reason)),
            None => self.orders.connection.close(0u32.into(), b"done"),
        }
    }
}

/// Runs the QUIC load: connects subscribers then traders, runs the schedule, and returns
/// once every client is done. `on_window` is called with the measurement window once it is
/// known.
pub async fn run(
    fixture: Arc<Fixture>,
    keys: Keys,
    options: QuicOptions,
    stats: Arc<Stats>,
    on_window: impl FnOnce(Instant, Instant),
) -> Result<Outcome, String> {
    let options = Arc::new(options);
    let market = MarketId(numeric(&fixture.market_id, "mkt")?);
    let outcomes = [
        OutcomeId(numeric(&fixture.yes, "out")?),
        OutcomeId(numeric(&fixture.no, "out")?),
    ];
    let slots = Arc::new(Slots::new(Instant::now(), options.shape.subscribers > 0));
    let permits = Arc::new(Semaphore::new(options.shape.connect_concurrency.max(1)));

    let started = Instant::now();
    let mut subscribers = Vec::with_capacity(options.shape.subscribers);
    {
        let mut connecting = JoinSet::new();
        for index in 0..options.shape.subscribers {
            let config = config(&options, &keys.subscribers[index / CONNECTIONS_PER_KEY_MAX]);
            let permits = Arc::clone(&permits);
            connecting.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore open");
                Ok::<_, String>((index, subscribe(config, market).await?))
            });
        }
        let mut connected: Vec<Option<Subscriber>> =
            (0..options.shape.subscribers).map(|_| None).collect();
        while let Some(joined) = connecting.join_next().await {
            let (index, subscriber) = joined
                .map_err(|e| format!("connect task: {e}"))?
                .map_err(|e| format!("subscriber: {e}"))?;
            connected[index] = Some(subscriber);
        }
        subscribers.extend(connected.into_iter().map(|s| s.expect("connected")));
    }
    stats
        .subscribers_connected
        .store(options.shape.subscribers as u64, Ordering::Relaxed);
    if options.shape.subscribers > 0 {
        eprintln!(
            "{} subscribers connected in {:.1} s",
            options.shape.subscribers,
            started.elapsed().as_secs_f64()
        );
    }

    let started = Instant::now();
    let mut connections: Vec<Option<(OrderSender, ReplyReceiver)>> =
        (0..options.shape.connections).map(|_| None).collect();
    {
        let mut connecting = JoinSet::new();
        for (index, key) in keys.traders.iter().enumerate() {
            let config = config(&options, key);
            let permits = Arc::clone(&permits);
            connecting.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore open");
                Ok::<_, String>((index, connect(config).await?))
            });
        }
        while let Some(joined) = connecting.join_next().await {
            let (index, connection) = joined
                .map_err(|e| format!("connect task: {e}"))?
                .map_err(|e| format!("trader: {e}"))?;
            connections[index] = Some(connection);
        }
    }
    let (start, window) = options.shape.begin(&stats, started, on_window);
    let stop = window.1 + Duration::from_secs(1);
    let mut readers = JoinSet::new();
    for (index, subscriber) in subscribers.into_iter().enumerate() {
        let attribution = (index == 0).then(|| Attribution {
            slots: Arc::clone(&slots),
            levels: vec![0; SLOTS],
        });
        readers.spawn(subscriber.run(Arc::clone(&stats), stop, attribution));
    }
    let mut traders = JoinSet::new();
    for (index, connection) in connections.into_iter().enumerate() {
        let (orders, replies) = connection.expect("every trader connected");
        let trader = Trader {
            orders,
            replies,
            market,
            outcomes,
            options: Arc::clone(&options),
            stats: Arc::clone(&stats),
            schedule: Schedule::new(start, options.shape.rate, options.shape.connections, index),
            end: window.1,
            slots: Arc::clone(&slots),
            own: own_slots(index, options.shape.connections),
            busy: vec![false; SLOTS],
            pending: HashMap::new(),
            cancelling: HashMap::new(),
            resting: Vec::new(),
            placing: 0,
            order_slots: HashMap::new(),
            rng: Rng::new(index as u64 + 1),
        };
        traders.spawn(trader.run());
    }
    let mut unanswered = 0;
    while let Some(joined) = traders.join_next().await {
        unanswered += joined.map_err(|e| format!("trader task: {e}"))?;
    }
    while let Some(joined) = readers.join_next().await {
        joined.map_err(|e| format!("subscriber task: {e}"))?;
    }
    eprintln!(
        "over the whole run: {} passive orders; {} more sent as IOCs for lack of a free price or room to rest",
        slots.passive_sent.load(Ordering::Relaxed),
        slots.substituted.load(Ordering::Relaxed)
    );
    Ok(Outcome { unanswered })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_map_to_book_levels_and_back() {
        // A YES bid at 0.4321 and a NO bid at 0.4321 (a YES ask at 0.5679).
        assert_eq!(slot_order(321), (0, 4_321));
        assert_eq!(slot_of(BookSide::Bid, 4_321), Some(321));
        assert_eq!(slot_order(1_321), (1, 4_321));
        assert_eq!(slot_of(BookSide::Ask, 5_679), Some(1_321));
        // Whole cents (the seed liquidity) and prices outside the band belong to nobody.
        for (side, price) in [
            (BookSide::Bid, 4_400),
            (BookSide::Ask, 5_600),
            (BookSide::Bid, 4_000),
            (BookSide::Bid, 5_001),
            (BookSide::Ask, 4_999),
            (BookSide::Bid, 3_999),
            (BookSide::Ask, 6_000),
        ] {
            assert_eq!(slot_of(side, price), None, "{side:?} {price}");
        }
    }

    #[test]
    fn every_owned_price_has_one_owner() {
        let connections = 7;
        let mut owners = vec![0; SLOTS];
        for index in 0..connections {
            for slot in own_slots(index, connections) {
                owners[slot] += 1;
            }
        }
        for (slot, &count) in owners.iter().enumerate() {
            assert_eq!(count, usize::from(owned(slot)), "slot {slot}");
        }
        assert_eq!(slots_per_connection(64), 1_980 / 64);
    }

    #[test]
    fn a_slot_attributes_one_appearance_to_one_order() {
        let base = Instant::now();
        let slots = Slots::new(base, true);
        assert!(slots.is_free(5));
        let due = base + Duration::from_micros(250);
        slots.sent(5, due);
        assert!(!slots.is_free(5));
        assert_eq!(slots.appeared(5), Some(due));
        assert_eq!(
            slots.appeared(5),
            None,
            "a second appearance is not the order"
        );
        assert!(!slots.is_free(5));
        slots.emptied(5);
        assert!(slots.is_free(5));
        slots.sent(5, due);
        slots.refused(5);
        assert!(slots.is_free(5));
        assert_eq!(slots.appeared(5), None);
        let off = Slots::new(base, false);
        off.sent(1, due);
        assert!(
            off.is_free(1),
            "without a subscriber only the trader's view counts"
        );
    }
}
