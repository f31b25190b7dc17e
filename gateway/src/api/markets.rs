//! Market routes (spec Service 3): discovery, creation and lifecycle, orders, the order book,
//! charts, positions and pools.
//!
//! Prices are in the named outcome's own terms: a binary market's NO outcome shows its
//! book mirrored (bids at 1 − YES ask). Orders may give `odds` with `position_type` instead of
//! a price: backing at odds `o` buys at ≤ 1/`o`, laying sells at ≥ 1/`o` (see
//! `betbet_protocol::odds`, the one place the conversion lives).

use super::table::{Access::*, BodyKind::*, DELETE, GET, POST, PUT, Routes};
use crate::error::{ApiError, ApiResult};
use crate::ids::PublicId;
use crate::json::{
    Body, Dec, OptBody, PAGE_MAX, Params, amount, bounded, currency, money, opt_time, price,
    price_text, qty, qty_text, time, timestamp,
};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use betbet_engine::runtime::CommandOutcome;
use betbet_protocol::command::*;
use betbet_protocol::event::{Event, PoolStatus};
use betbet_protocol::message::{Empty, Reply, Response};
use betbet_protocol::odds;
use betbet_protocol::query::*;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::*;
use betbet_protocol::view::{
    Candle, MarketView, OrderView, OutcomeView, PoolView, PositionView, ProposalView,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(&[(GET, Public, NoBody)], routes!(list_markets))
        .route(&[(GET, Public, NoBody)], routes!(trending_markets))
        .route(&[(GET, Public, NoBody)], routes!(market_categories))
        .route(&[(POST, User, JsonBody)], routes!(create_market))
        .route(
            &[(GET, Public, NoBody), (PUT, Owner, JsonBody)],
            routes!(get_market, update_market),
        )
        .route(&[(POST, Owner, JsonBody)], routes!(resolve_market))
        .route(&[(POST, Admin, NoBody)], routes!(void_market))
        .route(&[(POST, User, JsonBody)], routes!(dispute_resolution))
        .route(&[(POST, User, JsonBody)], routes!(place_order))
        .route(&[(POST, User, MaybeJsonBody)], routes!(cancel_all_orders))
        .route(&[(GET, Public, NoBody)], routes!(get_orderbook))
        .route(&[(GET, Public, NoBody)], routes!(market_chart))
        .route(&[(POST, User, JsonBody)], routes!(mint_shares))
        .route(&[(POST, User, JsonBody)], routes!(merge_shares))
        .route(&[(GET, User, NoBody)], routes!(list_orders))
        .route(
            &[
                (DELETE, Owner, NoBody),
                (GET, Owner, NoBody),
                (PUT, Owner, JsonBody),
            ],
            routes!(cancel_order, get_order, amend_order),
        )
        .route(&[(GET, Owner, NoBody)], routes!(list_positions))
        .route(&[(POST, Owner, MaybeJsonBody)], routes!(close_position))
        .route(&[(POST, User, JsonBody)], routes!(create_pool))
        .route(&[(GET, User, NoBody)], routes!(get_pool))
        .route(&[(POST, User, MaybeJsonBody)], routes!(join_pool))
        .route(&[(POST, User, NoBody)], routes!(leave_pool))
        .route(&[(POST, Owner, NoBody)], routes!(start_pool))
        .route(&[(POST, Owner, NoBody)], routes!(settle_pool))
        .route(&[(GET, User, NoBody)], routes!(list_pool_members))
}

pub fn parse_market(id: &str) -> ApiResult<MarketId> {
    crate::ids::parse_path(id, "market")
}

fn opt_price(price: Option<Price>) -> Option<String> {
    price.map(price_text)
}

/// One outcome of a market, with its book's top and its last trade.
#[derive(Serialize, ToSchema)]
struct Outcome {
    /// `out_<n>`.
    id: String,
    outcome_text: String,
    /// The best bid, a price between 0 and 1 in this outcome's terms; null if none.
    #[schema(required = true)]
    best_bid: Option<String>,
    /// The best ask; null if none.
    #[schema(required = true)]
    best_ask: Option<String>,
    /// The last traded price; null before the first trade.
    #[schema(required = true)]
    last_price: Option<String>,
    /// Decimal odds (1 / price) of the last price, else of the best ask or bid; null if
    /// the outcome has none of them.
    #[schema(required = true)]
    current_odds: Option<String>,
    /// Shares traded, a decimal string.
    volume: String,
    /// Whether this outcome won; null until the market is resolved.
    #[schema(required = true)]
    is_winner: Option<bool>,
}

fn outcome_json(outcome: &OutcomeView) -> Outcome {
    Outcome {
        id: outcome.id.public(),
        outcome_text: outcome.text.clone(),
        best_bid: opt_price(outcome.best_bid),
        best_ask: opt_price(outcome.best_ask),
        last_price: opt_price(outcome.last_price),
        // The spec's current_odds: decimal odds of the last price (or the mid of the book).
        current_odds: outcome
            .last_price
            .or(outcome.best_ask)
            .or(outcome.best_bid)
            .map(|p| odds::odds_of(p).to_string()),
        volume: qty_text(outcome.volume),
        is_winner: outcome.is_winner,
    }
}

/// A market, its outcomes and any proposed resolution.
#[derive(Serialize, ToSchema)]
pub struct Market {
    /// `mkt_<n>`.
    id: String,
    title: String,
    description: String,
    category: String,
    #[schema(pattern = "^(binary|multiple|scalar)$")]
    market_type: &'static str,
    creator_id: String,
    /// The creator's fee on traded notional, a percent with two decimals (`"1.00"`).
    creator_fee_percent: String,
    /// The price grid.
    #[schema(pattern = "^(0\\.01|0\\.001|0\\.0001)$")]
    tick_size: &'static str,
    currency: String,
    #[schema(pattern = "^(open|closed|resolved|voided)$")]
    status: &'static str,
    #[schema(pattern = "^(manual|automated)$")]
    oracle_type: &'static str,
    resolution_source: String,
    opens_at: String,
    closes_at: String,
    created_at: String,
    /// Null until the resolution is final.
    #[schema(required = true)]
    resolved_at: Option<String>,
    /// The winning outcome's id, or a scalar market's value; null until resolved.
    #[schema(required = true)]
    resolution_value: Option<String>,
    /// A scalar market's range; null for the other types.
    #[schema(required = true)]
    scalar_low: Option<String>,
    #[schema(required = true)]
    scalar_high: Option<String>,
    /// Traded notional, in the market's currency.
    total_volume: String,
    volume_24h: String,
    trades: u64,
    participant_count: u32,
    outcomes: Vec<Outcome>,
    /// The proposed (or final) resolution; null if none was proposed.
    #[schema(required = true)]
    resolution: Option<Resolution>,
}

/// The market as a typed response.
pub fn market_body(market: &MarketView) -> Market {
    let scalar = market.market_type == MarketType::Scalar;
    Market {
        id: market.id.public(),
        title: market.title.clone(),
        description: market.description.clone(),
        category: market.category.clone(),
        market_type: market.market_type.as_str(),
        creator_id: market.creator.public(),
        creator_fee_percent: format!(
            "{}.{:02}",
            market.creator_fee_bp / 100,
            market.creator_fee_bp % 100
        ),
        tick_size: market.tick_size.as_str(),
        currency: market.currency.as_str().to_owned(),
        status: market.status.as_str(),
        oracle_type: market.oracle_type.as_str(),
        resolution_source: market.resolution_source.clone(),
        opens_at: time(market.opens_at),
        closes_at: time(market.closes_at),
        created_at: time(market.created_at),
        resolved_at: opt_time(market.resolved_at),
        resolution_value: market
            .winner
            .map(|w| w.public())
            .or(market.scalar_value.map(money)),
        scalar_low: scalar.then(|| money(market.scalar_low)),
        scalar_high: scalar.then(|| money(market.scalar_high)),
        total_volume: money(market.volume),
        volume_24h: money(market.volume_24h),
        trades: market.trades,
        participant_count: market.participants,
        outcomes: market.outcomes.iter().map(outcome_json).collect(),
        resolution: market.proposal.as_ref().map(|p| proposal_json(p, market)),
    }
}

/// The market as JSON (the WebSocket snapshot embeds it).
pub fn market_json(market: &MarketView) -> Value {
    serde_json::to_value(market_body(market)).unwrap_or_default()
}

/// A proposed resolution: what was proposed, by whom, when it becomes final, any dispute.
#[derive(Serialize, ToSchema)]
struct Resolution {
    /// `final` once the market is resolved or voided.
    #[schema(pattern = "^(proposed|disputed|final)$")]
    status: &'static str,
    /// The proposed winning outcome's id, or a scalar market's proposed value.
    #[schema(required = true)]
    proposed_value: Option<String>,
    proposed_by: String,
    proposed_at: String,
    /// When the proposal becomes final unless disputed.
    dispute_window_ends_at: String,
    /// Null unless disputed.
    #[schema(required = true)]
    disputed_by: Option<String>,
    #[schema(required = true)]
    dispute_reason: Option<String>,
    #[schema(required = true)]
    disputed_at: Option<String>,
}

