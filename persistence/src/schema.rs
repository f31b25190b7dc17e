//! The tables the projection writes, column by column, and how a core view becomes a row.
//!
//! The column lists here and the migrations (`migrations/*/0001_history.sql`) describe the
//! same tables; a test reads the migration and checks they agree, so neither drifts.

use betbet_protocol::types::Timestamp;
use betbet_protocol::view::{
    ApiKeyView, KycDocumentView, MarketView, OrderView, PaymentMethodView, PoolView, PositionView,
    TxView, UserView, WalletView,
};

/// How a column is stored: integers (ids, money, prices, quantities), times (timestamptz in
/// Postgres, integer microseconds in SQLite), text and booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Time,
    Text,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// A table: its columns in order and the columns of its primary key.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub key: &'static [&'static str],
}

/// One cell. `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Int(Option<i64>),
    Time(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
}

pub type Row = Vec<Value>;

macro_rules! tables {
    ($($konst:ident = $name:literal key($($key:literal),+) { $($col:ident: $kind:ident),+ $(,)? })+) => {
        $(pub static $konst: Table = Table {
            name: $name,
            columns: &[$(Column { name: stringify!($col), kind: Kind::$kind }),+],
            key: &[$($key),+],
        };)+
        /// Every projected table, in the order a rebuild empties and a batch writes them.
        pub static TABLES: &[&Table] = &[$(&$konst),+];
    };
}

