//! The engine's complete state as bytes, and back.
//!
//! A snapshot is `SNAPSHOT_MAGIC`, a format version, and every field of the engine in a fixed
//! order, using the protocol's codec (maps and sets sorted by key, so equal states encode to
//! equal bytes). [`Engine::state_hash`] is the SHA-256 of that encoding: replaying a journal
//! on top of a restored snapshot must reproduce the live run's hash exactly.
//!
//! Each engine type lists its fields once in a `codec!` line below; forgetting a field is a
//! compile error (the decoder builds the struct literally), so a snapshot cannot silently
//! drop state.

use crate::accounts::apikeys::{ApiKey, ApiKeys};
use crate::accounts::users::{
    KycDocument, Profile, Session, TwoFa, User, UserStats, UserTrading, Users, WalletCache,
};
use crate::games::chess::Chess;
use crate::games::crash::Crash;
use crate::games::quick_math::{Answer, Question, QuickMath};
use crate::games::rules::ConnectFour;
use crate::games::{Game, GameSession, Games, Player, PlayerRating, RuleState, Spectator};
use crate::ledger::{Account, Ledger, Owner};
use crate::markets::book::Book;
use crate::markets::market::{
    Contract, Dispute, Market, Markets, OutcomeRef, Proposal, TradeRecord,
};
use crate::markets::pool::{Pool, PoolMember, Pools};
use crate::markets::trading::{
    ClosedOrders, Order, OrderLinks, Position, SettledPosition, Trading,
};
use crate::social::{
    Chat, ChatRoom, Community, Conversation, Group, GroupMember, GroupsIndex, Member,
    RecentMessage, Social, Thread, ThreadReply,
};
use crate::tournaments::bracket::{Bracket, Entry, Format, Match, MatchResult, Slot, Stage};
use crate::tournaments::rating::Rating;
use crate::tournaments::{Entrant, Tournament, Tournaments};
use crate::wallet::{IdempotencyRecord, PaymentMethod, Reference, Tx, Wallet};
use crate::{Config, Engine, Limits};
use betbet_protocol::codec::{Decode, DecodeError, Encode, Reader};
use betbet_protocol::games::GameSettingsV1;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The first bytes of every engine snapshot.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"BBENGINE";
/// The format snapshots are written in. Bumped whenever the encoding of any engine type
/// changes; the fields added since an older format are marked in the `codec!` lines below.
///
/// - 3: the first release format.
/// - 4: balance and supply caps and the dispute window in `Config`; resolution proposals
///   and their finalization timers in markets.
/// - 5: games (the catalog and sessions) and their limits.
/// - 6: chess and crash: a game's `increment_ms`, `tick_hz`, `house_edge_bp` and
///   `round_profit_max` (its settings' second layout), a session's copies of them with
///   its bankroll `reserve` and `house` return, chess positions, crash rounds, and the
///   bankroll account owner.
/// - 7: skill ratings per player and game, and the leaderboards' index.
/// - 8: tournaments (their brackets, entrants and money), a session's tournament match,
///   the tournaments escrow owner and transactions referring to a tournament.
/// - 9: communities and their memberships, threads, replies, votes, paywall purchases and
///   the hour's views, and transactions referring to a community or a thread.
/// - 10: chat rooms (sequence numbers and their recent messages' senders), direct-message
///   conversations and blocks; groups, their members and wallets (accounts owned by a
///   group, transactions referring to one).
pub const SNAPSHOT_VERSION: u32 = 10;
/// The oldest format [`Engine::restore`] reads (and migrates to the current one).
#[cfg(not(feature = "broken-skip-migration"))]
pub const SNAPSHOT_VERSION_MIN: u32 = 3;
/// The deliberately broken build of `scripts/mutants`: older formats are refused.
#[cfg(feature = "broken-skip-migration")]
pub const SNAPSHOT_VERSION_MIN: u32 = SNAPSHOT_VERSION;

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("not an engine snapshot")]
    BadMagic,
    #[error(
        "snapshot format {found} is not one this build reads ({SNAPSHOT_VERSION_MIN} to {SNAPSHOT_VERSION})"
    )]
    Version { found: u32 },
    #[error("undecodable snapshot: {0}")]
    Decode(#[from] DecodeError),
}