fn proposal_json(proposal: &ProposalView, market: &MarketView) -> Resolution {
    let disputed = proposal.disputed_by.is_some();
    Resolution {
        status: if market.status == MarketStatus::Resolved || market.status == MarketStatus::Voided
        {
            "final"
        } else if disputed {
            "disputed"
        } else {
            "proposed"
        },
        proposed_value: proposal
            .winner
            .map(|w| w.public())
            .or(proposal.scalar_value.map(money)),
        proposed_by: proposal.proposed_by.public(),
        proposed_at: time(proposal.proposed_at),
        dispute_window_ends_at: time(proposal.final_at),
        disputed_by: proposal.disputed_by.map(PublicId::public),
        dispute_reason: disputed.then(|| proposal.dispute_reason.clone()),
        disputed_at: opt_time(proposal.disputed_at),
    }
}

pub async fn fetch_market(state: &AppState, market: MarketId) -> ApiResult<MarketView> {
    match state.query(Query::Market(MarketQuery { market })).await? {
        QueryReply::Market(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::MarketNotFound)),
    }
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// Only markets of this category.
    category: Option<String>,
    /// `open` (the default), `closed`, `resolved`, `voided` or `all`.
    #[param(pattern = "^(open|closed|resolved|voided|all)$")]
    status: Option<String>,
    /// `volume` (the default), `newest`, `closing_soon` or `trending`.
    #[param(pattern = "^(volume|newest|closing_soon|trending)$")]
    sort_by: Option<String>,
    /// The page, from 1 (the default).
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Markets per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// A page of markets.
#[derive(Serialize, ToSchema)]
struct MarketList {
    page: u32,
    limit: u32,
    /// How many markets match, over all pages.
    total: u32,
    markets: Vec<Market>,
}

/// Lists markets, filtered by category and status and sorted.
#[utoipa::path(get, path = "/markets", tag = "markets", params(ListParams),
    responses((status = 200, description = "A page of markets", body = MarketList)))]
async fn list_markets(
    State(state): State<AppState>,
    Params(params): Params<ListParams>,
) -> ApiResult<Json<MarketList>> {
    let status = match params.status.as_deref() {
        None => Some(MarketStatus::Open),
        Some("all") => None,
        Some(s) => Some(MarketStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request("status is open, closed, resolved, voided or all")
        })?),
    };
    let sort = match params.sort_by.as_deref() {
        None => MarketSort::Volume,
        Some(s) => MarketSort::parse(s).ok_or_else(|| {
            ApiError::bad_request("sort_by is volume, newest, closing_soon or trending")
        })?,
    };
    let limit = bounded("limit", params.limit, 20, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let QueryReply::Markets(list) = state
        .query(Query::Markets(MarketListQuery {
            category: params.category,
            status,
            sort,
            offset: (page - 1).saturating_mul(limit),
            limit,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(MarketList {
        page,
        limit,
        total: list.total,
        markets: list.markets.iter().map(market_body).collect(),
    }))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TrendingParams {
    /// How many markets: 10 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct TrendingMarkets {
    markets: Vec<Market>,
}

/// The open markets trading most actively now.
#[utoipa::path(get, path = "/markets/trending", tag = "markets", params(TrendingParams),
    responses((status = 200, description = "Trending open markets", body = TrendingMarkets)))]
async fn trending_markets(
    State(state): State<AppState>,
    Params(params): Params<TrendingParams>,
) -> ApiResult<Json<TrendingMarkets>> {
    let QueryReply::Markets(list) = state
        .query(Query::Markets(MarketListQuery {
            category: None,
            status: Some(MarketStatus::Open),
            sort: MarketSort::Trending,
            offset: 0,
            limit: bounded("limit", params.limit, 10, 1, PAGE_LIMIT_MAX)?,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(TrendingMarkets {
        markets: list.markets.iter().map(market_body).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
struct MarketCategory {
    category: String,
    open_markets: u32,
    total_markets: u32,
}

#[derive(Serialize, ToSchema)]
struct MarketCategories {
    categories: Vec<MarketCategory>,
}

/// The categories markets were created in, with how many are open.
#[utoipa::path(get, path = "/markets/categories", tag = "markets",
    responses((status = 200, description = "Every category in use", body = MarketCategories)))]
async fn market_categories(State(state): State<AppState>) -> ApiResult<Json<MarketCategories>> {
    let QueryReply::Categories(categories) = state.query(Query::Categories(Empty {})).await? else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(MarketCategories {
        categories: categories
            .iter()
            .map(|c| MarketCategory {
                category: c.category.clone(),
                open_markets: c.open,
                total_markets: c.total,
            })
            .collect(),
    }))
}

/// One market, with its outcomes and any proposed resolution.
#[utoipa::path(get, path = "/markets/{market_id}", tag = "markets",
    responses((status = 200, description = "The market", body = Market)))]
async fn get_market(
    State(state): State<AppState>,
    Path(market_id): Path<String>,
) -> ApiResult<Json<Market>> {
    Ok(Json(market_body(
        &fetch_market(&state, parse_market(&market_id)?).await?,
    )))
}

/// A new market. `title`, `market_type` and `closes_at` are required (they are optional
/// here only so that every missing field is reported in one answer).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateMarketBody {
    /// Required.
    title: Option<String>,
    #[serde(default)]
    description: String,
    /// Required: `binary`, `multiple` or `scalar`.
    #[schema(pattern = "^(binary|multiple|scalar)$")]
    market_type: Option<String>,
    /// The outcomes' texts: a multiple market's are required; a binary market's default
    /// to Yes and No, a scalar market's to Long and Short.
    #[serde(default)]
    outcomes: Vec<String>,
    /// Required: when trading ends, RFC 3339 (or `YYYY-MM-DD[THH:MM:SS]` in UTC).
    closes_at: Option<String>,
    /// When trading starts (default: at once).
    opens_at: Option<String>,
    /// Default: `general`.
    category: Option<String>,
    /// A percent with at most two decimals, 0 to 100 (default: 1).
    creator_fee_percent: Option<Dec>,
    /// `0.01` (the default), `0.001` or `0.0001`.
    #[schema(pattern = "^(0\\.01|0\\.001|0\\.0001)$")]
    tick_size: Option<String>,
    /// Default: `USD`.
    currency: Option<String>,
    /// `manual` (the default) or `automated`.
    #[schema(pattern = "^(manual|automated)$")]
    oracle_type: Option<String>,
    #[serde(default)]
    resolution_source: String,
    /// A scalar market's range (required for scalar markets, refused for the others).
    scalar_low: Option<Dec>,
    scalar_high: Option<Dec>,
}

/// A market's category when the request names none.
pub const CATEGORY_DEFAULT: &str = "general";

/// A percent with at most two decimals, as basis points.
fn percent_bp(value: Dec) -> ApiResult<u16> {
    crate::json::percent_bp(value).ok_or_else(|| ApiError::from(ResultCode::InvalidFee))
}

fn scalar_value(field: &str, value: Dec) -> ApiResult<Amount> {
    Amount::from_decimal(value.0).map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

/// Creates a market; the caller is its creator.
#[utoipa::path(post, path = "/markets/create", tag = "markets", request_body = CreateMarketBody,
    responses((status = 201, description = "The new market", body = Market)))]
async fn create_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateMarketBody>,
) -> ApiResult<(StatusCode, Json<Market>)> {
    // Every missing or invalid field is reported in one answer.
    let mut problems = crate::error::Problems::default();
    let title = problems.require("title", body.title);
    let market_type = problems
        .require("market_type", body.market_type)
        .and_then(|t| {
            problems.check(
                "market_type",
                MarketType::parse(&t)
                    .ok_or_else(|| ApiError::bad_request("must be binary, multiple or scalar")),
            )
        });
    let closes_at = problems
        .require("closes_at", body.closes_at)
        .and_then(|t| problems.check("closes_at", timestamp("closes_at", &t)));
    let opens_at = match body.opens_at.as_deref() {
        Some(t) => problems.check("opens_at", timestamp("opens_at", t)),
        None => Some(Timestamp::ZERO),
    };
    let tick_size = match body.tick_size.as_deref() {
        None => Some(TickSize::Cent),
        Some(t) => problems.check(
            "tick_size",
            TickSize::parse(t)
                .ok_or_else(|| ApiError::bad_request("must be 0.01, 0.001 or 0.0001")),
        ),
    };
    let oracle_type = match body.oracle_type.as_deref() {
        None => Some(OracleType::Manual),
        Some(o) => problems.check(
            "oracle_type",
            OracleType::parse(o)
                .ok_or_else(|| ApiError::bad_request("must be manual or automated")),
        ),
    };
    let creator_fee_bp = match body.creator_fee_percent {
        Some(p) => problems.check("creator_fee_percent", percent_bp(p)),
        None => Some(100),
    };
    let currency = problems.check(
        "currency",
        currency(body.currency.as_deref().unwrap_or("USD")),
    );
    let scalar = match (market_type, body.scalar_low, body.scalar_high) {
        (Some(MarketType::Scalar), Some(low), Some(high)) => {
            let low = problems.check("scalar_low", scalar_value("scalar_low", low));
            let high = problems.check("scalar_high", scalar_value("scalar_high", high));
            low.zip(high)
        }
        (Some(MarketType::Scalar), low, high) => {
            for (field, value) in [("scalar_low", low), ("scalar_high", high)] {
                if value.is_none() {
                    problems.add(field, "is required for a scalar market");
                }
            }
            None
        }
        (_, None, None) => Some((Amount(0), Amount(0))),
        (_, low, high) => {
            for (field, value) in [("scalar_low", low), ("scalar_high", high)] {
                if value.is_some() {
                    problems.add(field, "is for scalar markets only");
                }
            }
            None
        }
    };
    problems.finish()?;
    let (
        Some(title),
        Some(market_type),
        Some(closes_at),
        Some(opens_at),
        Some(tick_size),
        Some(oracle_type),
        Some(creator_fee_bp),
        Some(currency),
        Some((scalar_low, scalar_high)),
    ) = (
        title,
        market_type,
        closes_at,
        opens_at,
        tick_size,
        oracle_type,
        creator_fee_bp,
        currency,
        scalar,
    )
    else {
        return Err(ApiError::internal("a field was neither valid nor reported"));
    };
    let reply = state
        .core
        .execute(Command::CreateMarket(CreateMarket {
            actor: caller.user,
            title,
            description: body.description,
            category: body.category.unwrap_or_else(|| CATEGORY_DEFAULT.to_owned()),
            market_type,
            outcomes: body.outcomes,
            tick_size,
            currency,
            opens_at,
            closes_at,
            creator_fee_bp,
            oracle_type,
            resolution_source: body.resolution_source,
            scalar_low,
            scalar_high,
        }))
        .await?;
    let Reply::Market(created) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok((
        StatusCode::CREATED,
        Json(market_body(&fetch_market(&state, created.market).await?)),
    ))
}