tables! {
    USERS = "users" key("id") {
        id: Int, username: Text, email: Text, role: Text, status: Text, kyc_level: Int,
        referral_code: Text, referred_by: Int, two_fa_enabled: Bool, created_at: Time,
        updated_at: Time, last_login: Time,
    }
    USER_PROFILES = "user_profiles" key("user_id") {
        user_id: Int, display_name: Text, avatar_url: Text, bio: Text, country_code: Text,
        timezone: Text, language: Text, skill_rating: Int, total_earnings: Int,
        total_wagered: Int, verified_expert: Bool, settings: Text,
    }
    KYC_DOCUMENTS = "kyc_documents" key("id") {
        id: Int, user_id: Int, document_type: Text, document_url: Text, content_type: Text,
        size_bytes: Int, status: Text, kyc_level: Int, notes: Text, submitted_at: Time,
        verified_at: Time, verified_by: Int,
    }
    API_KEYS = "api_keys" key("id") {
        id: Int, user_id: Int, name: Text, logins: Int, created_at: Time, revoked_at: Time,
        last_login: Time,
    }
    PAYMENT_METHODS = "payment_methods" key("id") {
        id: Int, user_id: Int, method_type: Text, provider: Text, display_hint: Text,
        is_verified: Bool, is_default: Bool, created_at: Time,
    }
    WALLETS = "wallets" key("id") {
        id: Int, user_id: Int, currency: Text, balance: Int, available_balance: Int,
        locked_balance: Int, is_default: Bool, created_at: Time,
    }
    TRANSACTIONS = "transactions" key("id") {
        id: Int, user_id: Int, wallet_id: Int, type: Text, status: Text, amount: Int, fee: Int,
        credit: Bool, currency: Text, counterparty_id: Int, reference_type: Text,
        reference_id: Int, payment_method: Text, payment_method_id: Int,
        provider_reference: Text, memo: Text, notes: Text, processed_by: Int,
        created_at: Time, completed_at: Time,
    }
    MARKETS = "markets" key("id") {
        id: Int, title: Text, description: Text, category: Text, market_type: Text,
        creator_id: Int, creator_fee_bp: Int, currency: Text, status: Text,
        resolution_source: Text, oracle_type: Text, winner_outcome_id: Int, scalar_value: Int,
        total_volume: Int, trade_count: Int, participant_count: Int, opens_at: Time,
        closes_at: Time, resolved_at: Time, created_at: Time,
    }
    MARKET_OUTCOMES = "market_outcomes" key("id") {
        id: Int, market_id: Int, outcome_text: Text, last_price: Int, volume: Int,
        is_winner: Bool,
    }
    MARKET_ORDERS = "market_orders" key("id") {
        id: Int, market_id: Int, outcome_id: Int, user_id: Int, pool_id: Int, side: Text,
        order_type: Text, price: Int, quantity: Int, filled_quantity: Int,
        remaining_quantity: Int, status: Text, reason: Text, time_in_force: Text,
        post_only: Bool, client_order_id: Text, filled_notional: Int, trade_count: Int,
        expires_at: Time, created_at: Time, updated_at: Time,
    }
    TRADES = "trades" key("id") {
        id: Int, market_id: Int, outcome_id: Int, book_seq: Int, price: Int, quantity: Int,
        maker_order_id: Int, taker_order_id: Int, maker_user_id: Int, taker_user_id: Int,
        taker_side: Text, time: Time,
    }
    MARKET_PRICES = "market_prices" key("trade_id") {
        trade_id: Int, time: Time, market_id: Int, outcome_id: Int, price: Int, volume: Int,
        notional: Int,
    }
    MARKET_POSITIONS = "market_positions" key("id", "outcome_id", "position_type") {
        id: Int, market_id: Int, outcome_id: Int, user_id: Int, pool_id: Int,
        position_type: Text, quantity: Int, locked: Int, cost: Int, realized: Int, payout: Int,
        status: Text, created_at: Time, updated_at: Time,
    }
    BETTING_POOLS = "betting_pools" key("id") {
        id: Int, name: Text, description: Text, creator_id: Int, currency: Text,
        entry_amount: Int, member_limit: Int, status: Text, total_pool: Int, balance: Int,
        created_at: Time,
    }
    POOL_MEMBERS = "pool_members" key("pool_id", "user_id") {
        pool_id: Int, user_id: Int, contribution: Int, share_bp: Int, payout: Int,
        joined_at: Time,
    }
    LEDGER_ENTRIES = "ledger_entries" key("seq", "idx") {
        seq: Int, idx: Int, debit_account: Int, credit_account: Int, amount: Int,
        reason: Text, reference: Int, time: Time,
    }
    GAMES = "games" key("id") {
        id: Int, name: Text, category: Text, subcategory: Text, game_type: Text,
        rule_set: Text, min_players: Int, max_players: Int, rules: Text, thumbnail_url: Text,
        rake_bp: Int, is_active: Bool, created_at: Time,
    }
    GAME_SESSIONS = "game_sessions" key("id") {
        id: Int, game_id: Int, status: Text, end_reason: Text, stake_amount: Int,
        currency: Text, player_count: Int, max_players: Int, is_private: Bool,
        spectator_fee: Int, rake: Int, created_by: Int, version: Int, server_seed_hash: Text,
        server_seed: Text, created_at: Time, started_at: Time, ended_at: Time,
    }
    GAME_PLAYERS = "game_players" key("session_id", "user_id") {
        session_id: Int, user_id: Int, position: Int, status: Text, score: Int, payout: Int,
        joined_at: Time,
    }
    GAME_SPECTATORS = "game_spectators" key("session_id", "user_id") {
        session_id: Int, user_id: Int, fee_paid: Int, joined_at: Time,
    }
    RATING_HISTORY = "rating_history" key("user_id", "game_id", "session_id") {
        user_id: Int, game_id: Int, session_id: Int, result: Text, rating_before: Int,
        rating: Int, deviation: Int, volatility: Int, games: Int, created_at: Time,
    }
    COMMUNITIES = "communities" key("id") {
        id: Int, name: Text, description: Text, category: Text, type: Text,
        membership_fee: Int, currency: Text, owner_id: Int, member_count: Int,
        pending_count: Int, created_at: Time, last_activity: Time, version: Int,
    }
    COMMUNITY_MEMBERS = "community_members" key("community_id", "user_id") {
        community_id: Int, user_id: Int, role: Text, status: Text, joined_at: Time,
        muted_until: Time, banned_until: Time, fee_paid: Int,
    }
    COMMUNITY_MODERATION = "community_moderation" key("community_id", "version") {
        community_id: Int, version: Int, actor_id: Int, user_id: Int, action: Text,
        role: Text, until_at: Time, reason: Text, thread_id: Int, reply_id: Int,
        created_at: Time,
    }
    THREADS = "threads" key("id") {
        id: Int, community_id: Int, author_id: Int, thread_type: Text, is_pinned: Bool,
        is_locked: Bool, is_deleted: Bool, paywall_amount: Int, currency: Text, upvotes: Int,
        downvotes: Int, score: Int, hot_rank: Int, reply_count: Int, view_count: Int,
        purchases: Int, created_at: Time, updated_at: Time, last_reply_at: Time, version: Int,
    }
    THREAD_REPLIES = "thread_replies" key("id") {
        id: Int, thread_id: Int, parent_reply_id: Int, root_id: Int, depth: Int,
        author_id: Int, upvotes: Int, downvotes: Int, best_rank: Int, is_deleted: Bool,
        created_at: Time, updated_at: Time,
    }
    POST_CONTENTS = "post_contents" key("thread_id", "reply_id") {
        thread_id: Int, reply_id: Int, community_id: Int, is_public: Bool, title: Text,
        content: Text, format: Text, content_html: Text, preview: Text, search_text: Text,
        updated_at: Time,
    }
    CHAT_MESSAGES = "chat_messages" key("room_kind", "room_id", "message_id") {
        room_kind: Text, room_id: Int, message_id: Int, seq: Int, sender_id: Int, message_type: Text,
        content: Text, market_id: Int, outcome_id: Int, edited: Bool, deleted: Bool,
        created_at: Time, updated_at: Time,
    }
    DIRECT_MESSAGES = "direct_messages" key("conversation_id", "message_id") {
        conversation_id: Int, message_id: Int, seq: Int, sender_id: Int, recipient_id: Int,
        message_type: Text, content: Text, market_id: Int, outcome_id: Int, edited: Bool,
        deleted: Bool, created_at: Time, updated_at: Time,
    }
    CONVERSATIONS = "conversations" key("id") {
        id: Int, user_a: Int, user_b: Int, last_message_id: Int, seq: Int, updated_at: Time,
    }
    CHAT_READS = "chat_reads" key("room_kind", "room_id", "user_id") {
        room_kind: Text, room_id: Int, user_id: Int, message_id: Int, read_at: Time,
    }
    GROUPS = "groups" key("id") {
        id: Int, name: Text, type: Text, max_members: Int, currency: Text, owner_id: Int,
        payout_policy: Text, member_count: Int, wallet_id: Int, created_at: Time, version: Int,
    }
    GROUP_MEMBERS = "group_members" key("group_id", "user_id") {
        group_id: Int, user_id: Int, role: Text, invited: Bool, joined_at: Time,
        contributed: Int, received: Int,
    }
    GROUP_TRANSACTIONS = "group_transactions" key("group_id", "version") {
        group_id: Int, version: Int, actor_id: Int, user_id: Int, type: Text, amount: Int,
        created_at: Time,
    }
}

