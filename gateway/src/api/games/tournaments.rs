//! Tournament routes (spec Service 2's `/tournaments/…`): create, register, unregister,
//! cancel, the bracket, and the list. Tournament ids are `trn_<n>`.
//!
//! A tournament's matches are game sessions (`gs_<n>`) its engine opens when a match's
//! two players are known: the players take their seats with `POST /sessions/{id}/join`
//! and play as in any session; the bracket's `matches[].sessions` names them, and the
//! tournament room (`/ws/tournament/{tournament_id}`) announces each one. docs/games.md,
//! "Tournaments", has the rules.

use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{
    Body, Dec, OptBody, PAGE_MAX, Params, amount, bounded, currency, money, opt_time, time,
    timestamp,
};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use betbet_protocol::command::Command;
use betbet_protocol::games::SERVER_SEED_BYTES;
use betbet_protocol::message::Reply;
use betbet_protocol::query::{PAGE_LIMIT_MAX, Query, QueryReply};
use betbet_protocol::tournaments::*;
use betbet_protocol::types::{Amount, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What a tournament may be given when its creator gives nothing else.
const MAX_PLAYERS_DEFAULT: u32 = 8;
const CHECK_IN_SECS_DEFAULT: u32 = 120;
const STARTS_IN_SECS_DEFAULT: i64 = 15 * 60;

pub(super) fn parse_tournament(id: &str) -> ApiResult<TournamentId> {
    crate::ids::parse_path(id, "tournament")
}

fn zero_or_amount(field: &str, value: Option<Dec>) -> ApiResult<Amount> {
    match value {
        None => Ok(Amount(0)),
        Some(v) if v.0.is_zero() => Ok(Amount(0)),
        Some(v) => amount(field, v),
    }
}

/// Percentages (`[50, 30, 20]`, to two decimals) as basis points.
fn distribution(shares: Option<Vec<Dec>>) -> ApiResult<Vec<u16>> {
    let shares = shares.unwrap_or_else(|| {
        [50, 30, 20]
            .into_iter()
            .map(|p| Dec(Decimal::from(p)))
            .collect()
    });
    if shares.is_empty() || shares.len() > 32 {
        return Err(ApiError::bad_request(
            "prize_distribution takes 1 to 32 places",
        ));
    }
    shares
        .iter()
        .map(|&share| {
            crate::json::percent_bp(share)
                .filter(|&bp| bp > 0)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "prize_distribution: each place is a percentage above 0, to two decimals",
                    )
                })
        })
        .collect()
}

fn format_of(text: &str) -> ApiResult<TournamentFormat> {
    TournamentFormat::parse(text).ok_or_else(|| {
        ApiError::bad_request(
            "format is single_elimination, double_elimination, round_robin or swiss",
        )
    })
}

/// A new tournament. Only `game_id`, `format` and `prize_pool` are the spec's; the rest
/// has defaults.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateTournamentBody {
    /// The game its matches are played in (`game_<n>`): a game of two players, not crash.
    game_id: String,
    #[schema(pattern = "^(single_elimination|double_elimination|round_robin|swiss)$")]
    format: String,
    /// What you put up for the prizes, from your wallet, at once (may be 0).
    prize_pool: Dec,
    /// 1 to 100 characters; default "Tournament".
    #[schema(max_length = 100)]
    name: Option<String>,
    /// What each player pays to register (default 0); the game's rake is taken from the
    /// fees at the start.
    entry_fee: Option<Dec>,
    /// Default USD.
    currency: Option<String>,
    /// 2 to 256; default 8.
    max_players: Option<u32>,
    /// At the start, fewer registered players cancel and refund the tournament; default
    /// the paid places (at least 2).
    min_players: Option<u32>,
    /// Registration closes and the tournament starts then; default in 15 minutes, at most
    /// 90 days ahead.
    starts_at: Option<String>,
    /// Each paid place's percentage of the prizes, best first, summing to 100; default
    /// `[50, 30, 20]`.
    prize_distribution: Option<Vec<Dec>>,
    /// Single elimination: a match for third place (default false).
    #[serde(default)]
    third_place: bool,
    /// Swiss: the number of rounds, below `min_players`.
    rounds: Option<u32>,
    /// Seconds a match's players have to sit down before a no-show forfeits (10 to 3600,
    /// default 120).
    check_in_secs: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct BracketSlot {
    /// `seed`, `bye`, `winner` or `loser`.
    kind: &'static str,
    /// The seed (from 1), or the match (from 0) whose winner or loser plays here.
    value: u32,
}

