//! Orders, matching, and the positions and money they move.
//!
//! Every order lives on a contract's YES book. A bid wants YES: it buys YES with cash, or
//! sells NO shares it holds. An ask wants NO: it sells YES shares it holds, or buys NO with
//! cash (a sell of shares not held *is* a buy of the complement). So an order's quantity has
//! a share part, locked in the position when the order is placed, and a cash part, locked in
//! the account at the order's limit price — `price` per unit for a bid, `1 - price` for an
//! ask. A fill consumes the share part first.
//!
//! A fill of `q` at YES price `T` between a bid and an ask settles through the market's
//! escrow: each side pays cash for its cash part (`T` or `1 - T` per unit) into escrow and
//! receives cash for its share part out of it; shares are minted (a YES buyer meets a NO
//! buyer), transferred, or burned (a NO seller meets a YES seller) accordingly. Each side
//! pays at most what it locked, and gets the difference between its limit and `T` back.
//!
//! Orders occupy slots of one arena shared by all books; an [`OrderId`] is the slot plus a
//! generation, so finding an order is an array access and a freed slot's old id can never
//! name the slot's next order. Nothing here allocates once the arena and the books are warm.
//!
//! The arena is laid out for the cache, because a book of a few hundred thousand resting
//! orders does not fit in it and a cancel names a random one. An [`Order`] is one 128-byte
//! record (two cache lines, the first holding everything matching, cancelling and unlocking
//! read); the book's FIFO links and the account's open-order links live in a separate dense
//! array ([`OrderLinks`], 16 bytes a slot), so unlinking an order rewrites its neighbours'
//! links without touching their records. Freed slots are reused last-in first-out, so a new
//! order lands in memory that was just in use; for that, an ended order is copied out of its
//! slot into [`ClosedOrders`], the window of recently ended orders that stay findable by id
//! (keeping it in the slot instead would make every new order write to cold memory).

use crate::ledger::Owner;
use crate::markets::book::{Link, Links, NIL};
use crate::markets::market::{OutcomeRef, TradeRecord};
use crate::{Engine, Limits};
use betbet_protocol::command::{
    AmendOrder, CancelAll, CancelOrder, ClosePosition, MassQuote, MergeShares, MintShares,
    OrderKind, PlaceOrder, SelfTradePrevention, Side, TimeInForce, UserStatus,
};
use betbet_protocol::event::{
    BookDelta, BookSide, DoneReason, Event, LedgerReason, OrderAccepted, OrderStatus, OrderUpdated,
    Trade,
};
use betbet_protocol::feed::MASS_QUOTE_MAX;
use betbet_protocol::message::{Created, OrderReport, QuotesReply, Reply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{
    AccountId, Amount, ClientOrderId, Currency, MarketId, OrderId, OutcomeId, PoolId, PositionId,
    Price, QTY_ORDER_MAX, Qty, Timestamp, TradeId, UserId, notional, payout,
};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Settled positions remembered per account for the positions route.
const SETTLED_PER_ACCOUNT_MAX: usize = 200;

/// What one unit of an order's cash part costs at YES price `price`.
#[inline]
pub fn cash_per_unit(side: BookSide, price: Price) -> Price {
    match side {
        BookSide::Bid => price,
        BookSide::Ask => price.complement(),
    }
}

/// Bits of an [`OrderId`] that name the order's slot; the remaining 40 bits are the slot's
/// generation. Slots are reused last-in first-out, so a busy slot is reused often: 40 bits
/// keep ids unique for 10^12 reuses of one slot.
pub const ORDER_SLOT_BITS: u32 = 24;
/// The largest `Limits::orders_max` an [`OrderId`] can address.
pub const ORDER_SLOTS_MAX: u32 = 1 << ORDER_SLOT_BITS;
const ORDER_SLOT_MASK: u64 = (1 << ORDER_SLOT_BITS) - 1;
const ORDER_GENERATION_MAX: u64 = u64::MAX >> ORDER_SLOT_BITS;

/// An order: live (`status` is `Open`) while it rests or is being matched, then ended. One
/// record of exactly two cache lines; the first holds what placing, matching, cancelling and
/// unlocking read, the second the order's history. Indices (`account`, `user`, `pool`) are
/// stored as `u32` — their limits are `u32` — to fit.
///
/// The order's quantity is not stored: it is always `filled + remaining`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(C, align(128))]
pub struct Order {
    pub id: OrderId,
    /// Quantity still to fill (what rests on the book while the order is live).
    pub remaining: u64,
    pub filled: u64,
    /// Shares of the remaining quantity still locked for selling.
    pub shares_locked: u64,
    /// Cash still locked for the rest: `cash_per_unit(side, price) × (remaining − shares)`.
    pub cash_locked: i64,
    /// The account it trades from (an `AccountId`).
    pub account: u32,
    /// Slot of the (account, contract) position.
    pub position: u32,
    pub contract: u32,
    /// Who placed it (a `UserId`; a pool's orders are placed by its manager).
    pub user: u32,
    /// The book level of `price`.
    pub level: u16,
    pub side: BookSide,
    /// `Open` while live; the final status once ended (see [`Order::current_status`]).
    pub status: OrderStatus,
    pub time_in_force: TimeInForce,
    pub self_trade: SelfTradePrevention,
    /// The order is in NO terms (a binary market's NO outcome, or closing a lay).
    pub no_view: bool,
    /// [`Order::CLIENT_ID`], [`Order::QUOTE`].
    pub flags: u8,

    /// Money the fills cost or brought in, in the order's own outcome terms.
    pub filled_notional: i64,
    pub created_at: Timestamp,
    /// The last change; once ended, when it ended.
    pub updated_at: Timestamp,
    pub expires_at: Timestamp,
    pub outcome: OutcomeId,
    pub market: MarketId,
    pub trades: u32,
    /// The pool it trades for (a `PoolId`), 0 for none.
    pub pool: u32,
    /// Limit on the YES book.
    pub price: Price,
    pub user_side: Side,
    pub kind: OrderKind,
    pub post_only: bool,
    pub reason: Option<DoneReason>,
}

const _: () = assert!(std::mem::size_of::<Order>() == 128);

impl Order {
    /// The contents of a slot that never held an order.
    const VACANT: Order = Order {
        id: OrderId(0),
        remaining: 0,
        filled: 0,
        shares_locked: 0,
        cash_locked: 0,
        account: 0,
        position: 0,
        contract: 0,
        user: 0,
        level: 0,
        side: BookSide::Bid,
        status: OrderStatus::Cancelled,
        time_in_force: TimeInForce::Gtc,
        self_trade: SelfTradePrevention::CancelResting,
        no_view: false,
        flags: 0,
        filled_notional: 0,
        created_at: Timestamp::ZERO,
        updated_at: Timestamp::ZERO,
        expires_at: Timestamp::ZERO,
        outcome: OutcomeId(0),
        market: MarketId(0),
        trades: 0,
        pool: 0,
        price: Price(0),
        user_side: Side::Buy,
        kind: OrderKind::Limit,
        post_only: false,
        reason: None,
    };

    /// Flag: the client order id is kept in `Trading::client_order_ids`.
    pub const CLIENT_ID: u8 = 1;
    /// Flag: the order is one side of a mass quote (the next mass quote on its book
    /// replaces it).
    pub const QUOTE: u8 = 2;

    #[inline]
    pub fn has_client_id(&self) -> bool {
        self.flags & Order::CLIENT_ID != 0
    }

    #[inline]
    pub fn is_quote(&self) -> bool {
        self.flags & Order::QUOTE != 0
    }

    #[inline]
    pub fn slot(&self) -> u32 {
        (self.id.0 & ORDER_SLOT_MASK) as u32
    }

    #[inline]
    pub fn is_live(&self) -> bool {
        self.status == OrderStatus::Open
    }

    #[inline]
    pub fn account_id(&self) -> AccountId {
        AccountId(u64::from(self.account))
    }

    #[inline]
    pub fn user_id(&self) -> UserId {
        UserId(u64::from(self.user))
    }

    pub fn pool_id(&self) -> Option<PoolId> {
        (self.pool != 0).then(|| PoolId(u64::from(self.pool)))
    }

    /// The ordered quantity (amendments change it).
    #[inline]
    pub fn qty(&self) -> u64 {
        self.filled + self.remaining
    }

    /// The order's own (outcome-view) price of YES price `yes`.
    #[inline]
    pub fn view_price(&self, yes: Price) -> Price {
        if self.no_view { yes.complement() } else { yes }
    }

    #[inline]
    fn rests(&self) -> bool {
        matches!(self.time_in_force, TimeInForce::Gtc | TimeInForce::Gtd)
    }

    /// The status of a live order (open or partially filled) or the final one of an
    /// ended order.
    pub fn current_status(&self) -> OrderStatus {
        match self.status {
            OrderStatus::Open if self.filled > 0 => OrderStatus::PartiallyFilled,
            status => status,
        }
    }
}

/// The links of one slot: its place in its book level's FIFO and in its account's list of
/// open orders (newest first: `next` is the next older order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLinks {
    pub book: Link,
    pub account: Link,
}

impl OrderLinks {
    const EMPTY: OrderLinks = OrderLinks {
        book: Link::EMPTY,
        account: Link::EMPTY,
    };
}

impl Links for [OrderLinks] {
    #[inline]
    fn link(&self, slot: u32) -> Link {
        self[slot as usize].book
    }

    #[inline]
    fn link_mut(&mut self, slot: u32) -> &mut Link {
        &mut self[slot as usize].book
    }
}