/// The checkpoint table's one row per projection.
pub const CHECKPOINT_TABLE: &str = "projection_checkpoint";

impl Table {
    pub fn index_of(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == column)
    }

    /// The primary key's values of a row of this table.
    pub fn key_of(&self, row: &Row) -> Vec<Value> {
        self.key
            .iter()
            .map(|k| row[self.index_of(k).expect("key columns exist")].clone())
            .collect()
    }
}

/// Ids are stored as the core's integers. They are below 2^63 in practice (counters and
/// slot/generation pairs); the cast keeps every bit either way, so a value read back is
/// the same id.
pub fn id(raw: u64) -> Value {
    Value::Int(Some(raw as i64))
}

fn opt_id(raw: Option<u64>) -> Value {
    Value::Int(raw.map(|r| r as i64))
}

fn int(v: impl Into<i64>) -> Value {
    Value::Int(Some(v.into()))
}

fn uint(v: u64) -> Value {
    Value::Int(Some(i64::try_from(v).unwrap_or(i64::MAX)))
}

pub fn time(t: Timestamp) -> Value {
    Value::Time(Some(t.0))
}

fn opt_time(t: Option<Timestamp>) -> Value {
    Value::Time(t.map(|t| t.0))
}

pub fn text(s: impl Into<String>) -> Value {
    Value::Text(Some(s.into()))
}

fn boolean(b: bool) -> Value {
    Value::Bool(Some(b))
}

pub fn user_rows(v: &UserView) -> (Row, Row) {
    let user = vec![
        id(v.id.0),
        text(&v.username),
        text(&v.email),
        text(v.role.as_str()),
        text(v.status.as_str()),
        int(v.kyc_level),
        text(&v.referral_code),
        opt_id(v.referred_by.map(|u| u.0)),
        boolean(v.two_fa_enabled),
        time(v.created_at),
        time(v.updated_at),
        opt_time(v.last_login),
    ];
    let profile = vec![
        id(v.id.0),
        text(&v.display_name),
        text(&v.avatar_url),
        text(&v.bio),
        text(&v.country_code),
        text(&v.timezone),
        text(&v.language),
        int(v.skill_rating),
        int(v.total_earnings.0),
        int(v.total_wagered.0),
        boolean(v.verified_expert),
        text(&v.settings),
    ];
    (user, profile)
}

pub fn kyc_row(v: &KycDocumentView) -> Row {
    vec![
        id(v.id.0),
        id(v.user.0),
        text(&v.document_type),
        text(&v.document_url),
        text(&v.content_type),
        uint(v.size_bytes),
        text(v.status.as_str()),
        int(v.kyc_level),
        text(&v.notes),
        time(v.submitted_at),
        opt_time(v.verified_at),
        opt_id(v.verified_by.map(|u| u.0)),
    ]
}

/// An API key without its sealed secret.
pub fn api_key_row(v: &ApiKeyView) -> Row {
    vec![
        id(v.id),
        id(v.user.0),
        text(&v.name),
        uint(v.logins),
        time(v.created_at),
        opt_time(v.revoked_at),
        opt_time(v.last_login),
    ]
}

/// A payment method as the core shows it: the masked hint, never the sealed details.
pub fn payment_method_row(v: &PaymentMethodView) -> Row {
    vec![
        id(v.id.0),
        id(v.user.0),
        text(v.method_type.as_str()),
        text(&v.provider),
        text(&v.display_hint),
        boolean(v.is_verified),
        boolean(v.is_default),
        time(v.created_at),
    ]
}

pub fn wallet_row(v: &WalletView) -> Row {
    vec![
        id(v.id.0),
        id(v.user.0),
        text(v.currency.as_str()),
        int(v.available.0.saturating_add(v.locked.0)),
        int(v.available.0),
        int(v.locked.0),
        boolean(v.is_default),
        time(v.created_at),
    ]
}

pub fn tx_row(v: &TxView) -> Row {
    vec![
        id(v.id.0),
        id(v.user.0),
        id(v.wallet.0),
        text(v.tx_type.as_str()),
        text(v.status.as_str()),
        int(v.amount.0),
        int(v.fee.0),
        boolean(v.credit),
        text(v.currency.as_str()),
        opt_id(v.counterparty.map(|u| u.0)),
        text(v.reference_type.as_str()),
        id(v.reference_id),
        text(&v.payment_method),
        opt_id(v.payment_method_id.map(|p| p.0)),
        text(&v.provider_reference),
        text(&v.memo),
        text(&v.notes),
        opt_id(v.processed_by.map(|u| u.0)),
        time(v.created_at),
        opt_time(v.completed_at),
    ]
}

