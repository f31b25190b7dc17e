//! Game routes (spec Service 2): the catalog, staked sessions, moves, spectators, the
//! provably fair record of each session, and the skill ratings (`ratings`).
//!
//! Session ids are `gs_<n>` (login sessions are `ses_<n>`). A private session is joined with
//! its `session_code`, given either in the join body or in place of the id in the path.
//! Every random draw of a session is recomputable from `GET /sessions/{id}/fairness` once
//! it has ended (docs/games.md gives the formulas).

mod ratings;
pub(crate) mod socket;
pub(crate) mod tournament_socket;
mod tournaments;

use super::table::{Access::*, BodyKind::*, GET, POST, PUT, Routes};
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{
    Body, Dec, OptBody, PAGE_MAX, Params, amount, bounded, currency, money, opt_time, time,
};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use betbet_protocol::command::Command;
use betbet_protocol::games::*;
use betbet_protocol::message::{Empty, Reply};
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{Amount, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(&[(GET, Public, NoBody)], routes!(list_games))
        .route(&[(GET, Public, NoBody)], routes!(game_categories))
        .route(&[(POST, Admin, JsonBody)], routes!(create_game))
        .route(
            &[(GET, Admin, NoBody), (POST, Admin, JsonBody)],
            routes!(get_bankroll, fund_bankroll),
        )
        .route(
            &[(GET, Public, NoBody), (PUT, Admin, JsonBody)],
            routes!(get_game, update_game),
        )
        .route(&[(POST, User, JsonBody)], routes!(create_session))
        .route(&[(GET, Public, NoBody)], routes!(active_sessions))
        .route(&[(GET, User, NoBody)], routes!(get_session))
        .route(&[(POST, User, MaybeJsonBody)], routes!(join_session))
        .route(&[(POST, User, NoBody)], routes!(leave_session))
        .route(&[(POST, Owner, NoBody)], routes!(cancel_session))
        .route(&[(POST, Owner, NoBody)], routes!(start_session))
        .route(&[(POST, User, JsonBody)], routes!(make_move))
        .route(&[(POST, User, NoBody)], routes!(resign))
        .route(&[(POST, User, JsonBody)], routes!(set_client_seed))
        .route(&[(GET, User, NoBody)], routes!(fairness))
        .route(&[(POST, User, MaybeJsonBody)], routes!(spectate))
        .route(&[(GET, User, NoBody)], routes!(list_spectators))
        .route(&[(GET, Public, NoBody)], routes!(ratings::leaderboard))
        .route(&[(GET, Public, NoBody)], routes!(ratings::user_ratings))
        .route(
            &[(POST, User, JsonBody)],
            routes!(tournaments::create_tournament),
        )
        .route(&[(GET, Public, NoBody)], routes!(tournaments::list))
        .route(&[(GET, Public, NoBody)], routes!(tournaments::bracket))
        .route(
            &[(POST, User, MaybeJsonBody)],
            routes!(tournaments::register),
        )
        .route(&[(POST, User, NoBody)], routes!(tournaments::unregister))
        .route(&[(POST, Owner, NoBody)], routes!(tournaments::cancel))
        .route(&[(POST, Owner, NoBody)], routes!(tournaments::start))
}

fn parse_game(id: &str) -> ApiResult<GameId> {
    crate::ids::parse_path(id, "game")
}

fn parse_session(id: &str) -> ApiResult<GameSessionId> {
    crate::ids::parse_path(id, "session")
}

/// The player's client seed, or a random one made for them (as a casino's browser client
/// makes one): the engine never derives a seed a player could be predicted by.
fn client_seed_or_random(given: Option<String>) -> ApiResult<String> {
    match given {
        Some(seed) => Ok(seed),
        None => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|_| ApiError::internal("no randomness"))?;
            Ok(hex(&bytes))
        }
    }
}

// The catalog.

/// A game of the catalog.
#[derive(Serialize, ToSchema)]
struct Game {
    /// `game_<n>`.
    id: String,
    name: String,
    category: String,
    subcategory: String,
    description: String,
    #[schema(pattern = "^(realtime|turn_based|countdown)$")]
    game_type: &'static str,
    /// The rules the game is played by.
    #[schema(pattern = "^(connect_four|chess|crash|quick_math)$")]
    rule_set: &'static str,
    min_players: u32,
    max_players: u32,
    /// The rules document shown to players.
    rules: Value,
    thumbnail_url: String,
    /// The clock, in ms: Connect Four's per move, chess's each player's for the game.
    /// Running out loses.
    turn_clock_ms: u32,
    /// What each chess move adds to the mover's clock, in ms.
    increment_ms: u32,
    /// Crash: ticks a second.
    tick_hz: u32,
    /// Crash: the house's edge, in basis points.
    house_edge_bp: u16,
    /// Crash: the most one round pays above its stakes (reserved from the bankroll).
    round_profit_max: String,
    /// Quick math: the round's questions (its countdown is `turn_clock_ms`).
    questions: u32,
    /// How long a session waits for players before it is cancelled and refunded.
    start_timeout_secs: u32,
    /// The platform's rake on each pot, in basis points.
    rake_bp: u16,
    /// The part of each spectator fee paid to the players, in basis points.
    spectator_share_bp: u16,
    stake_min: String,
    stake_max: String,
    is_active: bool,
    created_at: String,
    updated_at: String,
    /// Sessions taking players now.
    sessions_waiting: u32,
    /// Sessions being played now.
    sessions_active: u32,
}

