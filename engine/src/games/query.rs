//! The games' reads: the catalog, session lists, one session as its viewer may see it, and
//! its spectators.

use super::{Game, GameSession};
use crate::Engine;
use betbet_protocol::games::{
    GameList, GamePlayerView, GameSessionList, GameSessionQuery, GameSessionStatus,
    GameSessionView, GameView, SpectatorList, SpectatorView,
};
use betbet_protocol::message::Empty;
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply};
use betbet_protocol::types::{Amount, UserId};

fn game_view(game: &Game, (waiting, active): (u32, u32)) -> GameView {
    GameView {
        id: game.id,
        settings: game.settings.clone(),
        is_active: game.is_active,
        created_at: game.created_at,
        updated_at: game.updated_at,
        sessions_waiting: waiting,
        sessions_active: active,
    }
}

impl Engine {
    /// Answers the games' queries (the engine's `query` routes them here).
    pub(crate) fn query_games(&self, query: &Query) -> QueryReply {
        let not_found = || QueryReply::NotFound(Empty {});
        match query {
            Query::Games(q) => {
                let limit = q.limit.min(PAGE_LIMIT_MAX) as usize;
                let matching: Vec<&Game> = self
                    .games
                    .games
                    .iter()
                    .filter(|g| q.inactive || g.is_active)
                    .filter(|g| {
                        q.category
                            .as_ref()
                            .is_none_or(|c| g.settings.category.to_lowercase() == c.to_lowercase())
                    })
                    .collect();
                let page: Vec<&Game> = matching
                    .iter()
                    .skip(q.offset as usize)
                    .take(limit)
                    .copied()
                    .collect();
                let counts = self.live_counts(&page);
                QueryReply::Games(GameList {
                    total: matching.len() as u32,
                    games: page
                        .iter()
                        .zip(counts)
                        .map(|(g, counts)| game_view(g, counts))
                        .collect(),
                })
            }
            Query::Game(q) => self.games.game(q.game).map_or_else(not_found, |g| {
                QueryReply::Game(game_view(g, self.live_counts(&[g])[0]))
            }),
            Query::GameCategories(_) => QueryReply::GameCategories(crate::query::category_counts(
                self.games
                    .games
                    .iter()
                    .map(|g| (g.settings.category.as_str(), g.is_active)),
            )),
            Query::ActiveGameSessions(q) => {
                let limit = q.limit.min(PAGE_LIMIT_MAX) as usize;
                let matching: Vec<&GameSession> = self
                    .games
                    .live
                    .iter()
                    .rev()
                    .map(|id| &self.games.sessions[id])
                    .filter(|s| !s.is_private)
                    .filter(|s| q.game.is_none_or(|g| s.game == g))
                    .filter(|s| q.stake_min.is_none_or(|m| s.stake >= m.0))
                    .filter(|s| q.stake_max.is_none_or(|m| s.stake <= m.0))
                    .collect();
                QueryReply::GameSessions(GameSessionList {
                    total: matching.len() as u32,
                    sessions: matching
                        .into_iter()
                        .skip(q.offset as usize)
                        .take(limit)
                        .map(|s| self.game_session_view(s, UserId::SYSTEM))
                        .collect(),
                })
            }
            Query::GameSession(q) => self.visible_session(q).map_or_else(not_found, |s| {
                QueryReply::GameSession(self.game_session_view(s, q.viewer))
            }),
            Query::GameSessionByCode(q) => self
                .games
                .codes
                .get(&q.code)
                .map(|id| &self.games.sessions[id])
                .map_or_else(not_found, |s| {
                    QueryReply::GameSession(self.game_session_view(s, UserId::SYSTEM))
                }),
            Query::Bankroll(q) => QueryReply::Bankroll(self.bankroll_view(q)),
            Query::Leaderboard(q) => self
                .leaderboard(q)
                .map_or_else(not_found, QueryReply::Leaderboard),
            Query::UserRatings(q) => self
                .user_ratings(q.user)
                .map_or_else(not_found, QueryReply::UserRatings),
            Query::Tournament(q) => self
                .games
                .tournaments
                .tournaments
                .get(&q.tournament)
                .map_or_else(not_found, |t| {
                    QueryReply::Tournament(self.tournament_view(t))
                }),
            Query::Tournaments(q) => QueryReply::Tournaments(self.tournament_list(q)),
            Query::GameSpectators(q) => self.visible_session(q).map_or_else(not_found, |s| {
                QueryReply::GameSpectators(SpectatorList {
                    session: s.id,
                    spectators: s
                        .spectators
                        .iter()
                        .map(|sp| SpectatorView {
                            user: sp.user,
                            username: self.username(sp.user),
                            fee_paid: Amount(sp.fee_paid),
                            joined_at: sp.joined_at,
                        })
                        .collect(),
                })
            }),
            _ => not_found(),
        }
    }