/// A market's row and its outcomes' rows.
pub fn market_rows(v: &MarketView) -> (Row, Vec<Row>) {
    let market = vec![
        id(v.id.0),
        text(&v.title),
        text(&v.description),
        text(&v.category),
        text(v.market_type.as_str()),
        id(v.creator.0),
        int(v.creator_fee_bp),
        text(v.currency.as_str()),
        text(v.status.as_str()),
        text(&v.resolution_source),
        text(v.oracle_type.as_str()),
        opt_id(v.winner.map(|o| o.0)),
        Value::Int(v.scalar_value.map(|a| a.0)),
        int(v.volume.0),
        uint(v.trades),
        int(v.participants),
        time(v.opens_at),
        time(v.closes_at),
        opt_time(v.resolved_at),
        time(v.created_at),
    ];
    let outcomes = v
        .outcomes
        .iter()
        .map(|o| {
            vec![
                id(o.id.0),
                id(v.id.0),
                text(&o.text),
                Value::Int(o.last_price.map(|p| i64::from(p.0))),
                uint(o.volume.0),
                Value::Bool(o.is_winner),
            ]
        })
        .collect();
    (market, outcomes)
}

pub fn order_row(v: &OrderView) -> Row {
    vec![
        id(v.id.0),
        id(v.market.0),
        id(v.outcome.0),
        id(v.user.0),
        opt_id(v.pool.map(|p| p.0)),
        text(v.side.as_str()),
        text(v.kind.as_str()),
        int(v.price.0),
        uint(v.qty.0),
        uint(v.filled.0),
        uint(v.remaining.0),
        text(v.status.as_str()),
        Value::Text(v.reason.map(|r| r.as_str().to_owned())),
        text(v.time_in_force.as_str()),
        boolean(v.post_only),
        Value::Text(v.client_order_id.map(|c| c.as_str().to_owned())),
        int(v.filled_notional.0),
        int(v.trades),
        time(v.expires_at),
        time(v.created_at),
        time(v.updated_at),
    ]
}

pub fn trade_rows(t: &betbet_protocol::event::Trade) -> (Row, Row) {
    let trade = vec![
        id(t.trade.0),
        id(t.market.0),
        id(t.book.0),
        uint(t.seq),
        int(t.price.0),
        uint(t.qty.0),
        id(t.maker_order.0),
        id(t.taker_order.0),
        id(t.maker_user.0),
        id(t.taker_user.0),
        text(t.taker_side.as_str()),
        time(t.at),
    ];
    let notional = betbet_protocol::types::notional(t.price, t.qty).0;
    let price = vec![
        id(t.trade.0),
        time(t.at),
        id(t.market.0),
        id(t.book.0),
        int(t.price.0),
        uint(t.qty.0),
        int(notional),
    ];
    (trade, price)
}

pub fn position_row(v: &PositionView) -> Row {
    vec![
        id(v.id.0),
        id(v.market.0),
        id(v.outcome.0),
        opt_id(v.user.map(|u| u.0)),
        opt_id(v.pool.map(|p| p.0)),
        text(if v.lay { "lay" } else { "back" }),
        uint(v.qty.0),
        uint(v.locked.0),
        int(v.cost.0),
        int(v.realized.0),
        int(v.payout.0),
        text(if v.settled { "settled" } else { "open" }),
        time(v.opened_at),
        time(v.updated_at),
    ]
}

/// A pool's row and its members' rows.
pub fn pool_rows(v: &PoolView) -> (Row, Vec<Row>) {
    let pool = vec![
        id(v.id.0),
        text(&v.name),
        text(&v.description),
        id(v.creator.0),
        text(v.currency.as_str()),
        int(v.entry_amount.0),
        int(v.member_limit),
        text(v.status.as_str()),
        int(v.total_pool.0),
        int(v.balance.0),
        time(v.created_at),
    ];
    let members = v
        .members
        .iter()
        .map(|m| {
            vec![
                id(v.id.0),
                id(m.user.0),
                int(m.contribution.0),
                int(m.share_bp),
                int(m.payout.0),
                time(m.joined_at),
            ]
        })
        .collect();
    (pool, members)
}

pub fn game_row(v: &betbet_protocol::games::GameView) -> Row {
    let s = &v.settings;
    vec![
        id(v.id.0),
        text(&s.name),
        text(&s.category),
        text(&s.subcategory),
        text(s.rule_set.game_type().as_str()),
        text(s.rule_set.as_str()),
        int(s.min_players),
        int(s.max_players),
        text(&s.rules),
        text(&s.thumbnail_url),
        int(s.rake_bp),
        boolean(v.is_active),
        time(v.created_at),
    ]
}

/// A session's row and its players'.
pub fn game_session_rows(v: &betbet_protocol::games::GameSessionView) -> (Row, Vec<Row>) {
    let session = vec![
        id(v.id.0),
        id(v.game.0),
        text(v.status.as_str()),
        Value::Text(v.end.map(|e| e.as_str().to_owned())),
        int(v.stake.0),
        text(v.currency.as_str()),
        uint(v.players.len() as u64),
        int(v.max_players),
        boolean(v.is_private),
        int(v.spectator_fee.0),
        int(v.rake.0),
        id(v.creator.0),
        uint(v.version),
        text(betbet_protocol::games::hex(&v.server_seed_hash)),
        Value::Text(v.server_seed.map(|s| betbet_protocol::games::hex(&s))),
        time(v.created_at),
        opt_time(v.started_at),
        opt_time(v.ended_at),
    ];
    let players = v
        .players
        .iter()
        .map(|p| {
            vec![
                id(v.id.0),
                id(p.user.0),
                int(p.seat),
                text(p.status.as_str()),
                int(p.score),
                int(p.payout.0),
                time(p.joined_at),
            ]
        })
        .collect();
    (session, players)
}

