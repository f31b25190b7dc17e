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
    #[fixed(24)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SessionView {
        pub session: SessionId,
        pub user: UserId,
        pub expires_at: Timestamp,
    }
}