/// Recently ended orders, findable by id: for order history and for answering a repeated
/// client order id. Every ended order joins at the back; each new order placed evicts the
/// oldest while more than `Limits::closed_orders_kept` are kept, so the window holds the last
/// `closed_orders_kept` ended orders (more for a while after a burst of ends, such as a
/// market closing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClosedOrders {
    /// Oldest first.
    pub(crate) orders: VecDeque<Order>,
    /// How many orders have left the window: the end number of `orders[0]`.
    pub(crate) evicted: u64,
    /// Where each order of the window is, except the newest `unindexed`. Derived from
    /// `orders`: not encoded, rebuilt on decode.
    pub(crate) index: EndedIndex,
    /// The newest orders of the window not in `index` yet (found by scanning them). They are
    /// indexed [`INDEX_BATCH`] at a time: one loop over independent cache misses overlaps
    /// them, where indexing each order as it ends would wait for each miss in turn.
    pub(crate) unindexed: usize,
}

/// Ended orders indexed together (see `ClosedOrders::unindexed`).
const INDEX_BATCH: usize = 16;

impl ClosedOrders {
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    pub fn get(&self, id: OrderId) -> Option<&Order> {
        let newest = self.orders.len() - self.unindexed;
        if let Some(order) = self.orders.range(newest..).find(|o| o.id == id) {
            return Some(order);
        }
        let end = self.index.get(id, self.evicted)?;
        let order = self.orders.get((end - self.evicted) as usize)?;
        assert_eq!(order.id, id, "window index out of step");
        Some(order)
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Order> {
        self.orders.iter()
    }

    #[inline]
    fn push(&mut self, order: &Order) {
        self.orders.push_back(order.clone());
        self.unindexed += 1;
        if self.unindexed < INDEX_BATCH {
            return;
        }
        if !self.index.has_room(self.orders.len()) {
            // A burst of ends outgrew the reserve (or nothing was reserved): double.
            self.rebuild_index(2 * self.orders.len());
            return;
        }
        let first = self.orders.len() - self.unindexed;
        for (i, order) in self.orders.range(first..).enumerate() {
            let end = self.evicted + (first + i) as u64;
            self.index.insert(order.id, end, self.evicted);
        }
        self.unindexed = 0;
    }

    #[inline]
    fn pop_oldest(&mut self) -> Order {
        let order = self.orders.pop_front().expect("window not empty");
        // Its index entry goes stale by itself.
        self.evicted += 1;
        self.unindexed = self.unindexed.min(self.orders.len());
        order
    }

    fn reserve(&mut self, kept: usize) {
        // Slack for bursts of ends between placements.
        let orders = kept + 4_096;
        self.orders
            .reserve(orders.saturating_sub(self.orders.len()));
        // Touch the ring's memory now (see `Trading::reserve`).
        let used = self.orders.len();
        self.orders.resize(self.orders.capacity(), Order::VACANT);
        self.orders.truncate(used);
        if !self.index.has_room(orders) {
            self.rebuild_index(orders);
        }
    }

    /// Rebuilds the index with room for `window` orders. Returns whether every order of the
    /// window is listed once (a decoded window could name one twice).
    pub(crate) fn rebuild_index(&mut self, window: usize) -> bool {
        self.index = EndedIndex::with_room(window.max(self.orders.len()));
        self.unindexed = 0;
        let mut unique = true;
        for (i, order) in self.orders.iter().enumerate() {
            unique &= self.index.get(order.id, self.evicted).is_none();
            self.index
                .insert(order.id, self.evicted + i as u64, self.evicted);
        }
        unique
    }

    /// Asserts the index finds every order of the window but the unindexed newest.
    fn check(&self) {
        assert!(self.unindexed <= self.orders.len() && self.unindexed < INDEX_BATCH);
        let indexed = self.orders.len() - self.unindexed;
        for (i, order) in self.orders.iter().enumerate().take(indexed) {
            assert_eq!(
                self.index.get(order.id, self.evicted),
                Some(self.evicted + i as u64),
                "window index misses {:?}",
                order.id
            );
        }
        for order in &self.orders {
            assert_eq!(self.get(order.id).map(|o| o.id), Some(order.id));
        }
    }
}

/// The end number of each order in the window, by id: buckets of four entries, one cache
/// line each, probed linearly from a hashed home bucket. Entries are never removed: an
/// entry whose order has left the window is stale and is simply overwritten by a later
/// insert, so ending an order touches one bucket and evicting one touches nothing (a hash
/// map's remove would cost a second random cache miss per order). Kept at most half full of
/// live entries so probes stay short.
#[derive(Debug, Clone, Default)]
pub(crate) struct EndedIndex {
    buckets: Vec<IndexBucket>,
    /// The furthest past its home bucket any entry was put; lookups look no further.
    probe_max: usize,
}

/// Derived state: two indexes of the same window are equal whatever their layout.
impl PartialEq for EndedIndex {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for EndedIndex {}

const INDEX_BUCKET_ENTRIES: usize = 4;

#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct IndexBucket([IndexEntry; INDEX_BUCKET_ENTRIES]);

/// `id` 0 (no order has it) marks an entry never used.
#[derive(Debug, Clone, Copy, Default)]
struct IndexEntry {
    id: u64,
    end: u64,
}

impl EndedIndex {
    fn with_room(window: usize) -> Self {
        let entries = (2 * window)
            .max(2 * INDEX_BUCKET_ENTRIES)
            .next_power_of_two();
        // Filled by writing (not `vec!`, which would map zeroed pages lazily) so the table's
        // pages are mapped before the hot path needs them.
        let mut buckets = Vec::with_capacity(entries / INDEX_BUCKET_ENTRIES);
        buckets.resize(entries / INDEX_BUCKET_ENTRIES, IndexBucket::default());
        EndedIndex {
            buckets,
            probe_max: 0,
        }
    }

    /// Whether a window of `window` orders keeps the table at most half full.
    #[inline]
    fn has_room(&self, window: usize) -> bool {
        2 * window <= self.buckets.len() * INDEX_BUCKET_ENTRIES
    }

    #[inline]
    fn home(&self, id: OrderId) -> usize {
        // Fibonacci hashing: the top bits of the product mix every bit of the id.
        let bits = self.buckets.len().trailing_zeros();
        (id.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (63 - bits) >> 1) as usize
    }

    fn get(&self, id: OrderId, evicted: u64) -> Option<u64> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let home = self.home(id);
        (0..=self.probe_max).find_map(|probe| {
            self.buckets[(home + probe) & mask]
                .0
                .iter()
                .find(|e| e.id == id.0 && e.end >= evicted)
                .map(|e| e.end)
        })
    }

