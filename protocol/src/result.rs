//! Business rejections: one stable numeric enum, grouped by range.
//!
//! A command the engine refuses is not an error of the system; it is an answer. Every answer
//! has a number that never changes meaning (it is journaled, sent over QUIC and stored by
//! clients) and a snake_case name that REST error bodies carry as `error.code`.
//!
//! Ranges: 1–99 general, 100–199 ledger and wallet, 200–299 markets and pools, 300–399
//! orders and positions, 400–499 games, 500–599 auth, users and KYC, 600–699 social,
//! 700–799 analytics and experts. A range is reserved even before its issue adds codes, so
//! numbers stay grouped as the product grows.

use crate::codec::{Decode, DecodeError, Encode, FixedSize, Reader};

/// The family a result code belongs to, by numeric range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultGroup {
    General,
    Ledger,
    Market,
    Order,
    Game,
    Auth,
    Social,
    Analytics,
}

impl ResultGroup {
    pub fn of(code: u16) -> Option<ResultGroup> {
        Some(match code {
            1..=99 => ResultGroup::General,
            100..=199 => ResultGroup::Ledger,
            200..=299 => ResultGroup::Market,
            300..=399 => ResultGroup::Order,
            400..=499 => ResultGroup::Game,
            500..=599 => ResultGroup::Auth,
            600..=699 => ResultGroup::Social,
            700..=799 => ResultGroup::Analytics,
            _ => return None,
        })
    }
}