/// `codec!(Type { a, b, c @ 4 = default })` lists a type's fields once, in encoding order.
/// A field added in snapshot format N is written `field @ N = default`: snapshots of older
/// formats do not have it, and decode it as `default` (new collections empty, new settings
/// at their defaults) — the migration from the old format. A field is only ever appended
/// this way, never removed or reordered, so every older format stays decodable.
macro_rules! codec {
    ($ty:ty { $($field:ident $(@ $since:literal = $default:expr)?),* $(,)? }) => {
        impl Encode for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                $( self.$field.encode(out); )*
            }
        }
        impl Decode for $ty {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self { $( $field: decode_field!(r $(, $since, $default)?), )* })
            }
        }
    };
}

macro_rules! decode_field {
    ($r:ident) => {
        Decode::decode($r)?
    };
    ($r:ident, $since:literal, $default:expr) => {
        if $r.format() >= $since {
            Decode::decode($r)?
        } else {
            $default
        }
    };
}

codec!(Limits {
    users_max,
    accounts_max,
    markets_max,
    outcomes_per_market_max,
    orders_max,
    positions_max,
    closed_orders_kept,
    transactions_kept,
    sessions_per_user_max,
    sessions_max,
    idempotency_kept,
    pools_max,
    pool_members_max,
    kyc_documents_per_user_max,
    payment_methods_per_user_max,
    wallets_per_user_max,
    recent_trades_kept,
    games_max @ 5 = Limits::default().games_max,
    game_sessions_max @ 5 = Limits::default().game_sessions_max,
    game_sessions_kept @ 5 = Limits::default().game_sessions_kept,
    spectators_per_session_max @ 5 = Limits::default().spectators_per_session_max,
    game_seats_per_user_max @ 5 = Limits::default().game_seats_per_user_max,
});
codec!(Config {
    platform_fee_bp,
    withdrawal_fee_bp,
    withdrawal_limits,
    open_orders_per_user_max,
    currencies,
    wallet_balance_max @ 4 = Config::default().wallet_balance_max,
    currency_supply_max @ 4 = Config::default().currency_supply_max,
    dispute_window_micros @ 4 = Config::default().dispute_window_micros,
});
codec!(Account {
    owner,
    currency,
    available,
    locked,
    open_orders,
    orders_head,
    unsettled_markets,
    created_at,
});
codec!(Ledger { accounts, index });
codec!(Profile {
    display_name,
    avatar_url,
    bio,
    country_code,
    timezone,
    language,
    skill_rating,
    verified_expert,
    settings,
});
codec!(TwoFa {
    secret,
    enabled,
    last_step
});
codec!(UserStats {
    total_wagered,
    total_earnings,
    orders_placed,
    trades,
    markets_traded,
    markets_won,
    markets_lost,
});
codec!(User {
    id,
    username,
    email,
    password_hash,
    role,
    status,
    kyc_level,
    referral_code,
    referred_by,
    created_at,
    updated_at,
    last_login,
    two_fa,
    profile,
    sessions,
    kyc_documents,
    payment_methods,
    wallets,
});
codec!(Session {
    id,
    user,
    refresh_hash,
    retired,
    created_at,
    refreshed_at,
    expires_at,
    device_info,
    ip_address,
});
codec!(KycDocument {
    id,
    user,
    document_type,
    document_url,
    content_type,
    size_bytes,
    sha256,
    status,
    submitted_at,
    verified_at,
    verified_by,
    kyc_level,
    notes,
});
codec!(UserTrading { stats, wallet });
codec!(Users {
    users,
    trading,
    by_username,
    by_email,
    by_referral,
    sessions,
    by_refresh,
    retired_refresh,
    session_expiry,
    next_session,
    kyc_documents,
});
codec!(Tx {
    id,
    user,
    account,
    tx_type,
    status,
    amount,
    fee,
    credit,
    currency,
    counterparty,
    reference,
    payment_method,
    payment_method_id,
    provider_reference,
    memo,
    notes,
    processed_by,
    created_at,
    completed_at,
});
codec!(PaymentMethod {
    id,
    user,
    method_type,
    provider,
    details_sealed,
    display_hint,
    is_verified,
    is_default,
    removed,
    created_at,
});
codec!(IdempotencyRecord {
    fingerprint,
    reply,
    at
});
codec!(Wallet {
    txs,
    tx_order,
    next_tx,
    user_txs,
    pending,
    payment_methods,
    idempotency,
    idempotency_order,
    pending_deposits @ 4 = Default::default(),
    recent_withdrawals @ 4 = Default::default(),
});
codec!(Market {
    id,
    creator,
    title,
    description,
    category,
    market_type,
    tick,
    currency,
    opens_at,
    closes_at,
    creator_fee_bp,
    oracle_type,
    resolution_source,
    scalar_low,
    scalar_high,
    status,
    created_at,
    updated_at,
    resolved_at,
    winner,
    scalar_value,
    escrow,
    outcomes,
    outcome_texts,
    contracts,
    sets,
    volume,
    trades,
    accounts,
    participants,
    hourly_volume,
    volume_hour,
    proposal @ 4 = None,
});
codec!(Proposal {
    winner,
    scalar_value,
    proposed_by,
    proposed_at,
    final_at,
    dispute,
});
codec!(Dispute { by, reason, at });
codec!(TradeRecord {
    trade,
    price,
    qty,
    taker_side,
    at,
    seq,
});
codec!(Contract {
    market,
    outcome,
    book,
    yes_supply,
    no_supply,
    last_price,
    volume_shares,
    trades,
    recent,
    candles_1m,
    candles_1h,
});
codec!(OutcomeRef {
    market,
    contract,
    index,
    no_view
});
codec!(Markets {
    markets,
    contracts,
    outcomes,
    closing,
    next_trade,
    finalizing @ 4 = Default::default(),
});
codec!(Order {
    id,
    remaining,
    filled,
    shares_locked,
    cash_locked,
    account,
    position,
    contract,
    user,
    level,
    side,
    status,
    time_in_force,
    self_trade,
    no_view,
    flags,
    filled_notional,
    created_at,
    updated_at,
    expires_at,
    outcome,
    market,
    trades,
    pool,
    price,
    user_side,
    kind,
    post_only,
    reason,
});
codec!(OrderLinks { book, account });
codec!(Position {
    id,
    account,
    contract,
    yes,
    yes_locked,
    yes_cost,
    no,
    no_locked,
    no_cost,
    realized,
    net_cash,
    traded,
    opened_at,
    updated_at,
});
codec!(SettledPosition {
    position,
    settled_at,
    // Format 3 did not keep settlement figures: older settled positions show none.
    received @ 4 = 0,
    settlement_pnl @ 4 = 0,
});
codec!(Trading {
    orders,
    links,
    free_slots,
    live_orders,
    closed,
    client_order_ids,
    positions,
    free_positions,
    position_index,
    position_ids,
    account_positions,
    next_position,
    settled,
    client_ids,
    expiries,
});
codec!(PoolMember {
    user,
    account,
    contribution,
    share_bp,
    payout,
    joined_at
});
codec!(Pool {
    id,
    creator,
    name,
    description,
    currency,
    entry_amount,
    member_limit,
    status,
    account,
    members,
    total,
    created_at,
    started_at,
    settled_at,
});
codec!(Pools { pools });
codec!(Engine {
    limits,
    config,
    now,
    seq,
    ledger,
    users,
    wallet,
    markets,
    trading,
    pools,
    api_keys,
    games @ 5 = Default::default(),
    social @ 9 = Default::default(),
});
codec!(Social {
    communities,
    next_community,
    names,
    memberships,
    owned,
    threads,
    next_thread,
    replies,
    next_reply,
    votes,
    purchases,
    views_hour,
    viewed,
    chat @ 10 = Default::default(),
    groups @ 10 = Default::default(),
    groups_index @ 10 = Default::default(),
});
codec!(Group {
    id,
    name,
    kind,
    max_members,
    currency,
    owner,
    payout_policy,
    account,
    members,
    member_count,
    created_at,
    version,
});
codec!(GroupMember {
    role,
    invited,
    joined_at,
    contributed,
    received
});
codec!(GroupsIndex {
    next,
    names,
    memberships,
    owned
});
codec!(Chat {
    rooms,
    conversations,
    pairs,
    conversations_opened,
    next_conversation,
    next_message,
    blocks,
    blocks_per_user,
});
codec!(ChatRoom {
    seq,
    last_message,
    recent
});
codec!(RecentMessage {
    id,
    sender,
    message_type,
    bet_slip,
    posted_at,
    edited,
    deleted
});
codec!(Conversation {
    id,
    users,
    opener,
    created_at
});
codec!(Thread {
    id,
    community,
    author,
    author_wallet,
    thread_type,
    is_pinned,
    is_locked,
    is_deleted,
    paywall,
    upvotes,
    downvotes,
    reply_count,
    view_count,
    purchases,
    created_at,
    updated_at,
    last_reply_at,
    version,
});
codec!(ThreadReply {
    id,
    thread,
    parent,
    root,
    depth,
    author,
    upvotes,
    downvotes,
    is_deleted,
    created_at,
    updated_at,
});
codec!(Community {
    id,
    name,
    description,
    category,
    kind,
    membership_fee,
    currency,
    owner,
    owner_wallet,
    members,
    member_count,
    pending_count,
    created_at,
    last_activity,
    version,
});
codec!(Member {
    role,
    status,
    joined_at,
    muted_until,
    banned_until,
    fee_paid,
});
/// A game's settings changed layout in format 6 (`increment_ms`): older snapshots hold the
/// first layout, read as [`GameSettingsV1`] and upgraded.
impl Encode for Game {
    fn encode(&self, out: &mut Vec<u8>) {
        self.id.encode(out);
        self.settings.encode(out);
        self.is_active.encode(out);
        self.created_at.encode(out);
        self.updated_at.encode(out);
    }
}