pub fn game_spectator_rows(v: &betbet_protocol::games::SpectatorList) -> Vec<Row> {
    v.spectators
        .iter()
        .map(|s| {
            vec![
                id(v.session.0),
                id(s.user.0),
                int(s.fee_paid.0),
                time(s.joined_at),
            ]
        })
        .collect()
}

/// A rating change's row.
pub fn rating_row(e: &betbet_protocol::games::RatingChanged) -> Row {
    vec![
        id(e.user.0),
        id(e.game.0),
        id(e.session.0),
        text(e.result.as_str()),
        int(e.before_milli),
        int(e.rating_milli),
        int(e.deviation_milli),
        int(e.volatility_micro),
        int(e.games),
        time(e.at),
    ]
}

/// A `rating_history` row as the event that wrote it.
pub fn rating_change(row: &Row) -> Option<betbet_protocol::games::RatingChanged> {
    use betbet_protocol::games::{GameId, GameSessionId, RatedResult, RatingChanged};
    use betbet_protocol::types::UserId;
    let mut c = Cells(row.iter());
    Some(RatingChanged {
        user: UserId(c.req()? as u64),
        game: GameId(c.req()? as u64),
        session: GameSessionId(c.req()? as u64),
        result: RatedResult::parse(c.text()??)?,
        before_milli: c.req()?,
        rating_milli: c.req()?,
        deviation_milli: c.req()?,
        volatility_micro: c.req()?,
        games: u32::try_from(c.req()?).ok()?,
        at: Timestamp(c.req()?),
    })
}

pub fn ledger_row(
    seq: u64,
    idx: u32,
    at: Timestamp,
    m: &betbet_protocol::event::LedgerMoved,
) -> Row {
    vec![
        uint(seq),
        int(idx),
        id(m.debit.0),
        id(m.credit.0),
        int(m.amount.0),
        text(m.reason.as_str()),
        id(m.reference),
        time(at),
    ]
}

/// Reads a row's cells in column order, for turning rows back into the core's views. A
/// cell of the wrong kind or an unknown enum name makes the whole row `None`.
struct Cells<'a>(std::slice::Iter<'a, Value>);

impl Cells<'_> {
    fn int(&mut self) -> Option<Option<i64>> {
        match self.0.next()? {
            Value::Int(v) | Value::Time(v) => Some(*v),
            _ => None,
        }
    }
    fn req(&mut self) -> Option<i64> {
        self.int()?
    }
    fn text(&mut self) -> Option<Option<&str>> {
        match self.0.next()? {
            Value::Text(v) => Some(v.as_deref()),
            _ => None,
        }
    }
    fn string(&mut self) -> Option<String> {
        self.text()?.map(str::to_owned)
    }
    fn flag(&mut self) -> Option<bool> {
        match self.0.next()? {
            Value::Bool(v) => *v,
            _ => None,
        }
    }
}

/// A `transactions` row as the core's view of it.
pub fn tx_view(row: &Row) -> Option<TxView> {
    use betbet_protocol::types::{AccountId, Amount, Currency, PaymentMethodId, TxId, UserId};
    let mut c = Cells(row.iter());
    Some(TxView {
        id: TxId(c.req()? as u64),
        user: UserId(c.req()? as u64),
        wallet: AccountId(c.req()? as u64),
        tx_type: betbet_protocol::event::TxType::parse(c.text()??)?,
        status: betbet_protocol::event::TxStatus::parse(c.text()??)?,
        amount: Amount(c.req()?),
        fee: Amount(c.req()?),
        credit: c.flag()?,
        currency: Currency::new(c.text()??)?,
        counterparty: c.int()?.map(|u| UserId(u as u64)),
        reference_type: betbet_protocol::view::ReferenceType::parse(c.text()??)?,
        reference_id: c.req()? as u64,
        payment_method: c.string()?,
        payment_method_id: c.int()?.map(|p| PaymentMethodId(p as u64)),
        provider_reference: c.string()?,
        memo: c.string()?,
        notes: c.string()?,
        processed_by: c.int()?.map(|u| UserId(u as u64)),
        created_at: Timestamp(c.req()?),
        completed_at: c.int()?.map(Timestamp),
    })
}

/// A `market_positions` row as the core's view of it.
pub fn position_view(row: &Row) -> Option<PositionView> {
    use betbet_protocol::types::{Amount, MarketId, OutcomeId, PoolId, PositionId, Qty, UserId};
    let mut c = Cells(row.iter());
    Some(PositionView {
        id: PositionId(c.req()? as u64),
        market: MarketId(c.req()? as u64),
        outcome: OutcomeId(c.req()? as u64),
        user: c.int()?.map(|u| UserId(u as u64)),
        pool: c.int()?.map(|p| PoolId(p as u64)),
        lay: match c.text()?? {
            "lay" => true,
            "back" => false,
            _ => return None,
        },
        qty: Qty(c.req()? as u64),
        locked: Qty(c.req()? as u64),
        cost: Amount(c.req()?),
        realized: Amount(c.req()?),
        payout: Amount(c.req()?),
        settled: match c.text()?? {
            "settled" => true,
            "open" => false,
            _ => return None,
        },
        opened_at: Timestamp(c.req()?),
        updated_at: Timestamp(c.req()?),
    })
}

