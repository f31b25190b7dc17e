//! The games domain on the wire: the catalog, staked sessions, moves, spectators and the
//! provably fair draws, as commands, events, queries and views.
//!
//! A game (`game_<n>`) is a catalog entry an admin creates: its rule set, player counts,
//! clocks, rake and spectator split. A session (`gs_<n>` — never `ses_`, which names login
//! sessions) is one match of a game: players stake into the session's escrow account, the
//! engine applies their moves under the rule set's rules and clocks, and pays the pot out at
//! the end. Every random choice comes from the session's committed server seed (see
//! `docs/games.md`).

use crate::types::{Amount, Currency, Timestamp, UserId};
use crate::{wire_cenum, wire_enum, wire_struct};

/// The most players of any session (a crash round's).
pub const GAME_PLAYERS_MAX: u32 = 100;
/// The bytes of a session's server seed; its public form is their 64 lowercase hex digits.
pub const SERVER_SEED_BYTES: usize = 32;
/// The longest client seed, in bytes of printable ASCII.
pub const CLIENT_SEED_MAX: usize = 64;
/// The longest in-session chat message, in bytes of UTF-8.
pub const GAME_CHAT_MAX: usize = 500;
/// The longest move text ("3", "e7e8q", "cashout", an answer).
pub const MOVE_TEXT_MAX: usize = 16;
/// The length of a session code (the unambiguous alphabet of [`SESSION_CODE_ALPHABET`]).
pub const SESSION_CODE_LEN: usize = 8;
/// Session codes use no 0/O, 1/I/L: read aloud or typed, a code is never mistaken.
pub const SESSION_CODE_ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// The public form of seeds and hashes: lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// A game of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct GameId(pub u64);

/// One session (match) of a game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct GameSessionId(pub u64);

macro_rules! id_codec {
    ($($name:ident),*) => {$(
        impl crate::codec::Encode for $name {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>) {
                crate::codec::Encode::encode(&self.0, out);
            }
        }
        impl crate::codec::Decode for $name {
            #[inline]
            fn decode(
                r: &mut crate::codec::Reader<'_>,
            ) -> Result<Self, crate::codec::DecodeError> {
                Ok(Self(<u64 as crate::codec::Decode>::decode(r)?))
            }
        }
        impl crate::codec::FixedSize for $name {
            const SIZE: usize = 8;
        }
    )*};
}
/// A tournament of a game (its matches are sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct TournamentId(pub u64);

id_codec!(GameId, GameSessionId, TournamentId);
pub(crate) use id_codec;

wire_cenum! {
    /// The spec's `game_type`: how a game's time runs.
    pub enum GameType {
        /// Ticks at the game's rate (crash).
        Realtime = 0 => "realtime",
        /// Players move in turn, each against a clock.
        TurnBased = 1 => "turn_based",
        /// Everyone plays the same round against one countdown.
        Countdown = 2 => "countdown",
    }
}

wire_cenum! {
    /// The rules a game is played by. Each is implemented in the engine's `games` folder.
    pub enum RuleSet {
        /// 7 × 6, gravity, four in a row; 2 players.
        ConnectFour = 0 => "connect_four",
        /// FIDE chess with game clocks and increments; 2 players.
        Chess = 1 => "chess",
        /// A multiplier rising until a provably fair crash point; 1 to 100 players against
        /// the house, each cashing out before the crash or losing the stake.
        Crash = 2 => "crash",
        /// Everyone answers the same seeded arithmetic questions against one countdown;
        /// 2 to 10 players, points for right answers and speed, ties split.
        QuickMath = 3 => "quick_math",
    }
}

impl RuleSet {
    pub fn game_type(self) -> GameType {
        match self {
            RuleSet::ConnectFour | RuleSet::Chess => GameType::TurnBased,
            RuleSet::Crash => GameType::Realtime,
            RuleSet::QuickMath => GameType::Countdown,
        }
    }

