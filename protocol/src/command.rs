//! Commands: every state change of the core, as it is journaled and replayed.
//!
//! A command names its `actor` (the authenticated user on whose behalf a gateway sends it;
//! [`UserId::SYSTEM`] for the runtime's own commands). Gateways authenticate; the engine
//! authorizes (only a market's creator may resolve it, only an admin may void it, …), so a
//! second gateway with a bug cannot grant rights the core would not.
//!
//! Commands carry no clock and no randomness: the runtime stamps each one with the time and a
//! seed in a [`JournalEntry`] before it is journaled, so replay is exact.

use crate::types::{
    Amount, ClientOrderId, Currency, IdempotencyKey, KycDocumentId, MarketId, OrderId, OutcomeId,
    PaymentMethodId, PoolId, Price, Qty, SessionId, Timestamp, TxId, UserId,
};
use crate::{wire_cenum, wire_enum, wire_struct};

wire_cenum! {
    pub enum Role {
        User = 0 => "user",
        Admin = 1 => "admin",
    }
}

wire_cenum! {
    pub enum UserStatus {
        Active = 0 => "active",
        Suspended = 1 => "suspended",
    }
}

wire_cenum! {
    pub enum MarketType {
        Binary = 0 => "binary",
        Multiple = 1 => "multiple",
        Scalar = 2 => "scalar",
    }
}

wire_cenum! {
    pub enum OracleType {
        Manual = 0 => "manual",
        Automated = 1 => "automated",
    }
}

wire_cenum! {
    /// The price grid of a market, in [`Price`] units of 10^-4.
    pub enum TickSize {
        Cent = 0 => "0.01",
        Mill = 1 => "0.001",
        TenThousandth = 2 => "0.0001",
    }
}

impl TickSize {
    /// The tick in [`Price`] units.
    pub fn units(self) -> u32 {
        match self {
            TickSize::Cent => 100,
            TickSize::Mill => 10,
            TickSize::TenThousandth => 1,
        }
    }
}

wire_cenum! {
    pub enum MarketStatus {
        Open = 0 => "open",
        Closed = 1 => "closed",
        Resolved = 2 => "resolved",
        Voided = 3 => "voided",
    }
}

wire_cenum! {
    /// Buy or sell, from the order owner's point of view, of the outcome they named.
    pub enum Side {
        Buy = 0 => "buy",
        Sell = 1 => "sell",
    }
}

wire_cenum! {
    pub enum OrderKind {
        Limit = 0 => "limit",
        Market = 1 => "market",
    }
}

wire_cenum! {
    pub enum TimeInForce {
        /// Good till cancelled.
        Gtc = 0 => "gtc",
        /// Good till `expires_at`.
        Gtd = 1 => "gtd",
        /// Immediate or cancel: trade what crosses now, cancel the rest.
        Ioc = 2 => "ioc",
        /// Fill or kill: trade the whole quantity now or nothing.
        Fok = 3 => "fok",
    }
}

wire_cenum! {
    /// What happens when an order would trade with a resting order of the same account.
    pub enum SelfTradePrevention {
        CancelResting = 0 => "cancel_resting",
        CancelTaking = 1 => "cancel_taking",
        CancelBoth = 2 => "cancel_both",
    }
}

wire_cenum! {
    pub enum KycStatus {
        Pending = 0 => "pending",
        Approved = 1 => "approved",
        Rejected = 2 => "rejected",
    }
}