    /// A session if its viewer may see it: a private one only its players, spectators,
    /// admins and the system itself (the history projection); to anyone else it does not
    /// exist. Gateways never ask as the system for a caller.
    fn visible_session(&self, q: &GameSessionQuery) -> Option<&GameSession> {
        let session = self.games.session(q.session)?;
        (q.viewer == UserId::SYSTEM || self.may_see(session, q.viewer)).then_some(session)
    }

    pub(crate) fn username(&self, user: UserId) -> String {
        self.users
            .get(user)
            .map(|u| u.username.clone())
            .unwrap_or_default()
    }

    /// The public sessions waiting and playing of each game, in one pass over the live
    /// sessions (private ones are not counted: they are nobody else's business).
    fn live_counts(&self, games: &[&Game]) -> Vec<(u32, u32)> {
        let mut counts = vec![(0, 0); games.len()];
        for id in &self.games.live {
            let session = &self.games.sessions[id];
            if session.is_private {
                continue;
            }
            if let Some(i) = games.iter().position(|g| g.id == session.game) {
                match session.status {
                    GameSessionStatus::Waiting => counts[i].0 += 1,
                    GameSessionStatus::Active => counts[i].1 += 1,
                    GameSessionStatus::Completed | GameSessionStatus::Cancelled => {}
                }
            }
        }
        counts
    }

    pub(super) fn game_session_view(
        &self,
        session: &GameSession,
        viewer: UserId,
    ) -> GameSessionView {
        let player = session.seat_of(viewer).is_some();
        GameSessionView {
            id: session.id,
            game: session.game,
            rule_set: session.rule_set,
            code: player.then(|| session.code.clone()),
            creator: session.creator,
            status: session.status,
            end: session.end,
            stake: Amount(session.stake),
            currency: session.currency,
            is_private: session.is_private,
            min_players: session.min_players,
            max_players: session.max_players,
            spectator_fee: Amount(session.spectator_fee),
            pot: Amount(session.pot()),
            rake: Amount(session.rake),
            rake_bp: session.rake_bp,
            turn_clock_ms: session.turn_clock_ms,
            players: session
                .players
                .iter()
                .enumerate()
                .map(|(seat, p)| GamePlayerView {
                    user: p.user,
                    username: self.username(p.user),
                    seat: seat as u32,
                    status: p.status,
                    score: p.score,
                    payout: Amount(p.payout),
                    joined_at: p.joined_at,
                    client_seed: p.client_seed.clone(),
                })
                .collect(),
            spectators: session.spectators.len() as u32,
            created_at: session.created_at,
            start_deadline: session.start_deadline,
            started_at: session.started_at,
            ended_at: session.ended_at,
            turn_deadline: (session.status == GameSessionStatus::Active)
                .then_some(session.deadline)
                .flatten(),
            version: session.version,
            state: session.state.view_for(session.seat_of(viewer)),
            server_seed_hash: super::fairness::seed_hash(&session.server_seed),
            server_seed: session.status.ended().then_some(session.server_seed),
            nonce: 0,
            // A secret draw (a crash point) would tell the round's future.
            draws: session
                .draws
                .iter()
                .filter(|d| session.status.ended() || !d.purpose.secret())
                .copied()
                .collect(),
            reserve: Amount(session.reserve),
            house: Amount(session.house),
        }
    }
}