fn game_json(game: &GameView) -> Game {
    let s = &game.settings;
    Game {
        id: game.id.public(),
        name: s.name.clone(),
        category: s.category.clone(),
        subcategory: s.subcategory.clone(),
        description: s.description.clone(),
        game_type: s.rule_set.game_type().as_str(),
        rule_set: s.rule_set.as_str(),
        min_players: s.min_players,
        max_players: s.max_players,
        rules: serde_json::from_str(&s.rules).unwrap_or(Value::Null),
        thumbnail_url: s.thumbnail_url.clone(),
        turn_clock_ms: s.turn_clock_ms,
        increment_ms: s.increment_ms,
        tick_hz: s.tick_hz,
        house_edge_bp: s.house_edge_bp,
        round_profit_max: money(s.round_profit_max),
        questions: s.questions,
        start_timeout_secs: s.start_timeout_secs,
        rake_bp: s.rake_bp,
        spectator_share_bp: s.spectator_share_bp,
        stake_min: money(s.stake_min),
        stake_max: money(s.stake_max),
        is_active: game.is_active,
        created_at: time(game.created_at),
        updated_at: time(game.updated_at),
        sessions_waiting: game.sessions_waiting,
        sessions_active: game.sessions_active,
    }
}

async fn fetch_game(state: &AppState, game: GameId) -> ApiResult<GameView> {
    match state.query(Query::Game(GameQuery { game })).await? {
        QueryReply::Game(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::GameNotFound)),
    }
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct GameListParams {
    /// Only games of this category (case-insensitive).
    category: Option<String>,
    /// The page, from 1 (the default).
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Games per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct GameList {
    page: u32,
    limit: u32,
    /// How many games match, over all pages.
    total: u32,
    games: Vec<Game>,
}

/// Lists the active games, by category.
#[utoipa::path(get, path = "/games", tag = "games", params(GameListParams),
    responses((status = 200, description = "A page of games", body = GameList)))]
async fn list_games(
    State(state): State<AppState>,
    Params(params): Params<GameListParams>,
) -> ApiResult<Json<GameList>> {
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let QueryReply::Games(list) = state
        .query(Query::Games(GameListQuery {
            category: params.category,
            inactive: false,
            offset: (page - 1).saturating_mul(limit),
            limit,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(GameList {
        page,
        limit,
        total: list.total,
        games: list.games.iter().map(game_json).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
struct GameCategory {
    /// Lowercase.
    category: String,
    /// Active games of the category.
    active: u32,
    /// All its games, deactivated ones too.
    total: u32,
}

#[derive(Serialize, ToSchema)]
struct GameCategories {
    categories: Vec<GameCategory>,
}

/// The game categories with their counts.
#[utoipa::path(get, path = "/games/categories", tag = "games",
    responses((status = 200, description = "Every category", body = GameCategories)))]
async fn game_categories(State(state): State<AppState>) -> ApiResult<Json<GameCategories>> {
    let QueryReply::GameCategories(counts) = state.query(Query::GameCategories(Empty {})).await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(GameCategories {
        categories: counts
            .into_iter()
            .map(|c| GameCategory {
                category: c.category,
                active: c.open,
                total: c.total,
            })
            .collect(),
    }))
}

/// One game, with its live session counts.
#[utoipa::path(get, path = "/games/{game_id}", tag = "games",
    responses((status = 200, description = "The game", body = Game)))]
async fn get_game(
    State(state): State<AppState>,
    Path(game_id): Path<String>,
) -> ApiResult<Json<Game>> {
    Ok(Json(game_json(
        &fetch_game(&state, parse_game(&game_id)?).await?,
    )))
}

/// A game's settings. On create, everything but `name`, `category` and `rule_set` has a
/// default; on update, what is missing stays as it is.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct GameBody {
    #[schema(max_length = 255)]
    name: Option<String>,
    #[schema(max_length = 50)]
    category: Option<String>,
    subcategory: Option<String>,
    description: Option<String>,
    /// `connect_four`, `chess`, `crash` or `quick_math`.
    #[schema(pattern = "^(connect_four|chess|crash|quick_math)$")]
    rule_set: Option<String>,
    /// Must be the rule set's if given (`turn_based` for Connect Four and chess,
    /// `realtime` for crash, `countdown` for quick math).
    #[schema(pattern = "^(realtime|turn_based|countdown)$")]
    game_type: Option<String>,
    min_players: Option<u32>,
    max_players: Option<u32>,
    /// A JSON object shown to players (at most 8 KiB once serialised).
    rules: Option<Value>,
    #[schema(max_length = 500)]
    thumbnail_url: Option<String>,
    /// 1 000 to 3 600 000: Connect Four's clock per move (default 30 000), chess's
    /// time for each player's whole game (default 300 000).
    turn_clock_ms: Option<u32>,
    /// Chess only: 0 to 180 000 ms added to the mover's clock after each move (default
    /// 3 000).
    increment_ms: Option<u32>,
    /// Crash only: 10 to 20 ticks a second (default 10).
    tick_hz: Option<u32>,
    /// Crash only: the house edge, 0 to 1 000 basis points (default 100, 1 %).
    house_edge_bp: Option<u16>,
    /// Crash only: the most one round pays above its stakes, reserved from the bankroll
    /// when a session opens (default 1 000).
    round_profit_max: Option<Dec>,
    /// Quick math only: 5 to 30 questions a round (default 10).
    questions: Option<u32>,
    /// 10 to 604 800; default 600.
    start_timeout_secs: Option<u32>,
    /// 0 to 2 500; default 500 (5 %).
    rake_bp: Option<u16>,
    /// 0 to 10 000; default 5 000.
    spectator_share_bp: Option<u16>,
    /// Default 0.01.
    stake_min: Option<Dec>,
    /// Default 10 000.
    stake_max: Option<Dec>,
    /// Update only: `false` deactivates the game (no new sessions).
    is_active: Option<bool>,
}

