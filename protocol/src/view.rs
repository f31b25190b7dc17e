//! Read models: what a query returns about users, wallets, transactions and KYC.
//!
//! Views are plain data in wire form. Gateways turn them into JSON; what a caller may see
//! (another user's email, say) is decided there, per route.

use crate::command::{KycStatus, PaymentMethodType, Role, UserStatus};
use crate::event::{TxStatus, TxType};
use crate::types::{
    AccountId, Amount, Currency, KycDocumentId, PaymentMethodId, SessionId, Timestamp, TxId, UserId,
};
use crate::{wire_cenum, wire_struct};

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserView {
        pub id: UserId,
        pub username: String,
        pub email: String,
        pub role: Role,
        pub status: UserStatus,
        pub kyc_level: u8,
        pub referral_code: String,
        pub referred_by: Option<UserId>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
        pub last_login: Option<Timestamp>,
        pub two_fa_enabled: bool,
        pub display_name: String,
        pub avatar_url: String,
        pub bio: String,
        pub country_code: String,
        pub timezone: String,
        pub language: String,
        pub skill_rating: i32,
        pub verified_expert: bool,
        pub settings: String,
        pub total_wagered: Amount,
        pub total_earnings: Amount,
    }
}

wire_struct! {
    /// What login needs: the gateway verifies the password against `password_hash`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserAuthView {
        pub user: UserId,
        pub password_hash: String,
        pub status: UserStatus,
        pub role: Role,
        pub two_fa_enabled: bool,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StatsView {
        pub user: UserId,
        pub total_wagered: Amount,
        pub total_earnings: Amount,
        pub orders_placed: u64,
        pub trades: u64,
        pub markets_traded: u32,
        pub markets_won: u32,
        pub markets_lost: u32,
        pub open_orders: u32,
        pub open_positions: u32,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct WalletView {
        pub id: AccountId,
        pub user: UserId,
        pub currency: Currency,
        pub available: Amount,
        pub locked: Amount,
        pub is_default: bool,
        pub created_at: Timestamp,
    }
}

wire_cenum! {
    /// The spec's `reference_type` of a transaction.
    pub enum ReferenceType {
        None = 0 => "none",
        Market = 1 => "market",
        P2p = 2 => "p2p",
        Pool = 3 => "pool",
        GameSession = 4 => "game_session",
        Tournament = 5 => "tournament",
        Community = 6 => "community",
        Thread = 7 => "thread",
        Group = 8 => "group",
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TxView {
        pub id: TxId,
        pub user: UserId,
        pub wallet: AccountId,
        pub tx_type: TxType,
        pub status: TxStatus,
        pub amount: Amount,
        pub fee: Amount,
        /// True when the transaction added to the wallet.
        pub credit: bool,
        pub currency: Currency,
        pub counterparty: Option<UserId>,
        pub reference_type: ReferenceType,
        pub reference_id: u64,
        pub payment_method: String,
        pub payment_method_id: Option<PaymentMethodId>,
        pub provider_reference: String,
        pub memo: String,
        pub notes: String,
        pub processed_by: Option<UserId>,
        pub created_at: Timestamp,
        pub completed_at: Option<Timestamp>,
    }
}

wire_struct! {
    /// A payment method without its sealed account details.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaymentMethodView {
        pub id: PaymentMethodId,
        pub user: UserId,
        pub method_type: PaymentMethodType,
        pub provider: String,
        pub display_hint: String,
        pub is_verified: bool,
        pub is_default: bool,
        pub created_at: Timestamp,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct KycDocumentView {
        pub id: KycDocumentId,
        pub user: UserId,
        pub document_type: String,
        pub document_url: String,
        pub content_type: String,
        pub size_bytes: u64,
        pub status: KycStatus,
        pub submitted_at: Timestamp,
        pub verified_at: Option<Timestamp>,
        pub verified_by: Option<UserId>,
        pub kyc_level: u8,
        pub notes: String,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct KycStatusView {
        pub user: UserId,
        pub kyc_level: u8,
        pub documents: Vec<KycDocumentView>,
    }
}

wire_struct! {
    /// A feed API key. `sealed_secret` is for gateways, which unseal it to check a login;
    /// it never leaves them.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ApiKeyView {
        pub id: u64,
        pub user: UserId,
        pub name: String,
        pub sealed_secret: Vec<u8>,
        pub created_at: Timestamp,
        pub revoked_at: Option<Timestamp>,
        pub last_login: Option<Timestamp>,
        pub logins: u64,
    }
}

wire_struct! {
    #[fixed(26)]
    /// A live session with what gateways need to authorize its requests.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SessionView {
        pub session: SessionId,
        pub user: UserId,
        pub expires_at: Timestamp,
        pub role: Role,
        pub status: UserStatus,
    }
}

wire_struct! {
    /// One outcome as traders see it: prices in this outcome's own terms (a binary market's
    /// NO outcome shows the YES book mirrored).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OutcomeView {
        pub id: crate::types::OutcomeId,
        pub text: String,
        pub best_bid: Option<crate::types::Price>,
        pub best_ask: Option<crate::types::Price>,
        pub last_price: Option<crate::types::Price>,
        /// Shares traded on this outcome's book.
        pub volume: crate::types::Qty,
        pub is_winner: Option<bool>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MarketView {
        pub id: crate::types::MarketId,
        pub creator: UserId,
        pub title: String,
        pub description: String,
        pub category: String,
        pub market_type: crate::command::MarketType,
        pub tick_size: crate::command::TickSize,
        pub currency: Currency,
        pub opens_at: Timestamp,
        pub closes_at: Timestamp,
        pub creator_fee_bp: u16,
        pub oracle_type: crate::command::OracleType,
        pub resolution_source: String,
        pub scalar_low: Amount,
        pub scalar_high: Amount,
        pub status: crate::command::MarketStatus,
        pub created_at: Timestamp,
        pub resolved_at: Option<Timestamp>,
        pub winner: Option<crate::types::OutcomeId>,
        pub scalar_value: Option<Amount>,
        pub volume: Amount,
        pub volume_24h: Amount,
        pub trades: u64,
        pub participants: u32,
        pub outcomes: Vec<OutcomeView>,
        pub proposal: Option<ProposalView>,
    }
}

wire_struct! {
    /// A proposed resolution, its dispute window and any dispute.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ProposalView {
        pub winner: Option<crate::types::OutcomeId>,
        pub scalar_value: Option<Amount>,
        pub proposed_by: UserId,
        pub proposed_at: Timestamp,
        pub final_at: Timestamp,
        pub disputed_by: Option<UserId>,
        pub dispute_reason: String,
        pub disputed_at: Option<Timestamp>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MarketList {
        pub total: u32,
        pub markets: Vec<MarketView>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CategoryCount {
        pub category: String,
        pub open: u32,
        pub total: u32,
    }
}

wire_struct! {
    /// An order in its owner's terms (outcome, side and price as they placed it).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OrderView {
        pub id: crate::types::OrderId,
        pub user: UserId,
        pub pool: Option<crate::types::PoolId>,
        pub market: crate::types::MarketId,
        pub outcome: crate::types::OutcomeId,
        pub side: crate::command::Side,
        pub kind: crate::command::OrderKind,
        pub price: crate::types::Price,
        pub qty: crate::types::Qty,
        pub filled: crate::types::Qty,
        pub remaining: crate::types::Qty,
        pub status: crate::event::OrderStatus,
        pub reason: Option<crate::event::DoneReason>,
        pub time_in_force: crate::command::TimeInForce,
        pub expires_at: Timestamp,
        pub post_only: bool,
        pub client_order_id: Option<crate::types::ClientOrderId>,
        pub filled_notional: Amount,
        pub trades: u32,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

wire_struct! {
    /// A holding of one outcome: quantity, what it cost and what it realized.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PositionView {
        /// Positions are per contract; `id` with `outcome` names this side of it.
        pub id: crate::types::PositionId,
        pub user: Option<UserId>,
        pub pool: Option<crate::types::PoolId>,
        pub market: crate::types::MarketId,
        pub outcome: crate::types::OutcomeId,
        /// True for NO shares of a multiple market's outcome: a lay of that outcome.
        pub lay: bool,
        pub qty: crate::types::Qty,
        /// Shares of `qty` locked by open sell orders.
        pub locked: crate::types::Qty,
        pub cost: Amount,
        /// Profit or loss realized on the position (trading, and for a settled position its
        /// settlement too). A position's figures are on one of its sides' views only.
        pub realized: Amount,
        /// For a settled position: what settlement paid into the account for it.
        pub payout: Amount,
        pub settled: bool,
        pub opened_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

wire_struct! {
    #[fixed(37)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TradeView {
        pub trade: crate::types::TradeId,
        pub price: crate::types::Price,
        pub qty: crate::types::Qty,
        pub taker_side: crate::event::BookSide,
        pub at: Timestamp,
        pub seq: u64,
    }
}

wire_struct! {
    #[fixed(40)]
    /// OHLCV of one interval, prices on the YES book.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Candle {
        pub start: Timestamp,
        pub open: crate::types::Price,
        pub high: crate::types::Price,
        pub low: crate::types::Price,
        pub close: crate::types::Price,
        pub volume: crate::types::Qty,
        pub notional: Amount,
    }
}

wire_struct! {
    /// Everything a market-data subscriber starts from, consistent as of one moment.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MarketData {
        pub market: MarketView,
        pub books: Vec<crate::query::BookSnapshot>,
        pub trades: Vec<TradeView>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PoolMemberView {
        pub user: UserId,
        pub username: String,
        pub contribution: Amount,
        pub share_bp: u32,
        pub payout: Amount,
        pub joined_at: Timestamp,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PoolView {
        pub id: crate::types::PoolId,
        pub creator: UserId,
        pub name: String,
        pub description: String,
        pub currency: Currency,
        pub entry_amount: Amount,
        pub member_limit: u32,
        pub status: crate::event::PoolStatus,
        pub total_pool: Amount,
        pub balance: Amount,
        pub created_at: Timestamp,
        pub members: Vec<PoolMemberView>,
    }
}

impl Candle {
    /// The candle of the other side of a YES/NO book: every price complemented, the high
    /// and low swapped; volume and notional are the same trades'.
    pub fn mirrored(self) -> Candle {
        Candle {
            open: self.open.complement(),
            high: self.low.complement(),
            low: self.high.complement(),
            close: self.close.complement(),
            ..self
        }
    }
}
