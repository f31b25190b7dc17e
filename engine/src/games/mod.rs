//! Games: the catalog, staked sessions, their rule sets, clocks and provably fair draws.
//!
//! - `catalog`: games an admin creates, updates and deactivates.
//! - `sessions`: a session's life and money — players stake into the session's escrow
//!   account as they join (`waiting`), the session starts when full or when its creator
//!   starts it (`active`), and at the end the pot minus the game's rake is paid to the
//!   winners (`completed`); a session cancelled or not started by its deadline refunds
//!   every stake (`cancelled`). Spectators pay a fee split between players and platform.
//! - `rules`: the rule-set interface every game implements (deterministic, sans-IO); one
//!   module per rule set (`connect_four`, `chess`, `crash`, `quick_math`).
//! - `bankroll`: the house's crash bankroll, funded by admins; each crash session reserves
//!   its payout cap from it at creation and gives back what it does not pay.
//! - `fairness`: HMAC-SHA256 commit–reveal draws from the session's server seed.
//! - `ratings`: Glicko-2 skill ratings per player and game after every rated session,
//!   the leaderboards and the profile's `skill_rating`.
//! - `query`: the views.
//!
//! Each live session has at most one armed timer (its start deadline while waiting, the
//! turn clock of the player to move while active), kept in one ordered set, so a `Tick`
//! advances every due session at once and `next_deadline` is the set's first entry.

mod bankroll;
mod catalog;
pub(crate) mod chess;
pub(crate) mod connect_four;
pub(crate) mod crash;
pub(crate) mod fairness;
mod query;
pub(crate) mod quick_math;
mod ratings;
pub(crate) mod rules;
mod sessions;