impl Decode for Game {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Game {
            id: Decode::decode(r)?,
            settings: if r.format() >= 6 {
                Decode::decode(r)?
            } else {
                GameSettingsV1::decode(r)?.into()
            },
            is_active: Decode::decode(r)?,
            created_at: Decode::decode(r)?,
            updated_at: Decode::decode(r)?,
        })
    }
}
codec!(Player {
    user,
    account,
    status,
    score,
    payout,
    joined_at,
    client_seed,
});
codec!(Spectator {
    user,
    fee_paid,
    joined_at
});
codec!(GameSession {
    id,
    game,
    rule_set,
    code,
    creator,
    status,
    end,
    stake,
    currency,
    is_private,
    min_players,
    max_players,
    spectator_fee,
    rake_bp,
    spectator_share_bp,
    turn_clock_ms,
    escrow,
    players,
    spectators,
    created_at,
    start_deadline,
    started_at,
    ended_at,
    deadline,
    version,
    server_seed,
    draws,
    rake,
    state,
    increment_ms @ 6 = 0,
    tick_hz @ 6 = 0,
    house_edge_bp @ 6 = 0,
    reserve @ 6 = 0,
    house @ 6 = 0,
    questions @ 6 = 0,
    tournament @ 8 = None,
});
codec!(Games {
    games,
    sessions,
    next_session,
    live,
    ended,
    codes,
    timers,
    seats,
    ratings @ 7 = Default::default(),
    leaderboard @ 7 = Default::default(),
    tournaments @ 8 = Default::default(),
});
codec!(Tournaments {
    tournaments,
    next,
    live,
    timers,
    ended,
});
codec!(Tournament {
    id,
    game,
    name,
    creator,
    creator_wallet,
    format,
    third_place,
    rounds,
    entry_fee,
    prize_pool,
    currency,
    rake_bp,
    max_players,
    min_players,
    starts_at,
    distribution_bp,
    check_in_secs,
    server_seed,
    status,
    escrow,
    entrants,
    bracket,
    plays,
    prizes,
    prizes_total,
    rake,
    version,
    created_at,
    started_at,
    ended_at,
});
codec!(Entrant {
    user,
    account,
    registered_at,
    rating_milli,
});
codec!(Bracket {
    format,
    entrants,
    matches,
    rounds_paired,
    ended_early,
});
codec!(Match {
    stage,
    round,
    slots,
    sides,
    result,
});

