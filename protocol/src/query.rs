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
    ApiKeyView, Candle, CategoryCount, KycDocumentView, KycStatusView, MarketData, MarketList,
    MarketView, OrderView, PaymentMethodView, PoolView, PositionView, SessionView, StatsView,
    TxView, UserAuthView, UserView, WalletView,
};
use crate::{wire_cenum, wire_enum, wire_struct};

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

wire_cenum! {
    pub enum MarketSort {
        Volume = 0 => "volume",
        Newest = 1 => "newest",
        ClosingSoon = 2 => "closing_soon",
        Trending = 3 => "trending",
    }
}

wire_cenum! {
    pub enum Timeframe {
        M1 = 0 => "1m",
        M5 = 1 => "5m",
        M15 = 2 => "15m",
        H1 = 3 => "1h",
        H4 = 4 => "4h",
        D1 = 5 => "1d",
    }
}

impl Timeframe {
    pub fn micros(self) -> i64 {
        const MINUTE: i64 = 60_000_000;
        match self {
            Timeframe::M1 => MINUTE,
            Timeframe::M5 => 5 * MINUTE,
            Timeframe::M15 => 15 * MINUTE,
            Timeframe::H1 => 60 * MINUTE,
            Timeframe::H4 => 240 * MINUTE,
            Timeframe::D1 => 1_440 * MINUTE,
        }
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MarketListQuery {
        pub category: Option<String>,
        pub status: Option<crate::command::MarketStatus>,
        pub sort: MarketSort,
        pub offset: u32,
        pub limit: u32,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ApiKeyQuery {
        pub key: u64,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MarketQuery {
        pub market: crate::types::MarketId,
    }
}

wire_struct! {
    /// A user's orders: open ones, or (with `open = false`) recently ended ones too.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OrdersQuery {
        pub user: UserId,
        pub market: Option<crate::types::MarketId>,
        pub open: bool,
        pub offset: u32,
        pub limit: u32,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct OrderQuery {
        pub order: crate::types::OrderId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PositionsQuery {
        pub user: UserId,
        pub settled: bool,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PositionQuery {
        pub position: crate::types::PositionId,
    }
}

wire_struct! {
    #[fixed(13)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CandleQuery {
        pub outcome: OutcomeId,
        pub timeframe: Timeframe,
        pub limit: u32,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PoolQuery {
        pub pool: crate::types::PoolId,
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
        Markets(MarketListQuery) = 40,
        Market(MarketQuery) = 41,
        Categories(Empty) = 42,
        MarketData(MarketQuery) = 43,
        Candles(CandleQuery) = 44,
        Orders(OrdersQuery) = 45,
        Order(OrderQuery) = 46,
        Positions(PositionsQuery) = 47,
        Position(PositionQuery) = 48,
        Pool(PoolQuery) = 49,
        ApiKey(ApiKeyQuery) = 60,
        ApiKeys(UserQuery) = 61,
        Games(crate::games::GameListQuery) = 80,
        Game(crate::games::GameQuery) = 81,
        GameCategories(Empty) = 82,
        ActiveGameSessions(crate::games::ActiveSessionsQuery) = 83,
        GameSession(crate::games::GameSessionQuery) = 84,
        GameSessionByCode(crate::games::SessionCodeQuery) = 85,
        GameSpectators(crate::games::GameSessionQuery) = 86,
        Leaderboard(crate::games::LeaderboardQuery) = 88,
        UserRatings(crate::games::UserRatingsQuery) = 89,
        Tournament(crate::tournaments::TournamentQuery) = 90,
        Tournaments(crate::tournaments::TournamentListQuery) = 91,
        Community(crate::social::CommunityQuery) = 100,
        CommunityMember(crate::social::CommunityMemberQuery) = 101,
        Thread(crate::social::ThreadQuery) = 102,
        Reply(crate::social::ReplyQuery) = 103,
        Room(crate::social::RoomQuery) = 104,
        Blocks(UserQuery) = 105,
        Group(crate::social::GroupQuery) = 106,
        Bankroll(crate::games::BankrollQuery) = 87,
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
        Markets(MarketList) = 40,
        Market(MarketView) = 41,
        Categories(Vec<CategoryCount>) = 42,
        MarketData(MarketData) = 43,
        Candles(Vec<Candle>) = 44,
        Orders(Vec<OrderView>) = 45,
        Order(OrderView) = 46,
        Positions(Vec<PositionView>) = 47,
        Position(PositionView) = 48,
        Pool(PoolView) = 49,
        ApiKey(ApiKeyView) = 60,
        ApiKeys(Vec<ApiKeyView>) = 61,
        Games(crate::games::GameList) = 80,
        Game(crate::games::GameView) = 81,
        GameCategories(Vec<CategoryCount>) = 82,
        GameSessions(crate::games::GameSessionList) = 83,
        GameSession(crate::games::GameSessionView) = 84,
        GameSpectators(crate::games::SpectatorList) = 86,
        Leaderboard(crate::games::Leaderboard) = 88,
        UserRatings(crate::games::UserRatings) = 89,
        Tournament(crate::tournaments::TournamentView) = 90,
        Tournaments(crate::tournaments::TournamentList) = 91,
        Community(crate::social::CommunityView) = 100,
        CommunityMember(crate::social::MemberView) = 101,
        Thread(crate::social::ThreadView) = 102,
        Reply(crate::social::ReplyView) = 103,
        Room(crate::social::RoomView) = 104,
        Blocks(crate::social::BlockList) = 105,
        Group(crate::social::GroupView) = 106,
        Bankroll(crate::games::BankrollView) = 87,
    }
}