    /// Puts `id` in the first entry from its home bucket on that is unused or stale (its
    /// order left the window: `end < evicted`). The caller keeps the table half empty, so
    /// there is one.
    #[inline]
    fn insert(&mut self, id: OrderId, end: u64, evicted: u64) {
        let mask = self.buckets.len() - 1;
        let home = self.home(id);
        for probe in 0..self.buckets.len() {
            let bucket = &mut self.buckets[(home + probe) & mask];
            if let Some(entry) = bucket.0.iter_mut().find(|e| e.id == 0 || e.end < evicted) {
                *entry = IndexEntry { id: id.0, end };
                self.probe_max = self.probe_max.max(probe);
                return;
            }
        }
        unreachable!("the window index is kept half empty");
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub id: PositionId,
    pub account: AccountId,
    pub contract: u32,
    pub yes: u64,
    pub yes_locked: u64,
    pub yes_cost: i64,
    pub no: u64,
    pub no_locked: u64,
    pub no_cost: i64,
    pub realized: i64,
    /// Cash paid into this contract minus cash received from it (void refunds use it).
    pub net_cash: i64,
    pub traded: bool,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A position after its market settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledPosition {
    pub position: Position,
    pub settled_at: Timestamp,
    /// What settling this position paid into its account (payout less fees, or refund).
    pub received: i64,
    /// What settlement made or lost on it: `received` against its cost basis (a void:
    /// against the money it had put in).
    pub settlement_pnl: i64,
}

#[derive(Debug, Clone)]
pub struct Trading {
    /// The order arena, by slot. A free slot still holds the order that last ended there.
    pub orders: Vec<Order>,
    /// Links of each slot, beside the arena.
    pub links: Vec<OrderLinks>,
    /// Free slots; the most recently freed (warmest) is reused first.
    pub free_slots: Vec<u32>,
    pub live_orders: u32,
    pub closed: ClosedOrders,
    /// Client order ids of live and windowed orders that gave one.
    pub client_order_ids: FxHashMap<OrderId, ClientOrderId>,
    pub positions: Vec<Position>,
    pub free_positions: Vec<u32>,
    pub position_index: FxHashMap<(AccountId, u32), u32>,
    pub position_ids: FxHashMap<PositionId, u32>,
    /// Position slots of each account, for listing positions without a scan.
    pub account_positions: FxHashMap<AccountId, Vec<u32>>,
    pub next_position: u64,
    pub settled: FxHashMap<AccountId, VecDeque<SettledPosition>>,
    pub client_ids: FxHashMap<(AccountId, ClientOrderId), OrderId>,
    /// GTD orders by expiry; entries of orders that ended earlier are skipped when popped.
    pub expiries: BinaryHeap<Reverse<(Timestamp, OrderId)>>,
}

impl Trading {
    pub fn new(limits: &Limits) -> Self {
        assert!(
            limits.orders_max <= ORDER_SLOTS_MAX,
            "orders_max {} is more than an order id can address",
            limits.orders_max
        );
        Trading {
            orders: Vec::new(),
            links: Vec::new(),
            free_slots: Vec::new(),
            live_orders: 0,
            closed: ClosedOrders::default(),
            client_order_ids: FxHashMap::default(),
            positions: Vec::new(),
            free_positions: Vec::new(),
            position_index: FxHashMap::default(),
            position_ids: FxHashMap::default(),
            account_positions: FxHashMap::default(),
            next_position: 0,
            settled: FxHashMap::default(),
            client_ids: FxHashMap::default(),
            expiries: BinaryHeap::new(),
        }
    }

    #[inline]
    fn slot_of(id: OrderId) -> u32 {
        (id.0 & ORDER_SLOT_MASK) as u32
    }

    /// The slot of a live order.
    #[inline]
    pub fn find(&self, id: OrderId) -> Option<u32> {
        let slot = Self::slot_of(id);
        let order = self.orders.get(slot as usize)?;
        (order.id == id && order.is_live()).then_some(slot)
    }

    /// An ended order still in the window.
    pub fn find_ended(&self, id: OrderId) -> Option<&Order> {
        self.closed.get(id)
    }

    #[inline]
    pub fn order(&self, slot: u32) -> &Order {
        &self.orders[slot as usize]
    }

    #[inline]
    fn order_mut(&mut self, slot: u32) -> &mut Order {
        &mut self.orders[slot as usize]
    }

    pub fn client_order_id(&self, order: &Order) -> Option<ClientOrderId> {
        if order.has_client_id() {
            self.client_order_ids.get(&order.id).copied()
        } else {
            None
        }
    }

    /// Reserves the order arena up to its limits so the hot path never reallocates (a
    /// clone or a restored snapshot has only what it needs), and writes the reserved memory
    /// once so that the operating system maps it now: a growing book would otherwise take a
    /// page fault (several microseconds) every 32 new slots, which is most of the p99.
    pub fn reserve(&mut self, limits: &Limits) {
        let slots = limits.orders_max as usize;
        self.orders.reserve(slots.saturating_sub(self.orders.len()));
        let used = self.orders.len();
        self.orders.resize(self.orders.capacity(), Order::VACANT);
        self.orders.truncate(used);
        self.links.reserve(slots.saturating_sub(self.links.len()));
        self.free_slots
            .reserve(slots.saturating_sub(self.free_slots.len()));
        self.closed.reserve(limits.closed_orders_kept as usize);
    }

    pub fn position(&self, account: AccountId, contract: u32) -> Option<&Position> {
        let slot = *self.position_index.get(&(account, contract))?;
        Some(&self.positions[slot as usize])
    }

    pub fn position_by_id(&self, id: PositionId) -> Option<&Position> {
        let slot = *self.position_ids.get(&id)?;
        Some(&self.positions[slot as usize])
    }

    /// Live orders of an account, newest first.
    pub fn account_orders<'a>(&'a self, head: u32) -> impl Iterator<Item = &'a Order> + 'a {
        let mut slot = head;
        std::iter::from_fn(move || {
            if slot == NIL {
                return None;
            }
            let order = self.order(slot);
            slot = self.links[slot as usize].account.next;
            Some(order)
        })
    }

    /// Moves a position of a settled market into the account's settled history.
    pub(crate) fn settle_position(
        &mut self,
        account: AccountId,
        contract: u32,
        now: Timestamp,
        received: i64,
        settlement_pnl: i64,
    ) {
        let Some(slot) = self.position_index.remove(&(account, contract)) else {
            return;
        };
        let position = self.positions[slot as usize].clone();
        assert!(
            position.yes_locked == 0 && position.no_locked == 0,
            "settling a position with locked shares"
        );
        self.position_ids.remove(&position.id);
        if let Some(slots) = self.account_positions.get_mut(&account) {
            slots.retain(|&s| s != slot);
            if slots.is_empty() {
                self.account_positions.remove(&account);
            }
        }
        self.free_positions.push(slot);
        let history = self.settled.entry(account).or_default();
        if history.len() >= SETTLED_PER_ACCOUNT_MAX {
            history.pop_front();
        }
        history.push_back(SettledPosition {
            position,
            settled_at: now,
            received,
            settlement_pnl,
        });
    }
}

/// An id stored in 32 bits of an [`Order`]. Users, accounts and pools are bounded by `u32`
/// limits, so this never fails short of a broken invariant.
#[inline]
fn compact(id: u64, what: &'static str) -> u32 {
    match u32::try_from(id) {
        Ok(id) => id,
        Err(_) => panic!("{what} id {id} does not fit an order record"),
    }
}

/// Where an order goes on the YES book: its side and YES limit price.
fn book_terms(outcome: OutcomeRef, side: Side, price: Price) -> (BookSide, Price) {
    match (outcome.no_view, side) {
        (false, Side::Buy) => (BookSide::Bid, price),
        (false, Side::Sell) => (BookSide::Ask, price),
        (true, Side::Buy) => (BookSide::Ask, price.complement()),
        (true, Side::Sell) => (BookSide::Bid, price.complement()),
    }
}

/// Whether the best opposite level `best` is acceptable to an order on `side` limited at
/// `limit`.
#[inline]
fn acceptable(side: BookSide, limit: u16, best: u16) -> bool {
    match side {
        BookSide::Bid => best <= limit,
        BookSide::Ask => best >= limit,
    }
}

/// The share part an order may lock: held shares of the side it sells, up to `qty`.
fn sellable(position: Option<&Position>, side: BookSide) -> u64 {
    position.map_or(0, |p| match side {
        BookSide::Ask => p.yes - p.yes_locked,
        BookSide::Bid => p.no - p.no_locked,
    })
}

impl Engine {
    /// The account an order trades from: the actor's wallet in the market's currency, or the
    /// pool the actor manages.
    fn trading_account(
        &self,
        actor: UserId,
        pool: Option<PoolId>,
        currency: Currency,
    ) -> Result<AccountId, ResultCode> {
        let user = self.users.get(actor).ok_or(ResultCode::UserNotFound)?;
        if user.status != UserStatus::Active {
            return Err(ResultCode::AccountSuspended);
        }
        match pool {
            None => user.wallet(currency).ok_or(ResultCode::UnknownAccount),
            Some(pool) => {
                let pool = self.pools.get(pool).ok_or(ResultCode::PoolNotFound)?;
                if pool.creator != actor {
                    return Err(ResultCode::NotPoolManager);
                }
                if pool.status != betbet_protocol::event::PoolStatus::Active {
                    return Err(ResultCode::PoolNotActive);
                }
                if pool.currency != currency {
                    return Err(ResultCode::CurrencyMismatch);
                }
                Ok(pool.account)
            }
        }
    }

    /// `trading_account` for placing an order: the actor's wallet comes from its
    /// trading line when cached there (see `WalletCache`), sparing the large user record and
    /// its wallet list; a miss looks it up and fills the cache.
    #[inline]
    fn order_account(
        &mut self,
        actor: UserId,
        pool: Option<PoolId>,
        currency: Currency,
    ) -> Result<AccountId, ResultCode> {
        if pool.is_some() {
            return self.trading_account(actor, pool, currency);
        }
        if let Some(account) = self
            .users
            .trading(actor)
            .and_then(|t| t.wallet.get(currency))
        {
            return Ok(account);
        }
        let account = self.trading_account(actor, None, currency)?;
        if let Some(trading) = self.users.trading_mut(actor) {
            trading.wallet.fill(currency, account);
        }
        Ok(account)
    }

    fn has_position_room(&self, needed: usize) -> bool {
        let live = self.trading.positions.len() - self.trading.free_positions.len();
        live + needed <= self.limits.positions_max as usize
    }

    /// The (account, contract) position, created if missing (room was checked).
    fn position_slot(&mut self, account: AccountId, contract: u32) -> u32 {
        if let Some(&slot) = self.trading.position_index.get(&(account, contract)) {
            return slot;
        }
        let market = self.markets.contracts[contract as usize].market;
        let contracts = &self
            .markets
            .get(market)
            .expect("contract's market")
            .contracts;
        let first_in_market = contracts
            .iter()
            .all(|&c| !self.trading.position_index.contains_key(&(account, c)));
        self.trading.next_position += 1;
        let id = PositionId(self.trading.next_position);
        let position = Position {
            id,
            account,
            contract,
            yes: 0,
            yes_locked: 0,
            yes_cost: 0,
            no: 0,
            no_locked: 0,
            no_cost: 0,
            realized: 0,
            net_cash: 0,
            traded: false,
            opened_at: self.now,
            updated_at: self.now,
        };
        let slot = match self.trading.free_positions.pop() {
            Some(slot) => {
                self.trading.positions[slot as usize] = position;
                slot
            }
            None => {
                self.trading.positions.push(position);
                (self.trading.positions.len() - 1) as u32
            }
        };
        self.trading
            .position_index
            .insert((account, contract), slot);
        self.trading.position_ids.insert(id, slot);
        self.trading
            .account_positions
            .entry(account)
            .or_default()
            .push(slot);
        if first_in_market {
            self.markets
                .get_mut(market)
                .expect("found")
                .accounts
                .push(account);
            self.ledger.get_mut(account).unsettled_markets += 1;
        }
        slot
    }

    /// Liquidity an order on `side` limited at `limit` could take right now, given how it
    /// treats its own resting orders. Used to refuse fill-or-kill orders up front.
    fn fillable(
        &self,
        contract: u32,
        side: BookSide,
        limit: u16,
        account: AccountId,
        stp: SelfTradePrevention,
        wanted: u64,
    ) -> u64 {
        let book = &self.markets.contracts[contract as usize].book;
        let opposite = side.opposite();
        let mut total = 0;
        let mut level = book.best(opposite);
        while let Some(l) = level {
            if !acceptable(side, limit, l) {
                break;
            }
            for slot in book.orders_at(self.trading.links.as_slice(), opposite, l) {
                let order = self.trading.order(slot);
                if order.account_id() == account {
                    match stp {
                        SelfTradePrevention::CancelResting => continue,
                        SelfTradePrevention::CancelTaking | SelfTradePrevention::CancelBoth => {
                            return total;
                        }
                    }
                }
                total += order.remaining;
                if total >= wanted {
                    return total;
                }
            }
            level = book.next_level(opposite, l);
        }
        total
    }

