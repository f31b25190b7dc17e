//! The tournaments domain's commands, events, queries and views (they belong to the games
//! family in the core: a tournament's matches are game sessions).

pub use crate::games::TournamentId;
use crate::games::{GameId, GameSessionId, SERVER_SEED_BYTES};
use crate::types::{Amount, Currency, Timestamp, UserId};
use crate::{wire_cenum, wire_struct};

wire_cenum! {
    pub enum TournamentFormat {
        SingleElimination = 0 => "single_elimination",
        DoubleElimination = 1 => "double_elimination",
        RoundRobin = 2 => "round_robin",
        Swiss = 3 => "swiss",
    }
}

wire_cenum! {
    pub enum TournamentStatus {
        /// Taking registrations until `starts_at`.
        Registration = 0 => "registration",
        Running = 1 => "running",
        Completed = 2 => "completed",
        /// Too few players at the start, or cancelled by its creator or an admin before:
        /// every entry fee and the prize pool were refunded.
        Cancelled = 3 => "cancelled",
    }
}

wire_cenum! {
    pub enum TournamentChange {
        Created = 0 => "created",
        Registered = 1 => "registered",
        Unregistered = 2 => "unregistered",
        Started = 3 => "started",
        /// A match's game session was opened: its two players are called to it.
        MatchReady = 4 => "match_ready",
        /// A match ended (a game, a forfeit, a double forfeit).
        MatchEnded = 5 => "match_ended",
        Completed = 6 => "completed",
        Cancelled = 7 => "cancelled",
    }
}

wire_struct! {
    /// Opens a tournament of a game. The creator's `prize_pool` moves into the
    /// tournament's escrow at once; each player's `entry_fee` when they register.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct CreateTournament {
        pub actor: UserId,
        pub game: GameId,
        pub name: String,
        pub format: TournamentFormat,
        /// Single elimination: play a match for third place.
        pub third_place: bool,
        /// Swiss: the number of rounds.
        pub rounds: u32,
        pub entry_fee: Amount,
        pub prize_pool: Amount,
        pub currency: Currency,
        pub max_players: u32,
        pub min_players: u32,
        pub starts_at: Timestamp,
        /// Each paid place's share of the prizes, in basis points summing to 10 000.
        pub distribution_bp: Vec<u16>,
        /// How long a match's players have to take their seats before a no-show forfeits.
        pub check_in_secs: u32,
        /// The gateway's fresh random secret; each match's server seed is derived from it.
        pub server_seed: [u8; SERVER_SEED_BYTES],
    }
}

wire_struct! {
    /// Register, unregister or cancel: the actor and the tournament.
    #[fixed(16)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TournamentAction {
        pub actor: UserId,
        pub tournament: TournamentId,
    }
}

wire_struct! {
    /// Something about a tournament changed; `version` is +1 on every change, so a
    /// watcher sees a gap. `view` is the tournament after it (its rooms send it on).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TournamentChanged {
        pub tournament: TournamentId,
        pub user: UserId,
        pub change: TournamentChange,
        /// The match, for `MatchReady` and `MatchEnded` (0-based, as in the bracket).
        pub match_index: u32,
        pub session: Option<GameSessionId>,
        pub status: TournamentStatus,
        pub version: u64,
        pub view: Box<TournamentView>,
    }
}

wire_struct! {
    #[fixed(8)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TournamentQuery {
        pub tournament: TournamentId,
    }
}

wire_struct! {
    /// Tournaments newest first, of a status and a game if given.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TournamentListQuery {
        pub status: Option<TournamentStatus>,
        pub game: Option<GameId>,
        pub offset: u32,
        pub limit: u32,
    }
}

wire_struct! {
    /// Where a match's side comes from: `kind` is "seed", "bye", "winner" or "loser",
    /// `value` the seed (1-based) or the match (0-based).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SlotView {
        pub kind: String,
        pub value: u32,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MatchView {
        pub index: u32,
        /// "winners", "losers", "third_place", "grand_final", "reset" or "round".
        pub stage: String,
        pub round: u32,
        pub slots: Vec<SlotView>,
        /// The players once known (none for an empty side).
        pub players: Vec<Option<UserId>>,
        /// "pending", "playing", "won", "drawn", "double_forfeit", "walkover" or "void".
        pub state: String,
        /// The winning side (0 or 1) of a won match or a walkover.
        pub winner_side: Option<u32>,
        /// The game sessions played for it, the last one current.
        pub sessions: Vec<GameSessionId>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StandingView {
        pub user: UserId,
        pub seed: u32,
        pub place: u32,
        pub wins: u32,
        pub draws: u32,
        pub losses: u32,
        pub points_half: u32,
        pub buchholz_half: u32,
        pub sonneborn_berger_quarter: u32,
        pub prize: Amount,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct EntrantView {
        pub user: UserId,
        pub username: String,
        /// Once started: the seed (1-based); 0 before.
        pub seed: u32,
        /// The rating in the tournament's game when seeded (1000 unrated).
        pub rating: i64,
        pub registered_at: Timestamp,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TournamentView {
        pub id: TournamentId,
        pub game: GameId,
        pub name: String,
        pub creator: UserId,
        pub format: TournamentFormat,
        pub third_place: bool,
        pub rounds: u32,
        pub status: TournamentStatus,
        pub entry_fee: Amount,
        pub prize_pool: Amount,
        pub currency: Currency,
        pub rake_bp: u16,
        pub max_players: u32,
        pub min_players: u32,
        pub starts_at: Timestamp,
        pub distribution_bp: Vec<u16>,
        pub check_in_secs: u32,
        pub entrants: Vec<EntrantView>,
        pub matches: Vec<MatchView>,
        pub standings: Vec<StandingView>,
        pub current_round: u32,
        /// Swiss: the tournament ended before its rounds (no pairing without a rematch).
        pub ended_early: bool,
        /// What the prizes were paid from: the pool and the fees less the rake.
        pub prizes_total: Amount,
        pub rake: Amount,
        pub version: u64,
        pub created_at: Timestamp,
        pub started_at: Option<Timestamp>,
        pub ended_at: Option<Timestamp>,
    }
}

wire_struct! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TournamentList {
        pub total: u32,
        pub tournaments: Vec<TournamentView>,
    }
}