impl GameBody {
    /// The settings this body makes of `base`.
    fn apply(self, base: GameSettings) -> ApiResult<(GameSettings, Option<bool>)> {
        let rule_set = match self.rule_set.as_deref() {
            Some(text) => RuleSet::parse(text).ok_or_else(|| {
                ApiError::bad_request("rule_set is connect_four, chess, crash or quick_math")
            })?,
            None => base.rule_set,
        };
        if let Some(game_type) = self.game_type.as_deref()
            && game_type != rule_set.game_type().as_str()
        {
            return Err(ApiError::bad_request(format!(
                "game_type of {} is {}",
                rule_set.as_str(),
                rule_set.game_type().as_str()
            )));
        }
        let rules = match self.rules {
            None => base.rules,
            Some(Value::Object(map)) => Value::Object(map).to_string(),
            Some(_) => return Err(ApiError::bad_request("rules is a JSON object")),
        };
        let (min, max) = rule_set.players();
        let settings = GameSettings {
            name: self.name.unwrap_or(base.name),
            category: self.category.unwrap_or(base.category),
            subcategory: self.subcategory.unwrap_or(base.subcategory),
            description: self.description.unwrap_or(base.description),
            min_players: self.min_players.unwrap_or(if base.min_players == 0 {
                min
            } else {
                base.min_players
            }),
            max_players: self.max_players.unwrap_or(if base.max_players == 0 {
                max
            } else {
                base.max_players
            }),
            rule_set,
            rules,
            thumbnail_url: self.thumbnail_url.unwrap_or(base.thumbnail_url),
            turn_clock_ms: self.turn_clock_ms.unwrap_or(base.turn_clock_ms),
            increment_ms: self.increment_ms.unwrap_or(base.increment_ms),
            tick_hz: self.tick_hz.unwrap_or(base.tick_hz),
            house_edge_bp: self.house_edge_bp.unwrap_or(base.house_edge_bp),
            round_profit_max: match self.round_profit_max {
                Some(v) => amount("round_profit_max", v)?,
                None => base.round_profit_max,
            },
            questions: self.questions.unwrap_or(base.questions),
            start_timeout_secs: self.start_timeout_secs.unwrap_or(base.start_timeout_secs),
            rake_bp: self.rake_bp.unwrap_or(base.rake_bp),
            spectator_share_bp: self.spectator_share_bp.unwrap_or(base.spectator_share_bp),
            stake_min: match self.stake_min {
                Some(v) => amount("stake_min", v)?,
                None => base.stake_min,
            },
            stake_max: match self.stake_max {
                Some(v) => amount("stake_max", v)?,
                None => base.stake_max,
            },
        };
        Ok((settings, self.is_active))
    }
}

/// Adds a game to the catalog (admins).
#[utoipa::path(post, path = "/games/create", tag = "games", request_body = GameBody,
    responses((status = 201, description = "The new game", body = Game)))]
async fn create_game(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<GameBody>,
) -> ApiResult<(StatusCode, Json<Game>)> {
    caller.require_admin()?;
    if body.name.is_none() || body.category.is_none() || body.rule_set.is_none() {
        return Err(ApiError::bad_request(
            "a game needs name, category and rule_set",
        ));
    }
    if body.is_active.is_some() {
        return Err(ApiError::bad_request(
            "a new game is active; is_active is for updates",
        ));
    }
    let units = |n: i64| Amount(n * betbet_protocol::types::AMOUNT_SCALE);
    // Blitz (5 minutes and 3 seconds a move) for chess; 30 seconds a move for Connect Four;
    // crash at 10 Hz with a 1 % edge, 1 000 of payout room a round, a 15 s betting window
    // and no rake (the edge is the house's).
    let rule_set = body.rule_set.as_deref().and_then(RuleSet::parse);
    let chess = rule_set == Some(RuleSet::Chess);
    let crash = rule_set == Some(RuleSet::Crash);
    // Quick math: 10 questions in 60 seconds.
    let quiz = rule_set == Some(RuleSet::QuickMath);
    let defaults = GameSettings {
        name: String::new(),
        category: String::new(),
        subcategory: String::new(),
        description: String::new(),
        rule_set: RuleSet::ConnectFour,
        min_players: 0,
        max_players: 0,
        rules: "{}".to_owned(),
        thumbnail_url: String::new(),
        turn_clock_ms: match (chess, quiz) {
            (true, _) => 300_000,
            (_, true) => 60_000,
            _ => 30_000,
        },
        increment_ms: if chess { 3_000 } else { 0 },
        tick_hz: if crash { 10 } else { 0 },
        house_edge_bp: if crash { 100 } else { 0 },
        round_profit_max: if crash { units(1_000) } else { Amount(0) },
        questions: if quiz { 10 } else { 0 },
        start_timeout_secs: if crash { 15 } else { 600 },
        rake_bp: if crash { 0 } else { 500 },
        spectator_share_bp: 5_000,
        stake_min: Amount(betbet_protocol::types::AMOUNT_SCALE / 100),
        stake_max: units(10_000),
    };
    let (settings, _) = body.apply(defaults)?;
    let reply = state
        .core
        .execute(Command::CreateGame(CreateGame {
            actor: caller.user,
            settings,
        }))
        .await?;
    let Reply::Created(created) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok((
        StatusCode::CREATED,
        Json(game_json(&fetch_game(&state, GameId(created.id)).await?)),
    ))
}

/// Changes a game's settings or deactivates it (admins). Sessions already created keep
/// the settings they were created with.
#[utoipa::path(put, path = "/games/{game_id}", tag = "games", request_body = GameBody,
    responses((status = 200, description = "The game as it is now", body = Game)))]
async fn update_game(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(game_id): Path<String>,
    Body(body): Body<GameBody>,
) -> ApiResult<Json<Game>> {
    caller.require_admin()?;
    let game = parse_game(&game_id)?;
    let current = fetch_game(&state, game).await?;
    let (settings, is_active) = body.apply(current.settings)?;
    state
        .core
        .execute(Command::UpdateGame(UpdateGame {
            actor: caller.user,
            game,
            settings,
            is_active: is_active.unwrap_or(current.is_active),
        }))
        .await?;
    Ok(Json(game_json(&fetch_game(&state, game).await?)))
}

