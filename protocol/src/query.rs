//! Queries: reads of the core's state that change nothing and are not journaled.
//!
//! The runtime answers them on the engine thread between command batches, so a reply is a
//! consistent view as of one journal sequence (`as_of_seq`).

use crate::event::BookSide;
use crate::types::{OutcomeId, Price, Qty};
use crate::{wire_enum, wire_struct};

/// The most levels a book query returns per side. The price grid has 9 999 points, so this
/// is the whole book.
pub const BOOK_DEPTH_MAX: u32 = 10_000;

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BookQuery {
        /// Any outcome of the market; a binary market's NO outcome maps to its YES book.
        pub outcome: OutcomeId,
        pub depth: u32,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Level {
        pub price: Price,
        pub qty: Qty,
        pub orders: u32,
    }
}

wire_struct! {
    /// Level 2 of one YES book: bids best (highest) first, asks best (lowest) first, as of
    /// book sequence `seq`. Deltas with a higher `seq` apply on top of it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BookSnapshot {
        pub book: OutcomeId,
        pub seq: u64,
        pub bids: Vec<Level>,
        pub asks: Vec<Level>,
    }
}

impl BookSnapshot {
    pub fn side(&self, side: BookSide) -> &[Level] {
        match side {
            BookSide::Bid => &self.bids,
            BookSide::Ask => &self.asks,
        }
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Query {
        Book(BookQuery) = 1,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum QueryReply {
        NotFound(crate::message::Empty) = 0,
        Book(BookSnapshot) = 1,
    }
}
