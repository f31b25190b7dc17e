//! Events: the only output of the engine.
//!
//! Gateways fan them out to subscribers (market data, a user's own order updates), and the
//! persistence writers project them into Postgres. Each command's events are emitted in the
//! order the engine made its changes, so applying them in order reproduces every view.
//!
//! Market data carries a per-book sequence number shared by level changes and trades, so a
//! subscriber that sees a gap knows it missed something and must resynchronise.

use crate::command::{KycStatus, MarketStatus, Side};
use crate::types::{
    AccountId, Amount, Currency, KycDocumentId, MarketId, OrderId, OutcomeId, PoolId, Price, Qty,
    SessionId, Timestamp, TradeId, TxId, UserId,
};
use crate::{wire_cenum, wire_enum, wire_struct};

wire_cenum! {
    /// A side of the YES book of a contract: bids want YES, asks want NO. A binary market
    /// has one such book; its NO outcome is the same book seen from the other side.
    pub enum BookSide {
        Bid = 0 => "bid",
        Ask = 1 => "ask",
    }
}

impl BookSide {
    pub fn opposite(self) -> BookSide {
        match self {
            BookSide::Bid => BookSide::Ask,
            BookSide::Ask => BookSide::Bid,
        }
    }
}

wire_cenum! {
    pub enum OrderStatus {
        Open = 0 => "open",
        PartiallyFilled = 1 => "partially_filled",
        Filled = 2 => "filled",
        Cancelled = 3 => "cancelled",
        Expired = 4 => "expired",
    }
}

impl OrderStatus {
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Open | OrderStatus::PartiallyFilled)
    }
}

wire_cenum! {
    /// Why an order stopped resting or never rested.
    pub enum DoneReason {
        Filled = 0 => "filled",
        Cancelled = 1 => "cancelled",
        Expired = 2 => "expired",
        SelfTrade = 3 => "self_trade_prevention",
        Unfilled = 4 => "unfilled_remainder",
        MarketClosed = 5 => "market_closed",
        Replaced = 6 => "replaced",
    }
}

wire_cenum! {
    pub enum TxType {
        Deposit = 0 => "deposit",
        Withdrawal = 1 => "withdrawal",
        Transfer = 2 => "transfer",
        Bet = 3 => "bet",
        Payout = 4 => "payout",
        Fee = 5 => "fee",
        Refund = 6 => "refund",
        /// Money a member paid into a group's wallet.
        Contribution = 7 => "contribution",
    }
}

wire_cenum! {
    pub enum TxStatus {
        Pending = 0 => "pending",
        Completed = 1 => "completed",
        Cancelled = 2 => "cancelled",
        Rejected = 3 => "rejected",
    }
}

wire_cenum! {
    /// Why money moved between two ledger accounts.
    pub enum LedgerReason {
        Deposit = 0 => "deposit",
        Withdrawal = 1 => "withdrawal",
        WithdrawalFee = 2 => "withdrawal_fee",
        Transfer = 3 => "transfer",
        /// Collateral into a market's escrow when shares are minted by a trade or a mint.
        Escrow = 4 => "escrow",
        /// A buyer paying a seller for existing shares.
        Trade = 5 => "trade",
        /// Escrow paying out: settlement, merges, a trade that burns a share pair.
        Release = 6 => "release",
        CreatorFee = 7 => "creator_fee",
        PlatformFee = 8 => "platform_fee",
        Refund = 9 => "refund",
        PoolEntry = 10 => "pool_entry",
        PoolDistribution = 11 => "pool_distribution",
        /// A player's stake into a game session's escrow.
        GameStake = 12 => "game_stake",
        /// A game session's pot to its winners.
        GamePayout = 13 => "game_payout",
        /// A spectator's fee, to the players and the platform.
        SpectatorFee = 14 => "spectator_fee",
        /// The house's crash bankroll: funding it, a round's reserve and what comes back.
        Bankroll = 15 => "bankroll",
        /// An entry fee or a prize pool into a tournament's escrow.
        TournamentEntry = 16 => "tournament_entry",
        /// A tournament's prize to a player.
        TournamentPrize = 17 => "tournament_prize",
        /// A paid community's membership fee to its owner (the platform's fee is
        /// `PlatformFee`).
        CommunityFee = 18 => "community_fee",
        /// A paywalled thread's price to its author.
        ThreadPurchase = 19 => "thread_purchase",
        /// A member's money into a group's wallet, and out of it to a member.
        GroupContribution = 20 => "group_contribution",
        GroupPayout = 21 => "group_payout",
    }
}

wire_cenum! {
    pub enum PoolStatus {
        Open = 0 => "open",
        Active = 1 => "active",
        Settled = 2 => "settled",
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserRegistered {
        pub user: UserId,
        pub username: String,
        pub referred_by: Option<UserId>,
    }
}

wire_struct! {
    #[fixed(8)]
    /// Something about a user that gateways may cache changed (role, status, 2FA, KYC level,
    /// profile); they re-read the user.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct UserChanged {
        pub user: UserId,
    }
}

wire_struct! {
    #[fixed(32)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SessionOpened {
        pub session: SessionId,
        pub user: UserId,
        pub family: SessionId,
        pub expires_at: crate::types::Timestamp,
    }
}

wire_struct! {
    #[fixed(16)]
    /// Gateways drop access tokens of this session at once instead of waiting for expiry.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SessionRevoked {
        pub session: SessionId,
        pub user: UserId,
    }
}

wire_struct! {
    #[fixed(16)]
    /// Gateways close the feed connections logged in with this key at once.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ApiKeyRevoked {
        pub key: u64,
        pub user: UserId,
    }
}

wire_struct! {
    #[fixed(18)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct KycDecided {
        pub document: KycDocumentId,
        pub user: UserId,
        pub status: KycStatus,
        pub kyc_level: u8,
    }
}