// The crash bankroll.

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct BankrollParams {
    /// The bankroll's currency (default USD).
    #[param(pattern = "^[A-Za-z]{3}$")]
    currency: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BankrollBody {
    /// Moved from your own wallet of the currency into the bankroll.
    amount: Dec,
    /// Default USD.
    #[schema(pattern = "^[A-Za-z]{3}$")]
    currency: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Bankroll {
    currency: String,
    /// Free for new crash rounds to reserve.
    available: String,
    /// Held by live crash sessions as their payout caps.
    reserved: String,
}

async fn bankroll_json(
    state: &AppState,
    currency: betbet_protocol::types::Currency,
) -> ApiResult<Json<Bankroll>> {
    let QueryReply::Bankroll(view) = state
        .query(Query::Bankroll(BankrollQuery { currency }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(Bankroll {
        currency: view.currency.as_str().to_owned(),
        available: money(view.available),
        reserved: money(view.reserved),
    }))
}

/// The house's crash bankroll of a currency (admins).
#[utoipa::path(get, path = "/games/bankroll", tag = "games", params(BankrollParams),
    responses((status = 200, description = "The bankroll", body = Bankroll)))]
async fn get_bankroll(
    State(state): State<AppState>,
    caller: AuthUser,
    Params(params): Params<BankrollParams>,
) -> ApiResult<Json<Bankroll>> {
    caller.require_admin()?;
    let currency = currency(params.currency.as_deref().unwrap_or("USD"))?;
    bankroll_json(&state, currency).await
}

/// Funds the house's crash bankroll from your own wallet (admins): each crash session
/// reserves its payout cap from it when it opens.
#[utoipa::path(post, path = "/games/bankroll", tag = "games", request_body = BankrollBody,
    responses((status = 200, description = "The bankroll after the funding", body = Bankroll)))]
async fn fund_bankroll(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<BankrollBody>,
) -> ApiResult<Json<Bankroll>> {
    caller.require_admin()?;
    let currency = currency(body.currency.as_deref().unwrap_or("USD"))?;
    state
        .core
        .execute(Command::FundBankroll(FundBankroll {
            actor: caller.user,
            currency,
            amount: amount("amount", body.amount)?,
        }))
        .await?;
    bankroll_json(&state, currency).await
}

// Sessions.

#[derive(Serialize, ToSchema)]
struct Player {
    user_id: String,
    username: String,
    /// The seat, from 0 in join order.
    position: u32,
    #[schema(pattern = "^(playing|won|lost|drew|refunded)$")]
    status: &'static str,
    score: i64,
    /// What the end paid the player (0 before).
    payout: String,
    joined_at: String,
    client_seed: String,
}

/// The position of a Connect Four game.
#[derive(Serialize, ToSchema)]
struct ConnectFourState {
    #[schema(pattern = "^connect_four$")]
    rule_set: &'static str,
    /// Top row first, 7 characters each: `.` empty, `X` the first mover's, `O` the other's.
    board: Vec<String>,
    /// The columns played, in order (0 is the left).
    moves: Vec<u8>,
    /// Who plays `X` and moved first (drawn from the seeds).
    first_player_id: String,
    /// Whose turn it is; null once the game is over.
    #[schema(required = true)]
    to_move: Option<String>,
    /// The winning four's cells (`row * 7 + column`, row 0 at the bottom).
    winning_line: Vec<u8>,
}

/// The position and clocks of a chess game.
#[derive(Serialize, ToSchema)]
struct ChessState {
    #[schema(pattern = "^chess$")]
    rule_set: &'static str,
    /// The position in FEN.
    fen: String,
    /// The moves played, in UCI (castling as the king's two-square move).
    moves: Vec<String>,
    /// The same moves in SAN.
    san: Vec<String>,
    /// Who plays white (drawn from the seeds).
    white_player_id: String,
    black_player_id: String,
    /// Whose turn it is; null once the game is over.
    #[schema(required = true)]
    to_move: Option<String>,
    in_check: bool,
    /// White's time left in ms, as of `turn_started_at` (the mover's clock runs from then).
    white_clock_ms: u64,
    black_clock_ms: u64,
    increment_ms: u32,
    turn_started_at: String,
    /// The player whose draw offer stands; null if none.
    #[schema(required = true)]
    draw_offered_by: Option<String>,
    /// How the game ended; null while it is played.
    #[schema(
        required = true,
        pattern = "^(checkmate|stalemate|threefold_repetition|fifty_move_rule|insufficient_material|agreement|timeout|resignation|abandoned)$"
    )]
    termination: Option<&'static str>,
}

/// One crash cash-out.
#[derive(Serialize, ToSchema)]
struct CrashCashOut {
    user_id: String,
    /// The multiplier taken, e.g. `"2.35"`.
    multiplier: String,
    payout: String,
    tick: u32,
    /// Taken by the round's payout cap, not by the player.
    forced: bool,
}

/// A crash round.
#[derive(Serialize, ToSchema)]
struct CrashState {
    #[schema(pattern = "^crash$")]
    rule_set: &'static str,
    /// The multiplier now (at the end, the crash point if it crashed), e.g. `"1.52"`.
    multiplier: String,
    /// Ticks since the round started rising, at `tick_hz` a second.
    tick: u32,
    tick_hz: u32,
    started_at: String,
    crashed: bool,
    /// The crash point; null until the round has ended.
    #[schema(required = true)]
    crash_point: Option<String>,
    /// Past this multiplier everyone still in is cashed out (the round's payout cap).
    cap: String,
    cash_outs: Vec<CrashCashOut>,
}

#[derive(Serialize, ToSchema)]
struct QuizQuestion {
    /// `left op right`, with `op` one of `+ - * /` (division is exact).
    #[schema(pattern = "^[-+*/]$")]
    op: String,
    left: i64,
    right: i64,
}

#[derive(Serialize, ToSchema)]
struct QuizAnswer {
    /// The question's index, from 0.
    question: u32,
    answer: i64,
    correct: bool,
    points: u32,
    at: String,
}

#[derive(Serialize, ToSchema)]
struct QuizPlayer {
    user_id: String,
    answered: u32,
    correct: u32,
    points: u32,
    /// Your own answers while the round runs; everyone's once it has ended.
    answers: Vec<QuizAnswer>,
}

/// A quick-math round.
#[derive(Serialize, ToSchema)]
struct QuickMathState {
    #[schema(pattern = "^quick_math$")]
    rule_set: &'static str,
    questions: Vec<QuizQuestion>,
    started_at: String,
    /// When the countdown runs out.
    ends_at: String,
    players: Vec<QuizPlayer>,
    over: bool,
}