    pub(crate) fn place_order(
        &mut self,
        c: &PlaceOrder,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        self.place(c, false, out)
    }

    /// Places an order; `lay` puts it in NO terms on an outcome that is normally YES (a
    /// multiple market's contract), which only closing a lay position needs.
    fn place(
        &mut self,
        c: &PlaceOrder,
        lay: bool,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        let (currency, trading, tick) = (market.currency, market.is_trading(self.now), market.tick);
        market.check_trader(c.actor)?;
        let mut outcome = self
            .markets
            .outcome(c.outcome)
            .filter(|o| o.market == c.market)
            .ok_or(ResultCode::OutcomeNotFound)?;
        outcome.no_view |= lay;
        let account = self.order_account(c.actor, c.pool, currency)?;
        if let Some(client_id) = c.client_order_id
            && let Some(&original) = self.trading.client_ids.get(&(account, client_id))
        {
            return Ok(Reply::Order(self.order_report(original, true)));
        }
        if !trading {
            return Err(ResultCode::MarketNotOpen);
        }
        if c.qty.0 == 0 || c.qty.0 > QTY_ORDER_MAX {
            return Err(ResultCode::InvalidQuantity);
        }
        if !c.price.is_valid() {
            return Err(ResultCode::InvalidPrice);
        }
        if !c.price.0.is_multiple_of(tick.units()) {
            return Err(ResultCode::PriceOffTick);
        }
        let time_in_force = match (c.kind, c.time_in_force) {
            (OrderKind::Market, TimeInForce::Fok) => TimeInForce::Fok,
            (OrderKind::Market, _) => TimeInForce::Ioc,
            (OrderKind::Limit, tif) => tif,
        };
        let rests = matches!(time_in_force, TimeInForce::Gtc | TimeInForce::Gtd);
        if c.post_only && !rests {
            return Err(ResultCode::InvalidTimeInForce);
        }
        if time_in_force == TimeInForce::Gtd && c.expires_at <= self.now {
            return Err(ResultCode::ExpiryInPast);
        }
        let (side, yes_price) = book_terms(outcome, c.side, c.price);
        let contract = outcome.contract;
        let book = &self.markets.contracts[contract as usize].book;
        let level = book.level_of(yes_price).expect("checked price and tick");
        let position_slot = self
            .trading
            .position_index
            .get(&(account, contract))
            .copied();
        let position = position_slot.map(|slot| &self.trading.positions[slot as usize]);
        let shares = if c.side == Side::Sell {
            sellable(position, side).min(c.qty.0)
        } else {
            0
        };
        let cash = notional(cash_per_unit(side, yes_price), Qty(c.qty.0 - shares)).0;
        if self.ledger.available(account) < cash {
            return Err(ResultCode::InsufficientFunds);
        }
        if c.post_only && book.crosses(side, level) {
            return Err(ResultCode::PostOnlyWouldCross);
        }
        if c.kind == OrderKind::Market && !book.crosses(side, level) {
            return Err(ResultCode::NoLiquidity);
        }
        if time_in_force == TimeInForce::Fok
            && self.fillable(contract, side, level, account, c.self_trade, c.qty.0) < c.qty.0
        {
            return Err(ResultCode::FillOrKillUnfilled);
        }
        if rests && self.ledger.get(account).open_orders >= self.config.open_orders_per_user_max {
            return Err(ResultCode::TooManyOpenOrders);
        }
        if self.trading.live_orders >= self.limits.orders_max {
            return Err(ResultCode::BookFull);
        }
        if position.is_none() && !self.has_position_room(1) {
            return Err(ResultCode::LimitExceeded);
        }

        // Everything is checked; from here the order is accepted.
        let position = match position_slot {
            Some(slot) => slot,
            None => self.position_slot(account, contract),
        };
        self.lock_order(account, position, side, shares, cash);
        let now = self.now;
        let (slot, id) = self.allocate_slot(account);
        let order = self.trading.order_mut(slot);
        *order = Order {
            id,
            remaining: c.qty.0,
            filled: 0,
            shares_locked: shares,
            cash_locked: cash,
            account: compact(account.0, "account"),
            position,
            contract,
            user: compact(c.actor.0, "user"),
            level,
            side,
            status: OrderStatus::Open,
            time_in_force,
            self_trade: c.self_trade,
            no_view: outcome.no_view,
            flags: if c.client_order_id.is_some() {
                Order::CLIENT_ID
            } else {
                0
            },
            filled_notional: 0,
            created_at: now,
            updated_at: now,
            expires_at: c.expires_at,
            outcome: c.outcome,
            market: c.market,
            trades: 0,
            pool: c.pool.map_or(0, |pool| compact(pool.0, "pool")),
            price: yes_price,
            user_side: c.side,
            kind: c.kind,
            post_only: c.post_only,
            reason: None,
        };
        if let Some(client_id) = c.client_order_id {
            self.trading.client_ids.insert((account, client_id), id);
            self.trading.client_order_ids.insert(id, client_id);
        }
        if let Some(stats) = self.users.stats_mut(c.actor) {
            stats.orders_placed += 1;
        }
        out.push(Event::OrderAccepted(OrderAccepted {
            order: id,
            user: c.actor,
            account,
            market: c.market,
            outcome: c.outcome,
            side: c.side,
            price: c.price,
            qty: c.qty,
        }));
        self.execute(slot, level, false, out);
        Ok(Reply::Order(self.slot_report(slot, false)))
    }

    /// Locks an order's share part in its position and its cash part in the account.
    fn lock_order(
        &mut self,
        account: AccountId,
        position: u32,
        side: BookSide,
        shares: u64,
        cash: i64,
    ) {
        // Buying locks no shares: leave the position's cache line alone.
        if shares > 0 {
            let position = &mut self.trading.positions[position as usize];
            match side {
                BookSide::Ask => position.yes_locked += shares,
                BookSide::Bid => position.no_locked += shares,
            }
        }
        self.ledger.lock(account, cash);
    }

    /// Releases what an order still holds.
    fn unlock_order(&mut self, slot: u32) {
        let order = self.trading.order_mut(slot);
        let (account, position, side, shares, cash) = (
            order.account_id(),
            order.position,
            order.side,
            order.shares_locked,
            order.cash_locked,
        );
        order.shares_locked = 0;
        order.cash_locked = 0;
        if shares > 0 {
            let position = &mut self.trading.positions[position as usize];
            match side {
                BookSide::Ask => position.yes_locked -= shares,
                BookSide::Bid => position.no_locked -= shares,
            }
        }
        self.ledger.unlock(account, cash);
    }