    /// The player counts the rules allow, inclusive.
    pub fn players(self) -> (u32, u32) {
        match self {
            RuleSet::ConnectFour | RuleSet::Chess => (2, 2),
            RuleSet::Crash => (1, GAME_PLAYERS_MAX),
            RuleSet::QuickMath => (2, 10),
        }
    }
}

wire_struct! {
    /// What an admin sets about a game.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameSettings {
        pub name: String,
        pub category: String,
        pub subcategory: String,
        pub description: String,
        pub rule_set: RuleSet,
        pub min_players: u32,
        pub max_players: u32,
        /// The spec's `rules`: a JSON object shown to players (the gateway checks it parses).
        pub rules: String,
        pub thumbnail_url: String,
        /// A turn-based game's clock, in ms: Connect Four's is each move's, reset on every
        /// move; chess's is each player's time for the whole game. Running out loses.
        pub turn_clock_ms: u32,
        /// What each move adds to the mover's clock, in ms (chess's increment; 0 for a
        /// per-move clock).
        pub increment_ms: u32,
        /// A realtime game's ticks a second (crash: 10 to 20); 0 for the others.
        pub tick_hz: u32,
        /// The house's edge on every crash round, in basis points: the crash point is
        /// drawn so a cash-out at any multiplier returns `1 − edge` of the stake on average.
        pub house_edge_bp: u16,
        /// The most the house pays out above the stakes in one crash round: the round's
        /// reserve, taken from the bankroll when the session opens. Past it every player
        /// still in is cashed out.
        pub round_profit_max: Amount,
        /// A quick-math round's questions (5 to 30); 0 for the others. Its countdown is
        /// `turn_clock_ms`.
        pub questions: u32,
        /// How long a session waits for its players, in seconds: not started by then, it is
        /// cancelled and every stake refunded.
        pub start_timeout_secs: u32,
        /// The platform's rake on each pot, in basis points.
        pub rake_bp: u16,
        /// The share of each spectator fee paid to the players (split equally), in basis
        /// points; the rest is the platform's.
        pub spectator_share_bp: u16,
        /// The smallest and largest stake a session may take.
        pub stake_min: Amount,
        pub stake_max: Amount,
    }
}

wire_struct! {
    /// The first layout of [`GameSettings`] (in [`CreateGameV1`] and [`UpdateGameV1`]),
    /// before `increment_ms`: still read from old journals and snapshots.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameSettingsV1 {
        pub name: String,
        pub category: String,
        pub subcategory: String,
        pub description: String,
        pub rule_set: RuleSet,
        pub min_players: u32,
        pub max_players: u32,
        pub rules: String,
        pub thumbnail_url: String,
        pub turn_clock_ms: u32,
        pub start_timeout_secs: u32,
        pub rake_bp: u16,
        pub spectator_share_bp: u16,
        pub stake_min: Amount,
        pub stake_max: Amount,
    }
}

impl From<GameSettingsV1> for GameSettings {
    /// The old layout's games had no increment.
    fn from(v1: GameSettingsV1) -> GameSettings {
        GameSettings {
            name: v1.name,
            category: v1.category,
            subcategory: v1.subcategory,
            description: v1.description,
            rule_set: v1.rule_set,
            min_players: v1.min_players,
            max_players: v1.max_players,
            rules: v1.rules,
            thumbnail_url: v1.thumbnail_url,
            turn_clock_ms: v1.turn_clock_ms,
            increment_ms: 0,
            tick_hz: 0,
            house_edge_bp: 0,
            round_profit_max: Amount(0),
            questions: 0,
            start_timeout_secs: v1.start_timeout_secs,
            rake_bp: v1.rake_bp,
            spectator_share_bp: v1.spectator_share_bp,
            stake_min: v1.stake_min,
            stake_max: v1.stake_max,
        }
    }
}