wire_cenum! {
    pub enum PaymentMethodType {
        Bank = 0 => "bank",
        MobileMoney = 1 => "mobile_money",
        Card = 2 => "card",
        Crypto = 3 => "crypto",
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RegisterUser {
        pub username: String,
        pub email: String,
        /// The PHC string of an argon2id hash, computed by the gateway off the engine thread.
        pub password_hash: String,
        pub referral_code: Option<String>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SetUserRole {
        pub actor: UserId,
        pub user: UserId,
        pub role: Role,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SetUserStatus {
        pub actor: UserId,
        pub user: UserId,
        pub status: UserStatus,
    }
}

wire_struct! {
    /// Opens a session after the gateway verified the password. The engine checks the
    /// two-factor code itself (it knows the secret and which steps were already used).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OpenSession {
        pub user: UserId,
        /// SHA-256 of the refresh token; the token itself never reaches the core.
        pub refresh_hash: [u8; 32],
        pub expires_at: Timestamp,
        pub two_fa_code: Option<u32>,
        pub device_info: String,
        pub ip_address: String,
    }
}

wire_struct! {
    /// Rotates a refresh token. Presenting a token that was already rotated away revokes the
    /// whole family: someone holds a stolen copy.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RefreshSession {
        pub presented_hash: [u8; 32],
        pub next_hash: [u8; 32],
        pub expires_at: Timestamp,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RevokeSession {
        pub actor: UserId,
        pub session: SessionId,
    }
}

wire_struct! {
    /// Stores a new, not yet enabled TOTP secret (generated by the gateway, which shows it to
    /// the user once).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BeginTwoFa {
        pub user: UserId,
        pub secret: [u8; 20],
    }
}

wire_struct! {
    /// Checks an RFC 6238 code at the command's stamped time; the first valid code enables
    /// two-factor authentication. A step is never accepted twice.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VerifyTwoFa {
        pub user: UserId,
        pub code: u32,
    }
}