/// A session's position, by rule set (`rule_set` says which).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum SessionState {
    ConnectFour(ConnectFourState),
    Chess(ChessState),
    Crash(CrashState),
    QuickMath(QuickMathState),
}

/// A multiplier in hundredths as text: 152 is `"1.52"`.
fn multiplier(hundredths: u32) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[derive(Serialize, ToSchema)]
struct Session {
    /// `gs_<n>`.
    id: String,
    game_id: String,
    #[schema(pattern = "^(connect_four|chess|crash|quick_math)$")]
    rule_set: &'static str,
    /// Shown to the session's players only: how others join a private session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    session_code: Option<String>,
    created_by: String,
    #[schema(pattern = "^(waiting|active|completed|cancelled)$")]
    status: &'static str,
    /// How it ended; null until then.
    #[schema(
        required = true,
        pattern = "^(win|draw|timeout|resignation|cancelled|expired|abandoned|crashed|all_cashed_out)$"
    )]
    end_reason: Option<&'static str>,
    stake_amount: String,
    currency: String,
    is_private: bool,
    player_count: usize,
    min_players: u32,
    max_players: u32,
    spectator_fee: String,
    /// Every stake, in all.
    pot: String,
    /// What the platform took at the end (its rake and any indivisible rest).
    rake: String,
    /// Crash: what the session holds of the house's bankroll (the round's payout cap).
    reserve: String,
    /// Crash: what the end gave back to the bankroll (the reserve and lost stakes less
    /// the payouts above the stakes).
    house_return: String,
    rake_bp: u16,
    turn_clock_ms: u32,
    players: Vec<Player>,
    spectator_count: u32,
    created_at: String,
    /// Not started by then, the session is cancelled and refunded.
    start_deadline: String,
    #[schema(required = true)]
    started_at: Option<String>,
    #[schema(required = true)]
    ended_at: Option<String>,
    /// When the player to move runs out of time; null unless playing.
    #[schema(required = true)]
    turn_deadline: Option<String>,
    /// +1 on every change of the session.
    version: u64,
    /// The position; null before the start.
    #[schema(required = true)]
    state: Option<SessionState>,
    /// SHA-256 of the server seed's hex text, fixed at creation.
    server_seed_hash: String,
    /// Revealed once the session has ended; null before.
    #[schema(required = true)]
    server_seed: Option<String>,
}

fn player_of(view: &GameSessionView, seat: u32) -> String {
    view.players
        .get(seat as usize)
        .map(|p| p.user.public())
        .unwrap_or_default()
}

fn session_json(view: &GameSessionView) -> Session {
    let state = match &view.state {
        GameStateView::NotStarted(_) => None,
        GameStateView::ConnectFour(c) => Some(SessionState::ConnectFour(ConnectFourState {
            rule_set: "connect_four",
            board: c.rows.clone(),
            moves: c.moves.clone(),
            first_player_id: player_of(view, c.first_seat),
            to_move: c.to_move.map(|seat| player_of(view, seat)),
            winning_line: c.winning_line.clone(),
        })),
        GameStateView::Chess(c) => Some(SessionState::Chess(ChessState {
            rule_set: "chess",
            fen: c.fen.clone(),
            moves: c.moves.clone(),
            san: c.san.clone(),
            white_player_id: player_of(view, c.white_seat),
            black_player_id: player_of(view, 1 - c.white_seat.min(1)),
            to_move: c.to_move.map(|seat| player_of(view, seat)),
            in_check: c.in_check,
            white_clock_ms: c.clock_ms.first().copied().unwrap_or(0),
            black_clock_ms: c.clock_ms.get(1).copied().unwrap_or(0),
            increment_ms: c.increment_ms,
            turn_started_at: time(c.turn_started),
            draw_offered_by: c.draw_offer.map(|seat| player_of(view, seat)),
            termination: c.termination.map(ChessTermination::as_str),
        })),
        GameStateView::Crash(c) => Some(SessionState::Crash(CrashState {
            rule_set: "crash",
            multiplier: multiplier(c.multiplier),
            tick: c.tick,
            tick_hz: c.tick_hz,
            started_at: time(c.started),
            crashed: c.crashed,
            crash_point: c.crash_point.map(multiplier),
            cap: multiplier(c.cap),
            cash_outs: c
                .cash_outs
                .iter()
                .map(|o| CrashCashOut {
                    user_id: player_of(view, o.seat),
                    multiplier: multiplier(o.multiplier),
                    payout: money(Amount(
                        (i128::from(view.stake.0) * i128::from(o.multiplier) / 100) as i64,
                    )),
                    tick: o.tick,
                    forced: o.forced,
                })
                .collect(),
        })),
        GameStateView::QuickMath(q) => Some(SessionState::QuickMath(QuickMathState {
            rule_set: "quick_math",
            questions: q
                .questions
                .iter()
                .map(|x| QuizQuestion {
                    op: x.op.clone(),
                    left: x.left,
                    right: x.right,
                })
                .collect(),
            started_at: time(q.started),
            ends_at: time(q.ends),
            players: q
                .players
                .iter()
                .map(|p| QuizPlayer {
                    user_id: player_of(view, p.seat),
                    answered: p.answered,
                    correct: p.correct,
                    points: p.points,
                    answers: p
                        .answers
                        .iter()
                        .map(|a| QuizAnswer {
                            question: a.question,
                            answer: a.answer,
                            correct: a.correct,
                            points: a.points,
                            at: time(a.at),
                        })
                        .collect(),
                })
                .collect(),
            over: q.over,
        })),
    };
    Session {
        id: view.id.public(),
        game_id: view.game.public(),
        rule_set: view.rule_set.as_str(),
        session_code: view.code.clone(),
        created_by: view.creator.public(),
        status: view.status.as_str(),
        end_reason: view.end.map(GameEnd::as_str),
        stake_amount: money(view.stake),
        currency: view.currency.as_str().to_owned(),
        is_private: view.is_private,
        player_count: view.players.len(),
        min_players: view.min_players,
        max_players: view.max_players,
        spectator_fee: money(view.spectator_fee),
        pot: money(view.pot),
        rake: money(view.rake),
        reserve: money(view.reserve),
        house_return: money(view.house),
        rake_bp: view.rake_bp,
        turn_clock_ms: view.turn_clock_ms,
        players: view
            .players
            .iter()
            .map(|p| Player {
                user_id: p.user.public(),
                username: p.username.clone(),
                position: p.seat,
                status: p.status.as_str(),
                score: p.score,
                payout: money(p.payout),
                joined_at: time(p.joined_at),
                client_seed: p.client_seed.clone(),
            })
            .collect(),
        spectator_count: view.spectators,
        created_at: time(view.created_at),
        start_deadline: time(view.start_deadline),
        started_at: opt_time(view.started_at),
        ended_at: opt_time(view.ended_at),
        turn_deadline: opt_time(view.turn_deadline),
        version: view.version,
        state,
        server_seed_hash: hex(&view.server_seed_hash),
        server_seed: view.server_seed.map(|s| hex(&s)),
    }
}