wire_struct! {
    /// Adds a game to the catalog (admins only).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateGame {
        pub actor: UserId,
        pub settings: GameSettings,
    }
}

wire_struct! {
    /// Replaces a game's settings (admins only). Sessions already created keep the settings
    /// they were created with; an inactive game takes no new sessions.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UpdateGame {
        pub actor: UserId,
        pub game: GameId,
        pub settings: GameSettings,
        pub is_active: bool,
    }
}

wire_struct! {
    /// The first layout of [`CreateGame`] (journal tag 90), applied as today's.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateGameV1 {
        pub actor: UserId,
        pub settings: GameSettingsV1,
    }
}

wire_struct! {
    /// The first layout of [`UpdateGame`] (journal tag 91), applied as today's.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UpdateGameV1 {
        pub actor: UserId,
        pub game: GameId,
        pub settings: GameSettingsV1,
        pub is_active: bool,
    }
}

impl From<CreateGameV1> for CreateGame {
    fn from(v1: CreateGameV1) -> CreateGame {
        CreateGame {
            actor: v1.actor,
            settings: v1.settings.into(),
        }
    }
}

impl From<UpdateGameV1> for UpdateGame {
    fn from(v1: UpdateGameV1) -> UpdateGame {
        UpdateGame {
            actor: v1.actor,
            game: v1.game,
            settings: v1.settings.into(),
            is_active: v1.is_active,
        }
    }
}

wire_struct! {
    /// Moves money from an admin's wallet into the house's crash bankroll of its currency,
    /// from which crash rounds reserve what they may pay above their stakes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FundBankroll {
        pub actor: UserId,
        pub currency: Currency,
        pub amount: Amount,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BankrollQuery {
        pub currency: Currency,
    }
}

wire_struct! {
    /// The house's bankroll of one currency and what live rounds hold of it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct BankrollView {
        pub currency: Currency,
        /// Free to reserve for new rounds.
        pub available: Amount,
        /// Held by live crash sessions as their reserves.
        pub reserved: Amount,
    }
}

wire_struct! {
    /// Opens a session of a game; the creator takes the first seat and stakes at once.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateGameSession {
        pub actor: UserId,
        pub game: GameId,
        pub stake: Amount,
        pub currency: Currency,
        pub is_private: bool,
        /// At most the game's `max_players`; 0 means the game's.
        pub max_players: u32,
        pub spectator_fee: Amount,
        /// The gateway's fresh random server seed; only its hash is shown until the end.
        pub server_seed: [u8; SERVER_SEED_BYTES],
        /// The creator's client seed; empty for one derived from the command's seed.
        pub client_seed: String,
    }
}

wire_struct! {
    /// Takes a seat and stakes. A private session needs its code.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct JoinGameSession {
        pub actor: UserId,
        pub session: GameSessionId,
        pub code: String,
        pub client_seed: String,
    }
}

wire_struct! {
    /// Leave, cancel, start, resign or spectate: the actor and the session.
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct GameSessionAction {
        pub actor: UserId,
        pub session: GameSessionId,
    }
}

wire_struct! {
    /// A move in the rule set's notation: Connect Four's column, "0" to "6"; a chess move
    /// in UCI ("e2e4", "e7e8q", castling "e1g1") or SAN ("Nf3", "O-O", "exd8=Q+"), or a
    /// chess player's "offer_draw", "accept_draw" or "decline_draw".
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameMove {
        pub actor: UserId,
        pub session: GameSessionId,
        pub mv: String,
    }
}

wire_struct! {
    /// A chat message to the session's room, from one of its players.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PostGameChat {
        pub actor: UserId,
        pub session: GameSessionId,
        pub text: String,
    }
}

wire_struct! {
    /// Changes the actor's client seed, before the session starts.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SetClientSeed {
        pub actor: UserId,
        pub session: GameSessionId,
        pub client_seed: String,
    }
}