wire_struct! {
    /// Changes profile fields; `None` leaves a field as it is, `Some("")` clears it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UpdateProfile {
        pub actor: UserId,
        pub user: UserId,
        pub display_name: Option<String>,
        pub avatar_url: Option<String>,
        pub bio: Option<String>,
        pub country_code: Option<String>,
        pub timezone: Option<String>,
        pub language: Option<String>,
        /// A JSON object, validated by the gateway; the engine stores it as text.
        pub settings: Option<String>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SubmitKyc {
        pub user: UserId,
        pub document_type: String,
        /// Where the gateway stored the upload, relative to the data directory.
        pub document_url: String,
        pub content_type: String,
        pub size_bytes: u64,
        pub sha256: [u8; 32],
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DecideKyc {
        pub actor: UserId,
        pub document: KycDocumentId,
        pub approve: bool,
        /// The user's KYC level after an approval; ignored on rejection.
        pub kyc_level: u8,
        pub notes: String,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateWallet {
        pub actor: UserId,
        pub user: UserId,
        pub currency: Currency,
    }
}

wire_struct! {
    /// Records a pending deposit; money moves only on [`ConfirmDeposit`].
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct InitiateDeposit {
        pub actor: UserId,
        pub user: UserId,
        pub currency: Currency,
        pub amount: Amount,
        /// The payment provider (`sandbox`, `ecocash`, …).
        pub payment_method: String,
        pub idempotency_key: Option<IdempotencyKey>,
    }
}

wire_struct! {
    /// A payment provider confirmed the deposit: credit the user from the outside world.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConfirmDeposit {
        pub actor: UserId,
        pub deposit: TxId,
        pub provider_reference: String,
    }
}

wire_struct! {
    /// Holds amount + fee until an admin approves (settle) or rejects (release).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RequestWithdrawal {
        pub actor: UserId,
        pub user: UserId,
        pub currency: Currency,
        pub amount: Amount,
        pub payment_method: PaymentMethodId,
        pub idempotency_key: Option<IdempotencyKey>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CancelWithdrawal {
        pub actor: UserId,
        pub withdrawal: TxId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DecideWithdrawal {
        pub actor: UserId,
        pub withdrawal: TxId,
        pub approve: bool,
        pub notes: String,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Transfer {
        pub actor: UserId,
        pub sender: UserId,
        pub recipient: UserId,
        pub currency: Currency,
        pub amount: Amount,
        pub memo: String,
        pub idempotency_key: Option<IdempotencyKey>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AddPaymentMethod {
        pub actor: UserId,
        pub user: UserId,
        pub method_type: PaymentMethodType,
        pub provider: String,
        /// Account details sealed (AEAD) by the gateway; the core never sees them in clear.
        pub details_sealed: Vec<u8>,
        /// A masked hint for display, such as `•••• 4242`.
        pub display_hint: String,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RemovePaymentMethod {
        pub actor: UserId,
        pub method: PaymentMethodId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateMarket {
        pub actor: UserId,
        pub title: String,
        pub description: String,
        pub category: String,
        pub market_type: MarketType,
        /// Outcome texts: two for binary and scalar (YES/NO, LONG/SHORT), 2..=N for multiple.
        pub outcomes: Vec<String>,
        pub tick_size: TickSize,
        pub currency: Currency,
        pub opens_at: Timestamp,
        pub closes_at: Timestamp,
        /// The creator's fee on net winnings, in basis points (100 = 1%).
        pub creator_fee_bp: u16,
        pub oracle_type: OracleType,
        pub resolution_source: String,
        /// Scalar markets only: the range the resolution value is clamped to (10^-8 units).
        pub scalar_low: Amount,
        pub scalar_high: Amount,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UpdateMarket {
        pub actor: UserId,
        pub market: MarketId,
        pub title: Option<String>,
        pub description: Option<String>,
        pub category: Option<String>,
        pub closes_at: Option<Timestamp>,
        pub resolution_source: Option<String>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct HaltMarket {
        pub actor: UserId,
        pub market: MarketId,
    }
}

wire_struct! {
    /// `winner` for binary and multiple markets; `scalar_value` for scalar ones.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ResolveMarket {
        pub actor: UserId,
        pub market: MarketId,
        pub winner: Option<OutcomeId>,
        pub scalar_value: Option<Amount>,
    }
}

wire_struct! {
    /// A holder of a position in the market disputes its proposed resolution within the
    /// dispute window; an admin then decides it (`ResolveMarket` by an admin is final).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DisputeResolution {
        pub actor: UserId,
        pub market: MarketId,
        pub reason: String,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VoidMarket {
        pub actor: UserId,
        pub market: MarketId,
    }
}

wire_struct! {
    /// An order on one outcome. `price` is in the named outcome's own terms (buying NO at 0.3
    /// is `outcome = NO, side = Buy, price = 0.3`); for a market order it is the worst price
    /// accepted. `pool` trades for a betting pool the actor manages.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PlaceOrder {
        pub actor: UserId,
        pub pool: Option<PoolId>,
        pub market: MarketId,
        pub outcome: OutcomeId,
        pub side: Side,
        pub kind: OrderKind,
        pub price: Price,
        pub qty: Qty,
        pub time_in_force: TimeInForce,
        pub expires_at: Timestamp,
        pub post_only: bool,
        pub client_order_id: Option<ClientOrderId>,
        pub self_trade: SelfTradePrevention,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CancelOrder {
        pub actor: UserId,
        pub order: OrderId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CancelAll {
        pub actor: UserId,
        pub market: MarketId,
        pub pool: Option<PoolId>,
    }
}

wire_struct! {
    #[fixed(28)]
    /// Changes an open order. Reducing the quantity at the same price keeps time priority;
    /// any other change re-queues the order (and may trade).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct AmendOrder {
        pub actor: UserId,
        pub order: OrderId,
        pub qty: Qty,
        pub price: Price,
    }
}

wire_struct! {
    /// Sells (or buys back) the whole holding of one outcome against the best opposite
    /// prices, no worse than `worst_price`, immediate-or-cancel.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ClosePosition {
        pub actor: UserId,
        pub pool: Option<PoolId>,
        pub market: MarketId,
        pub outcome: OutcomeId,
        /// Close the NO holding of a multiple market's outcome (a lay) instead of its YES.
        pub lay: bool,
        pub worst_price: Price,
    }
}

wire_struct! {
    /// Mints shares for collateral at exactly one unit per set. `outcome = None` mints a
    /// complete set (one YES of every outcome; for a binary market YES + NO); `Some(o)` mints
    /// a YES + NO pair of outcome `o`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MintShares {
        pub actor: UserId,
        pub pool: Option<PoolId>,
        pub market: MarketId,
        pub outcome: Option<OutcomeId>,
        pub qty: Qty,
    }
}

wire_struct! {
    /// The inverse of [`MintShares`]: burns a set and returns one unit per set.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MergeShares {
        pub actor: UserId,
        pub pool: Option<PoolId>,
        pub market: MarketId,
        pub outcome: Option<OutcomeId>,
        pub qty: Qty,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreatePool {
        pub actor: UserId,
        pub name: String,
        pub description: String,
        pub currency: Currency,
        pub entry_amount: Amount,
        pub member_limit: u32,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PoolAction {
        pub actor: UserId,
        pub pool: PoolId,
    }
}

wire_struct! {
    /// A two-sided quote on one outcome, in the outcome's own terms (like an order's price):
    /// the bid buys it, the ask sells it. A zero quantity quotes nothing on that side.
    #[fixed(32)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Quote {
        pub outcome: OutcomeId,
        pub bid_price: Price,
        pub bid_qty: Qty,
        pub ask_price: Price,
        pub ask_qty: Qty,
    }
}

wire_struct! {
    /// Atomically replaces the actor's quotes on the books of the listed outcomes: every
    /// earlier quote order of the actor on those books is cancelled and the new ones rest
    /// post-only (good till cancelled), or, if any part is refused, nothing changes. Other
    /// orders of the actor are left alone.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MassQuote {
        pub actor: UserId,
        pub market: MarketId,
        pub quotes: Vec<Quote>,
    }
}

wire_struct! {
    /// Registers a feed API key. The gateway generated the secret, showed it to the user
    /// once and sealed it (AEAD); the core stores only the sealed bytes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateApiKey {
        pub actor: UserId,
        pub name: String,
        pub sealed_secret: Vec<u8>,
    }
}

wire_struct! {
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RevokeApiKey {
        pub actor: UserId,
        pub key: u64,
    }
}

wire_struct! {
    /// A feed login whose HMAC the gateway verified. The core decides the rest at the
    /// command's stamped time: the key is live, the client's timestamp is within the allowed
    /// skew and the nonce was not used before.
    #[fixed(32)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ApiKeyLogin {
        pub key: u64,
        pub timestamp: Timestamp,
        pub nonce: [u8; 16],
    }
}

wire_struct! {
    #[fixed(0)]
    /// Time advances to the entry's stamp: GTD orders expire, markets close at `closes_at`,
    /// sessions and idempotency records age out.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Tick {}
}

wire_struct! {
    /// Engine settings that change results, journaled so replay sees what the live run saw.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Configure {
        pub actor: UserId,
        /// The platform's fee on net winnings, in basis points.
        pub platform_fee_bp: u16,
        /// A flat withdrawal fee in basis points of the amount.
        pub withdrawal_fee_bp: u16,
        /// What a user may withdraw per currency over any 24 hours, pending and completed
        /// withdrawals together, per KYC level (index = level); levels past the end use the
        /// last entry.
        pub withdrawal_limits: Vec<Amount>,
        pub open_orders_per_user_max: u32,
        /// Currencies wallets and markets may use.
        pub currencies: Vec<Currency>,
        /// The largest balance (with pending deposits) a wallet may reach by deposits and
        /// transfers received.
        pub wallet_balance_max: Amount,
        /// The most of one currency the platform holds in all (everything deposited and not
        /// withdrawn). It keeps every balance and every sum of balances far inside `i64`.
        pub currency_supply_max: Amount,
        /// How long a proposed market resolution may be disputed before it is final, in µs.
        pub dispute_window_micros: i64,
    }
}

wire_struct! {
    /// The first layout of [`Configure`] (journal tag 2), still read from old journals: it
    /// leaves the settings it does not have as they are.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConfigureV1 {
        pub actor: UserId,
        pub platform_fee_bp: u16,
        pub withdrawal_fee_bp: u16,
        pub withdrawal_limits: Vec<Amount>,
        pub open_orders_per_user_max: u32,
        pub currencies: Vec<Currency>,
    }
}

