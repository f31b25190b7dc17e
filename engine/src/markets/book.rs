//! The price-time priority order book of one contract (one YES book).
//!
//! Prediction-market prices live on a small bounded grid (at most 9 999 points between 0 and
//! 1), so the book is direct-addressed: each side is an array with one [`Level`] per tick, and
//! a bitset of occupied levels finds the next best price in a few word scans. Orders at a
//! level form an intrusive doubly-linked FIFO through [`Link`]s that live in one arena shared
//! by every book, indexed by the order's slot, so adding, cancelling and matching allocate
//! nothing and never move an order.
//!
//! The book knows only slots, links and level totals. The arena belongs to the caller and is
//! reached through the [`Links`] trait, so the caller decides what sits next to a link: the
//! engine keeps its links in a small dense array of their own (a cancel rewrites two
//! neighbours' links without touching their order records), [`StandaloneBook`] keeps each
//! order's quantity and level beside its link. Callers pass an order's side, level and
//! resting quantity, which they hold anyway. Who owns an order, what it locked and how a fill
//! settles is the engine's business (see `trading`).

use betbet_protocol::codec::{Decode, DecodeError, Encode, Reader};
use betbet_protocol::command::TickSize;
use betbet_protocol::event::BookSide;
use betbet_protocol::types::{PRICE_SCALE, Price};

/// "No order": the end of a level's list.
pub const NIL: u32 = u32::MAX;

/// The book's part of an order: its place in a level's FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub next: u32,
    pub prev: u32,
}

impl Link {
    pub const EMPTY: Link = Link {
        next: NIL,
        prev: NIL,
    };
}

/// The arena of [`Link`]s, indexed by slot, that the book threads its FIFOs through.
pub trait Links {
    fn link(&self, slot: u32) -> Link;
    fn link_mut(&mut self, slot: u32) -> &mut Link;
}

impl Links for [Link] {
    #[inline]
    fn link(&self, slot: u32) -> Link {
        self[slot as usize]
    }

    #[inline]
    fn link_mut(&mut self, slot: u32) -> &mut Link {
        &mut self[slot as usize]
    }
}

/// All resting orders at one price on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub head: u32,
    pub tail: u32,
    pub qty: u64,
    pub orders: u32,
}

impl Level {
    const EMPTY: Level = Level {
        head: NIL,
        tail: NIL,
        qty: 0,
        orders: 0,
    };
}

/// One side of a book: levels indexed by price / tick, and which of them are occupied.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ladder {
    levels: Vec<Level>,
    occupied: Vec<u64>,
    /// Occupied level count, so "is this side empty" is O(1).
    live: u32,
}

impl Ladder {
    fn new(points: usize) -> Self {
        Ladder {
            levels: vec![Level::EMPTY; points],
            occupied: vec![0; points.div_ceil(64)],
            live: 0,
        }
    }

    #[inline]
    fn mark(&mut self, level: u16) {
        self.occupied[usize::from(level) / 64] |= 1 << (level % 64);
        self.live += 1;
    }

    #[inline]
    fn unmark(&mut self, level: u16) {
        self.occupied[usize::from(level) / 64] &= !(1 << (level % 64));
        self.live -= 1;
    }

    /// The highest occupied level at or below `from`.
    #[inline]
    fn highest_at_or_below(&self, from: u16) -> Option<u16> {
        if self.live == 0 {
            return None;
        }
        let mut word = usize::from(from) / 64;
        let bit = from % 64;
        let mut bits = self.occupied[word] & (u64::MAX >> (63 - bit));
        loop {
            if bits != 0 {
                return Some((word * 64) as u16 + 63 - bits.leading_zeros() as u16);
            }
            if word == 0 {
                return None;
            }
            word -= 1;
            bits = self.occupied[word];
        }
    }