#[derive(Serialize, ToSchema)]
pub(super) struct BracketMatch {
    index: u32,
    #[schema(pattern = "^(winners|losers|third_place|grand_final|reset|round)$")]
    stage: String,
    round: u32,
    /// Where each side's player comes from, so the bracket can be drawn before any game.
    slots: Vec<BracketSlot>,
    /// Each side's player once known (null for a side not known yet or empty).
    players: Vec<Option<String>>,
    #[schema(pattern = "^(pending|playing|won|drawn|double_forfeit|walkover|void)$")]
    state: String,
    winner_side: Option<u32>,
    /// The match's game sessions (a drawn elimination match is played again), the last
    /// one current.
    sessions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct TournamentStanding {
    user_id: String,
    seed: u32,
    /// Tied players share the best of their places.
    place: u32,
    wins: u32,
    draws: u32,
    losses: u32,
    /// A win is 1, a draw ½ (a Swiss bye is a win).
    points: String,
    /// Swiss: the opponents' points.
    buchholz: String,
    /// The points of the opponents beaten and half of those drawn.
    sonneborn_berger: String,
    prize: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct TournamentEntrant {
    user_id: String,
    username: String,
    /// From 1 once the tournament started (by rating, then registration); null before.
    seed: Option<u32>,
    /// The player's rating in the game (at seeding, once started).
    rating: i64,
    registered_at: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Tournament {
    id: String,
    game_id: String,
    name: String,
    creator_id: String,
    format: &'static str,
    third_place: bool,
    rounds: u32,
    #[schema(pattern = "^(registration|running|completed|cancelled)$")]
    status: &'static str,
    entry_fee: String,
    prize_pool: String,
    currency: String,
    /// The game's rake on the entry fees, in basis points.
    rake_bp: u16,
    max_players: u32,
    min_players: u32,
    starts_at: String,
    /// Percentages per paid place.
    prize_distribution: Vec<String>,
    check_in_secs: u32,
    players: u32,
    entrants: Vec<TournamentEntrant>,
    /// What the prizes are paid from (the pool and the fees less the rake), from the
    /// start.
    prizes_total: String,
    rake: String,
    /// +1 on every change: the tournament room's `seq`.
    version: u64,
    created_at: String,
    started_at: Option<String>,
    ended_at: Option<String>,
}

/// The bracket: the tournament with its match graph, current round and standings.
#[derive(Serialize, ToSchema)]
pub(super) struct TournamentBracket {
    tournament: Tournament,
    current_round: u32,
    /// Swiss: ended before its rounds (no pairing without a rematch was left).
    ended_early: bool,
    matches: Vec<BracketMatch>,
    /// Best first; with prizes once completed.
    standings: Vec<TournamentStanding>,
}

fn halves(units: u32, per_point: u32) -> String {
    let whole = units / per_point;
    match (units % per_point, per_point) {
        (0, _) => whole.to_string(),
        (1, 2) | (2, 4) => format!("{whole}.5"),
        (1, 4) => format!("{whole}.25"),
        (3, 4) => format!("{whole}.75"),
        _ => unreachable!("halves and quarters only"),
    }
}

fn percent(bp: u16) -> String {
    money(Amount(i64::from(bp) * 1_000_000))
}

pub(super) fn tournament_json(v: &TournamentView) -> Tournament {
    let started = v.started_at.is_some();
    Tournament {
        id: v.id.public(),
        game_id: v.game.public(),
        name: v.name.clone(),
        creator_id: v.creator.public(),
        format: v.format.as_str(),
        third_place: v.third_place,
        rounds: v.rounds,
        status: v.status.as_str(),
        entry_fee: money(v.entry_fee),
        prize_pool: money(v.prize_pool),
        currency: v.currency.to_string(),
        rake_bp: v.rake_bp,
        max_players: v.max_players,
        min_players: v.min_players,
        starts_at: time(v.starts_at),
        prize_distribution: v.distribution_bp.iter().map(|&bp| percent(bp)).collect(),
        check_in_secs: v.check_in_secs,
        players: v.entrants.len() as u32,
        entrants: v
            .entrants
            .iter()
            .map(|e| TournamentEntrant {
                user_id: e.user.public(),
                username: e.username.clone(),
                seed: started.then_some(e.seed),
                rating: e.rating,
                registered_at: time(e.registered_at),
            })
            .collect(),
        prizes_total: money(v.prizes_total),
        rake: money(v.rake),
        version: v.version,
        created_at: time(v.created_at),
        started_at: opt_time(v.started_at),
        ended_at: opt_time(v.ended_at),
    }
}

pub(super) fn bracket_json(v: &TournamentView) -> TournamentBracket {
    TournamentBracket {
        tournament: tournament_json(v),
        current_round: v.current_round,
        ended_early: v.ended_early,
        matches: v
            .matches
            .iter()
            .map(|m| BracketMatch {
                index: m.index,
                stage: m.stage.clone(),
                round: m.round,
                slots: m
                    .slots
                    .iter()
                    .map(|s| BracketSlot {
                        kind: match s.kind.as_str() {
                            "seed" => "seed",
                            "bye" => "bye",
                            "winner" => "winner",
                            _ => "loser",
                        },
                        value: s.value,
                    })
                    .collect(),
                players: m.players.iter().map(|p| p.map(|u| u.public())).collect(),
                state: m.state.clone(),
                winner_side: m.winner_side,
                sessions: m.sessions.iter().map(|s| s.public()).collect(),
            })
            .collect(),
        standings: v
            .standings
            .iter()
            .map(|s| TournamentStanding {
                user_id: s.user.public(),
                seed: s.seed,
                place: s.place,
                wins: s.wins,
                draws: s.draws,
                losses: s.losses,
                points: halves(s.points_half, 2),
                buchholz: halves(s.buchholz_half, 2),
                sonneborn_berger: halves(s.sonneborn_berger_quarter, 4),
                prize: money(s.prize),
            })
            .collect(),
    }
}

pub(super) async fn fetch_tournament(
    state: &AppState,
    tournament: TournamentId,
) -> ApiResult<TournamentView> {
    match state
        .query(Query::Tournament(TournamentQuery { tournament }))
        .await?
    {
        QueryReply::Tournament(view) => Ok(view),
        _ => Err(ApiError::from(
            betbet_protocol::result::ResultCode::TournamentNotFound,
        )),
    }
}

/// Creates a tournament of a game; your `prize_pool` moves into its escrow at once.
#[utoipa::path(post, path = "/tournaments/create", tag = "tournaments",
    request_body = CreateTournamentBody,
    responses((status = 201, description = "The new tournament", body = TournamentBracket)))]
pub(super) async fn create_tournament(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateTournamentBody>,
) -> ApiResult<(StatusCode, Json<TournamentBracket>)> {
    let distribution_bp = distribution(body.prize_distribution)?;
    let starts_at = match body.starts_at.as_deref() {
        Some(text) => timestamp("starts_at", text)?,
        None => Timestamp::from_secs(AppState::now_secs() + STARTS_IN_SECS_DEFAULT),
    };
    let mut server_seed = [0u8; SERVER_SEED_BYTES];
    getrandom::fill(&mut server_seed).map_err(|_| ApiError::internal("no randomness"))?;
    let places = distribution_bp.len() as u32;
    let command = CreateTournament {
        actor: caller.user,
        game: super::parse_game(&body.game_id)?,
        name: body.name.unwrap_or_else(|| "Tournament".to_owned()),
        format: format_of(&body.format)?,
        third_place: body.third_place,
        rounds: body.rounds.unwrap_or(0),
        entry_fee: zero_or_amount("entry_fee", body.entry_fee)?,
        prize_pool: zero_or_amount("prize_pool", Some(body.prize_pool))?,
        currency: currency(body.currency.as_deref().unwrap_or("USD"))?,
        max_players: body.max_players.unwrap_or(MAX_PLAYERS_DEFAULT),
        min_players: body.min_players.unwrap_or(places.max(2)),
        starts_at,
        distribution_bp,
        check_in_secs: body.check_in_secs.unwrap_or(CHECK_IN_SECS_DEFAULT),
        server_seed,
    };
    let Reply::Created(created) = state
        .core
        .execute(Command::CreateTournament(command))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let view = fetch_tournament(&state, TournamentId(created.id)).await?;
    Ok((StatusCode::CREATED, Json(bracket_json(&view))))
}

/// The spec's `user_id` may be given; it must be the caller.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TournamentRegisterBody {
    user_id: Option<String>,
}

