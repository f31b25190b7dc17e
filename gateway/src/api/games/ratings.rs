//! Skill ratings: a game's leaderboard and a player's ratings with their history.
//!
//! Ratings are Glicko-2 (docs/games.md, "Skill ratings"): `rating` is rounded to a whole
//! point, `rating_exact` keeps the core's thousandths, `rating_deviation` is the
//! uncertainty (350 for a newcomer), and a player stays `provisional` while it is above
//! 110, as chess sites mark them.

use super::parse_game;
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{PAGE_MAX, Params, bounded, time};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use betbet_protocol::games::{
    GameId, LeaderboardQuery, RatingChanged, RatingView, UserRatingsQuery,
};
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply};
use betbet_protocol::types::UserId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Above this deviation (in thousandths) a rating is provisional.
const PROVISIONAL_DEVIATION_MILLI: i64 = 110_000;

/// `units / 10^decimals` as an exact decimal string.
fn decimal(units: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    let units = units.unsigned_abs();
    let scale_u = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        units / scale_u,
        units % scale_u,
        width = decimals as usize
    )
}

fn points(milli: i64) -> i64 {
    (milli + 500).div_euclid(1_000)
}

/// A player's rating in one game.
#[derive(Serialize, ToSchema)]
pub(super) struct Rating {
    /// 1-based place on the game's leaderboard.
    rank: u32,
    game_id: String,
    user_id: String,
    username: String,
    /// Rounded to a whole point.
    rating: i64,
    /// In thousandths, as the core keeps it.
    rating_exact: String,
    /// The rating's uncertainty, rounded (350 for a newcomer).
    rating_deviation: i64,
    volatility: String,
    /// The deviation is still above 110.
    provisional: bool,
    games: u32,
    wins: u32,
    draws: u32,
    losses: u32,
    last_rated_at: String,
}

fn rating_json(v: &RatingView) -> Rating {
    Rating {
        rank: v.rank,
        game_id: v.game.public(),
        user_id: v.user.public(),
        username: v.username.clone(),
        rating: points(v.rating_milli),
        rating_exact: decimal(v.rating_milli, 3),
        rating_deviation: points(v.deviation_milli),
        volatility: decimal(v.volatility_micro, 6),
        provisional: v.deviation_milli > PROVISIONAL_DEVIATION_MILLI,
        games: v.games,
        wins: v.wins,
        draws: v.draws,
        losses: v.losses,
        last_rated_at: time(v.rated_at),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct LeaderboardParams {
    /// The page, from 1 (the default).
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Players per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Leaderboard {
    game_id: String,
    page: u32,
    limit: u32,
    /// Rated players of the game, over all pages.
    total: u32,
    /// Best first; equal ratings by user id.
    players: Vec<Rating>,
}

/// A game's rated players, best first.
#[utoipa::path(get, path = "/games/{game_id}/leaderboard", tag = "games",
    params(LeaderboardParams),
    responses((status = 200, description = "A page of the leaderboard", body = Leaderboard)))]
pub(super) async fn leaderboard(
    State(state): State<AppState>,
    Path(game_id): Path<String>,
    Params(params): Params<LeaderboardParams>,
) -> ApiResult<Json<Leaderboard>> {
    let game = parse_game(&game_id)?;
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let QueryReply::Leaderboard(board) = state
        .query(Query::Leaderboard(LeaderboardQuery {
            game,
            offset: (page - 1).saturating_mul(limit),
            limit,
        }))
        .await?
    else {
        return Err(ApiError::not_found("game"));
    };
    Ok(Json(Leaderboard {
        game_id: board.game.public(),
        page,
        limit,
        total: board.total,
        players: board.entries.iter().map(rating_json).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct RatingsParams {
    /// Only this game's history (`game_<n>`).
    game_id: Option<String>,
    /// The history's page, from 1 (the default).
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// History entries per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// One rated game's change of a player's rating.
#[derive(Serialize, ToSchema)]
pub(super) struct RatingChange {
    game_id: String,
    session_id: String,
    #[schema(pattern = "^(win|draw|loss)$")]
    result: &'static str,
    rating_before: String,
    rating: String,
    rating_deviation: i64,
    /// The player's rated games in this game, this one included.
    games: u32,
    at: String,
}

fn change_json(e: &RatingChanged) -> RatingChange {
    RatingChange {
        game_id: e.game.public(),
        session_id: e.session.public(),
        result: e.result.as_str(),
        rating_before: decimal(e.before_milli, 3),
        rating: decimal(e.rating_milli, 3),
        rating_deviation: points(e.deviation_milli),
        games: e.games,
        at: time(e.at),
    }
}

#[derive(Serialize, ToSchema)]
pub(super) struct UserRatings {
    user_id: String,
    /// The profile's `skill_rating`: the rating of the game they have played the most
    /// rated games of (1000 until rated).
    skill_rating: i32,
    /// One per game they are rated in.
    ratings: Vec<Rating>,
    /// Their rating changes, newest first, from the history store (absent when the
    /// platform runs without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<RatingChange>>,
}

/// A player's rating in every game they are rated in, and its history.
#[utoipa::path(get, path = "/users/{user_id}/ratings", tag = "games",
    params(RatingsParams),
    responses((status = 200, description = "The player's ratings", body = UserRatings)))]
pub(super) async fn user_ratings(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Params(params): Params<RatingsParams>,
) -> ApiResult<Json<UserRatings>> {
    let user: UserId = crate::ids::parse_path(&user_id, "user")?;
    let game: Option<GameId> = params.game_id.as_deref().map(parse_game).transpose()?;
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let QueryReply::UserRatings(ratings) = state
        .query(Query::UserRatings(UserRatingsQuery { user }))
        .await?
    else {
        return Err(ApiError::not_found("user"));
    };
    let history = match state.history().await? {
        Some(history) => Some(
            history
                .rating_history(user, game, (page - 1).saturating_mul(limit), limit)
                .await?
                .iter()
                .map(change_json)
                .collect(),
        ),
        None => None,
    };
    Ok(Json(UserRatings {
        user_id: ratings.user.public(),
        skill_rating: ratings.skill_rating,
        ratings: ratings.ratings.iter().map(rating_json).collect(),
        history,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals() {
        assert_eq!(super::decimal(964_051, 3), "964.051");
        assert_eq!(super::decimal(-1_005, 3), "-1.005");
        assert_eq!(super::decimal(59_996, 6), "0.059996");
        assert_eq!(super::points(964_500), 965);
        assert_eq!(super::points(-1_600), -2);
    }
}
