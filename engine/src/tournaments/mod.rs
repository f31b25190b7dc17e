//! Tournaments: their formats, prizes and the skill ratings that seed them.
//!
//! - `bracket`: each format as a graph of matches whose sides name where their players
//!   come from, results and standings with tiebreaks;
//! - `prizes`: a pool paid out by a distribution of places, ties splitting exactly;
//! - `rating`: Glicko-2 in fixed-point integers, one rating per player and game;
//! - `lifecycle`: a tournament's registration, start, matches as game sessions, results,
//!   forfeits and prizes (commands of the games family);
//! - `query`: its views.
//!
//! The first three are pure and deterministic, so the engine keeps their state in its
//! snapshot and replay reaches the same brackets, payouts and ratings.

pub mod bracket;
mod lifecycle;
pub mod prizes;
mod query;
pub mod rating;

use betbet_protocol::games::{GameId, GameSessionId, SERVER_SEED_BYTES};
use betbet_protocol::tournaments::{TournamentFormat, TournamentId, TournamentStatus};
use betbet_protocol::types::{AccountId, Currency, Timestamp, UserId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A registered player; in seed order once the tournament started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entrant {
    pub user: UserId,
    /// The wallet the fee came from and prizes go to.
    pub account: AccountId,
    pub registered_at: Timestamp,
    /// The rating in the game when seeded (0 before the start).
    pub rating_milli: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tournament {
    pub id: TournamentId,
    pub game: GameId,
    pub name: String,
    pub creator: UserId,
    pub creator_wallet: AccountId,
    pub format: TournamentFormat,
    pub third_place: bool,
    pub rounds: u32,
    pub entry_fee: i64,
    pub prize_pool: i64,
    pub currency: Currency,
    /// The game's rake at creation, taken from the entry fees at the start.
    pub rake_bp: u16,
    pub max_players: u32,
    pub min_players: u32,
    pub starts_at: Timestamp,
    pub distribution_bp: Vec<u16>,
    pub check_in_secs: u32,
    pub server_seed: [u8; SERVER_SEED_BYTES],
    pub status: TournamentStatus,
    /// The tournaments escrow of its currency.
    pub escrow: AccountId,
    pub entrants: Vec<Entrant>,
    pub bracket: Option<bracket::Bracket>,
    /// Each match's game sessions, the last one current.
    pub plays: BTreeMap<u16, Vec<GameSessionId>>,
    /// By seed, once completed.
    pub prizes: Vec<i64>,
    /// The pool and the fees less the rake, from the start.
    pub prizes_total: i64,
    /// The rake and, at the end, the units no prize took.
    pub rake: i64,
    pub version: u64,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tournaments {
    pub tournaments: BTreeMap<TournamentId, Tournament>,
    pub next: u64,
    /// Registering and running tournaments.
    pub live: BTreeSet<TournamentId>,
    /// Each registering tournament's start.
    pub timers: BTreeSet<(Timestamp, TournamentId)>,
    /// Ended tournaments kept, oldest first.
    pub ended: VecDeque<TournamentId>,
}

#[cfg(test)]
mod tests;