async fn action(
    state: &AppState,
    caller: &AuthUser,
    tournament_id: &str,
    make: fn(TournamentAction) -> Command,
) -> ApiResult<Json<TournamentBracket>> {
    let tournament = parse_tournament(tournament_id)?;
    state
        .core
        .execute(make(TournamentAction {
            actor: caller.user,
            tournament,
        }))
        .await?;
    Ok(Json(bracket_json(
        &fetch_tournament(state, tournament).await?,
    )))
}

/// Registers you before the start: the entry fee moves from your wallet into escrow.
#[utoipa::path(post, path = "/tournaments/{tournament_id}/register", tag = "tournaments",
    request_body(content = Option<TournamentRegisterBody>, description = "Optional"),
    responses((status = 200, description = "The tournament", body = TournamentBracket)))]
pub(super) async fn register(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(tournament_id): Path<String>,
    OptBody(body): OptBody<TournamentRegisterBody>,
) -> ApiResult<Json<TournamentBracket>> {
    caller.require_self(
        "user_id",
        body.user_id.as_deref(),
        "a player registers themselves",
    )?;
    action(&state, &caller, &tournament_id, Command::RegisterTournament).await
}

/// Withdraws your registration before the start; the entry fee comes back.
#[utoipa::path(post, path = "/tournaments/{tournament_id}/unregister", tag = "tournaments",
    responses((status = 200, description = "The tournament", body = TournamentBracket)))]