/// What to change; at least one field.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateMarketBody {
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    closes_at: Option<String>,
    resolution_source: Option<String>,
    /// `closed` halts trading now (the only status that can be set here).
    status: Option<String>,
}

/// The market update as the document describes it: the fields, or the spec's `updates`
/// wrapping them (read by [`crate::json::unwrap_named`]).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document only")]
enum UpdateMarketRequest {
    Fields(UpdateMarketBody),
    Wrapped(UpdatesWrapper),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document only")]
struct UpdatesWrapper {
    updates: UpdateMarketBody,
}

/// Edits a market's details, or halts its trading.
#[utoipa::path(put, path = "/markets/{market_id}", tag = "markets",
    request_body(content = UpdateMarketRequest, description = "The fields to change, as the \
        object itself or wrapped as `{\"updates\": {…}}`"),
    responses((status = 200, description = "The market as it is now", body = Market)))]
async fn update_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<Value>,
) -> ApiResult<Json<Market>> {
    let market = parse_market(&market_id)?;
    // The spec's `updates` may come wrapped (`{"updates": {…}}`) or as the object.
    let body: UpdateMarketBody = crate::json::unwrap_named(body, "updates")?;
    let halt = match body.status.as_deref() {
        None => false,
        Some("closed") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "status can only be set to `closed` (use resolve or void to settle)",
            ));
        }
    };
    let changes = body.title.is_some()
        || body.description.is_some()
        || body.category.is_some()
        || body.closes_at.is_some()
        || body.resolution_source.is_some();
    if changes {
        state
            .core
            .execute(Command::UpdateMarket(UpdateMarket {
                actor: caller.user,
                market,
                title: body.title,
                description: body.description,
                category: body.category,
                closes_at: body
                    .closes_at
                    .as_deref()
                    .map(|t| timestamp("closes_at", t))
                    .transpose()?,
                resolution_source: body.resolution_source,
            }))
            .await?;
    }
    if halt {
        state
            .core
            .execute(Command::HaltMarket(HaltMarket {
                actor: caller.user,
                market,
            }))
            .await?;
    }
    if !changes && !halt {
        return Err(ApiError::bad_request("nothing to update"));
    }
    Ok(Json(market_body(&fetch_market(&state, market).await?)))
}

/// A resolution: a winning outcome, or a scalar market's value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    /// The winning outcome, by id (`out_3`) or by its text (any case); not for scalar
    /// markets.
    winning_outcome: Option<String>,
    /// A scalar market's outcome value.
    scalar_value: Option<Dec>,
}

/// Resolves a closed market.
///
/// The creator's resolution of a manual-oracle market is a proposal that becomes final when
/// its dispute window ends, unless a holder disputes it; an admin's is final at once.
#[utoipa::path(post, path = "/markets/{market_id}/resolve", tag = "markets",
    request_body = ResolveBody,
    responses((status = 200, description = "The market with its resolution", body = Market)))]
async fn resolve_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<ResolveBody>,
) -> ApiResult<Json<Market>> {
    let market = parse_market(&market_id)?;
    let view = fetch_market(&state, market).await?;
    // Who may resolve is answered before what the body says (the core decides it again).
    if view.creator != caller.user && !caller.is_admin() {
        return Err(ApiError::from(ResultCode::NotMarketCreator));
    }
    // A scalar market is resolved by a value, the others by a winning outcome.
    let given = (body.winning_outcome.is_some(), body.scalar_value.is_some());
    let ((needed, has_needed), (other, has_other)) = match view.market_type {
        MarketType::Scalar => (("scalar_value", given.1), ("winning_outcome", given.0)),
        _ => (("winning_outcome", given.0), ("scalar_value", given.1)),
    };
    let kind = view.market_type.as_str();
    let mut problems = crate::error::Problems::default();
    if !has_needed {
        problems.add(needed, format!("is required to resolve a {kind} market"));
    }
    if has_other {
        problems.add(other, format!("does not apply to a {kind} market"));
    }
    problems.finish()?;
    // The winning outcome by id (`out_3`) or by its text (`"Yes"`, any case).
    let winner = match body.winning_outcome.as_deref() {
        None => None,
        Some(given) => Some(
            OutcomeId::parse(given)
                .filter(|id| view.outcomes.iter().any(|o| o.id == *id))
                .or_else(|| {
                    view.outcomes
                        .iter()
                        .find(|o| o.text.eq_ignore_ascii_case(given.trim()))
                        .map(|o| o.id)
                })
                .ok_or_else(|| {
                    let names: Vec<String> = view
                        .outcomes
                        .iter()
                        .map(|o| format!("{} ({})", o.id.public(), o.text))
                        .collect();
                    ApiError {
                        fields: vec![(
                            "winning_outcome".to_owned(),
                            format!(
                                "is not an outcome of this market: one of {}",
                                names.join(", ")
                            ),
                        )],
                        ..ApiError::from(ResultCode::InvalidResolution)
                    }
                })?,
        ),
    };
    let scalar = body
        .scalar_value
        .map(|v| scalar_value("scalar_value", v))
        .transpose()?;
    state
        .core
        .execute(Command::ResolveMarket(ResolveMarket {
            actor: caller.user,
            market,
            winner,
            scalar_value: scalar,
        }))
        .await?;
    Ok(Json(market_body(&fetch_market(&state, market).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DisputeBody {
    /// Why the proposed resolution is wrong.
    reason: String,
}

/// A holder disputes a proposed resolution within its dispute window.
#[utoipa::path(post, path = "/markets/{market_id}/dispute", tag = "markets",
    request_body = DisputeBody,
    responses((status = 200, description = "The market with the disputed resolution",
        body = Market)))]
async fn dispute_resolution(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<DisputeBody>,
) -> ApiResult<Json<Market>> {
    let market = parse_market(&market_id)?;
    state
        .core
        .execute(Command::DisputeResolution(DisputeResolution {
            actor: caller.user,
            market,
            reason: body.reason,
        }))
        .await?;
    Ok(Json(market_body(&fetch_market(&state, market).await?)))
}

/// Voids a market: trading ends and each account is refunded what it put in, net.
#[utoipa::path(post, path = "/markets/{market_id}/void", tag = "markets",
    responses((status = 200, description = "The voided market", body = Market)))]
async fn void_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
) -> ApiResult<Json<Market>> {
    let market = parse_market(&market_id)?;
    state
        .core
        .execute(Command::VoidMarket(VoidMarket {
            actor: caller.user,
            market,
        }))
        .await?;
    Ok(Json(market_body(&fetch_market(&state, market).await?)))
}

