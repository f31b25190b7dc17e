//! Skill ratings per player and game, updated after every rated session (Glicko-2, see
//! `tournaments::rating`), the games' leaderboards, and the profile's `skill_rating`.
//!
//! Rated: a completed session of a game of skill (every rule set but crash, which is
//! chance against the house) with two or more players. Each player's session is one rating
//! period whose opponents are the other players, each as they were rated before the
//! session: the player's result against each is a win over a player who finished below, a
//! draw with one level with them and a loss to one above (finishing is won, drew or lost,
//! then the session's score). A resignation, an abandoned game and a flag fall are losses.
//!
//! The profile's `skill_rating` is the rating of the game the player has the most rated
//! games in (the lower game id on a tie), rounded to a whole point; 1000 until rated.

use super::Games;
use crate::Engine;
use crate::tournaments::rating::{self, Rating, Score};
use betbet_protocol::event::{Event, UserChanged};
use betbet_protocol::games::{
    GameId, GameSessionId, GameSessionStatus, Leaderboard, LeaderboardQuery, PlayerStatus,
    RatedResult, RatingChanged, RatingView, RuleSet, UserRatings,
};
use betbet_protocol::query::PAGE_LIMIT_MAX;
use betbet_protocol::types::{Timestamp, UserId};
use std::cmp::Ordering;

const DAY_MICROS: i64 = 86_400_000_000;

/// A player's standing in one game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerRating {
    pub rating: Rating,
    pub games: u32,
    pub wins: u32,
    pub draws: u32,
    pub losses: u32,
    pub rated_at: Timestamp,
}

/// The leaderboard's key: best first, ties by user id.
fn board_key(game: GameId, rating: &Rating, user: UserId) -> (GameId, i64, UserId) {
    (game, -rating.rating_milli, user)
}

/// How a player finished, for comparing two players of a session: won above drew above
/// lost, then by score.
fn finish(status: PlayerStatus, score: i64) -> (u8, i64) {
    let rank = match status {
        PlayerStatus::Won => 2,
        PlayerStatus::Drew => 1,
        _ => 0,
    };
    (rank, score)
}

impl Games {
    fn set_rating(&mut self, user: UserId, game: GameId, rated: PlayerRating) {
        if let Some(old) = self.ratings.get(&(user, game)) {
            self.leaderboard.remove(&board_key(game, &old.rating, user));
        }
        self.leaderboard
            .insert(board_key(game, &rated.rating, user));
        self.ratings.insert((user, game), rated);
    }

    /// The game a user has the most rated games in, with its rating.
    fn main_rating(&self, user: UserId) -> Option<&PlayerRating> {
        self.ratings
            .range((user, GameId(0))..=(user, GameId(u64::MAX)))
            .max_by(|(a_key, a), (b_key, b)| a.games.cmp(&b.games).then(b_key.1.cmp(&a_key.1)))
            .map(|(_, rated)| rated)
    }
}

impl Engine {
    /// Rates a session that just completed, if it is rated.
    pub(super) fn rate_session(&mut self, id: GameSessionId, out: &mut Vec<Event>) {
        let session = &self.games.sessions[&id];
        if session.status != GameSessionStatus::Completed
            || session.rule_set == RuleSet::Crash
            || session.players.len() < 2
        {
            return;
        }
        let game = session.game;
        let now = self.now;
        let before: Vec<(UserId, PlayerRating, (u8, i64))> = session
            .players
            .iter()
            .map(|p| {
                let rated = self.games.ratings.get(&(p.user, game)).cloned();
                let rated = rated.unwrap_or(PlayerRating {
                    rating: Rating::default(),
                    games: 0,
                    wins: 0,
                    draws: 0,
                    losses: 0,
                    rated_at: now,
                });
                (p.user, rated, finish(p.status, p.score))
            })
            .collect();
        let results = results(&before);
        for ((user, old, _), result) in before.iter().zip(&results) {
            let opponents: Vec<(Rating, Score)> = before
                .iter()
                .zip(&result.scores)
                .filter(|((other, _, _), _)| other != user)
                .map(|((_, rated, _), &score)| (rated.rating, score))
                .collect();
            let idle_days = if old.games == 0 {
                0
            } else {
                now.0.saturating_sub(old.rated_at.0) / DAY_MICROS
            };
            let new = rating::rate(old.rating, &opponents, idle_days);
            let rated = PlayerRating {
                rating: new,
                games: old.games + 1,
                wins: old.wins + u32::from(result.overall == RatedResult::Win),
                draws: old.draws + u32::from(result.overall == RatedResult::Draw),
                losses: old.losses + u32::from(result.overall == RatedResult::Loss),
                rated_at: now,
            };
            let games = rated.games;
            self.games.set_rating(*user, game, rated);
            out.push(Event::RatingChanged(RatingChanged {
                game,
                user: *user,
                session: id,
                result: result.overall,
                before_milli: old.rating.rating_milli,
                rating_milli: new.rating_milli,
                deviation_milli: new.deviation_milli,
                volatility_micro: new.volatility_micro,
                games,
                at: now,
            }));
            let skill = self
                .games
                .main_rating(*user)
                .map(|r| r.rating.points())
                .expect("just rated");
            if let Some(player) = self.users.get_mut(*user) {
                player.profile.skill_rating = i32::try_from(skill).unwrap_or(i32::MAX);
            }
            out.push(Event::UserChanged(UserChanged { user: *user }));
        }
    }