    /// Takes a slot for a new order of `account` (the warmest free one), links it at the head
    /// of the account's open orders and returns it with the new order's id. First makes room
    /// in the window of ended orders, as each placement does.
    fn allocate_slot(&mut self, account: AccountId) -> (u32, OrderId) {
        if self.trading.closed.len() > self.limits.closed_orders_kept as usize {
            // The oldest ended order leaves the window: its client order id may be used again.
            let old = self.trading.closed.pop_oldest();
            if old.has_client_id() {
                let client_id = self
                    .trading
                    .client_order_ids
                    .remove(&old.id)
                    .expect("client order id of a windowed order");
                let key = (old.account_id(), client_id);
                if self.trading.client_ids.get(&key) == Some(&old.id) {
                    self.trading.client_ids.remove(&key);
                }
            }
        }
        let slot = match self.trading.free_slots.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.trading.orders.len())
                    .ok()
                    .filter(|&slot| slot < ORDER_SLOTS_MAX)
                    .expect("the order arena is bounded by orders_max");
                self.trading.orders.push(Order::VACANT);
                self.trading.links.push(OrderLinks::EMPTY);
                slot
            }
        };
        let previous = self.trading.orders[slot as usize].id.0 >> ORDER_SLOT_BITS;
        let generation = if previous >= ORDER_GENERATION_MAX {
            1
        } else {
            previous + 1
        };
        let id = OrderId((generation << ORDER_SLOT_BITS) | u64::from(slot));
        // Link into the account's open-order list (at the head).
        let account = self.ledger.get_mut(account);
        let old_head = account.orders_head;
        account.orders_head = slot;
        account.open_orders += 1;
        self.trading.links[slot as usize] = OrderLinks {
            book: Link::EMPTY,
            account: Link {
                next: old_head,
                prev: NIL,
            },
        };
        if old_head != NIL {
            self.trading.links[old_head as usize].account.prev = slot;
        }
        self.trading.live_orders += 1;
        (slot, id)
    }

    /// Matches a taker order, then rests or ends what is left of it. `announce` reports the
    /// resting order even if nothing filled (an amendment changed it; a new order was
    /// already announced by `OrderAccepted`).
    fn execute(&mut self, slot: u32, level: u16, announce: bool, out: &mut Vec<Event>) {
        let stopped = self.match_order(slot, level, out);
        let order = self.trading.order(slot);
        if order.remaining == 0 {
            self.finish(slot, OrderStatus::Filled, DoneReason::Filled, out);
        } else if let Some(reason) = stopped {
            self.finish(slot, OrderStatus::Cancelled, reason, out);
        } else if !order.rests() {
            self.finish(slot, OrderStatus::Cancelled, DoneReason::Unfilled, out);
        } else {
            let (contract, side, remaining, gtd, expires_at, id, filled) = (
                order.contract,
                order.side,
                order.remaining,
                order.time_in_force == TimeInForce::Gtd,
                order.expires_at,
                order.id,
                order.filled,
            );
            debug_assert_eq!(order.level, level);
            let book = &mut self.markets.contracts[contract as usize].book;
            let after = book.insert(
                self.trading.links.as_mut_slice(),
                slot,
                side,
                level,
                remaining,
            );
            self.book_delta(contract, side, level, after.qty, after.orders, out);
            if gtd {
                self.trading.expiries.push(Reverse((expires_at, id)));
            }
            if announce || filled > 0 {
                self.order_updated(slot, None, out);
            }
        }
    }

    /// Trades `slot` against the opposite side while prices are acceptable. Returns why it
    /// stopped early, if self-trade prevention stopped it.
    fn match_order(&mut self, taker: u32, limit: u16, out: &mut Vec<Event>) -> Option<DoneReason> {
        let order = self.trading.order(taker);
        let (contract, side, account, stp) =
            (order.contract, order.side, order.account, order.self_trade);
        let opposite = side.opposite();
        loop {
            let remaining = self.trading.order(taker).remaining;
            if remaining == 0 {
                return None;
            }
            let book = &self.markets.contracts[contract as usize].book;
            let best = book.best(opposite)?;
            if !acceptable(side, limit, best) {
                return None;
            }
            let maker = book.level(opposite, best).head;
            let maker_order = self.trading.order(maker);
            if maker_order.account == account {
                match stp {
                    SelfTradePrevention::CancelResting => {
                        self.cancel_resting(maker, DoneReason::SelfTrade, out);
                        continue;
                    }
                    SelfTradePrevention::CancelTaking => return Some(DoneReason::SelfTrade),
                    SelfTradePrevention::CancelBoth => {
                        self.cancel_resting(maker, DoneReason::SelfTrade, out);
                        return Some(DoneReason::SelfTrade);
                    }
                }
            }
            let resting = maker_order.remaining;
            let qty = remaining.min(resting);
            self.fill(taker, maker, qty, best, out);
            let book = &mut self.markets.contracts[contract as usize].book;
            if qty == resting {
                let after = book.remove(
                    self.trading.links.as_mut_slice(),
                    maker,
                    opposite,
                    best,
                    resting,
                );
                self.book_delta(contract, opposite, best, after.qty, after.orders, out);
                self.finish(maker, OrderStatus::Filled, DoneReason::Filled, out);
            } else {
                let after = book.reduce(opposite, best, qty);
                self.book_delta(contract, opposite, best, after.qty, after.orders, out);
                self.order_updated(maker, None, out);
            }
        }
    }

    /// Settles one fill of `qty` at the maker's level between `taker` and `maker`.
    fn fill(&mut self, taker: u32, maker: u32, qty: u64, level: u16, out: &mut Vec<Event>) {
        let contract_index = self.trading.order(taker).contract;
        let contract = &mut self.markets.contracts[contract_index as usize];
        let price = contract.book.price_of(level);
        let market_id = contract.market;
        self.markets.next_trade += 1;
        let trade = TradeId(self.markets.next_trade);
        let escrow = self
            .markets
            .get(market_id)
            .expect("contract's market")
            .escrow;
        let mut taker_paid = 0;
        for slot in [taker, maker] {
            let order = self.trading.order(slot);
            let (account, side, limit, position) =
                (order.account_id(), order.side, order.price, order.position);
            let shares = qty.min(order.shares_locked);
            let cashed = qty - shares;
            let released = notional(cash_per_unit(side, limit), Qty(cashed)).0;
            let paid = notional(cash_per_unit(side, price), Qty(cashed)).0;
            let received = notional(cash_per_unit(side.opposite(), price), Qty(shares)).0;
            let order = self.trading.order_mut(slot);
            let view_notional = notional(order.view_price(price), Qty(qty)).0;
            order.shares_locked -= shares;
            order.cash_locked -= released;
            order.remaining -= qty;
            order.filled += qty;
            order.trades += 1;
            order.filled_notional = order.filled_notional.saturating_add(view_notional);
            order.updated_at = self.now;
            if slot == taker {
                taker_paid = view_notional;
            }

            // Money: the net of what this side pays in and takes out goes through escrow.
            let into_escrow = paid - received;
            if into_escrow >= 0 {
                self.ledger.unlock(account, released - into_escrow);
                self.ledger.transfer(
                    account,
                    escrow,
                    into_escrow,
                    true,
                    LedgerReason::Escrow,
                    trade.0,
                    out,
                );
            } else {
                self.ledger.unlock(account, released);
                self.ledger.transfer(
                    escrow,
                    account,
                    -into_escrow,
                    false,
                    LedgerReason::Release,
                    trade.0,
                    out,
                );
            }

            // Shares: the share part leaves, the cash part arrives on the other side.
            let position = &mut self.trading.positions[position as usize];
            let contract = &mut self.markets.contracts[contract_index as usize];
            let realized;
            match side {
                BookSide::Bid => {
                    let cost = average_cost(position.no_cost, position.no, shares);
                    position.no -= shares;
                    position.no_locked -= shares;
                    position.no_cost -= cost;
                    realized = received - cost;
                    position.yes += cashed;
                    position.yes_cost += paid;
                    contract.yes_supply += cashed;
                    contract.no_supply -= shares;
                }
                BookSide::Ask => {
                    let cost = average_cost(position.yes_cost, position.yes, shares);
                    position.yes -= shares;
                    position.yes_locked -= shares;
                    position.yes_cost -= cost;
                    realized = received - cost;
                    position.no += cashed;
                    position.no_cost += paid;
                    contract.no_supply += cashed;
                    contract.yes_supply -= shares;
                }
            }
            position.realized = position.realized.saturating_add(realized);
            position.net_cash += into_escrow;
            position.updated_at = self.now;
            let first_trade = !position.traded;
            position.traded = true;
            if first_trade {
                self.count_participant(account, contract_index);
            }
            if let Owner::User(user) = self.ledger.get(account).owner
                && let Some(stats) = self.users.stats_mut(user)
            {
                stats.total_wagered = stats.total_wagered.saturating_add(paid);
                stats.total_earnings = stats.total_earnings.saturating_add(realized);
                stats.trades += 1;
            }
        }

        let (taker_order, maker_order) = (self.trading.order(taker), self.trading.order(maker));
        let (taker_id, maker_id, taker_user, maker_user, taker_side) = (
            taker_order.id,
            maker_order.id,
            taker_order.user_id(),
            maker_order.user_id(),
            taker_order.side,
        );
        let contract = &mut self.markets.contracts[contract_index as usize];
        contract.book.seq += 1;
        contract.last_price = Some(price);
        contract.volume_shares = contract.volume_shares.saturating_add(qty);
        contract.trades += 1;
        if contract.recent.len() >= self.limits.recent_trades_kept as usize {
            contract.recent.pop_front();
        }
        contract.recent.push_back(TradeRecord {
            trade: trade.0,
            price,
            qty: Qty(qty),
            taker_side,
            at: self.now,
            seq: contract.book.seq,
        });
        contract.record_candles(self.now, price, Qty(qty));
        out.push(Event::Trade(Trade {
            trade,
            market: market_id,
            book: contract.outcome,
            seq: contract.book.seq,
            price,
            qty: Qty(qty),
            maker_order: maker_id,
            taker_order: taker_id,
            maker_user,
            taker_user,
            taker_side,
            at: self.now,
        }));
        let market = self.markets.get_mut(market_id).expect("found");
        market.volume = market.volume.saturating_add(taker_paid);
        market.trades += 1;
        market.add_volume(self.now, taker_paid);
    }

    /// An account traded in a market for the first time on one of its contracts: count it
    /// as a participant unless it already traded on another contract of the same market.
    fn count_participant(&mut self, account: AccountId, contract: u32) {
        let market = self.markets.contracts[contract as usize].market;
        let market = self.markets.get_mut(market).expect("found");
        let traded_elsewhere = market
            .contracts
            .iter()
            .any(|&c| c != contract && self.trading.position(account, c).is_some_and(|p| p.traded));
        if !traded_elsewhere {
            market.participants += 1;
            if let Owner::User(user) = self.ledger.get(account).owner
                && let Some(stats) = self.users.stats_mut(user)
            {
                stats.markets_traded += 1;
            }
        }
    }

    fn book_delta(
        &mut self,
        contract: u32,
        side: BookSide,
        level: u16,
        qty: u64,
        orders: u32,
        out: &mut Vec<Event>,
    ) {
        let contract = &mut self.markets.contracts[contract as usize];
        contract.book.seq += 1;
        out.push(Event::BookDelta(BookDelta {
            book: contract.outcome,
            seq: contract.book.seq,
            side,
            price: contract.book.price_of(level),
            qty: Qty(qty),
            orders,
        }));
    }

    fn order_updated(
        &self,
        slot: u32,
        end: Option<(OrderStatus, DoneReason)>,
        out: &mut Vec<Event>,
    ) {
        let order = self.trading.order(slot);
        let (status, reason) = match end {
            Some((status, reason)) => (status, Some(reason)),
            None => (order.current_status(), None),
        };
        out.push(Event::OrderUpdated(OrderUpdated {
            order: order.id,
            user: order.user_id(),
            status,
            reason,
            filled: Qty(order.filled),
            remaining: Qty(if end.is_some() { 0 } else { order.remaining }),
            price: order.view_price(order.price),
        }));
    }

    /// Takes a resting order off its book and ends it.
    pub(crate) fn cancel_resting(&mut self, slot: u32, reason: DoneReason, out: &mut Vec<Event>) {
        let order = self.trading.order(slot);
        let (contract, side, level, remaining) =
            (order.contract, order.side, order.level, order.remaining);
        let book = &mut self.markets.contracts[contract as usize].book;
        let after = book.remove(
            self.trading.links.as_mut_slice(),
            slot,
            side,
            level,
            remaining,
        );
        self.book_delta(contract, side, level, after.qty, after.orders, out);
        let status = if reason == DoneReason::Expired {
            OrderStatus::Expired
        } else {
            OrderStatus::Cancelled
        };
        self.finish(slot, status, reason, out);
    }

    /// Ends an order that is not on a book (any more): releases its holds, reports it, copies
    /// it into the window of ended orders and frees its slot.
    fn finish(&mut self, slot: u32, status: OrderStatus, reason: DoneReason, out: &mut Vec<Event>) {
        self.unlock_order(slot);
        self.order_updated(slot, Some((status, reason)), out);
        let now = self.now;
        let order = self.trading.order_mut(slot);
        order.status = status;
        order.reason = Some(reason);
        order.updated_at = now;
        let account = order.account_id();
        self.trading
            .closed
            .push(&self.trading.orders[slot as usize]);
        self.trading.free_slots.push(slot);
        self.trading.live_orders -= 1;
        // Unlink from the account's open-order list.
        let Link { next, prev } = self.trading.links[slot as usize].account;
        self.trading.links[slot as usize].account = Link::EMPTY;
        let account = self.ledger.get_mut(account);
        if prev == NIL {
            account.orders_head = next;
        } else {
            self.trading.links[prev as usize].account.next = next;
        }
        if next != NIL {
            self.trading.links[next as usize].account.prev = prev;
        }
        account.open_orders -= 1;
    }

    /// The report of a live or recently ended order.
    pub(crate) fn order_report(&self, id: OrderId, duplicate: bool) -> OrderReport {
        let order = match self.trading.find(id) {
            Some(slot) => self.trading.order(slot),
            None => self
                .trading
                .find_ended(id)
                .expect("reported orders are live or in the window"),
        };
        Self::report(order, duplicate)
    }

    /// The report of the order in `slot`, live or just ended (an ended order stays in its
    /// slot until the next placement reuses it).
    fn slot_report(&self, slot: u32, duplicate: bool) -> OrderReport {
        Self::report(self.trading.order(slot), duplicate)
    }

    fn report(order: &Order, duplicate: bool) -> OrderReport {
        let status = order.current_status();
        OrderReport {
            order: order.id,
            status,
            filled: Qty(order.filled),
            remaining: Qty(if status.is_open() { order.remaining } else { 0 }),
            filled_notional: Amount(order.filled_notional),
            trades: order.trades,
            duplicate,
        }
    }

    /// The live order `id` if the actor may manage it (placed it, or is an admin). Someone
    /// else's order does not exist as far as the actor can tell.
    fn owned_order(&self, actor: UserId, id: OrderId) -> Result<u32, ResultCode> {
        let may = |order: &Order| order.user_id() == actor || self.is_admin(actor);
        match self.trading.find(id) {
            Some(slot) if may(self.trading.order(slot)) => Ok(slot),
            Some(_) => Err(ResultCode::OrderNotFound),
            None => match self.trading.find_ended(id) {
                Some(order) if may(order) => Err(ResultCode::OrderNotOpen),
                _ => Err(ResultCode::OrderNotFound),
            },
        }
    }

    pub(crate) fn cancel_order(
        &mut self,
        c: &CancelOrder,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let slot = self.owned_order(c.actor, c.order)?;
        self.cancel_resting(slot, DoneReason::Cancelled, out);
        Ok(Reply::Order(self.slot_report(slot, false)))
    }

    pub(crate) fn cancel_all(
        &mut self,
        c: &CancelAll,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        let account = self.trading_account(c.actor, c.pool, market.currency)?;
        let mut slots = Vec::new();
        let mut slot = self.ledger.get(account).orders_head;
        while slot != NIL {
            if self.trading.order(slot).market == c.market {
                slots.push(slot);
            }
            slot = self.trading.links[slot as usize].account.next;
        }
        for &slot in &slots {
            self.cancel_resting(slot, DoneReason::Cancelled, out);
        }
        Ok(Reply::Created(Created {
            id: slots.len() as u64,
        }))
    }

    /// Replaces the actor's quotes on the books of the listed outcomes, atomically: checks
    /// every new quote as if the replaced quote orders were already gone (their holds freed,
    /// their liquidity off the book), then cancels those and places the new ones post-only.
    pub(crate) fn mass_quote(
        &mut self,
        c: &MassQuote,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        let (currency, trading, tick) = (market.currency, market.is_trading(self.now), market.tick);
        market.check_trader(c.actor)?;
        if c.quotes.is_empty() {
            return Err(ResultCode::InvalidRequest);
        }
        if c.quotes.len() > MASS_QUOTE_MAX {
            return Err(ResultCode::LimitExceeded);
        }
        let account = self.order_account(c.actor, None, currency)?;
        if !trading {
            return Err(ResultCode::MarketNotOpen);
        }

        // The new legs, checked one by one.
        struct Leg {
            outcome: OutcomeId,
            contract: u32,
            side: Side,
            price: Price,
            qty: u64,
            book_side: BookSide,
            yes_price: Price,
            level: u16,
        }
        let mut legs: Vec<Leg> = Vec::with_capacity(2 * c.quotes.len());
        let mut contracts: Vec<u32> = Vec::with_capacity(c.quotes.len());
        for quote in &c.quotes {
            let outcome = self
                .markets
                .outcome(quote.outcome)
                .filter(|o| o.market == c.market)
                .ok_or(ResultCode::OutcomeNotFound)?;
            // One quote per book: a binary market's YES and NO share one.
            if contracts.contains(&outcome.contract) {
                return Err(ResultCode::InvalidRequest);
            }
            contracts.push(outcome.contract);
            if quote.bid_qty.0 > 0 && quote.ask_qty.0 > 0 && quote.bid_price >= quote.ask_price {
                return Err(ResultCode::PostOnlyWouldCross);
            }
            for (side, price, qty) in [
                (Side::Buy, quote.bid_price, quote.bid_qty.0),
                (Side::Sell, quote.ask_price, quote.ask_qty.0),
            ] {
                if qty == 0 {
                    continue;
                }
                if qty > QTY_ORDER_MAX {
                    return Err(ResultCode::InvalidQuantity);
                }
                if !price.is_valid() {
                    return Err(ResultCode::InvalidPrice);
                }
                if !price.0.is_multiple_of(tick.units()) {
                    return Err(ResultCode::PriceOffTick);
                }
                let (book_side, yes_price) = book_terms(outcome, side, price);
                let book = &self.markets.contracts[outcome.contract as usize].book;
                let level = book.level_of(yes_price).expect("checked price and tick");
                legs.push(Leg {
                    outcome: quote.outcome,
                    contract: outcome.contract,
                    side,
                    price,
                    qty,
                    book_side,
                    yes_price,
                    level,
                });
            }
        }

        // The quote orders being replaced, and what they hold.
        let mut replaced: Vec<u32> = Vec::new();
        let mut freed_cash = 0i64;
        let mut slot = self.ledger.get(account).orders_head;
        while slot != NIL {
            let order = self.trading.order(slot);
            if order.is_quote() && contracts.contains(&order.contract) {
                replaced.push(slot);
                freed_cash += order.cash_locked;
            }
            slot = self.trading.links[slot as usize].account.next;
        }
        let freed_shares = |engine: &Self, contract: u32, side: BookSide| -> u64 {
            replaced
                .iter()
                .map(|&slot| engine.trading.order(slot))
                .filter(|o| o.contract == contract && o.side == side)
                .map(|o| o.shares_locked)
                .sum()
        };

        let mut cash = 0i64;
        let mut new_positions = 0;
        for (i, leg) in legs.iter().enumerate() {
            if self.crosses_beyond_quotes(leg.contract, leg.book_side, leg.level, account) {
                return Err(ResultCode::PostOnlyWouldCross);
            }
            let position = self
                .trading
                .position_index
                .get(&(account, leg.contract))
                .map(|&slot| &self.trading.positions[slot as usize]);
            if position.is_none() && !legs[..i].iter().any(|l| l.contract == leg.contract) {
                new_positions += 1;
            }
            let shares = if leg.side == Side::Sell {
                (sellable(position, leg.book_side)
                    + freed_shares(self, leg.contract, leg.book_side))
                .min(leg.qty)
            } else {
                0
            };
            cash += notional(
                cash_per_unit(leg.book_side, leg.yes_price),
                Qty(leg.qty - shares),
            )
            .0;
        }
        if self.ledger.available(account) + freed_cash < cash {
            return Err(ResultCode::InsufficientFunds);
        }
        let open = self.ledger.get(account).open_orders as usize - replaced.len();
        if open + legs.len() > self.config.open_orders_per_user_max as usize {
            return Err(ResultCode::TooManyOpenOrders);
        }
        if self.trading.live_orders as usize - replaced.len() + legs.len()
            > self.limits.orders_max as usize
        {
            return Err(ResultCode::BookFull);
        }
        if !self.has_position_room(new_positions) {
            return Err(ResultCode::LimitExceeded);
        }

        // Everything is checked: replace.
        for &slot in &replaced {
            self.cancel_resting(slot, DoneReason::Replaced, out);
        }
        let mut orders = Vec::with_capacity(legs.len());
        for leg in &legs {
            let placed = self.place(
                &PlaceOrder {
                    actor: c.actor,
                    pool: None,
                    market: c.market,
                    outcome: leg.outcome,
                    side: leg.side,
                    kind: OrderKind::Limit,
                    price: leg.price,
                    qty: Qty(leg.qty),
                    time_in_force: TimeInForce::Gtc,
                    expires_at: Timestamp::ZERO,
                    post_only: true,
                    client_order_id: None,
                    self_trade: SelfTradePrevention::CancelResting,
                },
                false,
                out,
            );
            let Ok(Reply::Order(report)) = placed else {
                panic!("a checked quote leg was refused: {placed:?}");
            };
            let slot = self
                .trading
                .find(report.order)
                .expect("a post-only quote rests");
            self.trading.order_mut(slot).flags |= Order::QUOTE;
            orders.push(report.order);
        }
        Ok(Reply::Quotes(QuotesReply { orders }))
    }

    /// Whether a post-only order on `side` at `level` would trade with anything other than
    /// `account`'s own quote orders (which a mass quote is about to replace).
    fn crosses_beyond_quotes(
        &self,
        contract: u32,
        side: BookSide,
        level: u16,
        account: AccountId,
    ) -> bool {
        let book = &self.markets.contracts[contract as usize].book;
        if !book.crosses(side, level) {
            return false;
        }
        let opposite = side.opposite();
        let mut at = book.best(opposite);
        while let Some(l) = at {
            if !acceptable(side, level, l) {
                return false;
            }
            let foreign = book
                .orders_at(self.trading.links.as_slice(), opposite, l)
                .any(|slot| {
                    let order = self.trading.order(slot);
                    !(order.account_id() == account && order.is_quote())
                });
            if foreign {
                return true;
            }
            at = book.next_level(opposite, l);
        }
        false
    }

    pub(crate) fn amend_order(
        &mut self,
        c: &AmendOrder,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let slot = self.owned_order(c.actor, c.order)?;
        let order = self.trading.order(slot);
        let market = self.markets.get(order.market).expect("order's market");
        market.check_trader(c.actor)?;
        if !market.is_trading(self.now) {
            return Err(ResultCode::MarketNotOpen);
        }
        let mut outcome = self
            .markets
            .outcome(order.outcome)
            .expect("order's outcome");
        outcome.no_view = order.no_view;
        if c.qty.0 == 0 || c.qty.0 > QTY_ORDER_MAX {
            return Err(ResultCode::InvalidQuantity);
        }
        if !c.price.is_valid() {
            return Err(ResultCode::InvalidPrice);
        }
        if !c.price.0.is_multiple_of(market.tick.units()) {
            return Err(ResultCode::PriceOffTick);
        }
        let (side, yes_price) = book_terms(outcome, order.user_side, c.price);
        let contract = order.contract;
        if yes_price == order.price && c.qty.0 == order.remaining {
            return Err(ResultCode::AmendNoChange);
        }
        if yes_price == order.price && c.qty.0 < order.remaining {
            // Smaller at the same price: keeps its place. Give back cash first, then shares.
            let cut = order.remaining - c.qty.0;
            let cash_part = order.remaining - order.shares_locked;
            let cash_cut = cut.min(cash_part);
            let share_cut = cut - cash_cut;
            let cash = notional(cash_per_unit(side, order.price), Qty(cash_cut)).0;
            let (account, position, level) = (order.account_id(), order.position, order.level);
            self.ledger.unlock(account, cash);
            let position = &mut self.trading.positions[position as usize];
            match side {
                BookSide::Ask => position.yes_locked -= share_cut,
                BookSide::Bid => position.no_locked -= share_cut,
            }
            let order = self.trading.order_mut(slot);
            order.cash_locked -= cash;
            order.shares_locked -= share_cut;
            order.remaining = c.qty.0;
            order.updated_at = self.now;
            let book = &mut self.markets.contracts[contract as usize].book;
            let after = book.reduce(side, level, cut);
            self.book_delta(contract, side, level, after.qty, after.orders, out);
            self.order_updated(slot, None, out);
            return Ok(Reply::Order(self.slot_report(slot, false)));
        }

        // Anything else re-queues: check the new holds against what the order frees.
        let book = &self.markets.contracts[contract as usize].book;
        let level = book.level_of(yes_price).expect("checked");
        if order.post_only && book.crosses(side, level) {
            return Err(ResultCode::PostOnlyWouldCross);
        }
        let position = &self.trading.positions[order.position as usize];
        let shares = if order.user_side == Side::Sell {
            (sellable(Some(position), side) + order.shares_locked).min(c.qty.0)
        } else {
            0
        };
        let cash = notional(cash_per_unit(side, yes_price), Qty(c.qty.0 - shares)).0;
        let account = order.account_id();
        if self.ledger.available(account) + order.cash_locked < cash {
            return Err(ResultCode::InsufficientFunds);
        }
        let (position, old_remaining, old_level) = (order.position, order.remaining, order.level);
        let book = &mut self.markets.contracts[contract as usize].book;
        let after = book.remove(
            self.trading.links.as_mut_slice(),
            slot,
            side,
            old_level,
            old_remaining,
        );
        self.book_delta(contract, side, old_level, after.qty, after.orders, out);
        self.unlock_order(slot);
        self.lock_order(account, position, side, shares, cash);
        let now = self.now;
        let order = self.trading.order_mut(slot);
        order.price = yes_price;
        order.level = level;
        order.remaining = c.qty.0;
        order.shares_locked = shares;
        order.cash_locked = cash;
        order.updated_at = now;
        self.execute(slot, level, true, out);
        Ok(Reply::Order(self.slot_report(slot, false)))
    }

    pub(crate) fn close_position(
        &mut self,
        c: &ClosePosition,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        let outcome = self
            .markets
            .outcome(c.outcome)
            .filter(|o| o.market == c.market)
            .ok_or(ResultCode::OutcomeNotFound)?;
        if c.lay && market.market_type != betbet_protocol::command::MarketType::Multiple {
            // A binary market's NO holding is closed through its NO outcome.
            return Err(ResultCode::InvalidMarketType);
        }
        let account = self.trading_account(c.actor, c.pool, market.currency)?;
        let side = if outcome.no_view || c.lay {
            BookSide::Bid
        } else {
            BookSide::Ask
        };
        let held = sellable(self.trading.position(account, outcome.contract), side);
        if held == 0 {
            return Err(ResultCode::PositionNotFound);
        }
        self.place(
            &PlaceOrder {
                actor: c.actor,
                pool: c.pool,
                market: c.market,
                outcome: c.outcome,
                side: Side::Sell,
                kind: OrderKind::Market,
                price: c.worst_price,
                qty: Qty(held),
                time_in_force: TimeInForce::Ioc,
                expires_at: Timestamp::ZERO,
                post_only: false,
                client_order_id: None,
                self_trade: SelfTradePrevention::CancelResting,
            },
            c.lay,
            out,
        )
    }

    /// The contracts a mint or merge touches, and whether it is a complete set.
    fn set_contracts(
        &self,
        market: MarketId,
        outcome: Option<OutcomeId>,
    ) -> Result<(Vec<u32>, bool), ResultCode> {
        let record = self.markets.get(market).ok_or(ResultCode::MarketNotFound)?;
        match outcome {
            Some(outcome) => {
                let outcome = self
                    .markets
                    .outcome(outcome)
                    .filter(|o| o.market == market)
                    .ok_or(ResultCode::OutcomeNotFound)?;
                Ok((vec![outcome.contract], false))
            }
            None if record.contracts.len() == 1 => Ok((record.contracts.clone(), false)),
            None => Ok((record.contracts.clone(), true)),
        }
    }

    pub(crate) fn mint_shares(
        &mut self,
        c: &MintShares,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        market.check_trader(c.actor)?;
        let account = self.trading_account(c.actor, c.pool, market.currency)?;
        if !market.is_trading(self.now) {
            return Err(ResultCode::MarketNotOpen);
        }
        if c.qty.0 == 0 || c.qty.0 > QTY_ORDER_MAX {
            return Err(ResultCode::InvalidQuantity);
        }
        let escrow = market.escrow;
        let (contracts, complete_set) = self.set_contracts(c.market, c.outcome)?;
        let cost = payout(c.qty).0;
        if self.ledger.available(account) < cost {
            return Err(ResultCode::InsufficientFunds);
        }
        let missing = contracts
            .iter()
            .filter(|&&k| self.trading.position(account, k).is_none())
            .count();
        if !self.has_position_room(missing) {
            return Err(ResultCode::LimitExceeded);
        }
        self.ledger.transfer(
            account,
            escrow,
            cost,
            false,
            LedgerReason::Escrow,
            c.market.0,
            out,
        );
        let count = contracts.len() as i64;
        for (i, &contract) in contracts.iter().enumerate() {
            let slot = self.position_slot(account, contract);
            let position = &mut self.trading.positions[slot as usize];
            let supply = &mut self.markets.contracts[contract as usize];
            if complete_set {
                // One YES of every outcome; the unit of cost is spread evenly.
                let share = cost / count + if i == 0 { cost % count } else { 0 };
                position.yes += c.qty.0;
                position.yes_cost += share;
                supply.yes_supply += c.qty.0;
            } else {
                position.yes += c.qty.0;
                position.no += c.qty.0;
                position.yes_cost += cost / 2;
                position.no_cost += cost - cost / 2;
                supply.yes_supply += c.qty.0;
                supply.no_supply += c.qty.0;
            }
            if i == 0 {
                position.net_cash += cost;
            }
            position.updated_at = self.now;
        }
        if complete_set {
            self.markets.get_mut(c.market).expect("found").sets += c.qty.0 as i64;
        }
        Ok(crate::done())
    }

    pub(crate) fn merge_shares(
        &mut self,
        c: &MergeShares,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        let market = self
            .markets
            .get(c.market)
            .ok_or(ResultCode::MarketNotFound)?;
        let account = self.trading_account(c.actor, c.pool, market.currency)?;
        if market.is_settled() {
            return Err(ResultCode::MarketAlreadySettled);
        }
        if c.qty.0 == 0 || c.qty.0 > QTY_ORDER_MAX {
            return Err(ResultCode::InvalidQuantity);
        }
        let escrow = market.escrow;
        let (contracts, complete_set) = self.set_contracts(c.market, c.outcome)?;
        for &contract in &contracts {
            let position = self
                .trading
                .position(account, contract)
                .ok_or(ResultCode::InsufficientShares)?;
            let yes_free = position.yes - position.yes_locked;
            let no_free = position.no - position.no_locked;
            if yes_free < c.qty.0 || (!complete_set && no_free < c.qty.0) {
                return Err(ResultCode::InsufficientShares);
            }
        }
        let value = payout(c.qty).0;
        let mut cost_removed = 0;
        for &contract in &contracts {
            let slot = self.trading.position_index[&(account, contract)];
            let position = &mut self.trading.positions[slot as usize];
            let supply = &mut self.markets.contracts[contract as usize];
            let yes_cost = average_cost(position.yes_cost, position.yes, c.qty.0);
            position.yes -= c.qty.0;
            position.yes_cost -= yes_cost;
            supply.yes_supply -= c.qty.0;
            cost_removed += yes_cost;
            if !complete_set {
                let no_cost = average_cost(position.no_cost, position.no, c.qty.0);
                position.no -= c.qty.0;
                position.no_cost -= no_cost;
                supply.no_supply -= c.qty.0;
                cost_removed += no_cost;
            }
            position.updated_at = self.now;
        }
        // The money and the profit of the whole set are booked on its first contract, as
        // minting booked its cost there.
        let first = self.trading.position_index[&(account, contracts[0])];
        let position = &mut self.trading.positions[first as usize];
        position.net_cash -= value;
        position.realized = position.realized.saturating_add(value - cost_removed);
        if complete_set {
            self.markets.get_mut(c.market).expect("found").sets -= c.qty.0 as i64;
        }
        self.ledger.transfer(
            escrow,
            account,
            value,
            false,
            LedgerReason::Release,
            c.market.0,
            out,
        );
        if let Some(user) = self.account_user(account)
            && let Some(stats) = self.users.stats_mut(user)
        {
            stats.total_earnings = stats.total_earnings.saturating_add(value - cost_removed);
        }
        Ok(crate::done())
    }

    /// Ends GTD orders whose time has come.
    pub(crate) fn expire_orders(&mut self, out: &mut Vec<Event>) {
        while let Some(&Reverse((expires_at, id))) = self.trading.expiries.peek() {
            if expires_at > self.now {
                break;
            }
            self.trading.expiries.pop();
            if let Some(slot) = self.trading.find(id)
                && self.trading.order(slot).expires_at == expires_at
            {
                self.cancel_resting(slot, DoneReason::Expired, out);
            }
        }
        // Entries of orders that ended early pile up only until their expiry passes; if
        // they ever outnumber live orders twice over, rebuild the heap from live orders.
        if self.trading.expiries.len() > 2 * self.trading.live_orders as usize + 1024 {
            let heap = std::mem::take(&mut self.trading.expiries);
            self.trading.expiries = heap
                .into_iter()
                .filter(|Reverse((_, id))| self.trading.find(*id).is_some())
                .collect();
        }
    }

    /// Asserts the trading invariants; see `Engine::check`.
    pub(crate) fn check_trading(&self) {
        let mut locked_cash: FxHashMap<AccountId, i64> = FxHashMap::default();
        let mut open_orders: FxHashMap<AccountId, u32> = FxHashMap::default();
        let mut locked_yes: FxHashMap<u32, u64> = FxHashMap::default();
        let mut locked_no: FxHashMap<u32, u64> = FxHashMap::default();
        let mut live: u32 = 0;
        let arena = self.trading.orders.len();
        assert_eq!(self.trading.links.len(), arena);
        for (slot, order) in self.trading.orders.iter().enumerate() {
            assert_eq!(order.slot() as usize, slot, "order ids name their slot");
            if !order.is_live() {
                continue;
            }
            live += 1;
            assert!(order.shares_locked <= order.remaining);
            assert_eq!(
                order.cash_locked,
                notional(
                    cash_per_unit(order.side, order.price),
                    Qty(order.remaining - order.shares_locked)
                )
                .0,
                "cash lock of order {:?}",
                order.id
            );
            let book = &self.markets.contracts[order.contract as usize].book;
            assert_eq!(book.level_of(order.price), Some(order.level));
            assert_eq!(
                order.has_client_id(),
                self.trading.client_order_ids.contains_key(&order.id)
            );
            *locked_cash.entry(order.account_id()).or_default() += order.cash_locked;
            *open_orders.entry(order.account_id()).or_default() += 1;
            match order.side {
                BookSide::Ask => {
                    *locked_yes.entry(order.position).or_default() += order.shares_locked
                }
                BookSide::Bid => {
                    *locked_no.entry(order.position).or_default() += order.shares_locked
                }
            }
        }
        // Every slot is live or free, once.
        let mut free = vec![false; arena];
        for &slot in &self.trading.free_slots {
            assert!(
                !self.trading.orders[slot as usize].is_live(),
                "free slot {slot} is live"
            );
            assert!(
                !std::mem::replace(&mut free[slot as usize], true),
                "slot {slot} freed twice"
            );
        }
        assert_eq!(live as usize + self.trading.free_slots.len(), arena);
        // The window: ended orders, indexed, with their client order ids.
        let closed = &self.trading.closed;
        closed.check();
        for order in &closed.orders {
            assert!(!order.is_live() && order.reason.is_some());
            assert_eq!(
                order.has_client_id(),
                self.trading.client_order_ids.contains_key(&order.id)
            );
        }
        for id in self.trading.client_order_ids.keys() {
            assert!(
                self.trading.find(*id).is_some() || closed.get(*id).is_some(),
                "client order id of {id:?} outlived its order"
            );
        }
        assert_eq!(live, self.trading.live_orders);
        // Holds that are not orders: pending withdrawals and pool entries.
        for tx in self.wallet.txs.values() {
            if tx.status == betbet_protocol::event::TxStatus::Pending
                && tx.tx_type == betbet_protocol::event::TxType::Withdrawal
            {
                *locked_cash.entry(tx.account).or_default() += tx.amount + tx.fee;
            }
        }
        for pool in &self.pools.pools {
            if pool.status == betbet_protocol::event::PoolStatus::Open {
                for member in &pool.members {
                    *locked_cash.entry(member.account).or_default() += member.contribution;
                }
            }
        }
        for (index, account) in self.ledger.accounts.iter().enumerate().skip(1) {
            let id = AccountId(index as u64);
            assert_eq!(
                account.locked,
                locked_cash.get(&id).copied().unwrap_or(0),
                "held balance of {:?} does not match its orders and holds",
                account.owner
            );
            assert_eq!(
                account.open_orders,
                open_orders.get(&id).copied().unwrap_or(0)
            );
        }
        for (&(account, contract), &slot) in &self.trading.position_index {
            let position = &self.trading.positions[slot as usize];
            assert_eq!((position.account, position.contract), (account, contract));
            assert_eq!(
                position.yes_locked,
                locked_yes.get(&slot).copied().unwrap_or(0)
            );
            assert_eq!(
                position.no_locked,
                locked_no.get(&slot).copied().unwrap_or(0)
            );
            assert!(position.yes_locked <= position.yes && position.no_locked <= position.no);
            assert!(position.yes_cost >= 0 && position.no_cost >= 0);
        }
        let mut held: FxHashMap<u32, (u64, u64)> = FxHashMap::default();
        for (&(_, contract), &slot) in &self.trading.position_index {
            let position = &self.trading.positions[slot as usize];
            let entry = held.entry(contract).or_default();
            entry.0 += position.yes;
            entry.1 += position.no;
        }
        for market in &self.markets.markets {
            let mut no_total = 0u64;
            for &contract in &market.contracts {
                let record = &self.markets.contracts[contract as usize];
                record.book.check(self.trading.links.as_slice(), |slot| {
                    let order = self.trading.order(slot);
                    assert!(order.is_live() && order.contract == contract);
                    (order.side, order.level, order.remaining)
                });
                assert_eq!(
                    record.yes_supply as i64,
                    record.no_supply as i64 + market.sets,
                    "share supply of market {}",
                    market.id
                );
                let (held_yes, held_no) = held.get(&contract).copied().unwrap_or((0, 0));
                assert_eq!((held_yes, held_no), (record.yes_supply, record.no_supply));
                no_total += record.no_supply;
            }
            let escrow = self.ledger.get(market.escrow).balance();
            assert_eq!(
                escrow,
                (market.sets + no_total as i64) * i64::from(betbet_protocol::types::PRICE_SCALE),
                "escrow of market {} does not cover its shares",
                market.id
            );
        }
    }
}

/// The cost basis of `taken` out of `held` shares that cost `cost` in total.
#[inline]
fn average_cost(cost: i64, held: u64, taken: u64) -> i64 {
    if taken == 0 {
        return 0;
    }
    if taken == held {
        return cost;
    }
    (i128::from(cost) * i128::from(taken) / i128::from(held)) as i64
}