    /// The lowest occupied level at or above `from`.
    #[inline]
    fn lowest_at_or_above(&self, from: u16) -> Option<u16> {
        if self.live == 0 {
            return None;
        }
        let mut word = usize::from(from) / 64;
        if word >= self.occupied.len() {
            return None;
        }
        let bit = from % 64;
        let mut bits = self.occupied[word] & (u64::MAX << bit);
        loop {
            if bits != 0 {
                return Some((word * 64) as u16 + bits.trailing_zeros() as u16);
            }
            word += 1;
            if word == self.occupied.len() {
                return None;
            }
            bits = self.occupied[word];
        }
    }
}

/// A YES book: bids buy YES (or sell NO), asks sell YES (or buy NO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    tick: u32,
    bids: Ladder,
    asks: Ladder,
    /// Best bid level (0 = none) and best ask level (`points` = none), cached because every
    /// order looks at them.
    best_bid: u16,
    best_ask: u16,
    points: u16,
    /// Market-data sequence: bumped for every level change and trade of this book.
    pub seq: u64,
}

impl Book {
    pub fn new(tick: TickSize) -> Self {
        let tick = tick.units();
        // Levels 1..points-1 are prices tick..(1 - tick); level 0 and `points` are sentinels.
        let points = (PRICE_SCALE / tick) as u16;
        Book {
            tick,
            bids: Ladder::new(usize::from(points) + 1),
            asks: Ladder::new(usize::from(points) + 1),
            best_bid: 0,
            best_ask: points,
            points,
            seq: 0,
        }
    }

    pub fn tick(&self) -> u32 {
        self.tick
    }

    /// The level of a price, or `None` if the price is not strictly inside (0, 1) on the grid.
    #[inline]
    pub fn level_of(&self, price: Price) -> Option<u16> {
        if !price.is_valid() || !price.0.is_multiple_of(self.tick) {
            return None;
        }
        Some((price.0 / self.tick) as u16)
    }

    #[inline]
    pub fn price_of(&self, level: u16) -> Price {
        Price(u32::from(level) * self.tick)
    }

    /// The highest level of the grid (the lowest being 1).
    pub fn top_level(&self) -> u16 {
        self.points - 1
    }

    #[inline]
    fn ladder(&self, side: BookSide) -> &Ladder {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }

    #[inline]
    fn ladder_mut(&mut self, side: BookSide) -> &mut Ladder {
        match side {
            BookSide::Bid => &mut self.bids,
            BookSide::Ask => &mut self.asks,
        }
    }

    /// The best level of a side: the highest bid or the lowest ask.
    #[inline]
    pub fn best(&self, side: BookSide) -> Option<u16> {
        match side {
            BookSide::Bid => (self.best_bid != 0).then_some(self.best_bid),
            BookSide::Ask => (self.best_ask != self.points).then_some(self.best_ask),
        }
    }

    #[inline]
    pub fn level(&self, side: BookSide, level: u16) -> &Level {
        &self.ladder(side).levels[usize::from(level)]
    }

    /// Whether an order on `side` at `level` would trade with the other side.
    #[inline]
    pub fn crosses(&self, side: BookSide, level: u16) -> bool {
        match side {
            BookSide::Bid => self.best_ask <= level,
            BookSide::Ask => self.best_bid >= level && self.best_bid != 0,
        }
    }

    /// The better of two levels for `side` (higher for bids, lower for asks).
    #[inline]
    pub fn is_better_or_equal(side: BookSide, level: u16, than: u16) -> bool {
        match side {
            BookSide::Bid => level >= than,
            BookSide::Ask => level <= than,
        }
    }