/// The session as `viewer` may see it (a private one only its players, spectators and
/// admins; to anyone else it does not exist).
async fn fetch_session(
    state: &AppState,
    session: GameSessionId,
    viewer: UserId,
) -> ApiResult<GameSessionView> {
    match state
        .query(Query::GameSession(GameSessionQuery { session, viewer }))
        .await?
    {
        QueryReply::GameSession(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::GameSessionNotFound)),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSessionBody {
    /// `game_<n>`.
    game_id: String,
    /// Each player's stake, within the game's stake range.
    stake: Dec,
    /// Default: `USD`.
    currency: Option<String>,
    /// A private session is not listed and is joined with its `session_code`.
    #[serde(default)]
    is_private: bool,
    /// At most the game's `max_players` (the default).
    max_players: Option<u32>,
    /// What a spectator pays to watch; default 0.
    spectator_fee: Option<Dec>,
    /// Your client seed for the session's draws (1 to 64 printable ASCII characters,
    /// no `:` or `|`); default: one made for you. Changeable until the start.
    client_seed: Option<String>,
}

/// Opens a session of a game: you take the first seat and your stake goes into the
/// session's escrow.
///
/// The answer carries the `server_seed_hash` that commits the session's randomness.
#[utoipa::path(post, path = "/sessions/create", tag = "game sessions",
    request_body = CreateSessionBody,
    responses((status = 201, description = "The new session", body = Session)))]
async fn create_session(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateSessionBody>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let spectator_fee = match body.spectator_fee {
        Some(fee) if fee.0.is_zero() => Amount(0),
        Some(fee) => amount("spectator_fee", fee)?,
        None => Amount(0),
    };
    let mut server_seed = [0u8; SERVER_SEED_BYTES];
    getrandom::fill(&mut server_seed).map_err(|_| ApiError::internal("no randomness"))?;
    let reply = state
        .core
        .execute(Command::CreateGameSession(CreateGameSession {
            actor: caller.user,
            game: parse_game(&body.game_id)?,
            stake: amount("stake", body.stake)?,
            currency: currency(body.currency.as_deref().unwrap_or("USD"))?,
            is_private: body.is_private,
            max_players: body.max_players.unwrap_or(0),
            spectator_fee,
            server_seed,
            client_seed: client_seed_or_random(body.client_seed)?,
        }))
        .await?;
    let Reply::Created(created) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let view = fetch_session(&state, GameSessionId(created.id), caller.user).await?;
    Ok((StatusCode::CREATED, Json(session_json(&view))))
}

/// The query of `GET /sessions/active`, for the document (the route reads the raw query so
/// `stake_range` may repeat).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ActiveParams {
    /// Only sessions of this game.
    game_id: Option<String>,
    /// The lowest and highest stake, as two values (`stake_range=1&stake_range=10`) or one
    /// `low,high`.
    stake_range: Option<Vec<String>>,
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct SessionList {
    page: u32,
    limit: u32,
    total: u32,
    sessions: Vec<Session>,
}

fn stake_bound(field: &str, text: &str) -> ApiResult<Amount> {
    let value = betbet_protocol::types::parse_decimal(text.trim())
        .ok_or_else(|| ApiError::bad_request(format!("{field}: not a decimal")))?;
    Amount::from_decimal(value)
        .ok()
        .filter(|a| a.0 >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("{field}: not a stake")))
}

/// Public sessions taking players or being played, newest first.
#[utoipa::path(get, path = "/sessions/active", tag = "game sessions", params(ActiveParams),
    responses((status = 200, description = "A page of sessions", body = SessionList)))]
async fn active_sessions(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SessionList>> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (mut game, mut range, mut page, mut limit) = (None, Vec::new(), None, None);
    let number = |key: &str, value: &str| {
        value
            .parse::<u32>()
            .map_err(|_| ApiError::bad_request(format!("{key} is a whole number")))
    };
    for (key, value) in &pairs {
        match key.as_str() {
            "game_id" => game = Some(parse_game(value)?),
            "stake_range" | "stake_range[]" => range.extend(value.split(',').map(str::to_owned)),
            "page" => page = Some(number(key, value)?),
            "limit" => limit = Some(number(key, value)?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter `{other}`"
                )));
            }
        }
    }
    let (stake_min, stake_max) = match range.as_slice() {
        [] => (None, None),
        [low, high] => (
            Some(stake_bound("stake_range", low)?),
            Some(stake_bound("stake_range", high)?),
        ),
        _ => {
            return Err(ApiError::bad_request(
                "stake_range is two values: low and high",
            ));
        }
    };
    let limit = bounded("limit", limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", page, 1, 1, PAGE_MAX)?;
    let QueryReply::GameSessions(list) = state
        .query(Query::ActiveGameSessions(ActiveSessionsQuery {
            game,
            stake_min,
            stake_max,
            offset: (page - 1).saturating_mul(limit),
            limit,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(SessionList {
        page,
        limit,
        total: list.total,
        sessions: list.sessions.iter().map(session_json).collect(),
    }))
}

/// One session: its players, position, clocks, scores and payouts.
#[utoipa::path(get, path = "/sessions/{session_id}", tag = "game sessions",
    responses((status = 200, description = "The session", body = Session)))]