/// An order as the REST and WebSocket APIs take it. Give either `price` (with `order_type`)
/// or `odds` with `position_type`: backing at odds `o` buys at most at 1/`o`, laying sells
/// at least at 1/`o`.
#[derive(Deserialize, Clone, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// The outcome to trade, `out_<n>`, of this market.
    pub outcome_id: String,
    /// `buy` or `sell`; implied by `position_type` if absent.
    #[schema(pattern = "^(buy|sell)$")]
    pub order_type: Option<String>,
    /// `limit` (the default) or `market`.
    #[schema(pattern = "^(limit|market)$")]
    pub order_subtype: Option<String>,
    /// The limit price, between 0 and 1 on the market's tick grid, in the outcome's terms.
    /// A market order without one accepts any price on the grid.
    pub price: Option<Dec>,
    /// Decimal odds instead of a price (needs `position_type`).
    pub odds: Option<Dec>,
    /// `back` (buys) or `lay` (sells).
    #[schema(pattern = "^(back|lay)$")]
    pub position_type: Option<String>,
    /// Shares, at most 4 decimals.
    pub quantity: Dec,
    /// `GTC` (the default), `GTD` (with `expires_at`), `IOC` (a market order's default) or
    /// `FOK`, in any case.
    #[schema(pattern = "^([Gg][Tt][CcDd]|[Ii][Oo][Cc]|[Ff][Oo][Kk])$")]
    pub time_in_force: Option<String>,
    /// When a GTD order expires.
    pub expires_at: Option<String>,
    /// Refuse the order rather than let it take liquidity.
    #[serde(default)]
    pub post_only: bool,
    /// The caller's own id for the order, 1 to 36 visible ASCII characters: placing it
    /// again answers with the original order.
    pub client_order_id: Option<String>,
    /// `cancel_resting` (the default), `cancel_taking` or `cancel_both`.
    #[schema(pattern = "^(cancel_resting|cancel_taking|cancel_both)$")]
    pub self_trade_prevention: Option<String>,
    /// Trade for a pool the caller manages, `pool_<n>`.
    pub pool_id: Option<String>,
}

/// What order validation needs of a market; none of it ever changes after creation, so
/// gateways cache it and an order costs one trip to the core, not three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketShape {
    pub id: MarketId,
    pub market_type: MarketType,
    pub tick_size: TickSize,
    pub outcomes: Vec<OutcomeId>,
}

/// Markets' shapes kept per gateway (bounded: cleared when full, refilled on demand).
pub const SHAPES_MAX: usize = 100_000;

pub async fn market_shape(
    state: &AppState,
    market: MarketId,
) -> ApiResult<std::sync::Arc<MarketShape>> {
    if let Some(shape) = state.shapes.lock().expect("shapes lock").get(&market) {
        return Ok(std::sync::Arc::clone(shape));
    }
    let view = fetch_market(state, market).await?;
    let shape = std::sync::Arc::new(MarketShape {
        id: view.id,
        market_type: view.market_type,
        tick_size: view.tick_size,
        outcomes: view.outcomes.iter().map(|o| o.id).collect(),
    });
    let mut shapes = state.shapes.lock().expect("shapes lock");
    if shapes.len() >= SHAPES_MAX {
        shapes.clear();
    }
    shapes.insert(market, std::sync::Arc::clone(&shape));
    Ok(shape)
}

/// Turns an order body into the engine command, checking what the engine cannot (units,
/// odds, the shape of the request).
pub fn order_command(
    actor: UserId,
    market: &MarketShape,
    body: OrderBody,
) -> ApiResult<PlaceOrder> {
    let outcome = OutcomeId::parse(&body.outcome_id)
        .filter(|o| market.outcomes.contains(o))
        .ok_or_else(|| ApiError::from(ResultCode::OutcomeNotFound))?;
    let kind = match body.order_subtype.as_deref() {
        None => OrderKind::Limit,
        Some(k) => OrderKind::parse(k)
            .ok_or_else(|| ApiError::bad_request("order_subtype is limit or market"))?,
    };
    let declared_side = body
        .order_type
        .as_deref()
        .map(|s| Side::parse(s).ok_or_else(|| ApiError::bad_request("order_type is buy or sell")))
        .transpose()?;
    let (side, limit) = match (body.odds, body.position_type.as_deref(), body.price) {
        (Some(o), Some(position), None) => {
            let (side, converted) = match position {
                "back" => (Side::Buy, odds::back_price(o.0, market.tick_size)),
                "lay" => (Side::Sell, odds::lay_price(o.0, market.tick_size)),
                _ => return Err(ApiError::bad_request("position_type is back or lay")),
            };
            if declared_side.is_some_and(|d| d != side) {
                return Err(ApiError::bad_request(
                    "order_type contradicts position_type (back buys, lay sells)",
                ));
            }
            let converted = converted.map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_price",
                    format!("odds: {e}"),
                )
            })?;
            (side, Some(converted))
        }
        (Some(_), _, Some(_)) => {
            return Err(ApiError::bad_request("give either price or odds, not both"));
        }
        (Some(_), None, None) => {
            return Err(ApiError::bad_request(
                "odds need a position_type (back or lay)",
            ));
        }
        (None, position, price_value) => {
            let side = match (declared_side, position) {
                (Some(side), _) => side,
                (None, Some("back")) => Side::Buy,
                (None, Some("lay")) => Side::Sell,
                _ => {
                    return Err(ApiError::bad_request(
                        "order_type (buy or sell) is required",
                    ));
                }
            };
            (side, price_value.map(|p| price("price", p)).transpose()?)
        }
    };
    let tick = market.tick_size.units();
    let limit = match (kind, limit) {
        (_, Some(limit)) => limit,
        // A market order without a bound accepts any price on the grid.
        (OrderKind::Market, None) => match side {
            Side::Buy => Price(PRICE_SCALE - tick),
            Side::Sell => Price(tick),
        },
        (OrderKind::Limit, None) => {
            return Err(ApiError::bad_request(
                "a limit order needs a price (or odds)",
            ));
        }
    };
    let time_in_force = match body.time_in_force.as_deref() {
        None if kind == OrderKind::Market => TimeInForce::Ioc,
        None if body.expires_at.is_some() => TimeInForce::Gtd,
        None => TimeInForce::Gtc,
        Some(t) => TimeInForce::parse(&t.to_ascii_lowercase())
            .ok_or_else(|| ApiError::from(ResultCode::InvalidTimeInForce))?,
    };
    let expires_at = match (time_in_force, body.expires_at.as_deref()) {
        (TimeInForce::Gtd, Some(t)) => timestamp("expires_at", t)?,
        (TimeInForce::Gtd, None) => {
            return Err(ApiError::bad_request("GTD orders need expires_at"));
        }
        (_, Some(_)) => return Err(ApiError::bad_request("expires_at is for GTD orders")),
        (_, None) => Timestamp::ZERO,
    };
    let client_order_id = body
        .client_order_id
        .as_deref()
        .map(|c| {
            ClientOrderId::new(c).ok_or_else(|| {
                ApiError::bad_request("client_order_id is 1 to 36 visible ASCII characters")
            })
        })
        .transpose()?;
    let self_trade = match body.self_trade_prevention.as_deref() {
        None => SelfTradePrevention::CancelResting,
        Some(s) => SelfTradePrevention::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "self_trade_prevention is cancel_resting, cancel_taking or cancel_both",
            )
        })?,
    };
    let pool = body
        .pool_id
        .as_deref()
        .map(|p| PoolId::parse(p).ok_or_else(|| ApiError::from(ResultCode::PoolNotFound)))
        .transpose()?;
    Ok(PlaceOrder {
        actor,
        pool,
        market: market.id,
        outcome,
        side,
        kind,
        price: limit,
        qty: qty("quantity", body.quantity)?,
        time_in_force,
        expires_at,
        post_only: body.post_only,
        client_order_id,
        self_trade,
    })
}

/// Which way a view of an order sees YES prices: true for a binary NO outcome or a lay.
fn no_terms(market: &MarketView, outcome: OutcomeId) -> bool {
    market.market_type != MarketType::Multiple
        && market.outcomes.get(1).is_some_and(|o| o.id == outcome)
}

/// Whether orders on `outcome` are in mirrored (NO) terms: a binary or scalar market's
/// second outcome trades on the first one's book.
pub fn shape_no_terms(market: &MarketShape, outcome: OutcomeId) -> bool {
    market.market_type != MarketType::Multiple && market.outcomes.get(1) == Some(&outcome)
}

/// An order, in its outcome's price terms.
#[derive(Serialize, ToSchema)]
pub struct Order {
    /// `ord_<n>`.
    id: String,
    user_id: String,
    market_id: String,
    outcome_id: String,
    /// The pool the order trades for; null for the caller's own money.
    #[schema(required = true)]
    pool_id: Option<String>,
    #[schema(pattern = "^(buy|sell)$")]
    order_type: &'static str,
    #[schema(pattern = "^(limit|market)$")]
    order_subtype: &'static str,
    /// The limit price, between 0 and 1.
    price: String,
    /// The decimal odds of the limit price (1 / price).
    odds: String,
    /// Shares ordered.
    quantity: String,
    filled_quantity: String,
    remaining_quantity: String,
    #[schema(pattern = "^(open|partially_filled|filled|cancelled|expired)$")]
    status: &'static str,
    /// Why the order ended; null while it is open.
    #[schema(
        pattern = "^(filled|cancelled|expired|self_trade_prevention|unfilled_remainder|market_closed|replaced)$"
    )]
    #[schema(required = true)]
    reason: Option<&'static str>,
    #[schema(pattern = "^(GTC|GTD|IOC|FOK)$")]
    time_in_force: String,
    /// A GTD order's expiry; null for the others.
    #[schema(required = true)]
    expires_at: Option<String>,
    post_only: bool,
    #[schema(required = true)]
    client_order_id: Option<String>,
    /// What the fills cost (or paid), in the market's currency.
    filled_notional: String,
    /// The average fill price; null before the first fill.
    #[schema(required = true)]
    average_price: Option<String>,
    trades: u32,
    created_at: String,
    updated_at: String,
}