/// The bracket's enums: a tag byte, then the variant's fields.
impl Encode for Format {
    fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Format::SingleElimination { third_place } => {
                0u8.encode(out);
                third_place.encode(out);
            }
            Format::DoubleElimination => 1u8.encode(out),
            Format::RoundRobin => 2u8.encode(out),
            Format::Swiss { rounds } => {
                3u8.encode(out);
                rounds.encode(out);
            }
        }
    }
}

impl Decode for Format {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => Format::SingleElimination {
                third_place: Decode::decode(r)?,
            },
            1 => Format::DoubleElimination,
            2 => Format::RoundRobin,
            3 => Format::Swiss {
                rounds: Decode::decode(r)?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "bracket",
                    tag: u16::from(tag),
                });
            }
        })
    }
}

impl Encode for Slot {
    fn encode(&self, out: &mut Vec<u8>) {
        let (tag, value) = match *self {
            Slot::Seed(seed) => (0u8, seed),
            Slot::Bye => (1, 0),
            Slot::Winner(m) => (2, m),
            Slot::Loser(m) => (3, m),
        };
        tag.encode(out);
        value.encode(out);
    }
}

impl Decode for Slot {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = u8::decode(r)?;
        let value = u16::decode(r)?;
        Ok(match tag {
            0 => Slot::Seed(value),
            1 => Slot::Bye,
            2 => Slot::Winner(value),
            3 => Slot::Loser(value),
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "bracket",
                    tag: u16::from(tag),
                });
            }
        })
    }
}