use crate::family::{CommandFamily, misrouted};
use crate::{Ctx, Engine};
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::games::{
    FairDraw, GameEnd, GameId, GameSessionId, GameSessionStatus, GameSettings, PlayerStatus,
    RuleSet, SERVER_SEED_BYTES,
};
use betbet_protocol::message::Reply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{AccountId, Currency, Timestamp, UserId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub(crate) use ratings::PlayerRating;
pub(crate) use rules::RuleState;

/// The longest game name, category and thumbnail URL, and the largest rules document.
pub const GAME_NAME_MAX: usize = 255;
pub const GAME_RULES_MAX: usize = 8_192;
pub const THUMBNAIL_URL_MAX: usize = 500;
/// Turn clocks run from 1 s to 1 h; start timeouts from 10 s to 7 days.
pub const TURN_CLOCK_MS_MIN: u32 = 1_000;
pub const TURN_CLOCK_MS_MAX: u32 = 3_600_000;
/// A chess increment runs from 0 to 3 minutes a move.
pub const INCREMENT_MS_MAX: u32 = 180_000;
pub const START_TIMEOUT_SECS_MIN: u32 = 10;
pub const START_TIMEOUT_SECS_MAX: u32 = 7 * 24 * 3600;
/// The largest rake and spectator share, in basis points.
pub const RAKE_BP_MAX: u16 = 2_500;
pub const SHARE_BP_MAX: u16 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    pub id: GameId,
    pub settings: GameSettings,
    pub is_active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    pub user: UserId,
    /// The wallet the stake came from and the payout goes to.
    pub account: AccountId,
    pub status: PlayerStatus,
    pub score: i64,
    pub payout: i64,
    pub joined_at: Timestamp,
    pub client_seed: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spectator {
    pub user: UserId,
    pub fee_paid: i64,
    pub joined_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameSession {
    pub id: GameSessionId,
    pub game: GameId,
    pub rule_set: RuleSet,
    pub code: String,
    pub creator: UserId,
    pub status: GameSessionStatus,
    pub end: Option<GameEnd>,
    pub stake: i64,
    pub currency: Currency,
    pub is_private: bool,
    pub min_players: u32,
    pub max_players: u32,
    pub spectator_fee: i64,
    /// Copied from the game at creation: a later change of the game does not change a
    /// session already created.
    pub rake_bp: u16,
    pub spectator_share_bp: u16,
    pub turn_clock_ms: u32,
    pub increment_ms: u32,
    pub tick_hz: u32,
    pub house_edge_bp: u16,
    pub questions: u32,
    /// What the session holds of the house's bankroll (a crash round's payout cap above
    /// its stakes), in the escrow with the stakes while it is live.
    pub reserve: i64,
    /// What the end gave back to the bankroll (a crash round's reserve and lost stakes
    /// less its payouts above them).
    pub house: i64,
    /// The games escrow account of the session's currency: it holds every live
    /// session's stakes until their end.
    pub escrow: AccountId,
    /// Seats in join order.
    pub players: Vec<Player>,
    pub spectators: Vec<Spectator>,
    pub created_at: Timestamp,
    pub start_deadline: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// The session's one armed timer, mirrored in [`Games::timers`].
    pub deadline: Option<Timestamp>,
    /// +1 on every change.
    pub version: u64,
    pub server_seed: [u8; SERVER_SEED_BYTES],
    pub draws: Vec<FairDraw>,
    pub rake: i64,
    pub state: RuleState,
    /// A tournament match's session: the tournament and the match. It has no stake, only
    /// the match's two players may sit down, and nobody may leave, cancel or start it.
    pub tournament: Option<(betbet_protocol::tournaments::TournamentId, u16)>,
}

impl GameSession {
    pub fn seat_of(&self, user: UserId) -> Option<usize> {
        self.players.iter().position(|p| p.user == user)
    }

    /// What the escrow holds while the session is live: every stake.
    pub fn pot(&self) -> i64 {
        self.stake * self.players.len() as i64
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Games {
    /// `games[i]` has id `i + 1`.
    pub games: Vec<Game>,
    /// Live sessions and the most recent ended ones (at most `game_sessions_kept`).
    pub sessions: BTreeMap<GameSessionId, GameSession>,
    pub next_session: u64,
    /// Waiting and active sessions.
    pub live: BTreeSet<GameSessionId>,
    /// Ended sessions, oldest first: the first is forgotten when the window is full (the
    /// history store keeps them).
    pub ended: VecDeque<GameSessionId>,
    /// Live sessions' codes.
    pub codes: BTreeMap<String, GameSessionId>,
    /// Every live session's armed timer.
    pub timers: BTreeSet<(Timestamp, GameSessionId)>,
    /// Seats each user holds in live sessions (bounded by `game_seats_per_user_max`).
    pub seats: BTreeMap<UserId, u32>,
    /// Every rated player's rating per game (at most one per user and game).
    pub ratings: BTreeMap<(UserId, GameId), ratings::PlayerRating>,
    /// The ratings by game, best first: `(game, −rating, user)`.
    pub leaderboard: BTreeSet<(GameId, i64, UserId)>,
    pub tournaments: crate::tournaments::Tournaments,
}

impl Games {
    pub fn game(&self, id: GameId) -> Option<&Game> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.games.get(index)
    }

    fn game_mut(&mut self, id: GameId) -> Option<&mut Game> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.games.get_mut(index)
    }

    pub fn session(&self, id: GameSessionId) -> Option<&GameSession> {
        self.sessions.get(&id)
    }

    /// The house's bankroll account of `currency`, once one was funded.
    pub fn bankroll(
        &self,
        ledger: &crate::ledger::Ledger,
        currency: Currency,
    ) -> Option<AccountId> {
        ledger.find(crate::ledger::Owner::Bankroll, currency)
    }

    /// Sets (or clears) a live session's one timer.
    fn arm(&mut self, id: GameSessionId, at: Option<Timestamp>) {
        let session = self.sessions.get_mut(&id).expect("armed session exists");
        if let Some(old) = session.deadline.take() {
            self.timers.remove(&(old, id));
        }
        session.deadline = at;
        if let Some(at) = at {
            self.timers.insert((at, id));
        }
    }
}

pub(crate) struct Family;

impl CommandFamily for Family {
    fn apply(
        engine: &mut Engine,
        command: &Command,
        _ctx: &Ctx,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode> {
        match command {
            Command::CreateGame(c) => engine.create_game(c, out),
            Command::UpdateGame(c) => engine.update_game(c, out),
            // The old layouts, from journals written before `increment_ms`.
            Command::CreateGameV1(c) => engine.create_game(&c.clone().into(), out),
            Command::UpdateGameV1(c) => engine.update_game(&c.clone().into(), out),
            Command::CreateGameSession(c) => engine.create_game_session(c, out),
            Command::JoinGameSession(c) => engine.join_game_session(c, out),
            Command::LeaveGameSession(c) => engine.leave_game_session(c, out),
            Command::CancelGameSession(c) => engine.cancel_game_session(c, out),
            Command::StartGameSession(c) => engine.start_game_session(c, out),
            Command::GameMove(c) => engine.game_move(c, out),
            Command::ResignGame(c) => engine.resign_game(c, out),
            Command::SetClientSeed(c) => engine.set_client_seed(c, out),
            Command::SpectateGameSession(c) => engine.spectate_game_session(c, out),
            Command::PostGameChat(c) => engine.post_game_chat(c, out),
            Command::AbandonGameSession(c) => engine.abandon_game_session(c, out),
            Command::FundBankroll(c) => engine.fund_bankroll(c, out),
            Command::CreateTournament(c) => engine.create_tournament(c, out),
            Command::RegisterTournament(c) => engine.register_tournament(c, out),
            Command::UnregisterTournament(c) => engine.unregister_tournament(c, out),
            Command::CancelTournament(c) => engine.cancel_tournament(c, out),
            Command::StartTournament(c) => engine.start_tournament_early(c, out),
            other => misrouted(other, "games"),
        }
    }

    /// Sessions whose start deadline passed are cancelled and refunded; players whose
    /// turn clock ran out lose.
    /// Tournaments whose start is due begin (or are cancelled and refunded).
    fn tick(engine: &mut Engine, out: &mut Vec<Event>) {
        engine.run_game_timers(out);
        engine.run_tournament_timers(out);
    }

    fn next_deadline(engine: &Engine) -> Option<Timestamp> {
        let sessions = engine.games.timers.first().map(|&(at, _)| at);
        let tournaments = engine.games.tournaments.timers.first().map(|&(at, _)| at);
        sessions.into_iter().chain(tournaments).min()
    }

    fn check(engine: &Engine) {
        engine.check_games();
        engine.check_ratings();
        engine.check_tournaments();
    }
}