pub fn order_json(order: &OrderView) -> Order {
    Order {
        id: order.id.public(),
        user_id: order.user.public(),
        market_id: order.market.public(),
        outcome_id: order.outcome.public(),
        pool_id: order.pool.map(PublicId::public),
        order_type: order.side.as_str(),
        order_subtype: order.kind.as_str(),
        price: price_text(order.price),
        odds: odds::odds_of(order.price).to_string(),
        quantity: qty_text(order.qty),
        filled_quantity: qty_text(order.filled),
        remaining_quantity: qty_text(order.remaining),
        status: order.status.as_str(),
        reason: order.reason.map(|r| r.as_str()),
        time_in_force: order.time_in_force.as_str().to_ascii_uppercase(),
        expires_at: (order.time_in_force == TimeInForce::Gtd).then(|| time(order.expires_at)),
        post_only: order.post_only,
        client_order_id: order.client_order_id.map(|c| c.as_str().to_owned()),
        filled_notional: money(order.filled_notional),
        // Notional / quantity, both exact: 10^-8 amount over 10^-4 shares gives 10^-4 price.
        average_price: (order.filled.0 > 0).then(|| {
            price_text(Price(
                (order.filled_notional.0 / order.filled.0 as i64) as u32,
            ))
        }),
        trades: order.trades,
        created_at: time(order.created_at),
        updated_at: time(order.updated_at),
    }
}

/// A trade of an order.
#[derive(Serialize, ToSchema)]
pub struct Fill {
    /// `trd_<n>`.
    trade_id: String,
    /// In the order's own price terms.
    price: String,
    quantity: String,
    /// `taker` if this order took liquidity, `maker` if it rested.
    #[schema(pattern = "^(taker|maker)$")]
    liquidity: &'static str,
    at: String,
}

/// The fills of `order` among a command's events, in the order's own price terms.
pub fn fills_json(events: &[Event], order: OrderId, no_view: bool) -> Vec<Fill> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Trade(t) if t.taker_order == order || t.maker_order == order => Some(t),
            _ => None,
        })
        .map(|t| {
            let p = if no_view {
                t.price.complement()
            } else {
                t.price
            };
            Fill {
                trade_id: t.trade.public(),
                price: price_text(p),
                quantity: qty_text(t.qty),
                liquidity: if t.taker_order == order {
                    "taker"
                } else {
                    "maker"
                },
                at: time(t.at),
            }
        })
        .collect()
}

/// An order with the fills the request just made.
#[derive(Serialize, ToSchema)]
struct FilledOrder {
    #[serde(flatten)]
    order: Order,
    /// The trades this request made, oldest first.
    fills: Vec<Fill>,
}

/// A placed order, with the fills it made on arrival.
#[derive(Serialize, ToSchema)]
pub struct PlacedOrder {
    #[serde(flatten)]
    order: Order,
    /// The trades the order made on arrival, oldest first.
    fills: Vec<Fill>,
    /// Whether the `client_order_id` was used before: the answer is then the original
    /// order as it is now.
    duplicate: bool,
}

pub async fn fetch_order(state: &AppState, order: OrderId) -> ApiResult<OrderView> {
    match state.query(Query::Order(OrderQuery { order })).await? {
        QueryReply::Order(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::OrderNotFound)),
    }
}

/// An order checked and ready for the core: [`place`] in two halves, so a WebSocket can
/// queue it at once and answer it when its reply comes ([`PreparedOrder::placed`]).
pub struct PreparedOrder {
    pub command: PlaceOrder,
    /// Whether the order is in its market's NO terms (fills priced 1 − the book's price).
    no_view: bool,
}

/// Checks an order of `caller` against its market: the command to send.
pub async fn prepare_order(
    state: &AppState,
    caller: &AuthUser,
    market_id: MarketId,
    body: OrderBody,
) -> ApiResult<PreparedOrder> {
    let market = market_shape(state, market_id).await?;
    let command = order_command(caller.user, &market, body)?;
    let no_view = shape_no_terms(&market, command.outcome);
    Ok(PreparedOrder { command, no_view })
}

impl PreparedOrder {
    /// The order and its fills, from the core's answer to the command. One trip to the core:
    /// the view is built from the command and its report.
    pub async fn placed(self, state: &AppState, outcome: CommandOutcome) -> ApiResult<PlacedOrder> {
        let PreparedOrder { command, no_view } = self;
        let report = match outcome.response {
            Response::Accepted(Reply::Order(report)) => report,
            Response::Rejected(code) => return Err(ApiError::from(code)),
            _ => return Err(ApiError::internal("unexpected reply")),
        };
        let view = if report.duplicate {
            // A repeated client order id answers with the original order, as it is now.
            fetch_order(state, report.order).await?
        } else {
            let reason = outcome.events.iter().rev().find_map(|e| match e {
                Event::OrderUpdated(u) if u.order == report.order => u.reason,
                _ => None,
            });
            OrderView {
                id: report.order,
                user: command.actor,
                pool: command.pool,
                market: command.market,
                outcome: command.outcome,
                side: command.side,
                kind: command.kind,
                price: command.price,
                qty: command.qty,
                filled: report.filled,
                remaining: report.remaining,
                status: report.status,
                reason,
                time_in_force: match (command.kind, command.time_in_force) {
                    (OrderKind::Market, TimeInForce::Fok) => TimeInForce::Fok,
                    (OrderKind::Market, _) => TimeInForce::Ioc,
                    (_, tif) => tif,
                },
                expires_at: command.expires_at,
                post_only: command.post_only,
                client_order_id: command.client_order_id,
                filled_notional: report.filled_notional,
                trades: report.trades,
                created_at: outcome.at,
                updated_at: outcome.at,
            }
        };
        Ok(PlacedOrder {
            order: order_json(&view),
            fills: fills_json(&outcome.events, report.order, no_view),
            duplicate: report.duplicate,
        })
    }
}

/// Places an order for `caller`; returns the order and its fills.
pub async fn place(
    state: &AppState,
    caller: &AuthUser,
    market_id: MarketId,
    body: OrderBody,
) -> ApiResult<PlacedOrder> {
    let prepared = prepare_order(state, caller, market_id, body).await?;
    let outcome = state
        .core
        .command(Command::PlaceOrder(prepared.command.clone()))
        .await?;
    prepared.placed(state, outcome).await
}

/// Places an order on one outcome of a market.
#[utoipa::path(post, path = "/markets/{market_id}/orders", tag = "orders",
    request_body = OrderBody,
    responses(
        (status = 201, description = "The order, with the fills it made on arrival",
            body = PlacedOrder),
        (status = 200, description = "The `client_order_id` was used before: the original \
            order, as it is now", body = PlacedOrder),
    ))]
async fn place_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<OrderBody>,
) -> ApiResult<(StatusCode, Json<PlacedOrder>)> {
    let body = place(&state, &caller, parse_market(&market_id)?, body).await?;
    let status = if body.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(body)))
}

pub fn parse_order(id: &str) -> ApiResult<OrderId> {
    crate::ids::parse_path(id, "order")
}

pub async fn cancel(state: &AppState, caller: &AuthUser, order: OrderId) -> ApiResult<Order> {
    state
        .core
        .execute(Command::CancelOrder(CancelOrder {
            actor: caller.user,
            order,
        }))
        .await?;
    Ok(order_json(&fetch_order(state, order).await?))
}

/// Cancels an open order.
#[utoipa::path(delete, path = "/orders/{order_id}", tag = "orders",
    responses((status = 200, description = "The cancelled order", body = Order)))]
async fn cancel_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> ApiResult<Json<Order>> {
    Ok(Json(
        cancel(&state, &caller, parse_order(&order_id)?).await?,
    ))
}

/// One of the caller's orders.
#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders",
    responses((status = 200, description = "The order", body = Order)))]
async fn get_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> ApiResult<Json<Order>> {
    let id = parse_order(&order_id)?;
    let order = match fetch_order(&state, id).await {
        Ok(order) => order,
        // An ended order past the core's window is in the history store.
        Err(error) => match state.history().await? {
            Some(history) => history.order(id).await?.ok_or(error)?,
            None => return Err(error),
        },
    };
    if caller.may_access(order.user).is_err() {
        return Err(ApiError::from(ResultCode::OrderNotFound));
    }
    Ok(Json(order_json(&order)))
}

/// An order's new price and quantity.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AmendBody {
    /// The new remaining quantity, in shares. Less at the same price keeps the order's
    /// place in the queue; anything else re-queues it.
    quantity: Dec,
    /// The new limit price, in the order's own terms.
    price: Dec,
}

/// Changes an open order's price and remaining quantity.
///
/// Less at the same price keeps the order's place in the queue; anything else re-queues it,
/// and it may trade at once.
#[utoipa::path(put, path = "/orders/{order_id}", tag = "orders", request_body = AmendBody,
    responses((status = 200, description = "The order as amended, with any fills it made",
        body = FilledOrder)))]