/// A `market_orders` row as the core's view of it.
pub fn order_view(row: &Row) -> Option<OrderView> {
    use betbet_protocol::command::{OrderKind, Side, TimeInForce};
    use betbet_protocol::event::{DoneReason, OrderStatus};
    use betbet_protocol::types::{
        Amount, ClientOrderId, MarketId, OrderId, OutcomeId, PoolId, Price, Qty, UserId,
    };
    let mut c = Cells(row.iter());
    Some(OrderView {
        id: OrderId(c.req()? as u64),
        market: MarketId(c.req()? as u64),
        outcome: OutcomeId(c.req()? as u64),
        user: UserId(c.req()? as u64),
        pool: c.int()?.map(|p| PoolId(p as u64)),
        side: Side::parse(c.text()??)?,
        kind: OrderKind::parse(c.text()??)?,
        price: Price(u32::try_from(c.req()?).ok()?),
        qty: Qty(c.req()? as u64),
        filled: Qty(c.req()? as u64),
        remaining: Qty(c.req()? as u64),
        status: OrderStatus::parse(c.text()??)?,
        reason: match c.text()? {
            Some(r) => Some(DoneReason::parse(r)?),
            None => None,
        },
        time_in_force: TimeInForce::parse(c.text()??)?,
        post_only: c.flag()?,
        client_order_id: match c.text()? {
            Some(id) => Some(ClientOrderId::new(id)?),
            None => None,
        },
        filled_notional: Amount(c.req()?),
        trades: u32::try_from(c.req()?).ok()?,
        expires_at: Timestamp(c.req()?),
        created_at: Timestamp(c.req()?),
        updated_at: Timestamp(c.req()?),
    })
}

/// A community's row (the core's view with no viewer).
pub fn community_row(v: &betbet_protocol::social::CommunityView) -> Row {
    vec![
        id(v.id.0),
        text(&v.name),
        text(&v.description),
        text(&v.category),
        text(v.kind.as_str()),
        int(v.membership_fee.0),
        text(v.currency.as_str()),
        id(v.owner.0),
        int(v.member_count),
        int(v.pending_count),
        time(v.created_at),
        time(v.last_activity),
        uint(v.version),
    ]
}

/// A `communities` row as the core's view (with no viewer).
pub fn community_view(row: &Row) -> Option<betbet_protocol::social::CommunityView> {
    use betbet_protocol::social::{CommunityId, CommunityType, CommunityView};
    use betbet_protocol::types::{Amount, Currency, UserId};
    let mut c = Cells(row.iter());
    Some(CommunityView {
        id: CommunityId(c.req()? as u64),
        name: c.string()?,
        description: c.string()?,
        category: c.string()?,
        kind: CommunityType::parse(c.text()??)?,
        membership_fee: Amount(c.req()?),
        currency: Currency::new(c.text()??)?,
        owner: UserId(c.req()? as u64),
        member_count: u32::try_from(c.req()?).ok()?,
        pending_count: u32::try_from(c.req()?).ok()?,
        created_at: Timestamp(c.req()?),
        last_activity: Timestamp(c.req()?),
        version: u64::try_from(c.req()?).ok()?,
        viewer: None,
    })
}

pub fn community_member_row(v: &betbet_protocol::social::MemberView) -> Row {
    vec![
        id(v.community.0),
        id(v.user.0),
        text(v.role.as_str()),
        text(v.status.as_str()),
        time(v.joined_at),
        opt_time(v.muted_until),
        opt_time(v.banned_until),
        int(v.fee_paid.0),
    ]
}

pub fn community_member_view(row: &Row) -> Option<betbet_protocol::social::MemberView> {
    use betbet_protocol::social::{CommunityId, MemberRole, MemberStatus, MemberView};
    use betbet_protocol::types::{Amount, UserId};
    let mut c = Cells(row.iter());
    Some(MemberView {
        community: CommunityId(c.req()? as u64),
        user: UserId(c.req()? as u64),
        role: MemberRole::parse(c.text()??)?,
        status: MemberStatus::parse(c.text()??)?,
        joined_at: Timestamp(c.req()?),
        muted_until: c.int()?.map(Timestamp),
        banned_until: c.int()?.map(Timestamp),
        fee_paid: Amount(c.req()?),
    })
}

/// A group's row and its members' rows.
pub fn group_rows(v: &betbet_protocol::social::GroupView) -> (Row, Vec<Row>) {
    let group = vec![
        id(v.id.0),
        text(v.name.as_str()),
        text(v.kind.as_str()),
        int(v.max_members),
        text(v.currency.to_string()),
        id(v.owner.0),
        text(v.payout_policy.as_str()),
        int(v.member_count),
        id(v.wallet.0),
        time(v.created_at),
        uint(v.version),
    ];
    let members = v
        .members
        .iter()
        .map(|m| {
            vec![
                id(v.id.0),
                id(m.user.0),
                text(m.role.as_str()),
                boolean(m.invited),
                time(m.joined_at),
                int(m.contributed.0),
                int(m.received.0),
            ]
        })
        .collect();
    (group, members)
}