wire_cenum! {
    pub enum GameSessionStatus {
        /// Taking players.
        Waiting = 0 => "waiting",
        Active = 1 => "active",
        Completed = 2 => "completed",
        /// Ended before it started (by its creator or its start deadline): every stake was
        /// refunded.
        Cancelled = 3 => "cancelled",
    }
}

impl GameSessionStatus {
    pub fn ended(self) -> bool {
        matches!(
            self,
            GameSessionStatus::Completed | GameSessionStatus::Cancelled
        )
    }
}

wire_cenum! {
    /// How a session ended.
    pub enum GameEnd {
        Win = 0 => "win",
        Draw = 1 => "draw",
        /// The player to move ran out of time.
        Timeout = 2 => "timeout",
        Resignation = 3 => "resignation",
        /// Its creator cancelled it before the start.
        Cancelled = 4 => "cancelled",
        /// Nobody started it by its start deadline.
        Expired = 5 => "expired",
        /// A player lost their connection and did not come back within the seat's grace
        /// period.
        Abandoned = 6 => "abandoned",
        /// A crash round reached its crash point: who had cashed out is paid.
        Crashed = 7 => "crashed",
        /// Every player of a crash round cashed out before the crash (or was cashed out by
        /// the round's payout cap).
        AllCashedOut = 8 => "all_cashed_out",
    }
}

wire_cenum! {
    /// A player's standing in a session.
    pub enum PlayerStatus {
        Playing = 0 => "playing",
        Won = 1 => "won",
        Lost = 2 => "lost",
        Drew = 3 => "drew",
        Refunded = 4 => "refunded",
    }
}

wire_cenum! {
    /// What a provably fair draw decided.
    pub enum DrawPurpose {
        /// Which seat moves first: `floor(f × players)`.
        FirstMover = 0 => "first_mover",
        /// A crash round's crash point, in hundredths:
        /// `max(100, floor((10000 − edge_bp) × 2^32 / (2^32 − fraction) / 100))`. Secret
        /// until the round ends.
        CrashPoint = 1 => "crash_point",
        /// A quick-math question's operation: `floor(f × 4)` of `+ − × ÷`.
        QuestionOp = 2 => "question_op",
        /// A quick-math question's operand: `floor(f × n)` plus its range's low end.
        QuestionOperand = 3 => "question_operand",
    }
}

impl DrawPurpose {
    /// Whether the draw's outcome stays hidden until the session ends (it would tell the
    /// players the game's future).
    pub fn secret(self) -> bool {
        matches!(self, DrawPurpose::CrashPoint)
    }
}

wire_struct! {
    /// One draw from the session's seeds: `fraction` is f × 2^32 of the HMAC bytes named
    /// by `nonce`, `round` and `index` (the 4-byte group in the 32-byte block).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct FairDraw {
        pub purpose: DrawPurpose,
        pub nonce: u64,
        pub round: u32,
        pub index: u8,
        pub fraction: u32,
        pub outcome: u64,
    }
}

wire_cenum! {
    /// What changed a session.
    pub enum SessionChange {
        Created = 0 => "created",
        Joined = 1 => "joined",
        Left = 2 => "left",
        Started = 3 => "started",
        Moved = 4 => "moved",
        ClientSeedSet = 5 => "client_seed_set",
        Spectated = 6 => "spectated",
        Ended = 7 => "ended",
        /// A realtime game's tick, for a rule set without a tick delta of its own (crash
        /// has one: [`GameSessionTicked`]).
        Ticked = 8 => "ticked",
    }
}

wire_struct! {
    /// A session changed. Events are not journaled, so the event carries the session's
    /// public view after the change (as a spectator sees it: no code, the server seed only
    /// after the end) for the sockets that follow it, rendered once for all of them.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameSessionChanged {
        pub session: GameSessionId,
        pub game: GameId,
        /// Who caused the change ([`UserId::SYSTEM`] for clocks and deadlines).
        pub user: UserId,
        pub status: GameSessionStatus,
        /// The session's version after the change: +1 on every change (chat messages
        /// included), so a client sees a gap.
        pub version: u64,
        pub change: SessionChange,
        /// The move, for [`SessionChange::Moved`]; empty otherwise.
        pub mv: String,
        pub view: Box<GameSessionView>,
    }
}