    fn rating_view(
        &self,
        (user, game): (UserId, GameId),
        rated: &PlayerRating,
        rank: u32,
    ) -> RatingView {
        RatingView {
            game,
            user,
            username: self.username(user),
            rank,
            rating_milli: rated.rating.rating_milli,
            deviation_milli: rated.rating.deviation_milli,
            volatility_micro: rated.rating.volatility_micro,
            games: rated.games,
            wins: rated.wins,
            draws: rated.draws,
            losses: rated.losses,
            rated_at: rated.rated_at,
        }
    }

    /// A player's 1-based place on their game's leaderboard.
    fn rank(&self, (user, game): (UserId, GameId), rated: &PlayerRating) -> u32 {
        let ahead = self
            .games
            .leaderboard
            .range((game, i64::MIN, UserId(0))..board_key(game, &rated.rating, user))
            .count();
        ahead as u32 + 1
    }

    pub(super) fn leaderboard(&self, q: &LeaderboardQuery) -> Option<Leaderboard> {
        self.games.game(q.game)?;
        let limit = q.limit.min(PAGE_LIMIT_MAX) as usize;
        let board = self
            .games
            .leaderboard
            .range((q.game, i64::MIN, UserId(0))..=(q.game, i64::MAX, UserId(u64::MAX)));
        let total = board.clone().count() as u32;
        let entries = board
            .skip(q.offset as usize)
            .take(limit)
            .enumerate()
            .map(|(i, &(game, _, user))| {
                let rated = &self.games.ratings[&(user, game)];
                self.rating_view((user, game), rated, q.offset + i as u32 + 1)
            })
            .collect();
        Some(Leaderboard {
            game: q.game,
            total,
            entries,
        })
    }

    pub(super) fn user_ratings(&self, user: UserId) -> Option<UserRatings> {
        let profile = &self.users.get(user)?.profile;
        let ratings = self
            .games
            .ratings
            .range((user, GameId(0))..=(user, GameId(u64::MAX)))
            .map(|(&key, rated)| self.rating_view(key, rated, self.rank(key, rated)))
            .collect();
        Some(UserRatings {
            user,
            skill_rating: profile.skill_rating,
            ratings,
        })
    }

    /// The ratings' invariants: the leaderboard indexes exactly the ratings, and every
    /// rated user's profile shows the rating of their main game.
    pub(super) fn check_ratings(&self) {
        let games = &self.games;
        assert_eq!(games.leaderboard.len(), games.ratings.len());
        for (&(user, game), rated) in &games.ratings {
            assert!(games.game(game).is_some(), "a rating of a known game");
            assert!(
                games
                    .leaderboard
                    .contains(&board_key(game, &rated.rating, user)),
                "the leaderboard has {user:?} in {game:?}"
            );
            assert_eq!(rated.games, rated.wins + rated.draws + rated.losses);
            let main = games.main_rating(user).expect("rated");
            let profile = &self.users.get(user).expect("a rated user exists").profile;
            assert_eq!(i64::from(profile.skill_rating), main.rating.points());
        }
    }
}

/// One player's results in a session: against each seat (their own ignored), and overall.
struct Results {
    scores: Vec<Score>,
    overall: RatedResult,
}

fn results(players: &[(UserId, PlayerRating, (u8, i64))]) -> Vec<Results> {
    players
        .iter()
        .map(|(_, _, mine)| {
            let scores = players
                .iter()
                .map(|(_, _, theirs)| match mine.cmp(theirs) {
                    Ordering::Greater => Score::Win,
                    Ordering::Equal => Score::Draw,
                    Ordering::Less => Score::Loss,
                })
                .collect();
            let overall = match mine.0 {
                2 => RatedResult::Win,
                1 => RatedResult::Draw,
                _ => RatedResult::Loss,
            };
            Results { scores, overall }
        })
        .collect()
}