/// A group wallet's history entry: a contribution or a payout, at its record's time.
pub fn group_transaction_row(e: &betbet_protocol::social::GroupChanged, at: Timestamp) -> Row {
    vec![
        id(e.group.0),
        uint(e.version),
        id(e.actor.0),
        id(e.user.0),
        text(e.change.as_str()),
        int(e.amount.0),
        time(at),
    ]
}

/// A group wallet's history entry as (version, actor, user, type, amount, time).
pub fn group_transaction_view(row: &Row) -> Option<(u64, u64, u64, String, i64, Timestamp)> {
    let mut c = Cells(row.iter());
    let _group = c.req()?;
    Some((
        c.req()? as u64,
        c.req()? as u64,
        c.req()? as u64,
        c.string()?,
        c.req()?,
        Timestamp(c.req()?),
    ))
}

/// A moderation log entry's row: the change and the time of its record.
pub fn moderation_row(e: &betbet_protocol::social::CommunityChanged, at: Timestamp) -> Row {
    vec![
        id(e.community.0),
        uint(e.version),
        id(e.actor.0),
        id(e.user.0),
        text(e.change.as_str()),
        text(e.role.as_str()),
        opt_time(e.until),
        text(&e.reason),
        opt_id(e.thread.map(|t| t.0)),
        opt_id(e.reply.map(|r| r.0)),
        time(at),
    ]
}

/// A `community_moderation` row as the change it records and its time.
pub fn moderation_entry(
    row: &Row,
) -> Option<(betbet_protocol::social::CommunityChanged, Timestamp)> {
    use betbet_protocol::social::{
        CommunityChange, CommunityChanged, CommunityId, MemberRole, ReplyId, ThreadId,
    };
    use betbet_protocol::types::UserId;
    let mut c = Cells(row.iter());
    let change = CommunityChanged {
        community: CommunityId(c.req()? as u64),
        version: u64::try_from(c.req()?).ok()?,
        actor: UserId(c.req()? as u64),
        user: UserId(c.req()? as u64),
        change: CommunityChange::parse(c.text()??)?,
        role: MemberRole::parse(c.text()??)?,
        until: c.int()?.map(Timestamp),
        reason: c.string()?,
        thread: c.int()?.map(|t| ThreadId(t as u64)),
        reply: c.int()?.map(|r| ReplyId(r as u64)),
    };
    Some((change, Timestamp(c.req()?)))
}

/// A thread's row: its state and its ranks.
pub fn thread_row(v: &betbet_protocol::social::ThreadView) -> Row {
    vec![
        id(v.id.0),
        id(v.community.0),
        id(v.author.0),
        text(v.thread_type.as_str()),
        boolean(v.is_pinned),
        boolean(v.is_locked),
        boolean(v.is_deleted),
        int(v.paywall_amount.0),
        text(v.currency.as_str()),
        int(v.upvotes),
        int(v.downvotes),
        int(i64::from(v.upvotes) - i64::from(v.downvotes)),
        int(crate::posts::hot_rank(v.upvotes, v.downvotes, v.created_at)),
        int(v.reply_count),
        uint(v.view_count),
        int(v.purchases),
        time(v.created_at),
        time(v.updated_at),
        opt_time(v.last_reply_at),
        uint(v.version),
    ]
}

/// A `threads` row, as it reads back (the state the lists show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRow {
    pub id: u64,
    pub community: u64,
    pub author: u64,
    pub thread_type: String,
    pub is_pinned: bool,
    pub is_locked: bool,
    pub is_deleted: bool,
    pub paywall_amount: i64,
    pub currency: String,
    pub upvotes: i64,
    pub downvotes: i64,
    pub score: i64,
    pub reply_count: i64,
    pub view_count: i64,
    pub purchases: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_reply_at: Option<Timestamp>,
}

pub fn thread_of(row: &Row) -> Option<ThreadRow> {
    let mut c = Cells(row.iter());
    let id = c.req()? as u64;
    let community = c.req()? as u64;
    let author = c.req()? as u64;
    let thread_type = c.string()?;
    let (is_pinned, is_locked, is_deleted) = (c.flag()?, c.flag()?, c.flag()?);
    let paywall_amount = c.req()?;
    let currency = c.string()?;
    let (upvotes, downvotes, score) = (c.req()?, c.req()?, c.req()?);
    let _hot = c.req()?;
    Some(ThreadRow {
        id,
        community,
        author,
        thread_type,
        is_pinned,
        is_locked,
        is_deleted,
        paywall_amount,
        currency,
        upvotes,
        downvotes,
        score,
        reply_count: c.req()?,
        view_count: c.req()?,
        purchases: c.req()?,
        created_at: Timestamp(c.req()?),
        updated_at: Timestamp(c.req()?),
        last_reply_at: c.int()?.map(Timestamp),
    })
}

pub fn reply_row(v: &betbet_protocol::social::ReplyView) -> Row {
    vec![
        id(v.id.0),
        id(v.thread.0),
        opt_id(v.parent.map(|p| p.0)),
        id(v.root.0),
        int(v.depth),
        id(v.author.0),
        int(v.upvotes),
        int(v.downvotes),
        int(crate::posts::best_rank(v.upvotes, v.downvotes)),
        boolean(v.is_deleted),
        time(v.created_at),
        time(v.updated_at),
    ]
}