wire_struct! {
    /// A realtime game rose by a tick and goes on: the delta, not the whole session (a
    /// crash round's multiplier at 10 to 20 Hz). Like every change it takes the session's
    /// next version, so a room's sequence stays gap-free.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameSessionTicked {
        pub session: GameSessionId,
        pub version: u64,
        pub tick: u32,
        /// In hundredths (100 is 1.00×).
        pub multiplier: u32,
        /// When the next tick is due.
        pub next_tick_at: Option<Timestamp>,
    }
}

wire_struct! {
    /// A chat message in a session's room; it takes a version of the session like any
    /// other change, so the room's messages share one gap-free sequence.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameChatPosted {
        pub session: GameSessionId,
        pub user: UserId,
        pub username: String,
        pub text: String,
        pub version: u64,
        pub at: Timestamp,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct GameChanged {
        pub game: GameId,
    }
}

// Queries.

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameListQuery {
        pub category: Option<String>,
        /// Include deactivated games (admins' view).
        pub inactive: bool,
        pub offset: u32,
        pub limit: u32,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct GameQuery {
        pub game: GameId,
    }
}

wire_struct! {
    /// Public sessions that are waiting or playing, newest first.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ActiveSessionsQuery {
        pub game: Option<GameId>,
        pub stake_min: Option<Amount>,
        pub stake_max: Option<Amount>,
        pub offset: u32,
        pub limit: u32,
    }
}

wire_struct! {
    /// One session as `viewer` may see it: a private session only to its players,
    /// spectators and admins; its code only to its players.
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct GameSessionQuery {
        pub session: GameSessionId,
        pub viewer: UserId,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SessionCodeQuery {
        pub code: String,
    }
}

// Views.

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameView {
        pub id: GameId,
        pub settings: GameSettings,
        pub is_active: bool,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
        pub sessions_waiting: u32,
        pub sessions_active: u32,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameList {
        pub total: u32,
        pub games: Vec<GameView>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GamePlayerView {
        pub user: UserId,
        pub username: String,
        /// The seat: the order players joined in, from 0.
        pub seat: u32,
        pub status: PlayerStatus,
        pub score: i64,
        pub payout: Amount,
        pub joined_at: Timestamp,
        pub client_seed: String,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SpectatorView {
        pub user: UserId,
        pub username: String,
        pub fee_paid: Amount,
        pub joined_at: Timestamp,
    }
}

wire_struct! {
    /// A Connect Four position.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConnectFourView {
        /// Top row first, 7 characters each: `.` empty, `X` the first mover's, `O` the
        /// other's.
        pub rows: Vec<String>,
        /// The columns played, in order.
        pub moves: Vec<u8>,
        /// The seat playing `X`.
        pub first_seat: u32,
        /// The seat to move; none once the game is over.
        pub to_move: Option<u32>,
        /// The winning four's cells (`row * 7 + column`, row 0 at the bottom).
        pub winning_line: Vec<u8>,
    }
}

wire_cenum! {
    /// Why a chess game ended, beyond who won.
    pub enum ChessTermination {
        Checkmate = 0 => "checkmate",
        Stalemate = 1 => "stalemate",
        /// The same position (FIDE's sense) for the third time.
        ThreefoldRepetition = 2 => "threefold_repetition",
        /// Fifty moves by each side without a capture or a pawn move.
        FiftyMoveRule = 3 => "fifty_move_rule",
        /// Neither side can mate by any series of legal moves (K v K, K+minor v K,
        /// bishops all on one colour).
        InsufficientMaterial = 4 => "insufficient_material",
        /// One player offered a draw and the other accepted.
        Agreement = 5 => "agreement",
        /// A flag fell: the other side wins, unless it has no mating material (a draw).
        Timeout = 6 => "timeout",
        Resignation = 7 => "resignation",
        /// The player lost their connection past the seat's grace period.
        Abandoned = 8 => "abandoned",
    }
}

wire_struct! {
    /// A chess position with its clocks.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ChessView {
        /// The position in FEN.
        pub fen: String,
        /// The moves played, in UCI (castling as the king's two-square move).
        pub moves: Vec<String>,
        /// The same moves in SAN.
        pub san: Vec<String>,
        /// The seat playing white (drawn from the seeds).
        pub white_seat: u32,
        /// The seat to move; none once the game is over.
        pub to_move: Option<u32>,
        pub in_check: bool,
        /// Each colour's time left, white first, in ms, as of `turn_started` (the mover's
        /// clock runs from then).
        pub clock_ms: Vec<u64>,
        pub increment_ms: u32,
        /// When the mover's clock started running.
        pub turn_started: Timestamp,
        /// The seat whose draw offer stands, if any.
        pub draw_offer: Option<u32>,
        pub termination: Option<ChessTermination>,
    }
}

wire_struct! {
    /// One crash player's cash-out.
    #[fixed(13)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CashOut {
        pub seat: u32,
        /// The multiplier cashed out at, in hundredths (250 is 2.50×).
        pub multiplier: u32,
        /// The tick it was taken at.
        pub tick: u32,
        /// Taken by the round's payout cap, not by the player.
        pub forced: bool,
    }
}