wire_enum! {
    /// Every state change of the core. Tags are stable: the journal stores them.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Command {
        Tick(Tick) = 1,
        ConfigureV1(ConfigureV1) = 2,
        Configure(Configure) = 3,
        RegisterUser(RegisterUser) = 10,
        SetUserRole(SetUserRole) = 11,
        SetUserStatus(SetUserStatus) = 12,
        OpenSession(OpenSession) = 13,
        RefreshSession(RefreshSession) = 14,
        RevokeSession(RevokeSession) = 15,
        BeginTwoFa(BeginTwoFa) = 16,
        VerifyTwoFa(VerifyTwoFa) = 17,
        UpdateProfile(UpdateProfile) = 18,
        SubmitKyc(SubmitKyc) = 19,
        DecideKyc(DecideKyc) = 20,
        CreateWallet(CreateWallet) = 30,
        InitiateDeposit(InitiateDeposit) = 31,
        ConfirmDeposit(ConfirmDeposit) = 32,
        RequestWithdrawal(RequestWithdrawal) = 33,
        CancelWithdrawal(CancelWithdrawal) = 34,
        DecideWithdrawal(DecideWithdrawal) = 35,
        Transfer(Transfer) = 36,
        AddPaymentMethod(AddPaymentMethod) = 37,
        RemovePaymentMethod(RemovePaymentMethod) = 38,
        CreateMarket(CreateMarket) = 50,
        UpdateMarket(UpdateMarket) = 51,
        HaltMarket(HaltMarket) = 52,
        ResolveMarket(ResolveMarket) = 53,
        VoidMarket(VoidMarket) = 54,
        DisputeResolution(DisputeResolution) = 55,
        PlaceOrder(PlaceOrder) = 60,
        CancelOrder(CancelOrder) = 61,
        CancelAll(CancelAll) = 62,
        AmendOrder(AmendOrder) = 63,
        ClosePosition(ClosePosition) = 64,
        MintShares(MintShares) = 65,
        MergeShares(MergeShares) = 66,
        MassQuote(MassQuote) = 67,
        CreatePool(CreatePool) = 70,
        JoinPool(PoolAction) = 71,
        LeavePool(PoolAction) = 72,
        StartPool(PoolAction) = 73,
        SettlePool(PoolAction) = 74,
        CreateApiKey(CreateApiKey) = 80,
        RevokeApiKey(RevokeApiKey) = 81,
        ApiKeyLogin(ApiKeyLogin) = 82,
        CreateGameV1(crate::games::CreateGameV1) = 90,
        UpdateGameV1(crate::games::UpdateGameV1) = 91,
        CreateGameSession(crate::games::CreateGameSession) = 92,
        JoinGameSession(crate::games::JoinGameSession) = 93,
        LeaveGameSession(crate::games::GameSessionAction) = 94,
        CancelGameSession(crate::games::GameSessionAction) = 95,
        StartGameSession(crate::games::GameSessionAction) = 96,
        GameMove(crate::games::GameMove) = 97,
        ResignGame(crate::games::GameSessionAction) = 98,
        SetClientSeed(crate::games::SetClientSeed) = 99,
        SpectateGameSession(crate::games::GameSessionAction) = 100,
        PostGameChat(crate::games::PostGameChat) = 101,
        AbandonGameSession(crate::games::GameSessionAction) = 102,
        CreateGame(crate::games::CreateGame) = 103,
        UpdateGame(crate::games::UpdateGame) = 104,
        FundBankroll(crate::games::FundBankroll) = 105,
        CreateTournament(crate::tournaments::CreateTournament) = 110,
        RegisterTournament(crate::tournaments::TournamentAction) = 111,
        UnregisterTournament(crate::tournaments::TournamentAction) = 112,
        CancelTournament(crate::tournaments::TournamentAction) = 113,
        StartTournament(crate::tournaments::TournamentAction) = 114,
        CreateCommunity(crate::social::CreateCommunity) = 120,
        JoinCommunity(crate::social::CommunityAction) = 121,
        LeaveCommunity(crate::social::CommunityAction) = 122,
        ManageMember(crate::social::ManageMember) = 123,
        CreateThread(crate::social::CreateThread) = 124,
        ReplyThread(crate::social::ReplyThread) = 125,
        VotePost(crate::social::VotePost) = 126,
        ModerateThread(crate::social::ModerateThread) = 127,
        EditPost(crate::social::EditPost) = 128,
        DeletePost(crate::social::DeletePost) = 129,
        BuyThread(crate::social::ThreadReader) = 130,
        ViewThread(crate::social::ThreadReader) = 131,
        SendMessage(crate::social::SendMessage) = 132,
        EditMessage(crate::social::EditMessage) = 133,
        DeleteMessage(crate::social::MessageAction) = 134,
        MarkRead(crate::social::MessageAction) = 135,
        BlockUser(crate::social::BlockUser) = 136,
        CreateGroup(crate::social::CreateGroup) = 137,
        JoinGroup(crate::social::GroupAction) = 138,
        LeaveGroup(crate::social::GroupAction) = 139,
        ManageGroupMember(crate::social::ManageGroupMember) = 140,
        ContributeGroup(crate::social::GroupMoney) = 141,
        PayoutGroup(crate::social::GroupMoney) = 142,
    }
}