    /// Appends `slot` at the back of `level` on `side` with `qty` resting. Returns the level
    /// after the change.
    #[inline]
    pub fn insert<L: Links + ?Sized>(
        &mut self,
        links: &mut L,
        slot: u32,
        side: BookSide,
        level: u16,
        qty: u64,
    ) -> Level {
        assert!(qty > 0, "resting orders have a quantity");
        assert!(
            level >= 1 && level < self.points,
            "level {level} off the grid"
        );
        let ladder = self.ladder_mut(side);
        let entry = &mut ladder.levels[usize::from(level)];
        let tail = entry.tail;
        *links.link_mut(slot) = Link {
            next: NIL,
            prev: tail,
        };
        if tail == NIL {
            entry.head = slot;
        } else {
            links.link_mut(tail).next = slot;
        }
        entry.tail = slot;
        entry.qty += qty;
        entry.orders += 1;
        let was_empty = entry.orders == 1;
        let snapshot = *entry;
        if was_empty {
            ladder.mark(level);
            match side {
                BookSide::Bid if level > self.best_bid => self.best_bid = level,
                BookSide::Ask if level < self.best_ask => self.best_ask = level,
                _ => {}
            }
        }
        snapshot
    }

    /// Takes `slot`, resting `qty` at `level` on `side`, out of its level. Returns the level
    /// after the change.
    #[inline]
    pub fn remove<L: Links + ?Sized>(
        &mut self,
        links: &mut L,
        slot: u32,
        side: BookSide,
        level: u16,
        qty: u64,
    ) -> Level {
        let link = links.link(slot);
        let ladder = self.ladder_mut(side);
        let entry = &mut ladder.levels[usize::from(level)];
        if link.prev == NIL {
            debug_assert_eq!(entry.head, slot);
            entry.head = link.next;
        } else {
            links.link_mut(link.prev).next = link.next;
        }
        if link.next == NIL {
            debug_assert_eq!(entry.tail, slot);
            entry.tail = link.prev;
        } else {
            links.link_mut(link.next).prev = link.prev;
        }
        assert!(
            entry.qty >= qty && entry.orders > 0,
            "removing more than rests"
        );
        entry.qty -= qty;
        entry.orders -= 1;
        let snapshot = *entry;
        *links.link_mut(slot) = Link::EMPTY;
        if snapshot.orders == 0 {
            assert_eq!(snapshot.qty, 0, "an empty level holds no quantity");
            ladder.unmark(level);
            self.refresh_best(side, level);
        }
        snapshot
    }

    /// Lowers the resting quantity at `level` on `side` by `by` for an order that keeps its
    /// place in the queue (the caller lowers the order's own quantity, and removes orders that
    /// reach zero instead). Returns the level after the change.
    #[inline]
    pub fn reduce(&mut self, side: BookSide, level: u16, by: u64) -> Level {
        let entry = &mut self.ladder_mut(side).levels[usize::from(level)];
        assert!(
            by < entry.qty,
            "reduce leaves a quantity; remove the order instead"
        );
        entry.qty -= by;
        *entry
    }

    /// After `level` emptied, finds the new best of `side` if `level` was the best.
    #[inline]
    fn refresh_best(&mut self, side: BookSide, level: u16) {
        match side {
            BookSide::Bid if level == self.best_bid => {
                self.best_bid = self.bids.highest_at_or_below(level).unwrap_or(0);
            }
            BookSide::Ask if level == self.best_ask => {
                self.best_ask = self.asks.lowest_at_or_above(level).unwrap_or(self.points);
            }
            _ => {}
        }
    }

    /// The next occupied level after `level`, moving away from the best price.
    #[inline]
    pub fn next_level(&self, side: BookSide, level: u16) -> Option<u16> {
        match side {
            BookSide::Bid => level
                .checked_sub(1)
                .and_then(|from| self.bids.highest_at_or_below(from))
                .filter(|&l| l != 0),
            BookSide::Ask => self
                .asks
                .lowest_at_or_above(level + 1)
                .filter(|&l| l < self.points),
        }
    }

    /// Occupied levels of a side from the best outwards, at most `depth` of them.
    pub fn levels(&self, side: BookSide, depth: usize) -> impl Iterator<Item = (u16, &Level)> {
        let mut next = self.best(side);
        std::iter::from_fn(move || {
            let level = next?;
            next = self.next_level(side, level);
            Some((level, self.level(side, level)))
        })
        .take(depth)
    }