impl Encode for Entry {
    fn encode(&self, out: &mut Vec<u8>) {
        let (tag, seed) = match *self {
            Entry::Pending => (0u8, 0),
            Entry::Empty => (1, 0),
            Entry::Player(seed) => (2, seed),
        };
        tag.encode(out);
        seed.encode(out);
    }
}

impl Decode for Entry {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = u8::decode(r)?;
        let seed = u16::decode(r)?;
        Ok(match tag {
            0 => Entry::Pending,
            1 => Entry::Empty,
            2 => Entry::Player(seed),
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "bracket",
                    tag: u16::from(tag),
                });
            }
        })
    }
}

impl Encode for Stage {
    fn encode(&self, out: &mut Vec<u8>) {
        let tag: u8 = match self {
            Stage::Winners => 0,
            Stage::Losers => 1,
            Stage::ThirdPlace => 2,
            Stage::GrandFinal => 3,
            Stage::Reset => 4,
            Stage::Round => 5,
        };
        tag.encode(out);
    }
}

impl Decode for Stage {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => Stage::Winners,
            1 => Stage::Losers,
            2 => Stage::ThirdPlace,
            3 => Stage::GrandFinal,
            4 => Stage::Reset,
            5 => Stage::Round,
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "bracket",
                    tag: u16::from(tag),
                });
            }
        })
    }
}

impl Encode for MatchResult {
    fn encode(&self, out: &mut Vec<u8>) {
        let (tag, side) = match *self {
            MatchResult::Won(side) => (0u8, side),
            MatchResult::Drawn => (1, 0),
            MatchResult::DoubleForfeit => (2, 0),
            MatchResult::Walkover(side) => (3, side),
            MatchResult::Void => (4, 0),
        };
        tag.encode(out);
        side.encode(out);
    }
}

impl Decode for MatchResult {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = u8::decode(r)?;
        let side = u8::decode(r)?;
        if side > 1 {
            return Err(DecodeError::InvalidValue { what: "match side" });
        }
        Ok(match tag {
            0 => MatchResult::Won(side),
            1 => MatchResult::Drawn,
            2 => MatchResult::DoubleForfeit,
            3 => MatchResult::Walkover(side),
            4 => MatchResult::Void,
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "bracket",
                    tag: u16::from(tag),
                });
            }
        })
    }
}
codec!(PlayerRating {
    rating,
    games,
    wins,
    draws,
    losses,
    rated_at,
});
codec!(Rating {
    rating_milli,
    deviation_milli,
    volatility_micro,
});
codec!(Question { op, left, right });
codec!(Answer {
    question,
    answer,
    correct,
    points,
    at
});
codec!(ApiKeys { keys, by_user });
codec!(ApiKey {
    id,
    user,
    name,
    sealed_secret,
    created_at,
    revoked_at,
    last_login,
    logins,
    nonces
});