async fn get_session(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Session>> {
    let view = fetch_session(&state, parse_session(&session_id)?, caller.user).await?;
    Ok(Json(session_json(&view)))
}

/// Runs a session command and answers the session as the caller sees it after it.
async fn session_action(
    state: &AppState,
    caller: &AuthUser,
    session: GameSessionId,
    command: Command,
) -> ApiResult<Json<Session>> {
    state.core.execute(command).await?;
    Ok(Json(session_json(
        &fetch_session(state, session, caller.user).await?,
    )))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    /// The spec's joiner: must be the caller (you stake your own money).
    user_id: Option<String>,
    /// A private session's code.
    session_code: Option<String>,
    /// Your client seed; default: one made for you.
    client_seed: Option<String>,
}

/// Takes a seat: your stake goes into the session's escrow. The session starts when its
/// last seat is taken.
///
/// `session_id` may be the session's id or, for a private session, its code.
#[utoipa::path(post, path = "/sessions/{session_id}/join", tag = "game sessions",
    request_body(content = Option<JoinBody>, description = "Optional"),
    responses((status = 200, description = "The session as it is now", body = Session)))]
async fn join_session(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
    OptBody(body): OptBody<JoinBody>,
) -> ApiResult<Json<Session>> {
    caller.require_self(
        "user_id",
        body.user_id.as_deref(),
        "a player stakes their own money",
    )?;
    let (session, code) = if session_id.starts_with("gs_") {
        (
            parse_session(&session_id)?,
            body.session_code.unwrap_or_default(),
        )
    } else {
        let code = session_id.to_ascii_uppercase();
        if code.len() != SESSION_CODE_LEN
            || !code.bytes().all(|b| SESSION_CODE_ALPHABET.contains(&b))
        {
            return Err(crate::ids::invalid_id("session", &session_id));
        }
        match state
            .query(Query::GameSessionByCode(SessionCodeQuery {
                code: code.clone(),
            }))
            .await?
        {
            QueryReply::GameSession(view) => (view.id, code),
            _ => return Err(ApiError::from(ResultCode::GameSessionNotFound)),
        }
    };
    session_action(
        &state,
        &caller,
        session,
        Command::JoinGameSession(JoinGameSession {
            actor: caller.user,
            session,
            code,
            client_seed: client_seed_or_random(body.client_seed)?,
        }),
    )
    .await
}

async fn simple_action(
    state: &AppState,
    caller: &AuthUser,
    session_id: &str,
    make: fn(GameSessionAction) -> Command,
) -> ApiResult<Json<Session>> {
    let session = parse_session(session_id)?;
    let command = make(GameSessionAction {
        actor: caller.user,
        session,
    });
    session_action(state, caller, session, command).await
}

#[derive(Serialize, ToSchema)]
struct LeftSession {
    session_id: String,
    /// Your stake, back in your wallet.
    refunded: String,
    currency: String,
}

/// Gives up your seat before the start; your stake comes back (the creator cancels
/// instead).
#[utoipa::path(post, path = "/sessions/{session_id}/leave", tag = "game sessions",
    responses((status = 200, description = "The refunded stake", body = LeftSession)))]
async fn leave_session(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<LeftSession>> {
    let session = parse_session(&session_id)?;
    let view = fetch_session(&state, session, caller.user).await?;
    state
        .core
        .execute(Command::LeaveGameSession(GameSessionAction {
            actor: caller.user,
            session,
        }))
        .await?;
    // Having left, the caller may no longer see a private session: the answer is what
    // came back.
    Ok(Json(LeftSession {
        session_id: view.id.public(),
        refunded: money(view.stake),
        currency: view.currency.as_str().to_owned(),
    }))
}

/// Cancels a session that has not started (its creator or an admin): every stake back.
#[utoipa::path(post, path = "/sessions/{session_id}/cancel", tag = "game sessions",
    responses((status = 200, description = "The cancelled session", body = Session)))]
async fn cancel_session(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Session>> {
    simple_action(&state, &caller, &session_id, Command::CancelGameSession).await
}

/// Starts a session once it has the game's minimum of players (its creator). A full
/// session starts by itself.
#[utoipa::path(post, path = "/sessions/{session_id}/start", tag = "game sessions",
    responses((status = 200, description = "The started session", body = Session)))]
async fn start_session(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Session>> {
    simple_action(&state, &caller, &session_id, Command::StartGameSession).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MoveBody {
    /// The move in the rule set's notation: Connect Four's column, `0` (left) to `6`;
    /// chess in UCI (`e2e4`, `e7e8q`, castling `e1g1`) or SAN (`Nf3`, `exd8=Q+`, `O-O`),
    /// or `offer_draw`, `accept_draw`, `decline_draw` (draw offers need not be your turn).
    #[serde(rename = "move")]
    #[schema(max_length = 16)]
    mv: String,
}

/// Makes your move (it must be your turn, except a chess draw offer or its answer); the
/// answer is the position after it.
#[utoipa::path(post, path = "/sessions/{session_id}/move", tag = "game sessions",
    request_body = MoveBody,
    responses((status = 200, description = "The session after the move", body = Session)))]
async fn make_move(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
    Body(body): Body<MoveBody>,
) -> ApiResult<Json<Session>> {
    let session = parse_session(&session_id)?;
    session_action(
        &state,
        &caller,
        session,
        Command::GameMove(GameMove {
            actor: caller.user,
            session,
            mv: body.mv,
        }),
    )
    .await
}

/// Resigns the game: your opponent wins.
#[utoipa::path(post, path = "/sessions/{session_id}/resign", tag = "game sessions",
    responses((status = 200, description = "The ended session", body = Session)))]