wire_struct! {
    #[fixed(24)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct WalletCreated {
        pub account: AccountId,
        pub user: UserId,
        pub currency: Currency,
    }
}

wire_struct! {
    #[fixed(42)]
    /// A wallet transaction was created or changed status.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TxUpdated {
        pub tx: TxId,
        pub user: UserId,
        pub tx_type: TxType,
        pub status: TxStatus,
        pub currency: Currency,
        pub amount: Amount,
        pub fee: Amount,
    }
}

wire_struct! {
    #[fixed(33)]
    /// One double-entry movement: `amount` leaves `debit` and arrives in `credit`. Summing
    /// these per account reproduces every balance; their total is always zero.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct LedgerMoved {
        pub debit: AccountId,
        pub credit: AccountId,
        pub amount: Amount,
        pub reason: LedgerReason,
        /// The order, trade, market, transaction or pool the movement belongs to.
        pub reference: u64,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MarketCreated {
        pub market: MarketId,
        pub creator: UserId,
    }
}

wire_struct! {
    #[fixed(9)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MarketStatusChanged {
        pub market: MarketId,
        pub status: MarketStatus,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MarketResolved {
        pub market: MarketId,
        pub winner: Option<OutcomeId>,
        pub scalar_value: Option<Amount>,
    }
}

wire_struct! {
    /// A market's resolution was proposed: it becomes final at `final_at` unless a holder
    /// disputes it before then.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ResolutionProposed {
        pub market: MarketId,
        pub winner: Option<OutcomeId>,
        pub scalar_value: Option<Amount>,
        pub proposed_by: UserId,
        pub final_at: Timestamp,
    }
}

wire_struct! {
    #[fixed(16)]
    /// A holder disputed a proposed resolution; an admin decides it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ResolutionDisputed {
        pub market: MarketId,
        pub by: UserId,
    }
}

wire_struct! {
    #[fixed(53)]
    /// An order entered the engine (it may trade and finish within the same command).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct OrderAccepted {
        pub order: OrderId,
        pub user: UserId,
        pub account: AccountId,
        pub market: MarketId,
        pub outcome: OutcomeId,
        pub side: Side,
        pub price: Price,
        pub qty: Qty,
    }
}

wire_struct! {
    /// An order's state after a change: a fill, an amendment, or its end.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct OrderUpdated {
        pub order: OrderId,
        pub user: UserId,
        pub status: OrderStatus,
        /// Set once the order stopped resting.
        pub reason: Option<DoneReason>,
        pub filled: Qty,
        pub remaining: Qty,
        pub price: Price,
    }
}

wire_struct! {
    #[fixed(85)]
    /// A match on a YES book. `price` is the YES price; the taker's side says who crossed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Trade {
        pub trade: TradeId,
        pub market: MarketId,
        pub book: OutcomeId,
        pub seq: u64,
        pub price: Price,
        pub qty: Qty,
        pub maker_order: OrderId,
        pub taker_order: OrderId,
        pub maker_user: UserId,
        pub taker_user: UserId,
        pub taker_side: BookSide,
        pub at: crate::types::Timestamp,
    }
}

wire_struct! {
    #[fixed(33)]
    /// The new total at one price level of a YES book (`qty = 0`: the level is gone).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct BookDelta {
        pub book: OutcomeId,
        pub seq: u64,
        pub side: BookSide,
        pub price: Price,
        pub qty: Qty,
        pub orders: u32,
    }
}

wire_struct! {
    #[fixed(40)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Payout {
        pub market: MarketId,
        pub user: UserId,
        pub account: AccountId,
        pub amount: Amount,
        pub fee: Amount,
    }
}

wire_struct! {
    #[fixed(17)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PoolChanged {
        pub pool: PoolId,
        pub user: UserId,
        pub status: PoolStatus,
    }
}

wire_enum! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Event {
        UserRegistered(UserRegistered) = 10,
        UserChanged(UserChanged) = 11,
        SessionOpened(SessionOpened) = 12,
        SessionRevoked(SessionRevoked) = 13,
        KycDecided(KycDecided) = 14,
        ApiKeyRevoked(ApiKeyRevoked) = 15,
        WalletCreated(WalletCreated) = 30,
        TxUpdated(TxUpdated) = 31,
        LedgerMoved(LedgerMoved) = 32,
        MarketCreated(MarketCreated) = 50,
        MarketUpdated(MarketCreated) = 51,
        MarketStatusChanged(MarketStatusChanged) = 52,
        MarketResolved(MarketResolved) = 53,
        ResolutionProposed(ResolutionProposed) = 54,
        ResolutionDisputed(ResolutionDisputed) = 55,
        OrderAccepted(OrderAccepted) = 60,
        OrderUpdated(OrderUpdated) = 61,
        Trade(Trade) = 62,
        BookDelta(BookDelta) = 63,
        Payout(Payout) = 64,
        PoolChanged(PoolChanged) = 70,
        GameChanged(crate::games::GameChanged) = 90,
        GameSessionChanged(crate::games::GameSessionChanged) = 91,
        GameChatPosted(crate::games::GameChatPosted) = 92,
        GameSessionTicked(crate::games::GameSessionTicked) = 93,
        RatingChanged(crate::games::RatingChanged) = 94,
        TournamentChanged(crate::tournaments::TournamentChanged) = 95,
        CommunityChanged(crate::social::CommunityChanged) = 96,
        PostChanged(crate::social::PostChanged) = 97,
        ChatMessage(crate::social::ChatMessage) = 98,
        ChatRead(crate::social::ChatRead) = 99,
        GroupChanged(crate::social::GroupChanged) = 100,
    }
}