    /// Orders resting at a level, front first.
    pub fn orders_at<'a, L: Links + ?Sized>(
        &self,
        links: &'a L,
        side: BookSide,
        level: u16,
    ) -> impl Iterator<Item = u32> + 'a {
        let mut slot = self.level(side, level).head;
        std::iter::from_fn(move || {
            if slot == NIL {
                return None;
            }
            let current = slot;
            slot = links.link(current).next;
            Some(current)
        })
    }

    /// Checks the structure against the arena: lists are consistent, totals match, bitsets
    /// and best prices agree, and the book is not crossed. `resting` gives the side, level
    /// and resting quantity the owner of a slot holds for it. Used by tests and by the
    /// engine's paired assertions in debug builds.
    pub fn check<L: Links + ?Sized>(
        &self,
        links: &L,
        resting: impl Fn(u32) -> (BookSide, u16, u64),
    ) {
        for side in [BookSide::Bid, BookSide::Ask] {
            let ladder = self.ladder(side);
            let mut live = 0;
            for level in 0..=self.points {
                let entry = ladder.levels[usize::from(level)];
                let marked = ladder.occupied[usize::from(level) / 64] & (1 << (level % 64)) != 0;
                assert_eq!(marked, entry.orders > 0, "bitset at {side:?} {level}");
                live += u32::from(marked);
                let mut qty = 0;
                let mut count = 0;
                let mut prev = NIL;
                let mut slot = entry.head;
                while slot != NIL {
                    let link = links.link(slot);
                    assert_eq!(link.prev, prev);
                    let (order_side, order_level, order_qty) = resting(slot);
                    assert_eq!((order_side, order_level), (side, level));
                    assert!(order_qty > 0);
                    qty += order_qty;
                    count += 1;
                    prev = slot;
                    slot = link.next;
                }
                assert_eq!(entry.tail, prev);
                assert_eq!((entry.qty, entry.orders), (qty, count), "{side:?} {level}");
            }
            assert_eq!(live, ladder.live);
        }
        let best_bid = self.bids.highest_at_or_below(self.points).unwrap_or(0);
        let best_ask = self.asks.lowest_at_or_above(0).unwrap_or(self.points);
        assert_eq!((self.best_bid, self.best_ask), (best_bid, best_ask));
        assert!(
            self.best_bid == 0 || self.best_ask == self.points || self.best_bid < self.best_ask,
            "crossed book: bid {} ask {}",
            self.best_bid,
            self.best_ask
        );
    }
}

impl Encode for Book {
    /// Only occupied levels are written; the bitsets and best prices are derived state and
    /// are rebuilt (and so re-validated) on decode.
    fn encode(&self, out: &mut Vec<u8>) {
        self.tick.encode(out);
        self.seq.encode(out);
        for ladder in [&self.bids, &self.asks] {
            ladder.live.encode(out);
            for (level, entry) in ladder.levels.iter().enumerate() {
                if entry.orders > 0 {
                    (level as u16).encode(out);
                    entry.head.encode(out);
                    entry.tail.encode(out);
                    entry.qty.encode(out);
                    entry.orders.encode(out);
                }
            }
        }
    }
}

impl Decode for Book {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tick = match u32::decode(r)? {
            100 => TickSize::Cent,
            10 => TickSize::Mill,
            1 => TickSize::TenThousandth,
            _ => return Err(DecodeError::InvalidValue { what: "book tick" }),
        };
        let mut book = Book::new(tick);
        book.seq = u64::decode(r)?;
        for side in [BookSide::Bid, BookSide::Ask] {
            let live = u32::decode(r)?;
            let points = book.points;
            let ladder = book.ladder_mut(side);
            for _ in 0..live {
                let level = u16::decode(r)?;
                if level == 0 || level >= points || ladder.levels[usize::from(level)].orders > 0 {
                    return Err(DecodeError::InvalidValue { what: "book level" });
                }
                let entry = Level {
                    head: u32::decode(r)?,
                    tail: u32::decode(r)?,
                    qty: u64::decode(r)?,
                    orders: u32::decode(r)?,
                };
                if entry.orders == 0 {
                    return Err(DecodeError::InvalidValue { what: "book level" });
                }
                ladder.levels[usize::from(level)] = entry;
                ladder.mark(level);
            }
        }
        book.best_bid = book.bids.highest_at_or_below(book.points).unwrap_or(0);
        book.best_ask = book.asks.lowest_at_or_above(0).unwrap_or(book.points);
        Ok(book)
    }
}