wire_struct! {
    /// A crash round.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CrashView {
        /// The multiplier now, in hundredths (100 is 1.00×); at the end, the crash point.
        pub multiplier: u32,
        /// Ticks since the start, at `tick_hz` a second.
        pub tick: u32,
        pub tick_hz: u32,
        /// When the round started rising.
        pub started: Timestamp,
        /// The crash point, in hundredths; only once the round has ended.
        pub crash_point: Option<u32>,
        pub crashed: bool,
        pub cash_outs: Vec<CashOut>,
        /// The multiplier past which everyone still in is cashed out (the round's payout
        /// cap), in hundredths.
        pub cap: u32,
    }
}

wire_struct! {
    /// One quick-math question: `left op right`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct QuestionView {
        /// `+`, `-`, `*` or `/` (exact division).
        pub op: String,
        pub left: i64,
        pub right: i64,
    }
}

wire_struct! {
    /// One player's answer to a question.
    #[fixed(25)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct AnswerView {
        pub question: u32,
        pub answer: i64,
        pub correct: bool,
        pub points: u32,
        pub at: Timestamp,
    }
}

wire_struct! {
    /// A player's standing in a quick-math round.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct QuizPlayerView {
        pub seat: u32,
        pub answered: u32,
        pub correct: u32,
        pub points: u32,
        /// Their answers: to the player themself while the round runs, to everyone once it
        /// has ended (other players and spectators see only the counts until then).
        pub answers: Vec<AnswerView>,
    }
}

wire_struct! {
    /// A quick-math round.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct QuickMathView {
        pub questions: Vec<QuestionView>,
        pub started: Timestamp,
        /// When the countdown ends.
        pub ends: Timestamp,
        pub players: Vec<QuizPlayerView>,
        pub over: bool,
    }
}

