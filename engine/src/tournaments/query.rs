//! The tournaments' reads: one tournament with its bracket, standings and prizes, and
//! lists.

use super::Tournament;
use super::bracket::{Entry, MatchResult, Slot, Stage};
use crate::Engine;
use betbet_protocol::query::PAGE_LIMIT_MAX;
use betbet_protocol::tournaments::{
    EntrantView, MatchView, SlotView, StandingView, TournamentList, TournamentListQuery,
    TournamentView,
};
use betbet_protocol::types::Amount;

fn slot_view(slot: Slot) -> SlotView {
    let (kind, value) = match slot {
        Slot::Seed(seed) => ("seed", u32::from(seed)),
        Slot::Bye => ("bye", 0),
        Slot::Winner(m) => ("winner", u32::from(m)),
        Slot::Loser(m) => ("loser", u32::from(m)),
    };
    SlotView {
        kind: kind.to_owned(),
        value,
    }
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Winners => "winners",
        Stage::Losers => "losers",
        Stage::ThirdPlace => "third_place",
        Stage::GrandFinal => "grand_final",
        Stage::Reset => "reset",
        Stage::Round => "round",
    }
}

impl Engine {
    pub(crate) fn tournament_view(&self, t: &Tournament) -> TournamentView {
        let user_of = |seed: u16| t.entrants[usize::from(seed) - 1].user;
        let (matches, standings, current_round, ended_early) = match &t.bracket {
            None => (Vec::new(), Vec::new(), 0, false),
            Some(bracket) => {
                let matches = bracket
                    .matches
                    .iter()
                    .enumerate()
                    .map(|(index, m)| {
                        let sessions = t.plays.get(&(index as u16)).cloned().unwrap_or_default();
                        // Playing: its session is open (a round robin's later rounds wait
                        // for theirs).
                        let (state, winner_side) = match m.result {
                            None if m.is_playable() && !sessions.is_empty() => ("playing", None),
                            None => ("pending", None),
                            Some(MatchResult::Won(side)) => ("won", Some(u32::from(side))),
                            Some(MatchResult::Drawn) => ("drawn", None),
                            Some(MatchResult::DoubleForfeit) => ("double_forfeit", None),
                            Some(MatchResult::Walkover(side)) => {
                                ("walkover", Some(u32::from(side)))
                            }
                            Some(MatchResult::Void) => ("void", None),
                        };
                        MatchView {
                            index: index as u32,
                            stage: stage_name(m.stage).to_owned(),
                            round: u32::from(m.round),
                            slots: m.slots.iter().map(|&s| slot_view(s)).collect(),
                            players: m
                                .sides
                                .iter()
                                .map(|side| match side {
                                    Entry::Player(seed) => Some(user_of(*seed)),
                                    Entry::Pending | Entry::Empty => None,
                                })
                                .collect(),
                            state: state.to_owned(),
                            winner_side,
                            sessions,
                        }
                    })
                    .collect();
                let standings = bracket
                    .standings()
                    .iter()
                    .map(|s| StandingView {
                        user: user_of(s.seed),
                        seed: u32::from(s.seed),
                        place: u32::from(s.place),
                        wins: u32::from(s.wins),
                        draws: u32::from(s.draws),
                        losses: u32::from(s.losses),
                        points_half: s.points_half,
                        buchholz_half: s.buchholz_half,
                        sonneborn_berger_quarter: s.sonneborn_berger_quarter,
                        prize: Amount(t.prizes.get(usize::from(s.seed) - 1).copied().unwrap_or(0)),
                    })
                    .collect();
                (
                    matches,
                    standings,
                    u32::from(bracket.current_round()),
                    bracket.ended_early,
                )
            }
        };
        let seeded = t.bracket.is_some();
        TournamentView {
            id: t.id,
            game: t.game,
            name: t.name.clone(),
            creator: t.creator,
            format: t.format,
            third_place: t.third_place,
            rounds: t.rounds,
            status: t.status,
            entry_fee: Amount(t.entry_fee),
            prize_pool: Amount(t.prize_pool),
            currency: t.currency,
            rake_bp: t.rake_bp,
            max_players: t.max_players,
            min_players: t.min_players,
            starts_at: t.starts_at,
            distribution_bp: t.distribution_bp.clone(),
            check_in_secs: t.check_in_secs,
            entrants: t
                .entrants
                .iter()
                .enumerate()
                .map(|(i, e)| EntrantView {
                    user: e.user,
                    username: self.username(e.user),
                    seed: if seeded { i as u32 + 1 } else { 0 },
                    rating: if seeded {
                        (e.rating_milli + 500).div_euclid(1_000)
                    } else {
                        self.games
                            .ratings
                            .get(&(e.user, t.game))
                            .map_or(super::rating::RATING_DEFAULT, |r| r.rating.points())
                    },
                    registered_at: e.registered_at,
                })
                .collect(),
            matches,
            standings,
            current_round,
            ended_early,
            prizes_total: Amount(t.prizes_total),
            rake: Amount(t.rake),
            version: t.version,
            created_at: t.created_at,
            started_at: t.started_at,
            ended_at: t.ended_at,
        }
    }

    pub(crate) fn tournament_list(&self, q: &TournamentListQuery) -> TournamentList {
        let limit = q.limit.min(PAGE_LIMIT_MAX) as usize;
        let matching: Vec<&Tournament> = self
            .games
            .tournaments
            .tournaments
            .values()
            .rev()
            .filter(|t| q.status.is_none_or(|s| t.status == s))
            .filter(|t| q.game.is_none_or(|g| t.game == g))
            .collect();
        TournamentList {
            total: matching.len() as u32,
            tournaments: matching
                .into_iter()
                .skip(q.offset as usize)
                .take(limit)
                .map(|t| self.tournament_view(t))
                .collect(),
        }
    }
}