pub fn reply_view(row: &Row) -> Option<betbet_protocol::social::ReplyView> {
    use betbet_protocol::social::{ReplyId, ReplyView, ThreadId};
    use betbet_protocol::types::UserId;
    let mut c = Cells(row.iter());
    let id = ReplyId(c.req()? as u64);
    let thread = ThreadId(c.req()? as u64);
    let parent = c.int()?.map(|p| ReplyId(p as u64));
    let root = ReplyId(c.req()? as u64);
    let depth = u8::try_from(c.req()?).ok()?;
    let author = UserId(c.req()? as u64);
    let upvotes = u32::try_from(c.req()?).ok()?;
    let downvotes = u32::try_from(c.req()?).ok()?;
    let _best = c.req()?;
    Some(ReplyView {
        id,
        thread,
        parent,
        root,
        depth,
        author,
        upvotes,
        downvotes,
        is_deleted: c.flag()?,
        created_at: Timestamp(c.req()?),
        updated_at: Timestamp(c.req()?),
    })
}

/// A post's text row. A paywalled thread's search sees its title and preview only; a
/// reply under a paywall nothing (its text is for buyers).
pub fn post_content_row(
    e: &betbet_protocol::social::PostChanged,
    post: &betbet_protocol::social::PostText,
    public: bool,
    paywalled: bool,
    at: Timestamp,
) -> Row {
    let preview = crate::posts::preview(&post.content, paywalled && e.reply.is_none());
    let search = match (e.reply, paywalled) {
        (None, false) => format!("{}\n{}", post.title, post.content),
        (None, true) => format!("{}\n{}", post.title, preview),
        (Some(_), false) => post.content.clone(),
        (Some(_), true) => String::new(),
    };
    vec![
        id(e.thread.0),
        int(e.reply.map_or(0, |r| r.0 as i64)),
        id(e.community.0),
        boolean(public),
        text(&post.title),
        text(&post.content),
        text(post.format.as_str()),
        text(crate::posts::render(post)),
        text(preview),
        text(search),
        time(at),
    ]
}

/// A `post_contents` row as it reads back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostContent {
    pub thread: u64,
    pub reply: u64,
    pub community: u64,
    pub title: String,
    pub content: String,
    pub format: String,
    pub content_html: String,
    pub preview: String,
    pub updated_at: Timestamp,
}

pub fn post_content_of(row: &Row) -> Option<PostContent> {
    let mut c = Cells(row.iter());
    let thread = c.req()? as u64;
    let reply = c.req()? as u64;
    let community = c.req()? as u64;
    let _public = c.flag()?;
    Some(PostContent {
        thread,
        reply,
        community,
        title: c.string()?,
        content: c.string()?,
        format: c.string()?,
        content_html: c.string()?,
        preview: c.string()?,
        updated_at: {
            let _search = c.string()?;
            Timestamp(c.req()?)
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTGRES: &str = concat!(
        include_str!("../migrations/postgres/0001_history.sql"),
        include_str!("../migrations/postgres/0002_games.sql"),
        include_str!("../migrations/postgres/0003_ratings.sql"),
        include_str!("../migrations/postgres/0004_communities.sql"),
        include_str!("../migrations/postgres/0005_threads.sql"),
        include_str!("../migrations/postgres/0007_chat.sql"),
        include_str!("../migrations/postgres/0008_groups.sql")
    );
    const SQLITE: &str = concat!(
        include_str!("../migrations/sqlite/0001_history.sql"),
        include_str!("../migrations/sqlite/0002_games.sql"),
        include_str!("../migrations/sqlite/0003_ratings.sql"),
        include_str!("../migrations/sqlite/0004_communities.sql"),
        include_str!("../migrations/sqlite/0005_threads.sql"),
        include_str!("../migrations/sqlite/0007_chat.sql"),
        include_str!("../migrations/sqlite/0008_groups.sql")
    );

    /// The column names and types of `CREATE TABLE name (...)` in a migration.
    fn declared(sql: &str, table: &str) -> Vec<(String, String)> {
        let start = sql
            .find(&format!("CREATE TABLE {table} ("))
            .unwrap_or_else(|| panic!("{table} is not in the migration"));
        let body = &sql[start..];
        let body = &body[body.find('(').unwrap() + 1..body.find("\n);").unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("PRIMARY KEY"))
            .map(|l| {
                let mut words = l.split_whitespace();
                (
                    words.next().unwrap().to_owned(),
                    words.next().unwrap().trim_end_matches(',').to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn column_lists_match_the_migrations() {
        for table in TABLES {
            let columns = declared(POSTGRES, table.name);
            let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
            let ours: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            assert_eq!(names, ours, "columns of {}", table.name);
            for (column, (_, ty)) in table.columns.iter().zip(&columns) {
                let expected = match column.kind {
                    Kind::Int => ["BIGINT"].as_slice(),
                    Kind::Time => &["TIMESTAMPTZ"],
                    Kind::Text => &["TEXT"],
                    Kind::Bool => &["BOOLEAN"],
                };
                assert!(
                    expected.contains(&ty.as_str()),
                    "{}.{} is {ty}",
                    table.name,
                    column.name
                );
            }
        }
    }

    #[test]
    fn the_sqlite_migration_is_the_postgres_one_with_integer_times_and_flags() {
        assert_eq!(
            SQLITE,
            POSTGRES
                .replace("TIMESTAMPTZ", "BIGINT")
                .replace(" BOOLEAN", " INTEGER")
        );
    }
}