impl Encode for Link {
    fn encode(&self, out: &mut Vec<u8>) {
        self.next.encode(out);
        self.prev.encode(out);
    }
}

impl Decode for Link {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Link {
            next: u32::decode(r)?,
            prev: u32::decode(r)?,
        })
    }
}

/// One order of a [`StandaloneBook`]: its link, side, level and resting quantity together, so
/// adding and cancelling touch one small record per order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resting {
    pub link: Link,
    pub qty: u64,
    pub level: u16,
    pub side: BookSide,
}

impl Resting {
    pub const EMPTY: Resting = Resting {
        link: Link::EMPTY,
        qty: 0,
        level: 0,
        side: BookSide::Bid,
    };
}

impl Links for [Resting] {
    #[inline]
    fn link(&self, slot: u32) -> Link {
        self[slot as usize].link
    }

    #[inline]
    fn link_mut(&mut self, slot: u32) -> &mut Link {
        &mut self[slot as usize].link
    }
}

/// A self-contained book with its own arena and a plain matcher, for the book benchmarks and
/// for comparing against the engine's reference model. The engine itself drives [`Book`]
/// directly because each fill must settle money and positions.
#[derive(Debug)]
pub struct StandaloneBook {
    pub book: Book,
    pub orders: Vec<Resting>,
    free: Vec<u32>,
}

impl StandaloneBook {
    pub fn new(tick: TickSize, capacity: usize) -> Self {
        StandaloneBook {
            book: Book::new(tick),
            orders: vec![Resting::EMPTY; capacity],
            free: (0..capacity as u32).rev().collect(),
        }
    }

    /// Rests a passive order (the caller ensures it does not cross). Returns its slot.
    #[inline]
    pub fn add(&mut self, side: BookSide, price: Price, qty: u64) -> Option<u32> {
        let level = self.book.level_of(price)?;
        let slot = self.free.pop()?;
        let order = &mut self.orders[slot as usize];
        (order.qty, order.level, order.side) = (qty, level, side);
        self.book
            .insert(self.orders.as_mut_slice(), slot, side, level, qty);
        Some(slot)
    }

    #[inline]
    pub fn cancel(&mut self, slot: u32) {
        let order = self.orders[slot as usize];
        self.book.remove(
            self.orders.as_mut_slice(),
            slot,
            order.side,
            order.level,
            order.qty,
        );
        self.orders[slot as usize].qty = 0;
        self.free.push(slot);
    }

    /// Lowers the resting quantity of `slot` by `by`, keeping its place in the queue.
    #[inline]
    pub fn reduce(&mut self, slot: u32, by: u64) {
        let order = &mut self.orders[slot as usize];
        assert!(by < order.qty, "reduce leaves a quantity");
        order.qty -= by;
        let (side, level) = (order.side, order.level);
        self.book.reduce(side, level, by);
    }

    /// Checks the book against the arena.
    pub fn check(&self) {
        self.book.check(self.orders.as_slice(), |slot| {
            let order = &self.orders[slot as usize];
            (order.side, order.level, order.qty)
        });
    }