pub(super) async fn unregister(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(tournament_id): Path<String>,
) -> ApiResult<Json<TournamentBracket>> {
    action(
        &state,
        &caller,
        &tournament_id,
        Command::UnregisterTournament,
    )
    .await
}

/// Cancels a tournament before its start (its creator or an admin): every fee and the
/// prize pool come back.
#[utoipa::path(post, path = "/tournaments/{tournament_id}/cancel", tag = "tournaments",
    responses((status = 200, description = "The tournament", body = TournamentBracket)))]
pub(super) async fn cancel(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(tournament_id): Path<String>,
) -> ApiResult<Json<TournamentBracket>> {
    action(&state, &caller, &tournament_id, Command::CancelTournament).await
}

/// Starts a tournament before its `starts_at` (its creator or an admin), once it has its
/// `min_players`: the seeding, then the first matches' sessions.
#[utoipa::path(post, path = "/tournaments/{tournament_id}/start", tag = "tournaments",
    responses((status = 200, description = "The tournament, running", body = TournamentBracket)))]
pub(super) async fn start(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(tournament_id): Path<String>,
) -> ApiResult<Json<TournamentBracket>> {
    action(&state, &caller, &tournament_id, Command::StartTournament).await
}

/// The bracket: every match (with where its players come from, before any is played),
/// results, the current round and the standings with their tiebreaks and prizes.
#[utoipa::path(get, path = "/tournaments/{tournament_id}/bracket", tag = "tournaments",
    responses((status = 200, description = "The bracket", body = TournamentBracket)))]
pub(super) async fn bracket(
    State(state): State<AppState>,
    Path(tournament_id): Path<String>,
) -> ApiResult<Json<TournamentBracket>> {
    let tournament = parse_tournament(&tournament_id)?;
    Ok(Json(bracket_json(
        &fetch_tournament(&state, tournament).await?,
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct TournamentListParams {
    #[param(pattern = "^(registration|running|completed|cancelled)$")]
    status: Option<String>,
    game_id: Option<String>,
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Tournaments per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct TournamentPage {
    page: u32,
    limit: u32,
    total: u32,
    tournaments: Vec<Tournament>,
}

/// Tournaments, newest first, by status and game.
#[utoipa::path(get, path = "/tournaments", tag = "tournaments", params(TournamentListParams),
    responses((status = 200, description = "A page of tournaments", body = TournamentPage)))]
pub(super) async fn list(
    State(state): State<AppState>,
    Params(params): Params<TournamentListParams>,
) -> ApiResult<Json<TournamentPage>> {
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let status = match params.status.as_deref() {
        None => None,
        Some(text) => Some(TournamentStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request("status is registration, running, completed or cancelled")
        })?),
    };
    let game = params
        .game_id
        .as_deref()
        .map(super::parse_game)
        .transpose()?;
    let QueryReply::Tournaments(list) = state
        .query(Query::Tournaments(TournamentListQuery {
            status,
            game,
            offset: (page - 1).saturating_mul(limit),
            limit,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(TournamentPage {
        page,
        limit,
        total: list.total,
        tournaments: list.tournaments.iter().map(tournament_json).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_and_percentages() {
        assert_eq!(halves(5, 2), "2.5");
        assert_eq!(halves(8, 2), "4");
        assert_eq!(halves(9, 4), "2.25");
        assert_eq!(halves(11, 4), "2.75");
        assert_eq!(percent(5_000), "50");
        assert_eq!(percent(3_333), "33.33");
        let shares = |v: &[&str]| {
            distribution(Some(
                v.iter()
                    .map(|s| Dec(betbet_protocol::types::parse_decimal(s).unwrap()))
                    .collect(),
            ))
        };
        assert_eq!(shares(&["50", "30", "20"]).unwrap(), [5_000, 3_000, 2_000]);
        assert_eq!(
            shares(&["33.34", "33.33", "33.33"]).unwrap(),
            [3_334, 3_333, 3_333]
        );
        assert!(shares(&["50.001"]).is_err());
        assert!(shares(&["0"]).is_err());
        assert!(shares(&["101"]).is_err());
        assert!(
            shares(&["79228162514264337593543950335"]).is_err(),
            "no overflow"
        );
        assert_eq!(distribution(None).unwrap(), [5_000, 3_000, 2_000]);
    }
}