macro_rules! result_codes {
    ($( $(#[$meta:meta])* $variant:ident = $num:literal => $name:literal, $message:literal; )*) => {
        /// A business rejection. See the module docs for the numbering.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        #[repr(u16)]
        pub enum ResultCode { $( $(#[$meta])* $variant = $num ),* }

        impl ResultCode {
            pub const ALL: &'static [ResultCode] = &[$( ResultCode::$variant ),*];

            pub fn from_u16(code: u16) -> Option<ResultCode> {
                match code { $( $num => Some(ResultCode::$variant), )* _ => None }
            }

            /// The stable snake_case name used as `error.code` in REST bodies.
            pub fn name(self) -> &'static str {
                match self { $( ResultCode::$variant => $name ),* }
            }

            /// A sentence for humans; clients should branch on [`ResultCode::name`].
            pub fn message(self) -> &'static str {
                match self { $( ResultCode::$variant => $message ),* }
            }

            pub fn from_name(name: &str) -> Option<ResultCode> {
                match name { $( $name => Some(ResultCode::$variant), )* _ => None }
            }
        }
    };
}

result_codes! {
    // General.
    Overloaded = 1 => "overloaded", "the core is at capacity; retry shortly";
    InvalidRequest = 2 => "invalid_request", "the request is malformed";
    LimitExceeded = 3 => "limit_exceeded", "a configured limit would be exceeded";
    Forbidden = 4 => "forbidden", "you may not do this";
    NotFound = 5 => "not_found", "no such object";
    IdempotencyKeyConflict = 6 => "idempotency_key_conflict", "this idempotency key was used for a different request";
    Unavailable = 7 => "unavailable", "the core cannot accept writes";
    InvalidAmount = 8 => "invalid_amount", "the amount must be positive and representable";
    TextTooLong = 9 => "text_too_long", "a text field is longer than allowed";
    InvalidTime = 10 => "invalid_time", "a time is out of the allowed range";
    InvalidText = 11 => "invalid_text", "a text field is empty or contains characters that are not allowed";

    // Ledger and wallet.
    InsufficientFunds = 100 => "insufficient_funds", "the available balance is too low";
    UnknownAccount = 101 => "unknown_account", "no wallet in that currency";
    CurrencyMismatch = 102 => "currency_mismatch", "the currencies do not match";
    UnsupportedCurrency = 103 => "unsupported_currency", "this currency is not supported";
    WalletExists = 104 => "wallet_exists", "a wallet in that currency already exists";
    SelfTransfer = 105 => "self_transfer", "you cannot transfer to yourself";
    DepositNotPending = 106 => "deposit_not_pending", "the deposit is not pending";
    WithdrawalNotPending = 107 => "withdrawal_not_pending", "the withdrawal is not pending";
    WithdrawalLimitExceeded = 108 => "withdrawal_limit_exceeded", "the withdrawal exceeds the limit of your KYC level";
    DepositNotFound = 109 => "deposit_not_found", "no such deposit";
    WithdrawalNotFound = 110 => "withdrawal_not_found", "no such withdrawal";
    TransactionNotFound = 111 => "transaction_not_found", "no such transaction";
    PaymentMethodNotFound = 112 => "payment_method_not_found", "no such payment method";
    TooManyWallets = 113 => "too_many_wallets", "the wallet limit is reached";
    TooManyPaymentMethods = 114 => "too_many_payment_methods", "the payment method limit is reached";
    AccountLimitReached = 115 => "account_limit_reached", "the ledger cannot open more accounts";
    BalanceLimitExceeded = 116 => "balance_limit_exceeded", "the wallet would hold more than the largest balance allowed";
    CurrencySupplyExceeded = 117 => "currency_supply_exceeded", "the platform cannot hold more of this currency";

    // Markets and pools.
    MarketNotFound = 200 => "market_not_found", "no such market";
    MarketNotOpen = 201 => "market_not_open", "the market is not open for trading";
    MarketAlreadySettled = 202 => "market_already_settled", "the market is already resolved or voided";
    InvalidMarketType = 203 => "invalid_market_type", "the market type does not fit the request";
    InvalidOutcomes = 204 => "invalid_outcomes", "the outcomes are invalid for this market type";
    InvalidTickSize = 205 => "invalid_tick_size", "the tick size must be 0.01, 0.001 or 0.0001";
    InvalidCloseTime = 206 => "invalid_close_time", "closes_at must be after opens_at and in the future";
    InvalidFee = 207 => "invalid_fee", "the fee percent is out of range";
    OutcomeNotFound = 208 => "outcome_not_found", "no such outcome in this market";
    NotMarketCreator = 209 => "not_market_creator", "only the market's creator or an admin may do this";
    InvalidScalarRange = 210 => "invalid_scalar_range", "the scalar range needs low < high";
    InvalidResolution = 211 => "invalid_resolution", "the resolution value does not fit the market";
    OracleNotManual = 212 => "oracle_not_manual", "an automated-oracle market is resolved by an admin";
    TooManyMarkets = 213 => "too_many_markets", "the market limit is reached";
    MarketNotUpdatable = 214 => "market_not_updatable", "this field can no longer change";
    MarketNotClosed = 215 => "market_not_closed", "a market is resolved only after trading has closed (closes_at passed, or halted)";
    ResolverMayNotTrade = 216 => "resolver_may_not_trade", "the resolver of a manually resolved market may not trade in it";
    ResolutionPending = 217 => "resolution_pending", "a resolution is already proposed; dispute it, or an admin decides";
    NoResolutionProposed = 218 => "no_resolution_proposed", "no resolution is proposed for this market";
    DisputeWindowOver = 219 => "dispute_window_over", "the dispute window of this resolution has ended";
    NotAHolder = 229 => "not_a_holder", "only holders of a position in this market may dispute its resolution";
    AlreadyDisputed = 230 => "already_disputed", "this resolution is already disputed and awaits an admin";
    PoolNotFound = 220 => "pool_not_found", "no such pool";
    PoolNotOpen = 221 => "pool_not_open", "the pool no longer accepts members";
    PoolFull = 222 => "pool_full", "the pool has reached its member limit";
    AlreadyPoolMember = 223 => "already_pool_member", "you are already a member of this pool";
    NotPoolMember = 224 => "not_pool_member", "you are not a member of this pool";
    NotPoolManager = 225 => "not_pool_manager", "only the pool's creator may do this";
    PoolHasOpenExposure = 226 => "pool_has_open_exposure", "the pool still has open orders or unsettled positions";
    PoolNotActive = 227 => "pool_not_active", "the pool is not trading";
    TooManyPools = 228 => "too_many_pools", "the pool limit is reached";

    // Orders and positions.
    OrderNotFound = 300 => "order_not_found", "no such order";
    InvalidPrice = 301 => "invalid_price", "the price must be strictly between 0 and 1";
    PriceOffTick = 302 => "price_off_tick", "the price is not on the market's tick grid";
    InvalidQuantity = 303 => "invalid_quantity", "the quantity must be positive and within limits";
    PostOnlyWouldCross = 304 => "post_only_would_cross", "a post-only order would have traded";
    FillOrKillUnfilled = 305 => "fill_or_kill_unfilled", "the order could not be filled completely at once";
    TooManyOpenOrders = 306 => "too_many_open_orders", "the open-order limit is reached";
    OrderNotOpen = 307 => "order_not_open", "the order is no longer open";
    InvalidTimeInForce = 308 => "invalid_time_in_force", "the time in force does not fit the order";
    ExpiryInPast = 309 => "expiry_in_past", "expires_at must be in the future";
    NoLiquidity = 310 => "no_liquidity", "nothing to trade against within the price bound";
    InsufficientShares = 311 => "insufficient_shares", "you do not hold enough shares";
    PositionNotFound = 312 => "position_not_found", "no such position";
    BookFull = 313 => "book_full", "the order book is at capacity";
    AmendNoChange = 314 => "amend_no_change", "the amendment changes nothing";

    // Games.
    GameNotFound = 400 => "game_not_found", "no such game";
    GameInactive = 401 => "game_inactive", "this game takes no new sessions";
    InvalidGameSettings = 402 => "invalid_game_settings", "the game settings are out of range for its rule set";
    TooManyGames = 403 => "too_many_games", "the game catalog is full";
    GameSessionNotFound = 404 => "game_session_not_found", "no such game session";
    GameSessionNotWaiting = 405 => "game_session_not_waiting", "the session no longer takes players or changes";
    GameSessionFull = 406 => "game_session_full", "the session has all its players";
    AlreadyInSession = 407 => "already_in_session", "you already have a seat in this session";
    NotInSession = 408 => "not_in_session", "you have no seat in this session";
    NotSessionCreator = 409 => "not_session_creator", "only the session's creator may do this";
    NotEnoughPlayers = 410 => "not_enough_players", "the session has fewer players than the game needs";
    GameSessionNotActive = 411 => "game_session_not_active", "the session is not being played";
    NotYourTurn = 412 => "not_your_turn", "it is not your turn";
    IllegalMove = 413 => "illegal_move", "that move is not legal in this position";
    InvalidStake = 414 => "invalid_stake", "the stake is outside the game's stake range";
    TooManyGameSessions = 416 => "too_many_game_sessions", "the live game session limit is reached";
    InvalidClientSeed = 417 => "invalid_client_seed", "a client seed is 1 to 64 printable ASCII characters without ':' or '|'";
    SpectatorsFull = 419 => "spectators_full", "the session has its most spectators";
    CreatorCannotLeave = 420 => "creator_cannot_leave", "the creator cancels the session instead of leaving it";
    PlayerCannotSpectate = 421 => "player_cannot_spectate", "players see the game already";
    InvalidChatMessage = 422 => "invalid_chat_message", "a chat message is 1 to 500 bytes of text without control characters";
    BankrollInsufficient = 423 => "bankroll_insufficient", "the house's bankroll cannot cover this round's payout cap";
    NotYourMatch = 424 => "not_your_match", "this session is a tournament match of other players";
    TournamentMatch = 425 => "tournament_match", "a tournament match cannot be left, cancelled or started by hand";

    // Tournaments.
    TournamentNotFound = 430 => "tournament_not_found", "no such tournament";
    TournamentNotOpen = 431 => "tournament_not_open", "the tournament no longer takes registrations or changes";
    TournamentFull = 432 => "tournament_full", "the tournament has its most players";
    AlreadyRegistered = 433 => "already_registered", "you are already registered";
    NotRegistered = 434 => "not_registered", "you are not registered";
    InvalidTournament = 435 => "invalid_tournament", "the tournament settings are out of range";
    TooManyTournaments = 436 => "too_many_tournaments", "the live tournament limit is reached";
    NotTournamentCreator = 437 => "not_tournament_creator", "only the tournament's creator or an admin may do this";

    // Auth, users and KYC.
    UsernameTaken = 500 => "username_taken", "that username is taken";
    EmailTaken = 501 => "email_taken", "that email is already registered";
    InvalidCredentials = 502 => "invalid_credentials", "wrong username, email or password";
    UserNotFound = 503 => "user_not_found", "no such user";
    AccountSuspended = 504 => "account_suspended", "this account is suspended";
    SessionNotFound = 505 => "session_not_found", "no such session";
    SessionExpired = 506 => "session_expired", "the session has expired";
    SessionRevoked = 507 => "session_revoked", "the session was revoked";
    RefreshTokenReused = 508 => "refresh_token_reused", "a used refresh token was presented again; every session of its family is revoked";
    TwoFaRequired = 509 => "two_fa_required", "a two-factor code is required";
    InvalidTwoFaCode = 510 => "invalid_two_fa_code", "the two-factor code is wrong";
    TwoFaCodeReused = 511 => "two_fa_code_reused", "that two-factor code was already used";
    TwoFaNotSetUp = 512 => "two_fa_not_set_up", "two-factor authentication has not been set up";
    TwoFaAlreadyEnabled = 513 => "two_fa_already_enabled", "two-factor authentication is already on";
    InvalidReferralCode = 514 => "invalid_referral_code", "no such referral code";
    InvalidUsername = 515 => "invalid_username", "usernames are 3 to 50 letters, digits, '_', '-' or '.'";
    InvalidEmail = 516 => "invalid_email", "that is not an email address";
    KycDocumentNotFound = 517 => "kyc_document_not_found", "no such KYC document";
    KycNotPending = 518 => "kyc_not_pending", "the KYC document is not pending";
    TooManyUsers = 519 => "too_many_users", "the user limit is reached";
    TooManySessions = 520 => "too_many_sessions", "the session limit is reached";
    KycLimitReached = 521 => "kyc_limit_reached", "too many KYC documents";
    ApiKeyNotFound = 522 => "api_key_not_found", "no such API key";
    ApiKeyRevoked = 523 => "api_key_revoked", "the API key was revoked";
    StaleTimestamp = 524 => "stale_timestamp", "the login timestamp is more than 5 seconds from the server's clock";
    NonceReused = 525 => "nonce_reused", "this login nonce was already used";
    TooManyApiKeys = 526 => "too_many_api_keys", "the API key limit is reached";
    BadSignature = 527 => "bad_signature", "the login signature does not verify";
    KycPendingLimit = 528 => "kyc_pending_limit", "too many KYC documents await review; wait for a decision";
    StorageQuotaExceeded = 529 => "storage_quota_exceeded", "your uploads would exceed your storage quota";

    // Social.
    CommunityNotFound = 600 => "community_not_found", "no such community";
    CommunityNameTaken = 601 => "community_name_taken", "a community of that name exists";
    InvalidCommunity = 602 => "invalid_community", "the community settings are out of range (a paid community has a fee, others none)";
    AlreadyMember = 603 => "already_member", "you are already a member of this community";
    NotMember = 604 => "not_member", "that user is not a member of this community";
    MemberBanned = 605 => "member_banned", "banned from this community";
    NotCommunityModerator = 606 => "not_community_moderator", "your role in this community does not allow this";
    TooManyCommunities = 607 => "too_many_communities", "the community limit (yours, or the platform's) is reached";
    CommunityFull = 608 => "community_full", "the community has its most members or pending requests";
    OwnerCannotLeave = 609 => "owner_cannot_leave", "the owner cannot leave or be moderated";
    NoJoinRequest = 610 => "no_join_request", "that user has no pending join request or invitation";
    InvalidModeration = 611 => "invalid_moderation", "the action, role or end time does not fit";
    ThreadNotFound = 612 => "thread_not_found", "no such thread";
    ReplyNotFound = 613 => "reply_not_found", "no such reply in this thread";
    ThreadLocked = 614 => "thread_locked", "the thread is locked: it takes no replies";
    PostDeleted = 615 => "post_deleted", "the post was deleted";
    MemberMuted = 616 => "member_muted", "you are muted in this community";
    ReplyTooDeep = 617 => "reply_too_deep", "replies nest at most 8 deep";
    ThreadFull = 618 => "thread_full", "the thread has its most replies";
    PaywallRequired = 619 => "paywall_required", "pay the thread's paywall to read or reply to it";
    InvalidPaywall = 620 => "invalid_paywall", "a paywall is an amount above 0 in the community's currency, which your wallet holds";
    CannotVoteOwnPost = 621 => "cannot_vote_own_post", "you cannot vote on your own post";
    NotPostAuthor = 622 => "not_post_author", "only the post's author may do this (or a moderator, to delete it)";
    TooManyPosts = 623 => "too_many_posts", "the platform's post or vote limit is reached";
    MembersOnly = 624 => "members_only", "only the community's members may do this (and not while banned)";
    RoomNotFound = 625 => "room_not_found", "no such chat room or conversation";
    UserBlocked = 626 => "user_blocked", "you cannot message this user (one of you blocked the other)";
    MessageNotFound = 627 => "message_not_found", "no such message in this room";
    MessageTooOld = 628 => "message_too_old", "only a room's last messages (100; a conversation's 20) may be edited or deleted";
    NotMessageSender = 629 => "not_message_sender", "only the message's sender may do this (or a moderator, to delete it)";
    TooManyConversations = 630 => "too_many_conversations", "the conversation limit (the ones you opened, or the platform's) is reached";
    TooManyBlocks = 631 => "too_many_blocks", "you have blocked the most users you may";
    CannotMessageSelf = 632 => "cannot_message_self", "you cannot message or block yourself";
    GroupNotFound = 633 => "group_not_found", "no such group";
    InvalidGroup = 634 => "invalid_group", "the group's settings are out of range (max_members is 2 to 1 000)";
    GroupNameTaken = 635 => "group_name_taken", "a group of that name exists";
    AlreadyGroupMember = 636 => "already_group_member", "you are already a member of this group";
    GroupFull = 637 => "group_full", "the group has its most members";
    NotInvited = 638 => "not_invited", "this group is private: an owner or admin must invite you";
    NotGroupMember = 639 => "not_group_member", "that user is not a member of this group";
    NotGroupAdmin = 640 => "not_group_admin", "your role in this group does not allow this";
    TooManyGroups = 641 => "too_many_groups", "the group limit (yours, or the platform's) is reached";
}

impl ResultCode {
    pub fn code(self) -> u16 {
        self as u16
    }

    pub fn group(self) -> ResultGroup {
        ResultGroup::of(self.code()).expect("every result code is inside a group range")
    }
}

impl std::fmt::Display for ResultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Encode for ResultCode {
    #[inline]
    fn encode(&self, out: &mut Vec<u8>) {
        self.code().encode(out);
    }
}

impl Decode for ResultCode {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = u16::decode(r)?;
        ResultCode::from_u16(tag).ok_or(DecodeError::UnknownTag {
            what: "result code",
            tag,
        })
    }
}

impl FixedSize for ResultCode {
    const SIZE: usize = 2;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_names_are_unique_and_round_trip() {
        let mut numbers = HashSet::new();
        let mut names = HashSet::new();
        for &code in ResultCode::ALL {
            assert!(numbers.insert(code.code()), "duplicate number {code:?}");
            assert!(names.insert(code.name()), "duplicate name {code:?}");
            assert_eq!(ResultCode::from_u16(code.code()), Some(code));
            assert_eq!(ResultCode::from_name(code.name()), Some(code));
            assert!(
                code.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{code:?} is not snake_case"
            );
        }
    }

    #[test]
    fn groups_follow_ranges() {
        assert_eq!(ResultCode::InsufficientFunds.group(), ResultGroup::Ledger);
        assert_eq!(ResultCode::MarketNotFound.group(), ResultGroup::Market);
        assert_eq!(ResultCode::PostOnlyWouldCross.group(), ResultGroup::Order);
        assert_eq!(ResultCode::UsernameTaken.group(), ResultGroup::Auth);
        for &code in ResultCode::ALL {
            let _ = code.group();
        }
    }
}