wire_enum! {
    /// A session's position, by rule set.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum GameStateView {
        /// Before the start: nothing is drawn or played yet.
        NotStarted(crate::message::Empty) = 0,
        ConnectFour(ConnectFourView) = 1,
        Chess(ChessView) = 2,
        Crash(CrashView) = 3,
        QuickMath(QuickMathView) = 4,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameSessionView {
        pub id: GameSessionId,
        pub game: GameId,
        pub rule_set: RuleSet,
        /// Only to the session's players.
        pub code: Option<String>,
        pub creator: UserId,
        pub status: GameSessionStatus,
        pub end: Option<GameEnd>,
        pub stake: Amount,
        pub currency: Currency,
        pub is_private: bool,
        pub min_players: u32,
        pub max_players: u32,
        pub spectator_fee: Amount,
        /// What the players staked, in all.
        pub pot: Amount,
        /// The platform's rake (taken at the end).
        pub rake: Amount,
        pub rake_bp: u16,
        pub turn_clock_ms: u32,
        pub players: Vec<GamePlayerView>,
        pub spectators: u32,
        pub created_at: Timestamp,
        pub start_deadline: Timestamp,
        pub started_at: Option<Timestamp>,
        pub ended_at: Option<Timestamp>,
        /// When the player to move runs out of time.
        pub turn_deadline: Option<Timestamp>,
        pub version: u64,
        pub state: GameStateView,
        /// SHA-256 of the server seed's hex text, published at creation.
        pub server_seed_hash: [u8; 32],
        /// The server seed, once the session has ended.
        pub server_seed: Option<[u8; SERVER_SEED_BYTES]>,
        /// The nonce of the session's draws.
        pub nonce: u64,
        /// The draws made so far; a secret one (a crash point) only after the end.
        pub draws: Vec<FairDraw>,
        /// What the session holds of the house's bankroll (a crash round's payout cap).
        pub reserve: Amount,
        /// What its end gave back to the bankroll.
        pub house: Amount,
    }
}

impl GameSessionView {
    /// The combined client seed of the draws: the players' seeds in seat order, joined by
    /// `|`.
    pub fn client_seed(&self) -> String {
        let seeds: Vec<&str> = self
            .players
            .iter()
            .map(|p| p.client_seed.as_str())
            .collect();
        seeds.join("|")
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GameSessionList {
        pub total: u32,
        pub sessions: Vec<GameSessionView>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SpectatorList {
        pub session: GameSessionId,
        pub spectators: Vec<SpectatorView>,
    }
}

// Skill ratings.

wire_cenum! {
    /// A rated game's result for one player: a win, draw or loss against the field (in a
    /// game of more than two, against each player below, level with or above them).
    pub enum RatedResult {
        Loss = 0 => "loss",
        Draw = 1 => "draw",
        Win = 2 => "win",
    }
}

wire_struct! {
    /// A player's Glicko-2 rating in a game changed after a rated session. Ratings are in
    /// thousandths of a point, the volatility in millionths.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RatingChanged {
        pub game: GameId,
        pub user: UserId,
        pub session: GameSessionId,
        pub result: RatedResult,
        pub before_milli: i64,
        pub rating_milli: i64,
        pub deviation_milli: i64,
        pub volatility_micro: i64,
        /// Rated games in this game, this one included.
        pub games: u32,
        pub at: Timestamp,
    }
}

wire_struct! {
    /// A game's players by rating, best first (ties by user id).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LeaderboardQuery {
        pub game: GameId,
        pub offset: u32,
        pub limit: u32,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct UserRatingsQuery {
        pub user: UserId,
    }
}

wire_struct! {
    /// A player's rating in one game.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RatingView {
        pub game: GameId,
        pub user: UserId,
        pub username: String,
        /// 1-based place on the game's leaderboard.
        pub rank: u32,
        pub rating_milli: i64,
        pub deviation_milli: i64,
        pub volatility_micro: i64,
        pub games: u32,
        pub wins: u32,
        pub draws: u32,
        pub losses: u32,
        pub rated_at: Timestamp,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Leaderboard {
        pub game: GameId,
        /// Rated players of the game.
        pub total: u32,
        pub entries: Vec<RatingView>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UserRatings {
        pub user: UserId,
        /// The profile's `skill_rating`: the rating of the game they played most.
        pub skill_rating: i32,
        pub ratings: Vec<RatingView>,
    }
}