wire_struct! {
    /// What the journal stores: a command with the time and seed the runtime stamped on it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct JournalEntry {
        pub at: Timestamp,
        pub seed: u64,
        pub command: Command,
    }
}

/// The domains of the core: each owns a family of commands, and has its own folder in the
/// engine (`engine/src/<domain>/`, registered once in its `families!` list) and in the
/// gateway. ARCHITECTURE.md's "How to add a command family" lists the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// The engine's own commands: `Tick` (every family's timers) and `Configure`.
    System,
    /// Users, login sessions, 2FA, KYC and feed API keys.
    Accounts,
    /// Wallets, deposits, withdrawals, transfers and payment methods.
    Wallet,
    /// Markets, order books, positions, settlement and betting pools.
    Markets,
    /// The game catalog, staked sessions, moves and spectators, and tournaments.
    Games,
    /// Communities, their members and moderation, threads, replies and votes.
    Social,
}

impl Command {
    /// The domain whose family applies this command. The match has no wildcard, so a new
    /// command does not compile until it names its family.
    pub fn domain(&self) -> Domain {
        use Command::*;
        match self {
            Tick(_) | ConfigureV1(_) | Configure(_) => Domain::System,
            RegisterUser(_) | SetUserRole(_) | SetUserStatus(_) | OpenSession(_)
            | RefreshSession(_) | RevokeSession(_) | BeginTwoFa(_) | VerifyTwoFa(_)
            | UpdateProfile(_) | SubmitKyc(_) | DecideKyc(_) | CreateApiKey(_)
            | RevokeApiKey(_) | ApiKeyLogin(_) => Domain::Accounts,
            CreateWallet(_)
            | InitiateDeposit(_)
            | ConfirmDeposit(_)
            | RequestWithdrawal(_)
            | CancelWithdrawal(_)
            | DecideWithdrawal(_)
            | Transfer(_)
            | AddPaymentMethod(_)
            | RemovePaymentMethod(_) => Domain::Wallet,
            CreateMarket(_) | UpdateMarket(_) | HaltMarket(_) | ResolveMarket(_)
            | VoidMarket(_) | DisputeResolution(_) | PlaceOrder(_) | CancelOrder(_)
            | CancelAll(_) | AmendOrder(_) | ClosePosition(_) | MintShares(_) | MergeShares(_)
            | MassQuote(_) | CreatePool(_) | JoinPool(_) | LeavePool(_) | StartPool(_)
            | SettlePool(_) => Domain::Markets,
            CreateGameV1(_)
            | UpdateGameV1(_)
            | CreateGame(_)
            | UpdateGame(_)
            | CreateGameSession(_)
            | JoinGameSession(_)
            | LeaveGameSession(_)
            | CancelGameSession(_)
            | StartGameSession(_)
            | GameMove(_)
            | ResignGame(_)
            | SetClientSeed(_)
            | SpectateGameSession(_)
            | PostGameChat(_)
            | AbandonGameSession(_)
            | FundBankroll(_)
            | CreateTournament(_)
            | RegisterTournament(_)
            | UnregisterTournament(_)
            | CancelTournament(_)
            | StartTournament(_) => Domain::Games,
            CreateCommunity(_) | JoinCommunity(_) | LeaveCommunity(_) | ManageMember(_)
            | CreateThread(_) | ReplyThread(_) | VotePost(_) | ModerateThread(_) | EditPost(_)
            | DeletePost(_) | BuyThread(_) | ViewThread(_) | SendMessage(_) | EditMessage(_)
            | DeleteMessage(_) | MarkRead(_) | BlockUser(_) | CreateGroup(_) | JoinGroup(_)
            | LeaveGroup(_) | ManageGroupMember(_) | ContributeGroup(_) | PayoutGroup(_) => {
                Domain::Social
            }
        }
    }
}