async fn amend_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
    Body(body): Body<AmendBody>,
) -> ApiResult<Json<FilledOrder>> {
    let order = parse_order(&order_id)?;
    let outcome = state
        .core
        .command(Command::AmendOrder(AmendOrder {
            actor: caller.user,
            order,
            qty: qty("quantity", body.quantity)?,
            price: price("price", body.price)?,
        }))
        .await?;
    if let Response::Rejected(code) = outcome.response {
        return Err(ApiError::from(code));
    }
    let view = fetch_order(&state, order).await?;
    let market = fetch_market(&state, view.market).await?;
    Ok(Json(FilledOrder {
        order: order_json(&view),
        fills: fills_json(&outcome.events, order, no_terms(&market, view.outcome)),
    }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelAllBody {
    /// Cancel a managed pool's orders instead of the caller's own.
    pool_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct CancelledOrders {
    market_id: String,
    /// How many orders were cancelled.
    cancelled: u64,
}

/// Cancels all the caller's (or a pool's) open orders in a market.
#[utoipa::path(post, path = "/markets/{market_id}/orders/cancel-all", tag = "orders",
    request_body(content = Option<CancelAllBody>,
        description = "Optional: a pool, or no body at all"),
    responses((status = 200, description = "How many orders were cancelled",
        body = CancelledOrders)))]
async fn cancel_all_orders(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    OptBody(body): OptBody<CancelAllBody>,
) -> ApiResult<Json<CancelledOrders>> {
    let market = parse_market(&market_id)?;
    let pool = body
        .pool_id
        .as_deref()
        .map(|p| PoolId::parse(p).ok_or_else(|| ApiError::from(ResultCode::PoolNotFound)))
        .transpose()?;
    let Reply::Created(count) = state
        .core
        .execute(Command::CancelAll(CancelAll {
            actor: caller.user,
            market,
            pool,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(CancelledOrders {
        market_id: market.public(),
        cancelled: count.id,
    }))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OrdersParams {
    /// Only orders in this market, `mkt_<n>`.
    market_id: Option<String>,
    /// `open` (the default: open and partially filled orders) or `all`.
    #[param(pattern = "^(open|all)$")]
    status: Option<String>,
    /// The page, from 1 (the default).
    #[param(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    /// Orders per page: 50 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
struct OrderList {
    orders: Vec<Order>,
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrdersParams),
    responses((status = 200, description = "A page of the caller's orders", body = OrderList)))]
async fn list_orders(
    State(state): State<AppState>,
    caller: AuthUser,
    Params(params): Params<OrdersParams>,
) -> ApiResult<Json<OrderList>> {
    let market = params.market_id.as_deref().map(parse_market).transpose()?;
    let open = match params.status.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(_) => return Err(ApiError::bad_request("status is open or all")),
    };
    let limit = bounded("limit", params.limit, 50, 1, PAGE_LIMIT_MAX)?;
    let page = bounded("page", params.page, 1, 1, PAGE_MAX)?;
    let offset = (page - 1).saturating_mul(limit);
    let QueryReply::Orders(mut orders) = state
        .query(Query::Orders(OrdersQuery {
            user: caller.user,
            market,
            open,
            offset,
            limit,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    // Open orders are all in the core; ended ones past its window are in the store.
    if !open
        && orders.len() < limit as usize
        && let Some(history) = state.history().await?
    {
        orders = history.orders(caller.user, market, offset, limit).await?;
    }
    Ok(Json(OrderList {
        orders: orders.iter().map(order_json).collect(),
    }))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct BookParams {
    /// The outcome whose book to show, `out_<n>` (default: the market's first).
    outcome_id: Option<String>,
    /// Price levels per side: 20 by default, at most 10 000.
    #[param(minimum = 1, maximum = 10_000)]
    depth: Option<u32>,
}

/// One price level of a book.
#[derive(Serialize, ToSchema)]
struct BookLevel {
    price: String,
    /// Shares resting at this price.
    quantity: String,
    /// How many orders rest at this price.
    orders: u32,
}

/// One side of a book as levels, in the outcome's own terms.
fn levels_json(levels: &[Level], mirror: bool) -> Vec<BookLevel> {
    levels
        .iter()
        .map(|l| {
            let p = if mirror {
                l.price.complement()
            } else {
                l.price
            };
            BookLevel {
                price: price_text(p),
                quantity: qty_text(l.qty),
                orders: l.orders,
            }
        })
        .collect()
}

/// An outcome's book, best levels first.
#[derive(Serialize, ToSchema)]
struct OutcomeBook {
    /// The outcome whose terms the prices are in.
    outcome_id: String,
    /// The book the outcome trades on: a binary or scalar market's second outcome trades
    /// on its first one's book, mirrored.
    book_id: String,
    /// The book's sequence number, as in the WebSocket's book updates.
    seq: u64,
    /// Highest first.
    bids: Vec<BookLevel>,
    /// Lowest first.
    asks: Vec<BookLevel>,
}

/// A book snapshot seen from `outcome` (a binary NO outcome mirrors the YES book).
fn book_body(book: &BookSnapshot, outcome: OutcomeId, mirror: bool) -> OutcomeBook {
    let (bids, asks) = if mirror {
        (levels_json(&book.asks, true), levels_json(&book.bids, true))
    } else {
        (
            levels_json(&book.bids, false),
            levels_json(&book.asks, false),
        )
    };
    OutcomeBook {
        outcome_id: outcome.public(),
        book_id: book.book.public(),
        seq: book.seq,
        bids,
        asks,
    }
}

/// A book snapshot as JSON (the WebSocket snapshot embeds it).
pub fn book_json(book: &BookSnapshot, outcome: OutcomeId, mirror: bool) -> Value {
    serde_json::to_value(book_body(book, outcome, mirror)).unwrap_or_default()
}

#[derive(Serialize, ToSchema)]
struct OrderBook {
    market_id: String,
    #[serde(flatten)]
    book: OutcomeBook,
}

/// An outcome's order book, in that outcome's price terms.
#[utoipa::path(get, path = "/markets/{market_id}/orderbook", tag = "markets",
    params(BookParams),
    responses((status = 200, description = "The book's levels", body = OrderBook)))]
async fn get_orderbook(
    State(state): State<AppState>,
    Path(market_id): Path<String>,
    Params(params): Params<BookParams>,
) -> ApiResult<Json<OrderBook>> {
    let market = fetch_market(&state, parse_market(&market_id)?).await?;
    let outcome = match params.outcome_id.as_deref() {
        Some(id) => OutcomeId::parse(id)
            .filter(|o| market.outcomes.iter().any(|v| v.id == *o))
            .ok_or_else(|| ApiError::from(ResultCode::OutcomeNotFound))?,
        None => market.outcomes[0].id,
    };
    let depth = bounded("depth", params.depth, 20, 1, BOOK_DEPTH_MAX)?;
    let QueryReply::Book(book) = state
        .query(Query::Book(BookQuery { outcome, depth }))
        .await?
    else {
        return Err(ApiError::from(ResultCode::OutcomeNotFound));
    };
    Ok(Json(OrderBook {
        market_id: market.id.public(),
        book: book_body(&book, outcome, no_terms(&market, outcome)),
    }))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ChartParams {
    /// `1m`, `5m`, `15m`, `1h` (the default), `4h` or `1d`.
    #[param(pattern = "^(1m|5m|15m|1h|4h|1d)$")]
    timeframe: Option<String>,
    /// The outcome, `out_<n>` (default: the market's first).
    outcome_id: Option<String>,
    /// How many of the latest candles: 200 by default, at most 1 000. Oldest first.
    #[param(minimum = 1, maximum = 1_000)]
    limit: Option<u32>,
}

/// One period's trading.
#[derive(Serialize, ToSchema)]
struct ChartCandle {
    /// When the period starts.
    time: String,
    open: String,
    high: String,
    low: String,
    close: String,
    /// Shares traded.
    volume: String,
    /// What the trades cost, in the market's currency.
    notional: String,
}

fn candle_json(candle: &Candle) -> ChartCandle {
    ChartCandle {
        time: time(candle.start),
        open: price_text(candle.open),
        high: price_text(candle.high),
        low: price_text(candle.low),
        close: price_text(candle.close),
        volume: qty_text(candle.volume),
        notional: money(candle.notional),
    }
}

#[derive(Serialize, ToSchema)]
struct Chart {
    market_id: String,
    outcome_id: String,
    #[schema(pattern = "^(1m|5m|15m|1h|4h|1d)$")]
    timeframe: &'static str,
    candles: Vec<ChartCandle>,
}

/// Price candles of one outcome.
#[utoipa::path(get, path = "/markets/{market_id}/chart", tag = "markets", params(ChartParams),
    responses((status = 200, description = "The outcome's candles", body = Chart)))]
async fn market_chart(
    State(state): State<AppState>,
    Path(market_id): Path<String>,
    Params(params): Params<ChartParams>,
) -> ApiResult<Json<Chart>> {
    let market = fetch_market(&state, parse_market(&market_id)?).await?;
    let timeframe = Timeframe::parse(params.timeframe.as_deref().unwrap_or("1h"))
        .ok_or_else(|| ApiError::bad_request("timeframe is 1m, 5m, 15m, 1h, 4h or 1d"))?;
    let outcome = match params.outcome_id.as_deref() {
        Some(id) => OutcomeId::parse(id)
            .filter(|o| market.outcomes.iter().any(|v| v.id == *o))
            .ok_or_else(|| ApiError::from(ResultCode::OutcomeNotFound))?,
        None => market.outcomes[0].id,
    };
    let limit = bounded("limit", params.limit, 200, 1, 1_000)?;
    let QueryReply::Candles(mut candles) = state
        .query(Query::Candles(CandleQuery {
            outcome,
            timeframe,
            limit,
        }))
        .await?
    else {
        return Err(ApiError::from(ResultCode::OutcomeNotFound));
    };
    // The core keeps a day of minutes and ninety days of hours; the store every trade.
    if candles.len() < limit as usize
        && let Some(history) = state.history().await?
    {
        // Trades are on YES books: a binary or scalar market's second outcome is the NO
        // side of its first outcome's book.
        let no_side = market.market_type != betbet_protocol::command::MarketType::Multiple
            && market.outcomes.get(1).is_some_and(|o| o.id == outcome);
        let book = if no_side {
            market.outcomes[0].id
        } else {
            outcome
        };
        candles = history.candles(book, timeframe, limit, no_side).await?;
    }
    Ok(Json(Chart {
        market_id: market.id.public(),
        outcome_id: outcome.public(),
        timeframe: timeframe.as_str(),
        candles: candles.iter().map(candle_json).collect(),
    }))
}

/// Complete sets to mint or merge.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SharesBody {
    /// Sets of one outcome of a multiple market (its YES and NO share), `out_<n>`. Without
    /// it a multiple market's set is one share of every outcome; binary and scalar markets
    /// have one set (one share of each outcome).
    outcome_id: Option<String>,
    /// How many sets, in shares.
    quantity: Dec,
    /// Act for a pool the caller manages, `pool_<n>`.
    pool_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct SharesChange {
    market_id: String,
    quantity: String,
    /// True for a mint, false for a merge.
    minted: bool,
}

async fn shares_command(
    state: &AppState,
    caller: &AuthUser,
    market_id: &str,
    body: SharesBody,
    mint: bool,
) -> ApiResult<Json<SharesChange>> {
    let market = parse_market(market_id)?;
    let outcome = body
        .outcome_id
        .as_deref()
        .map(|o| OutcomeId::parse(o).ok_or_else(|| ApiError::from(ResultCode::OutcomeNotFound)))
        .transpose()?;
    let pool = body
        .pool_id
        .as_deref()
        .map(|p| PoolId::parse(p).ok_or_else(|| ApiError::from(ResultCode::PoolNotFound)))
        .transpose()?;
    let qty = qty("quantity", body.quantity)?;
    let command = if mint {
        Command::MintShares(MintShares {
            actor: caller.user,
            pool,
            market,
            outcome,
            qty,
        })
    } else {
        Command::MergeShares(MergeShares {
            actor: caller.user,
            pool,
            market,
            outcome,
            qty,
        })
    };
    state.core.execute(command).await?;
    Ok(Json(SharesChange {
        market_id: market.public(),
        quantity: qty_text(qty),
        minted: mint,
    }))
}

/// Mints complete sets: pays 1 per set, in the market's currency, for its shares.
#[utoipa::path(post, path = "/markets/{market_id}/mint", tag = "markets",
    request_body = SharesBody,
    responses((status = 200, description = "The sets minted", body = SharesChange)))]
async fn mint_shares(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<SharesBody>,
) -> ApiResult<Json<SharesChange>> {
    shares_command(&state, &caller, &market_id, body, true).await
}

/// Merges complete sets: gives back the shares of each set and receives 1 per set.
#[utoipa::path(post, path = "/markets/{market_id}/merge", tag = "markets",
    request_body = SharesBody,
    responses((status = 200, description = "The sets merged", body = SharesChange)))]
