//! Reads of engine state for gateways: they change nothing and are not journaled.

use crate::Engine;
use betbet_protocol::event::BookSide;
use betbet_protocol::query::{BOOK_DEPTH_MAX, BookQuery, BookSnapshot, Level, Query, QueryReply};
use betbet_protocol::types::Qty;

impl Engine {
    pub fn query(&self, query: &Query) -> QueryReply {
        match query {
            Query::Book(q) => self.book_snapshot(q).map_or(
                QueryReply::NotFound(betbet_protocol::message::Empty {}),
                QueryReply::Book,
            ),
        }
    }

    /// Level 2 of the YES book an outcome trades on, `depth` levels per side.
    pub fn book_snapshot(&self, q: &BookQuery) -> Option<BookSnapshot> {
        let outcome = self.markets.outcome(q.outcome)?;
        let contract = &self.markets.contracts[outcome.contract as usize];
        let depth = q.depth.min(BOOK_DEPTH_MAX) as usize;
        let side = |side: BookSide| -> Vec<Level> {
            contract
                .book
                .levels(side, depth)
                .map(|(level, entry)| Level {
                    price: contract.book.price_of(level),
                    qty: Qty(entry.qty),
                    orders: entry.orders,
                })
                .collect()
        };
        Some(BookSnapshot {
            book: contract.outcome,
            seq: contract.book.seq,
            bids: side(BookSide::Bid),
            asks: side(BookSide::Ask),
        })
    }
}