impl Encode for Owner {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Owner::World => 0u8.encode(out),
            Owner::Fees => 1u8.encode(out),
            Owner::User(id) => {
                2u8.encode(out);
                id.encode(out);
            }
            Owner::Pool(id) => {
                3u8.encode(out);
                id.encode(out);
            }
            Owner::Escrow(id) => {
                4u8.encode(out);
                id.encode(out);
            }
            Owner::Games => 5u8.encode(out),
            Owner::Bankroll => 6u8.encode(out),
            Owner::Tournaments => 7u8.encode(out),
            Owner::Group(id) => {
                8u8.encode(out);
                id.encode(out);
            }
        }
    }
}

impl Decode for Owner {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => Owner::World,
            1 => Owner::Fees,
            2 => Owner::User(Decode::decode(r)?),
            3 => Owner::Pool(Decode::decode(r)?),
            4 => Owner::Escrow(Decode::decode(r)?),
            5 => Owner::Games,
            6 => Owner::Bankroll,
            7 => Owner::Tournaments,
            8 => Owner::Group(Decode::decode(r)?),
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "account owner",
                    tag: u16::from(tag),
                });
            }
        })
    }
}

impl Encode for Reference {
    fn encode(&self, out: &mut Vec<u8>) {
        let (tag, id) = match *self {
            Reference::None => (0u8, 0u64),
            Reference::Market(id) => (1, id),
            Reference::P2p(id) => (2, id),
            Reference::Pool(id) => (3, id),
            Reference::Game(id) => (4, id),
            Reference::Tournament(id) => (5, id),
            Reference::Community(id) => (6, id),
            Reference::Thread(id) => (7, id),
            Reference::Group(id) => (8, id),
        };
        tag.encode(out);
        id.encode(out);
    }
}

impl Decode for Reference {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = u8::decode(r)?;
        let id = u64::decode(r)?;
        Ok(match tag {
            0 => Reference::None,
            1 => Reference::Market(id),
            2 => Reference::P2p(id),
            3 => Reference::Pool(id),
            4 => Reference::Game(id),
            5 => Reference::Tournament(id),
            6 => Reference::Community(id),
            7 => Reference::Thread(id),
            8 => Reference::Group(id),
            _ => {
                return Err(DecodeError::UnknownTag {
                    what: "reference",
                    tag: u16::from(tag),
                });
            }
        })
    }
}

/// A position is its rule set and its moves; decoding replays them, so a snapshot cannot
/// hold a position the rules could not reach.
impl Encode for RuleState {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            RuleState::NotStarted => 0u8.encode(out),
            RuleState::ConnectFour(game) => {
                1u8.encode(out);
                game.first_seat.encode(out);
                game.moves.encode(out);
            }
            RuleState::Chess(game) => {
                2u8.encode(out);
                game.white_seat.encode(out);
                let moves: Vec<String> = game.moves.iter().map(|m| m.to_string()).collect();
                moves.encode(out);
                game.clock_us[0].encode(out);
                game.clock_us[1].encode(out);
                game.increment_us.encode(out);
                game.turn_started.encode(out);
                game.draw_offer.encode(out);
                game.offered_at[0].encode(out);
                game.offered_at[1].encode(out);
                game.termination.encode(out);
            }
            RuleState::Crash(game) => {
                3u8.encode(out);
                game.crash_point.encode(out);
                game.tick_hz.encode(out);
                game.started.encode(out);
                game.stake.encode(out);
                game.profit_max.encode(out);
                game.players.encode(out);
                game.tick.encode(out);
                game.cash_outs.encode(out);
                game.crashed.encode(out);
            }
            RuleState::QuickMath(game) => {
                4u8.encode(out);
                game.questions.encode(out);
                game.started.encode(out);
                game.round_us.encode(out);
                game.answers.encode(out);
                game.over.encode(out);
            }
        }
    }
}

