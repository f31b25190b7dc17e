//! The market-maker feed: order entry and market data over QUIC, in the same hand-written
//! binary encoding as everything else.
//!
//! A connection opens one bidirectional stream for order entry. Its first frame is
//! [`FeedRequest::Login`]: an API key id, the client's clock, a random nonce and an
//! HMAC-SHA256 over them ([`login_message`]) keyed by the key's secret. After a
//! [`FeedReply::LoggedIn`], requests on the stream are answered on it by execution reports,
//! in order. Market data flows server → client: subscribing to a market opens one
//! unidirectional stream per market carrying a [`FeedData::Snapshot`] per book and then
//! [`FeedData::Delta`] and [`FeedData::Trade`] messages whose per-book sequence numbers are
//! consecutive; a [`FeedRequest::Snapshot`] resynchronises one book after a gap. Top of book
//! may additionally come as unreliable datagrams ([`TopOfBook`]).
//!
//! Every frame is length-prefixed ([`crate::message::encode_frame`]) and bounded by
//! [`crate::message::FRAME_BYTES_MAX`].

pub use crate::command::Quote;
use crate::command::{OrderKind, SelfTradePrevention, Side, TimeInForce};
use crate::event::{BookDelta, Trade};
use crate::query::BookSnapshot;
use crate::result::ResultCode;
use crate::types::{MarketId, OrderId, OutcomeId, Price, Qty, Timestamp, UserId};
use crate::{wire_cenum, wire_enum, wire_struct};

/// The QUIC ALPN protocol id of the feed.
pub const FEED_ALPN: &[u8] = b"betbet-feed/1";
/// Quotes in one mass quote.
pub const MASS_QUOTE_MAX: usize = 64;
/// A login's timestamp may be this far from the server's clock.
pub const LOGIN_SKEW_MICROS: i64 = 5_000_000;

/// The bytes a login signs: a domain tag, then key id, timestamp and nonce.
pub fn login_message(key_id: u64, timestamp: Timestamp, nonce: &[u8; 16]) -> Vec<u8> {
    let mut message = b"betbet-feed-login-v1".to_vec();
    message.extend_from_slice(&key_id.to_le_bytes());
    message.extend_from_slice(&timestamp.0.to_le_bytes());
    message.extend_from_slice(nonce);
    message
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Login {
        pub key_id: u64,
        pub timestamp: Timestamp,
        pub nonce: [u8; 16],
        pub signature: [u8; 32],
    }
}

wire_struct! {
    /// A new order. `client_ref` is the client's own number for it; every report about the
    /// order carries it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NewOrder {
        pub client_ref: u64,
        pub market: MarketId,
        pub outcome: OutcomeId,
        pub side: Side,
        pub kind: OrderKind,
        pub price: Price,
        pub qty: Qty,
        pub time_in_force: TimeInForce,
        pub expires_at: Timestamp,
        pub post_only: bool,
        pub self_trade: SelfTradePrevention,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CancelRequest {
        pub client_ref: u64,
        pub order: OrderId,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CancelAllRequest {
        pub client_ref: u64,
        pub market: MarketId,
    }
}

wire_struct! {
    #[fixed(36)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct AmendRequest {
        pub client_ref: u64,
        pub order: OrderId,
        pub qty: Qty,
        pub price: Price,
        pub reserved: u64,
    }
}

wire_struct! {
    /// Replaces, atomically, the key's quotes on the listed outcomes: every previous quote of
    /// this connection's user on those outcomes is cancelled and the new ones rest post-only,
    /// or nothing changes at all.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MassQuoteRequest {
        pub client_ref: u64,
        pub market: MarketId,
        pub quotes: Vec<Quote>,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MarketRequest {
        pub market: MarketId,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SnapshotRequest {
        pub book: OutcomeId,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct FeedPing {
        pub nonce: u64,
    }
}

wire_struct! {
    #[fixed(9)]
    /// Asks (`enabled`) that every order this connection placed be cancelled when the
    /// connection ends (closed, lost, timed out or revoked — not when the gateway process
    /// stops); echoed back as the acknowledgement. Off by default.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CancelOnDisconnect {
        pub client_ref: u64,
        pub enabled: bool,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum FeedRequest {
        Login(Login) = 1,
        NewOrder(NewOrder) = 2,
        Cancel(CancelRequest) = 3,
        CancelAll(CancelAllRequest) = 4,
        Amend(AmendRequest) = 5,
        MassQuote(MassQuoteRequest) = 6,
        Subscribe(MarketRequest) = 7,
        Unsubscribe(MarketRequest) = 8,
        Snapshot(SnapshotRequest) = 9,
        Ping(FeedPing) = 10,
        CancelOnDisconnect(CancelOnDisconnect) = 11,
    }
}

wire_cenum! {
    pub enum ExecKind {
        Accepted = 0 => "accepted",
        Rejected = 1 => "rejected",
        PartiallyFilled = 2 => "partially_filled",
        Filled = 3 => "filled",
        Cancelled = 4 => "cancelled",
        Expired = 5 => "expired",
        Amended = 6 => "amended",
    }
}

wire_struct! {
    /// One event in an order's life. For fills, `last_price` / `last_qty` are the fill's.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ExecReport {
        pub client_ref: u64,
        pub order: OrderId,
        pub kind: ExecKind,
        pub code: Option<ResultCode>,
        pub filled: Qty,
        pub remaining: Qty,
        pub last_price: Price,
        pub last_qty: Qty,
        pub at: Timestamp,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LoggedIn {
        pub user: UserId,
        pub key_id: u64,
        pub server_time: Timestamp,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MassQuoteAck {
        pub client_ref: u64,
        pub code: Option<ResultCode>,
        /// The resting quote orders, bid then ask per quote (absent sides skipped).
        pub orders: Vec<OrderId>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Subscribed {
        pub market: MarketId,
        pub books: Vec<OutcomeId>,
    }
}

wire_struct! {
    /// A request refused before it reached the engine (limits, malformed input).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FeedError {
        pub client_ref: u64,
        pub code: ResultCode,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum FeedReply {
        LoggedIn(LoggedIn) = 1,
        LoginRejected(FeedError) = 2,
        Exec(ExecReport) = 3,
        MassQuote(MassQuoteAck) = 4,
        Subscribed(Subscribed) = 5,
        Error(FeedError) = 6,
        Pong(FeedPing) = 7,
        CancelOnDisconnect(CancelOnDisconnect) = 8,
    }
}

wire_struct! {
    /// Best bid and ask of a YES book, for the optional datagram channel.
    #[fixed(48)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TopOfBook {
        pub book: OutcomeId,
        pub seq: u64,
        pub bid: Price,
        pub bid_qty: Qty,
        pub ask: Price,
        pub ask_qty: Qty,
        pub at: Timestamp,
    }
}

wire_enum! {
    /// Market data on a subscription's unidirectional stream.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum FeedData {
        Snapshot(BookSnapshot) = 1,
        Delta(BookDelta) = 2,
        Trade(Trade) = 3,
        Top(TopOfBook) = 4,
    }
}