async fn resign(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Session>> {
    simple_action(&state, &caller, &session_id, Command::ResignGame).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClientSeedBody {
    /// 1 to 64 printable ASCII characters, no `:` or `|`.
    #[schema(min_length = 1, max_length = 64)]
    client_seed: String,
}

/// Sets your client seed for the session's draws, before the start.
#[utoipa::path(post, path = "/sessions/{session_id}/client-seed", tag = "game sessions",
    request_body = ClientSeedBody,
    responses((status = 200, description = "The session", body = Session)))]
async fn set_client_seed(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
    Body(body): Body<ClientSeedBody>,
) -> ApiResult<Json<Session>> {
    let session = parse_session(&session_id)?;
    session_action(
        &state,
        &caller,
        session,
        Command::SetClientSeed(SetClientSeed {
            actor: caller.user,
            session,
            client_seed: body.client_seed,
        }),
    )
    .await
}

#[derive(Serialize, ToSchema)]
struct Draw {
    #[schema(pattern = "^(first_mover)$")]
    purpose: &'static str,
    nonce: u64,
    round: u32,
    /// Which 4 bytes of the 32-byte HMAC block (0 to 7).
    index: u8,
    /// The draw's float f times 2^32: the 4 bytes read big-endian.
    fraction: u32,
    /// What the draw decided (first mover: the seat `floor(f × players)`).
    outcome: u64,
}

#[derive(Serialize, ToSchema)]
struct ClientSeed {
    user_id: String,
    position: u32,
    client_seed: String,
}

#[derive(Serialize, ToSchema)]
struct Fairness {
    session_id: String,
    /// SHA-256 of the server seed's 64-character hex text, published at creation.
    server_seed_hash: String,
    /// The server seed, once the session has ended (null before).
    #[schema(required = true)]
    server_seed: Option<String>,
    /// The players' client seeds in seat order, joined by `|`: the message's client seed.
    client_seed: String,
    client_seeds: Vec<ClientSeed>,
    nonce: u64,
    draws: Vec<Draw>,
    /// How to recompute every draw.
    formula: &'static str,
}

/// The session's seeds and draws: with the revealed server seed, anyone can recompute
/// every random outcome.
#[utoipa::path(get, path = "/sessions/{session_id}/fairness", tag = "game sessions",
    responses((status = 200, description = "Seeds, hash, nonce and draws", body = Fairness)))]
async fn fairness(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Fairness>> {
    let view = fetch_session(&state, parse_session(&session_id)?, caller.user).await?;
    Ok(Json(Fairness {
        session_id: view.id.public(),
        server_seed_hash: hex(&view.server_seed_hash),
        server_seed: view.server_seed.map(|s| hex(&s)),
        client_seed: view.client_seed(),
        client_seeds: view
            .players
            .iter()
            .map(|p| ClientSeed {
                user_id: p.user.public(),
                position: p.seat,
                client_seed: p.client_seed.clone(),
            })
            .collect(),
        nonce: view.nonce,
        draws: view
            .draws
            .iter()
            .map(|d| Draw {
                purpose: d.purpose.as_str(),
                nonce: d.nonce,
                round: d.round,
                index: d.index,
                fraction: d.fraction,
                outcome: d.outcome,
            })
            .collect(),
        formula: "block = HMAC_SHA256(key = server_seed as its 64-character hex text, \
                  message = \"{client_seed}:{nonce}:{round}\"); fraction = bytes \
                  [4*index, 4*index+4) of block, big-endian; f = fraction / 2^32; \
                  first mover = floor(f * players); crash point (hundredths) = \
                  max(100, min(100000000, floor((10000 - house_edge_bp) * 2^32 / \
                  (2^32 - fraction) / 100))); quick math, per question: op = floor(f * 4) of + - * /, \
                  then two operands low + floor(f * n) (docs/games.md); server_seed_hash = \
                  SHA256(server_seed hex text)",
    }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct SpectateBody {
    /// The spec's spectator: must be the caller (you pay your own fee).
    user_id: Option<String>,
}

/// Watches a session: the spectator fee is charged once, split between the players and
/// the platform. Players cannot spectate their own session.
#[utoipa::path(post, path = "/sessions/{session_id}/spectate", tag = "game sessions",
    request_body(content = Option<SpectateBody>, description = "Optional"),
    responses((status = 200, description = "The session", body = Session)))]
async fn spectate(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
    OptBody(body): OptBody<SpectateBody>,
) -> ApiResult<Json<Session>> {
    caller.require_self(
        "user_id",
        body.user_id.as_deref(),
        "a spectator pays their own fee",
    )?;
    let session = parse_session(&session_id)?;
    // A private session is watched only by invitation: someone who cannot see it cannot
    // pay to watch it either.
    fetch_session(&state, session, caller.user).await?;
    simple_action(&state, &caller, &session_id, Command::SpectateGameSession).await
}

#[derive(Serialize, ToSchema)]
struct Spectator {
    user_id: String,
    username: String,
    fee_paid: String,
    joined_at: String,
}

#[derive(Serialize, ToSchema)]
struct Spectators {
    session_id: String,
    spectators: Vec<Spectator>,
}

/// Who is watching a session.
#[utoipa::path(get, path = "/sessions/{session_id}/spectators", tag = "game sessions",
    responses((status = 200, description = "The spectators", body = Spectators)))]
async fn list_spectators(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> ApiResult<Json<Spectators>> {
    let session = parse_session(&session_id)?;
    let QueryReply::GameSpectators(list) = state
        .query(Query::GameSpectators(GameSessionQuery {
            session,
            viewer: caller.user,
        }))
        .await?
    else {
        return Err(ApiError::from(ResultCode::GameSessionNotFound));
    };
    Ok(Json(Spectators {
        session_id: list.session.public(),
        spectators: list
            .spectators
            .iter()
            .map(|s| Spectator {
                user_id: s.user.public(),
                username: s.username.clone(),
                fee_paid: money(s.fee_paid),
                joined_at: time(s.joined_at),
            })
            .collect(),
    }))
}