impl Decode for RuleState {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match u8::decode(r)? {
            0 => RuleState::NotStarted,
            1 => {
                let first_seat = u8::decode(r)?;
                let moves = Vec::<u8>::decode(r)?;
                RuleState::ConnectFour(ConnectFour::replay(first_seat, moves).ok_or(
                    DecodeError::InvalidValue {
                        what: "connect four moves",
                    },
                )?)
            }
            2 => {
                let white_seat = u8::decode(r)?;
                let moves = Vec::<String>::decode(r)?
                    .iter()
                    .map(|m| m.parse::<cozy_chess::Move>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| DecodeError::InvalidValue { what: "chess move" })?;
                let clock_us = [i64::decode(r)?, i64::decode(r)?];
                let increment_us = i64::decode(r)?;
                let turn_started = Decode::decode(r)?;
                let draw_offer = Decode::decode(r)?;
                let offered_at = [u32::decode(r)?, u32::decode(r)?];
                let termination = Decode::decode(r)?;
                let game = Chess::replay(
                    white_seat,
                    &moves,
                    clock_us,
                    increment_us,
                    turn_started,
                    draw_offer,
                    offered_at,
                    termination,
                )
                .ok_or(DecodeError::InvalidValue { what: "chess game" })?;
                RuleState::Chess(Box::new(game))
            }
            3 => {
                let game = Crash::replay(
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                    Decode::decode(r)?,
                )
                .ok_or(DecodeError::InvalidValue {
                    what: "crash round",
                })?;
                RuleState::Crash(Box::new(game))
            }
            4 => {
                let questions = Decode::decode(r)?;
                let started = Decode::decode(r)?;
                let round_us = Decode::decode(r)?;
                let answers = Decode::decode(r)?;
                let over = Decode::decode(r)?;
                let game = QuickMath::replay(questions, started, round_us, answers, over).ok_or(
                    DecodeError::InvalidValue {
                        what: "quick-math round",
                    },
                )?;
                RuleState::QuickMath(Box::new(game))
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "game state",
                    tag: u16::from(tag),
                });
            }
        })
    }
}

/// A cache, not state: nothing to encode (see [`WalletCache`]).
impl Encode for WalletCache {
    fn encode(&self, _out: &mut Vec<u8>) {}
}

impl Decode for WalletCache {
    fn decode(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(WalletCache::default())
    }
}

/// The window's index is derived: it is rebuilt on decode (and so re-validated).
impl Encode for ClosedOrders {
    fn encode(&self, out: &mut Vec<u8>) {
        self.orders.encode(out);
        self.evicted.encode(out);
    }
}

impl Decode for ClosedOrders {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut closed = ClosedOrders {
            orders: Decode::decode(r)?,
            evicted: Decode::decode(r)?,
            index: Default::default(),
            unindexed: 0,
        };
        if !closed.rebuild_index(closed.len()) {
            return Err(DecodeError::InvalidValue {
                what: "ended order listed twice",
            });
        }
        Ok(closed)
    }
}

// Book is encoded in its own module (its ladders are private).
const _: fn(&Book) = |_| {};

impl Engine {
    /// The complete state, versioned.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        SNAPSHOT_VERSION.encode(&mut out);
        self.encode(&mut out);
        out
    }

    /// Rebuilds an engine from [`Engine::snapshot`] bytes and checks its invariants.
    pub fn restore(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let mut reader = Reader::new(bytes);
        if reader.take(SNAPSHOT_MAGIC.len())? != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let version = u32::decode(&mut reader)?;
        if !(SNAPSHOT_VERSION_MIN..=SNAPSHOT_VERSION).contains(&version) {
            return Err(SnapshotError::Version { found: version });
        }
        reader.set_format(version);
        let mut engine = Engine::decode(&mut reader)?;
        reader.finish()?;
        if version < 4 {
            let now = engine.now;
            engine.wallet.rebuild_money_windows(now);
        }
        engine.check();
        Ok(engine)
    }

    /// The format version of snapshot bytes, without decoding them.
    pub fn snapshot_format(bytes: &[u8]) -> Result<u32, SnapshotError> {
        let mut reader = Reader::new(bytes);
        if reader.take(SNAPSHOT_MAGIC.len())? != SNAPSHOT_MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        Ok(u32::decode(&mut reader)?)
    }

    /// SHA-256 of the snapshot: two engines with the same hash are in the same state.
    pub fn state_hash(&self) -> [u8; 32] {
        Sha256::digest(self.snapshot()).into()
    }
}