async fn merge_shares(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<SharesBody>,
) -> ApiResult<Json<SharesChange>> {
    shares_command(&state, &caller, &market_id, body, false).await
}

/// The public id of one side of a position: `pos_12` (YES holdings) or `pos_12n` (NO).
fn position_public_id(position: &PositionView, market: &MarketView) -> String {
    let no_side = position.lay || no_terms(market, position.outcome);
    format!("{}{}", position.id.public(), if no_side { "n" } else { "" })
}

/// One side of a holding in a market.
#[derive(Serialize, ToSchema)]
struct Position {
    /// `pos_<n>`, or `pos_<n>n` for the NO side of a binary or scalar contract.
    id: String,
    market_id: String,
    market_title: String,
    outcome_id: String,
    #[schema(required = true)]
    outcome_text: Option<String>,
    /// `back` holds the outcome; `lay` holds against it (a multiple market's NO shares).
    #[schema(pattern = "^(back|lay)$")]
    position_type: &'static str,
    /// Shares held.
    quantity: String,
    /// Shares held by open sell orders.
    locked_quantity: String,
    /// What the shares cost.
    stake: String,
    /// Cost per share; null when no shares are held.
    #[schema(required = true)]
    average_price: Option<String>,
    /// The decimal odds of the average price; null when no shares are held.
    #[schema(required = true)]
    odds: Option<String>,
    /// What the shares pay if they win.
    potential_payout: String,
    /// What a share would sell for now (the best bid for it); null if nobody bids.
    #[schema(required = true)]
    mark_price: Option<String>,
    /// Profit or loss realized: by trading, and once settled by the settlement too.
    realized_pnl: String,
    /// What settlement paid; null until settled.
    #[schema(required = true)]
    payout: Option<String>,
    #[schema(pattern = "^(open|settled)$")]
    status: &'static str,
    created_at: String,
    updated_at: String,
}

fn position_json(position: &PositionView, market: &MarketView) -> Position {
    let qty_units = position.qty.0.max(1) as i64;
    let average = Price((position.cost.0 / qty_units).clamp(0, i64::from(PRICE_SCALE)) as u32);
    let outcome = market.outcomes.iter().find(|o| o.id == position.outcome);
    // What the holding is worth at the outcome's best bid (what it would sell for now).
    let mark = outcome.and_then(|o| {
        if position.lay {
            o.best_ask.map(Price::complement)
        } else {
            o.best_bid
        }
    });
    Position {
        id: position_public_id(position, market),
        market_id: position.market.public(),
        market_title: market.title.clone(),
        outcome_id: position.outcome.public(),
        outcome_text: outcome.map(|o| o.text.clone()),
        position_type: if position.lay { "lay" } else { "back" },
        quantity: qty_text(position.qty),
        locked_quantity: qty_text(position.locked),
        stake: money(position.cost),
        average_price: (position.qty.0 > 0).then(|| price_text(average)),
        odds: (position.qty.0 > 0 && average.is_valid())
            .then(|| odds::odds_of(average).to_string()),
        potential_payout: money(payout(position.qty)),
        mark_price: mark.map(price_text),
        realized_pnl: money(position.realized),
        payout: position.settled.then(|| money(position.payout)),
        status: if position.settled { "settled" } else { "open" },
        created_at: time(position.opened_at),
        updated_at: time(position.updated_at),
    }
}