    /// Takes up to `qty` from the side opposite `side`, best price first, reporting each fill
    /// (maker slot, price, quantity) to `on_fill`; returns what filled.
    #[inline]
    pub fn market(
        &mut self,
        side: BookSide,
        mut qty: u64,
        mut on_fill: impl FnMut(u32, Price, u64),
    ) -> u64 {
        let resting = side.opposite();
        let wanted = qty;
        while qty > 0 {
            let Some(level) = self.book.best(resting) else {
                break;
            };
            let slot = self.book.level(resting, level).head;
            let available = self.orders[slot as usize].qty;
            let price = self.book.price_of(level);
            if available <= qty {
                qty -= available;
                on_fill(slot, price, available);
                self.cancel(slot);
            } else {
                self.reduce(slot, qty);
                on_fill(slot, price, qty);
                qty = 0;
            }
        }
        wanted - qty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> StandaloneBook {
        StandaloneBook::new(TickSize::Cent, 64)
    }

    #[test]
    fn best_prices_follow_inserts_and_removes() {
        let mut b = book();
        let a = b.add(BookSide::Bid, Price(4000), 10).unwrap();
        let c = b.add(BookSide::Bid, Price(4500), 5).unwrap();
        let d = b.add(BookSide::Ask, Price(6000), 7).unwrap();
        let e = b.add(BookSide::Ask, Price(5500), 1).unwrap();
        assert_eq!(b.book.best(BookSide::Bid), Some(45));
        assert_eq!(b.book.best(BookSide::Ask), Some(55));
        b.cancel(c);
        assert_eq!(b.book.best(BookSide::Bid), Some(40));
        b.cancel(e);
        assert_eq!(b.book.best(BookSide::Ask), Some(60));
        b.check();
        b.cancel(a);
        b.cancel(d);
        assert_eq!(b.book.best(BookSide::Bid), None);
        assert_eq!(b.book.best(BookSide::Ask), None);
        b.check();
    }

    #[test]
    fn fifo_within_a_level_and_reduce_keeps_place() {
        let mut b = book();
        let first = b.add(BookSide::Ask, Price(5000), 3).unwrap();
        let second = b.add(BookSide::Ask, Price(5000), 4).unwrap();
        b.reduce(first, 2);
        let order: Vec<u32> = b
            .book
            .orders_at(b.orders.as_slice(), BookSide::Ask, 50)
            .collect();
        assert_eq!(order, vec![first, second]);
        assert_eq!(b.book.level(BookSide::Ask, 50).qty, 5);
        assert_eq!(b.market(BookSide::Bid, 2, |_, _, _| {}), 2);
        assert_eq!(
            b.book
                .orders_at(b.orders.as_slice(), BookSide::Ask, 50)
                .collect::<Vec<_>>(),
            vec![second]
        );
        assert_eq!(b.orders[second as usize].qty, 3);
        b.check();
    }

    #[test]
    fn off_grid_prices_have_no_level() {
        let b = book();
        assert_eq!(b.book.level_of(Price(5050)), None);
        assert_eq!(b.book.level_of(Price(0)), None);
        assert_eq!(b.book.level_of(Price(10_000)), None);
        assert_eq!(b.book.level_of(Price(9900)), Some(99));
        let fine = Book::new(TickSize::TenThousandth);
        assert_eq!(fine.level_of(Price(1)), Some(1));
        assert_eq!(fine.level_of(Price(9999)), Some(9999));
    }

    #[test]
    fn levels_iterate_from_the_best_outwards_across_words() {
        let mut b = StandaloneBook::new(TickSize::TenThousandth, 64);
        for price in [1u32, 63, 64, 65, 500, 9999] {
            b.add(BookSide::Bid, Price(price), 1).unwrap();
            b.add(BookSide::Ask, Price(price), 1).unwrap();
        }
        let bids: Vec<u16> = b.book.levels(BookSide::Bid, 100).map(|(l, _)| l).collect();
        assert_eq!(bids, vec![9999, 500, 65, 64, 63, 1]);
        let asks: Vec<u16> = b.book.levels(BookSide::Ask, 3).map(|(l, _)| l).collect();
        assert_eq!(asks, vec![1, 63, 64]);
    }
}
