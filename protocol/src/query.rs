//! Queries: reads of the core's state that change nothing and are not journaled.
//!
//! The runtime answers them on the engine thread between command batches, so a reply is a
//! consistent view as of one journal sequence (`as_of_seq`).

use crate::event::{BookSide, TxType};
use crate::message::Empty;
use crate::types::{
    AccountId, KycDocumentId, OutcomeId, PaymentMethodId, Price, Qty, SessionId, Timestamp, TxId,
    UserId,
};
use crate::view::{
    KycDocumentView, KycStatusView, PaymentMethodView, SessionView, StatsView, TxView,
    UserAuthView, UserView, WalletView,
};
use crate::{wire_enum, wire_struct};

/// The most items a list query returns at once.
pub const PAGE_LIMIT_MAX: u32 = 100;

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

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct UserQuery {
        pub user: UserId,
    }
}

wire_struct! {
    /// A username or an email address (case-insensitive).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LoginQuery {
        pub login: String,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SessionQuery {
        pub session: SessionId,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct WalletQuery {
        pub wallet: AccountId,
    }
}

wire_struct! {
    /// A user's transactions, newest first, filtered and paged.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TxQuery {
        pub user: UserId,
        pub tx_type: Option<TxType>,
        pub since: Option<Timestamp>,
        pub offset: u32,
        pub limit: u32,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TxIdQuery {
        pub tx: TxId,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PaymentMethodQuery {
        pub id: PaymentMethodId,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct KycDocumentQuery {
        pub id: KycDocumentId,
    }
}

wire_struct! {
    /// The core's vital signs for `/health` and `/metrics`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CoreStatus {
        pub last_seq: u64,
        pub users: u64,
        pub markets: u64,
        pub live_orders: u64,
        pub accounts: u64,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Query {
        Book(BookQuery) = 1,
        Status(Empty) = 2,
        UserByLogin(LoginQuery) = 10,
        User(UserQuery) = 11,
        Stats(UserQuery) = 12,
        Session(SessionQuery) = 13,
        Wallets(UserQuery) = 20,
        Wallet(WalletQuery) = 21,
        Transactions(TxQuery) = 22,
        Transaction(TxIdQuery) = 23,
        PaymentMethods(UserQuery) = 24,
        PaymentMethod(PaymentMethodQuery) = 25,
        Kyc(UserQuery) = 26,
        KycDocument(KycDocumentQuery) = 27,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum QueryReply {
        NotFound(Empty) = 0,
        Book(BookSnapshot) = 1,
        Status(CoreStatus) = 2,
        UserAuth(UserAuthView) = 10,
        User(UserView) = 11,
        Stats(StatsView) = 12,
        Session(SessionView) = 13,
        Wallets(Vec<WalletView>) = 20,
        Wallet(WalletView) = 21,
        Transactions(Vec<TxView>) = 22,
        Transaction(TxView) = 23,
        PaymentMethods(Vec<PaymentMethodView>) = 24,
        PaymentMethod(PaymentMethodView) = 25,
        Kyc(KycStatusView) = 26,
        KycDocument(KycDocumentView) = 27,
    }
}