/// Settled positions listed at most (the most recently settled first).
const SETTLED_POSITIONS_LISTED_MAX: u32 = 1_000;

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PositionsParams {
    /// `open` (the default) or `settled` (the 1 000 most recently settled).
    #[param(pattern = "^(open|settled)$")]
    status: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct PositionList {
    user_id: String,
    #[schema(pattern = "^(open|settled)$")]
    status: &'static str,
    positions: Vec<Position>,
}

async fn user_positions(
    state: &AppState,
    user: UserId,
    settled: bool,
) -> ApiResult<Vec<(PositionView, MarketView)>> {
    let QueryReply::Positions(mut positions) = state
        .query(Query::Positions(PositionsQuery { user, settled }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    // The core keeps each wallet's last 200 settled positions; the store keeps them all.
    if settled && let Some(history) = state.history().await? {
        positions = history
            .settled_positions(user, SETTLED_POSITIONS_LISTED_MAX)
            .await?;
    }
    let mut out = Vec::with_capacity(positions.len());
    for position in positions {
        let market = fetch_market(state, position.market).await?;
        out.push((position, market));
    }
    Ok(out)
}

/// A user's open or settled positions.
#[utoipa::path(get, path = "/users/{user_id}/positions", tag = "positions",
    params(PositionsParams),
    responses((status = 200, description = "The user's positions", body = PositionList)))]
async fn list_positions(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<PositionsParams>,
) -> ApiResult<Json<PositionList>> {
    let user = super::users::parse_user(&user_id)?;
    caller.may_access(user)?;
    let settled = match params.status.as_deref() {
        None | Some("open") => false,
        Some("settled") => true,
        Some(_) => return Err(ApiError::bad_request("status is open or settled")),
    };
    let positions = user_positions(&state, user, settled).await?;
    Ok(Json(PositionList {
        user_id: user.public(),
        status: if settled { "settled" } else { "open" },
        positions: positions.iter().map(|(p, m)| position_json(p, m)).collect(),
    }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    /// The worst price accepted (default: any price on the grid).
    worst_price: Option<Dec>,
}

/// Closes a position at the market.
///
/// The shares no sell order holds are sold by an immediate-or-cancel market order, at no
/// worse than `worst_price`.
#[utoipa::path(post, path = "/positions/{position_id}/close", tag = "positions",
    params(("position_id" = String, Path, pattern = r"^pos_[0-9]{1,20}n?$",
        description = "a position id, `pos_<n>`, or `pos_<n>n` for the NO side of a binary \
            or scalar contract")),
    request_body(content = Option<CloseBody>,
        description = "Optional: a worst price, or no body at all"),
    responses((status = 200, description = "The closing order, with its fills",
        body = FilledOrder)))]
async fn close_position(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(position_id): Path<String>,
    OptBody(body): OptBody<CloseBody>,
) -> ApiResult<Json<FilledOrder>> {
    // `pos_N`, or `pos_Nn` for the NO side of a binary or scalar contract.
    let number = position_id
        .strip_prefix("pos_")
        .map(|n| n.strip_suffix('n').unwrap_or(n));
    if !number
        .is_some_and(|n| !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(crate::ids::invalid_id("position", &position_id));
    }
    let positions = user_positions(&state, caller.user, false).await?;
    let (position, market) = positions
        .into_iter()
        .find(|(p, m)| position_public_id(p, m) == position_id)
        .ok_or_else(|| ApiError::from(ResultCode::PositionNotFound))?;
    let worst = match body.worst_price {
        Some(p) => price("worst_price", p)?,
        None => Price(market.tick_size.units()),
    };
    let outcome = state
        .core
        .command(Command::ClosePosition(ClosePosition {
            actor: caller.user,
            pool: None,
            market: market.id,
            outcome: position.outcome,
            lay: position.lay,
            worst_price: worst,
        }))
        .await?;
    let report = match outcome.response {
        Response::Accepted(Reply::Order(report)) => report,
        Response::Rejected(code) => return Err(ApiError::from(code)),
        _ => return Err(ApiError::internal("unexpected reply")),
    };
    let order = fetch_order(&state, report.order).await?;
    Ok(Json(FilledOrder {
        order: order_json(&order),
        fills: fills_json(
            &outcome.events,
            report.order,
            position.lay || no_terms(&market, position.outcome),
        ),
    }))
}

/// A betting pool: members pay in its entry amount and its manager trades the pooled money.
#[derive(Serialize, ToSchema)]
struct Pool {
    /// `pool_<n>`.
    id: String,
    name: String,
    description: String,
    /// The manager.
    creator_id: String,
    currency: String,
    /// What each member pays in.
    entry_amount: String,
    member_limit: u32,
    member_count: usize,
    /// `open` takes members; `active` trades; `settled` has paid out.
    #[schema(pattern = "^(open|active|settled)$")]
    status: &'static str,
    /// What the members paid in, in all.
    total_pool: String,
    /// What the pool holds now.
    balance: String,
    created_at: String,
    /// The members, in the answer of a join, leave, start or settle once the pool is no
    /// longer open.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    members: Option<Vec<PoolMember>>,
}

fn pool_json(pool: &PoolView) -> Pool {
    Pool {
        id: pool.id.public(),
        name: pool.name.clone(),
        description: pool.description.clone(),
        creator_id: pool.creator.public(),
        currency: pool.currency.as_str().to_owned(),
        entry_amount: money(pool.entry_amount),
        member_limit: pool.member_limit,
        member_count: pool.members.len(),
        status: pool.status.as_str(),
        total_pool: money(pool.total_pool),
        balance: money(pool.balance),
        created_at: time(pool.created_at),
        members: None,
    }
}

#[derive(Serialize, ToSchema)]
struct PoolMember {
    user_id: String,
    username: String,
    /// What the member paid in.
    contribution: String,
    /// The member's share of the pool, a percent with two decimals, fixed when the pool
    /// starts (0 before).
    share_percent: String,
    /// What settlement paid the member (0 until settled).
    payout: String,
    joined_at: String,
}

fn members_json(pool: &PoolView) -> Vec<PoolMember> {
    pool.members
        .iter()
        .map(|m| PoolMember {
            user_id: m.user.public(),
            username: m.username.clone(),
            contribution: money(m.contribution),
            share_percent: format!("{}.{:02}", m.share_bp / 100, m.share_bp % 100),
            payout: money(m.payout),
            joined_at: time(m.joined_at),
        })
        .collect()
}

async fn fetch_pool(state: &AppState, pool: PoolId) -> ApiResult<PoolView> {
    match state.query(Query::Pool(PoolQuery { pool })).await? {
        QueryReply::Pool(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::PoolNotFound)),
    }
}

fn parse_pool(id: &str) -> ApiResult<PoolId> {
    crate::ids::parse_path(id, "pool")
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreatePoolBody {
    /// One line of at most 255 characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
    )]
    name: String,
    #[serde(default)]
    description: String,
    /// What each member pays in, a positive amount.
    entry_amount: Dec,
    /// How many members the pool takes: at least 2 (and at most the deployment's
    /// `pool_members_max`).
    #[schema(minimum = 2)]
    member_limit: u32,
    /// Default: `USD`.
    currency: Option<String>,
}

/// Creates a pool; the caller manages it.
#[utoipa::path(post, path = "/pools/create", tag = "pools", request_body = CreatePoolBody,
    responses((status = 201, description = "The new pool", body = Pool)))]
async fn create_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreatePoolBody>,
) -> ApiResult<(StatusCode, Json<Pool>)> {
    let reply = state
        .core
        .execute(Command::CreatePool(CreatePool {
            actor: caller.user,
            name: body.name,
            description: body.description,
            currency: currency(body.currency.as_deref().unwrap_or("USD"))?,
            entry_amount: amount("entry_amount", body.entry_amount)?,
            member_limit: body.member_limit,
        }))
        .await?;
    let Reply::Created(created) = reply else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok((
        StatusCode::CREATED,
        Json(pool_json(&fetch_pool(&state, PoolId(created.id)).await?)),
    ))
}

/// One pool.
#[utoipa::path(get, path = "/pools/{pool_id}", tag = "pools",
    responses((status = 200, description = "The pool", body = Pool)))]
async fn get_pool(
    State(state): State<AppState>,
    _caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Pool>> {
    Ok(Json(pool_json(
        &fetch_pool(&state, parse_pool(&pool_id)?).await?,
    )))
}

async fn pool_action(
    state: &AppState,
    caller: &AuthUser,
    pool_id: &str,
    make: fn(PoolAction) -> Command,
) -> ApiResult<Json<Pool>> {
    let pool = parse_pool(pool_id)?;
    state
        .core
        .execute(make(PoolAction {
            actor: caller.user,
            pool,
        }))
        .await?;
    let view = fetch_pool(state, pool).await?;
    let mut json = pool_json(&view);
    if view.status != PoolStatus::Open {
        json.members = Some(members_json(&view));
    }
    Ok(Json(json))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct JoinPoolBody {
    /// The spec's joiner: must be the caller (a user joins a pool with their own money).
    user_id: Option<String>,
}

/// Joins an open pool: its entry amount is held in the caller's wallet until it starts.
#[utoipa::path(post, path = "/pools/{pool_id}/join", tag = "pools",
    request_body(content = Option<JoinPoolBody>,
        description = "Optional: the joiner, or no body at all"),
    responses((status = 200, description = "The pool as it is now", body = Pool)))]
async fn join_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
    OptBody(body): OptBody<JoinPoolBody>,
) -> ApiResult<Json<Pool>> {
    caller.require_self(
        "user_id",
        body.user_id.as_deref(),
        "a user joins a pool with their own money",
    )?;
    pool_action(&state, &caller, &pool_id, Command::JoinPool).await
}

/// Leaves a pool that has not started, releasing the held entry (its manager cannot).
#[utoipa::path(post, path = "/pools/{pool_id}/leave", tag = "pools",
    responses((status = 200, description = "The pool as it is now", body = Pool)))]
async fn leave_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Pool>> {
    pool_action(&state, &caller, &pool_id, Command::LeavePool).await
}

/// Starts a pool: its manager may then trade with it.
///
/// The members' entries move into the pool and their shares are fixed; it takes no more
/// members.
#[utoipa::path(post, path = "/pools/{pool_id}/start", tag = "pools",
    responses((status = 200, description = "The active pool, with its members", body = Pool)))]
async fn start_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Pool>> {
    pool_action(&state, &caller, &pool_id, Command::StartPool).await
}

/// Settles a pool: its balance is paid out to the members by their shares.
///
/// The pool must have no open orders and no holdings in unsettled markets.
#[utoipa::path(post, path = "/pools/{pool_id}/settle", tag = "pools",
    responses((status = 200, description = "The settled pool, with its members' payouts",
        body = Pool)))]
async fn settle_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Pool>> {
    pool_action(&state, &caller, &pool_id, Command::SettlePool).await
}

#[derive(Serialize, ToSchema)]
struct PoolMembers {
    pool_id: String,
    members: Vec<PoolMember>,
}

/// A pool's members and their shares.
#[utoipa::path(get, path = "/pools/{pool_id}/members", tag = "pools",
    responses((status = 200, description = "The pool's members", body = PoolMembers)))]
async fn list_pool_members(
    State(state): State<AppState>,
    _caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<PoolMembers>> {
    let view = fetch_pool(&state, parse_pool(&pool_id)?).await?;
    Ok(Json(PoolMembers {
        pool_id: view.id.public(),
        members: members_json(&view),
    }))
}
