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
    Body, Dec, OptBody, Params, amount, currency, money, opt_time, price, price_text, qty,
    qty_text, time, timestamp,
};
use crate::state::{AppState, AuthUser};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
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
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route("/markets", &[(GET, Public, NoBody)], get(list_markets))
        .route("/markets/trending", &[(GET, Public, NoBody)], get(trending))
        .route(
            "/markets/categories",
            &[(GET, Public, NoBody)],
            get(categories),
        )
        .route(
            "/markets/create",
            &[(POST, User, JsonBody)],
            post(create_market),
        )
        .route(
            "/markets/{market_id}",
            &[(GET, Public, NoBody), (PUT, Owner, JsonBody)],
            get(market_details).put(update_market),
        )
        .route(
            "/markets/{market_id}/resolve",
            &[(POST, Owner, JsonBody)],
            post(resolve_market),
        )
        .route(
            "/markets/{market_id}/void",
            &[(POST, Admin, NoBody)],
            post(void_market),
        )
        .route(
            "/markets/{market_id}/dispute",
            &[(POST, User, JsonBody)],
            post(dispute_resolution),
        )
        .route(
            "/markets/{market_id}/orders",
            &[(POST, User, JsonBody)],
            post(place_order),
        )
        .route(
            "/markets/{market_id}/orders/cancel-all",
            &[(POST, User, MaybeJsonBody)],
            post(cancel_all),
        )
        .route(
            "/markets/{market_id}/orderbook",
            &[(GET, Public, NoBody)],
            get(orderbook),
        )
        .route(
            "/markets/{market_id}/chart",
            &[(GET, Public, NoBody)],
            get(chart),
        )
        .route(
            "/markets/{market_id}/mint",
            &[(POST, User, JsonBody)],
            post(mint),
        )
        .route(
            "/markets/{market_id}/merge",
            &[(POST, User, JsonBody)],
            post(merge),
        )
        .route("/orders", &[(GET, User, NoBody)], get(my_orders))
        .route(
            "/orders/{order_id}",
            &[
                (DELETE, Owner, NoBody),
                (GET, Owner, NoBody),
                (PUT, Owner, JsonBody),
            ],
            delete(cancel_order).get(get_order).put(amend_order),
        )
        .route(
            "/users/{user_id}/positions",
            &[(GET, Owner, NoBody)],
            get(positions),
        )
        .route(
            "/positions/{position_id}/close",
            &[(POST, Owner, MaybeJsonBody)],
            post(close_position),
        )
        .route(
            "/pools/create",
            &[(POST, User, JsonBody)],
            post(create_pool),
        )
        .route("/pools/{pool_id}", &[(GET, User, NoBody)], get(get_pool))
        .route(
            "/pools/{pool_id}/join",
            &[(POST, User, MaybeJsonBody)],
            post(join_pool),
        )
        .route(
            "/pools/{pool_id}/leave",
            &[(POST, User, NoBody)],
            post(leave_pool),
        )
        .route(
            "/pools/{pool_id}/start",
            &[(POST, Owner, NoBody)],
            post(start_pool),
        )
        .route(
            "/pools/{pool_id}/settle",
            &[(POST, Owner, NoBody)],
            post(settle_pool),
        )
        .route(
            "/pools/{pool_id}/members",
            &[(GET, User, NoBody)],
            get(pool_members),
        )
}

pub fn parse_market(id: &str) -> ApiResult<MarketId> {
    crate::ids::parse_path(id, "market")
}

fn opt_price(price: Option<Price>) -> Value {
    price.map_or(Value::Null, |p| price_text(p).into())
}

fn outcome_json(outcome: &OutcomeView) -> Value {
    json!({
        "id": outcome.id.public(),
        "outcome_text": outcome.text,
        "best_bid": opt_price(outcome.best_bid),
        "best_ask": opt_price(outcome.best_ask),
        "last_price": opt_price(outcome.last_price),
        // The spec's current_odds: decimal odds of the last price (or the mid of the book).
        "current_odds": outcome
            .last_price
            .or(outcome.best_ask)
            .or(outcome.best_bid)
            .map_or(Value::Null, |p| odds::odds_of(p).to_string().into()),
        "volume": qty_text(outcome.volume),
        "is_winner": outcome.is_winner,
    })
}

pub fn market_json(market: &MarketView) -> Value {
    json!({
        "id": market.id.public(),
        "title": market.title,
        "description": market.description,
        "category": market.category,
        "market_type": market.market_type.as_str(),
        "creator_id": market.creator.public(),
        "creator_fee_percent": format!("{}.{:02}", market.creator_fee_bp / 100, market.creator_fee_bp % 100),
        "tick_size": market.tick_size.as_str(),
        "currency": market.currency.as_str(),
        "status": market.status.as_str(),
        "oracle_type": market.oracle_type.as_str(),
        "resolution_source": market.resolution_source,
        "opens_at": time(market.opens_at),
        "closes_at": time(market.closes_at),
        "created_at": time(market.created_at),
        "resolved_at": opt_time(market.resolved_at),
        "resolution_value": market
            .winner
            .map(|w| Value::from(w.public()))
            .or(market.scalar_value.map(|v| money(v).into())),
        "scalar_low": if market.market_type == MarketType::Scalar { money(market.scalar_low).into() } else { Value::Null },
        "scalar_high": if market.market_type == MarketType::Scalar { money(market.scalar_high).into() } else { Value::Null },
        "total_volume": money(market.volume),
        "volume_24h": money(market.volume_24h),
        "trades": market.trades,
        "participant_count": market.participants,
        "outcomes": market.outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
        "resolution": market.proposal.as_ref().map(|p| proposal_json(p, market)),
    })
}

/// A proposed resolution: what was proposed, by whom, when it becomes final, any dispute.
fn proposal_json(proposal: &ProposalView, market: &MarketView) -> Value {
    let disputed = proposal.disputed_by.is_some();
    json!({
        "status": if market.status == MarketStatus::Resolved || market.status == MarketStatus::Voided {
            "final"
        } else if disputed {
            "disputed"
        } else {
            "proposed"
        },
        "proposed_value": proposal
            .winner
            .map(|w| Value::from(w.public()))
            .or(proposal.scalar_value.map(|v| money(v).into())),
        "proposed_by": proposal.proposed_by.public(),
        "proposed_at": time(proposal.proposed_at),
        "dispute_window_ends_at": time(proposal.final_at),
        "disputed_by": proposal.disputed_by.map(PublicId::public),
        "dispute_reason": disputed.then(|| proposal.dispute_reason.clone()),
        "disputed_at": opt_time(proposal.disputed_at),
    })
}

pub async fn fetch_market(state: &AppState, market: MarketId) -> ApiResult<MarketView> {
    match state.query(Query::Market(MarketQuery { market })).await? {
        QueryReply::Market(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::MarketNotFound)),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListParams {
    category: Option<String>,
    status: Option<String>,
    sort_by: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

async fn list_markets(
    State(state): State<AppState>,
    Params(params): Params<ListParams>,
) -> ApiResult<Json<Value>> {
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
    let limit = params.limit.unwrap_or(20).clamp(1, PAGE_LIMIT_MAX);
    let page = params.page.unwrap_or(1).max(1);
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
    Ok(Json(json!({
        "page": page,
        "limit": limit,
        "total": list.total,
        "markets": list.markets.iter().map(market_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TrendingParams {
    limit: Option<u32>,
}

async fn trending(
    State(state): State<AppState>,
    Params(params): Params<TrendingParams>,
) -> ApiResult<Json<Value>> {
    let QueryReply::Markets(list) = state
        .query(Query::Markets(MarketListQuery {
            category: None,
            status: Some(MarketStatus::Open),
            sort: MarketSort::Trending,
            offset: 0,
            limit: params.limit.unwrap_or(10).clamp(1, PAGE_LIMIT_MAX),
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(
        json!({ "markets": list.markets.iter().map(market_json).collect::<Vec<_>>() }),
    ))
}

async fn categories(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let QueryReply::Categories(categories) = state.query(Query::Categories(Empty {})).await? else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(json!({
        "categories": categories
            .iter()
            .map(|c| json!({"category": c.category, "open_markets": c.open, "total_markets": c.total}))
            .collect::<Vec<_>>(),
    })))
}

async fn market_details(
    State(state): State<AppState>,
    Path(market_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(market_json(
        &fetch_market(&state, parse_market(&market_id)?).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateMarketBody {
    title: Option<String>,
    #[serde(default)]
    description: String,
    market_type: Option<String>,
    #[serde(default)]
    outcomes: Vec<String>,
    closes_at: Option<String>,
    opens_at: Option<String>,
    /// Default: `general`.
    category: Option<String>,
    creator_fee_percent: Option<Dec>,
    tick_size: Option<String>,
    currency: Option<String>,
    oracle_type: Option<String>,
    #[serde(default)]
    resolution_source: String,
    scalar_low: Option<Dec>,
    scalar_high: Option<Dec>,
}

/// A market's category when the request names none.
pub const CATEGORY_DEFAULT: &str = "general";

/// A percent with at most two decimals, as basis points.
fn percent_bp(value: Dec) -> ApiResult<u16> {
    let bp = value.0 * Decimal::from(100);
    if bp.fract() != Decimal::ZERO || bp < Decimal::ZERO || bp > Decimal::from(10_000) {
        return Err(ApiError::from(ResultCode::InvalidFee));
    }
    u16::try_from(bp.mantissa() / 10i128.pow(bp.scale()))
        .map_err(|_| ApiError::from(ResultCode::InvalidFee))
}

fn scalar_value(field: &str, value: Dec) -> ApiResult<Amount> {
    Amount::from_decimal(value.0).map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

async fn create_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreateMarketBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        Json(market_json(&fetch_market(&state, created.market).await?)),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateMarketBody {
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    closes_at: Option<String>,
    resolution_source: Option<String>,
    /// `closed` halts trading now.
    status: Option<String>,
}

async fn update_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<UpdateMarketBody>,
) -> ApiResult<Json<Value>> {
    let market = parse_market(&market_id)?;
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
    Ok(Json(market_json(&fetch_market(&state, market).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    winning_outcome: Option<String>,
    scalar_value: Option<Dec>,
}

async fn resolve_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<ResolveBody>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(market_json(&fetch_market(&state, market).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeBody {
    reason: String,
}

/// A holder disputes a proposed resolution within its dispute window.
async fn dispute_resolution(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<DisputeBody>,
) -> ApiResult<Json<Value>> {
    let market = parse_market(&market_id)?;
    state
        .core
        .execute(Command::DisputeResolution(DisputeResolution {
            actor: caller.user,
            market,
            reason: body.reason,
        }))
        .await?;
    Ok(Json(market_json(&fetch_market(&state, market).await?)))
}

async fn void_market(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let market = parse_market(&market_id)?;
    state
        .core
        .execute(Command::VoidMarket(VoidMarket {
            actor: caller.user,
            market,
        }))
        .await?;
    Ok(Json(market_json(&fetch_market(&state, market).await?)))
}

/// An order as the REST and WebSocket APIs take it.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    pub outcome_id: String,
    pub order_type: Option<String>,
    pub order_subtype: Option<String>,
    pub price: Option<Dec>,
    pub odds: Option<Dec>,
    pub position_type: Option<String>,
    pub quantity: Dec,
    pub time_in_force: Option<String>,
    pub expires_at: Option<String>,
    #[serde(default)]
    pub post_only: bool,
    pub client_order_id: Option<String>,
    pub self_trade_prevention: Option<String>,
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

pub fn order_json(order: &OrderView) -> Value {
    json!({
        "id": order.id.public(),
        "user_id": order.user.public(),
        "market_id": order.market.public(),
        "outcome_id": order.outcome.public(),
        "pool_id": order.pool.map(PublicId::public),
        "order_type": order.side.as_str(),
        "order_subtype": order.kind.as_str(),
        "price": price_text(order.price),
        "odds": odds::odds_of(order.price).to_string(),
        "quantity": qty_text(order.qty),
        "filled_quantity": qty_text(order.filled),
        "remaining_quantity": qty_text(order.remaining),
        "status": order.status.as_str(),
        "reason": order.reason.map(|r| r.as_str()),
        "time_in_force": order.time_in_force.as_str().to_ascii_uppercase(),
        "expires_at": if order.time_in_force == TimeInForce::Gtd { time(order.expires_at).into() } else { Value::Null },
        "post_only": order.post_only,
        "client_order_id": order.client_order_id.map(|c| c.as_str().to_owned()),
        "filled_notional": money(order.filled_notional),
        "average_price": if order.filled.0 > 0 {
            // Notional / quantity, both exact: 10^-8 amount over 10^-4 shares gives 10^-4 price.
            Value::from(price_text(Price((order.filled_notional.0 / order.filled.0 as i64) as u32)))
        } else { Value::Null },
        "trades": order.trades,
        "created_at": time(order.created_at),
        "updated_at": time(order.updated_at),
    })
}

/// The fills of `order` among a command's events, in the order's own price terms.
pub fn fills_json(events: &[Event], order: OrderId, no_view: bool) -> Vec<Value> {
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
            json!({
                "trade_id": t.trade.public(),
                "price": price_text(p),
                "quantity": qty_text(t.qty),
                "liquidity": if t.taker_order == order { "taker" } else { "maker" },
                "at": time(t.at),
            })
        })
        .collect()
}

pub async fn fetch_order(state: &AppState, order: OrderId) -> ApiResult<OrderView> {
    match state.query(Query::Order(OrderQuery { order })).await? {
        QueryReply::Order(view) => Ok(view),
        _ => Err(ApiError::from(ResultCode::OrderNotFound)),
    }
}

/// Places an order for `caller`; returns the order and its fills as JSON. One trip to the
/// core: the view is built from the command and its report.
pub async fn place(
    state: &AppState,
    caller: &AuthUser,
    market_id: MarketId,
    body: OrderBody,
) -> ApiResult<Value> {
    let market = market_shape(state, market_id).await?;
    let command = order_command(caller.user, &market, body)?;
    let no_view = shape_no_terms(&market, command.outcome);
    let outcome = state
        .core
        .command(Command::PlaceOrder(command.clone()))
        .await?;
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
            user: caller.user,
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
    let mut body = order_json(&view);
    body["fills"] = fills_json(&outcome.events, report.order, no_view).into();
    body["duplicate"] = report.duplicate.into();
    Ok(body)
}

async fn place_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<OrderBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = place(&state, &caller, parse_market(&market_id)?, body).await?;
    let status = if body["duplicate"] == true {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(body)))
}

pub fn parse_order(id: &str) -> ApiResult<OrderId> {
    crate::ids::parse_path(id, "order")
}

pub async fn cancel(state: &AppState, caller: &AuthUser, order: OrderId) -> ApiResult<Value> {
    state
        .core
        .execute(Command::CancelOrder(CancelOrder {
            actor: caller.user,
            order,
        }))
        .await?;
    Ok(order_json(&fetch_order(state, order).await?))
}

async fn cancel_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        cancel(&state, &caller, parse_order(&order_id)?).await?,
    ))
}

async fn get_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let order = fetch_order(&state, parse_order(&order_id)?).await?;
    if caller.may_access(order.user).is_err() {
        return Err(ApiError::from(ResultCode::OrderNotFound));
    }
    Ok(Json(order_json(&order)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmendBody {
    quantity: Dec,
    price: Dec,
}

async fn amend_order(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(order_id): Path<String>,
    Body(body): Body<AmendBody>,
) -> ApiResult<Json<Value>> {
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
    let mut json = order_json(&view);
    json["fills"] = fills_json(&outcome.events, order, no_terms(&market, view.outcome)).into();
    Ok(Json(json))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelAllBody {
    pool_id: Option<String>,
}

async fn cancel_all(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    OptBody(body): OptBody<CancelAllBody>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(
        json!({ "market_id": market.public(), "cancelled": count.id }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OrdersParams {
    market_id: Option<String>,
    status: Option<String>,
    page: Option<u32>,
    limit: Option<u32>,
}

async fn my_orders(
    State(state): State<AppState>,
    caller: AuthUser,
    Params(params): Params<OrdersParams>,
) -> ApiResult<Json<Value>> {
    let market = params.market_id.as_deref().map(parse_market).transpose()?;
    let open = match params.status.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(_) => return Err(ApiError::bad_request("status is open or all")),
    };
    let limit = params.limit.unwrap_or(50).clamp(1, PAGE_LIMIT_MAX);
    let page = params.page.unwrap_or(1).max(1);
    let QueryReply::Orders(orders) = state
        .query(Query::Orders(OrdersQuery {
            user: caller.user,
            market,
            open,
            offset: (page - 1).saturating_mul(limit),
            limit,
        }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    Ok(Json(
        json!({ "orders": orders.iter().map(order_json).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BookParams {
    outcome_id: Option<String>,
    depth: Option<u32>,
}

/// One side of a book as JSON levels, in the outcome's own terms.
fn levels_json(levels: &[Level], mirror: bool) -> Vec<Value> {
    levels
        .iter()
        .map(|l| {
            let p = if mirror {
                l.price.complement()
            } else {
                l.price
            };
            json!({ "price": price_text(p), "quantity": qty_text(l.qty), "orders": l.orders })
        })
        .collect()
}

/// A book snapshot seen from `outcome` (a binary NO outcome mirrors the YES book).
pub fn book_json(book: &BookSnapshot, outcome: OutcomeId, mirror: bool) -> Value {
    let (bids, asks) = if mirror {
        (levels_json(&book.asks, true), levels_json(&book.bids, true))
    } else {
        (
            levels_json(&book.bids, false),
            levels_json(&book.asks, false),
        )
    };
    json!({
        "outcome_id": outcome.public(),
        "book_id": book.book.public(),
        "seq": book.seq,
        "bids": bids,
        "asks": asks,
    })
}

async fn orderbook(
    State(state): State<AppState>,
    Path(market_id): Path<String>,
    Params(params): Params<BookParams>,
) -> ApiResult<Json<Value>> {
    let market = fetch_market(&state, parse_market(&market_id)?).await?;
    let outcome = match params.outcome_id.as_deref() {
        Some(id) => OutcomeId::parse(id)
            .filter(|o| market.outcomes.iter().any(|v| v.id == *o))
            .ok_or_else(|| ApiError::from(ResultCode::OutcomeNotFound))?,
        None => market.outcomes[0].id,
    };
    let depth = params.depth.unwrap_or(20).clamp(1, BOOK_DEPTH_MAX);
    let QueryReply::Book(book) = state
        .query(Query::Book(BookQuery { outcome, depth }))
        .await?
    else {
        return Err(ApiError::from(ResultCode::OutcomeNotFound));
    };
    let mut json = book_json(&book, outcome, no_terms(&market, outcome));
    json["market_id"] = market.id.public().into();
    Ok(Json(json))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ChartParams {
    timeframe: Option<String>,
    outcome_id: Option<String>,
    limit: Option<u32>,
}

fn candle_json(candle: &Candle) -> Value {
    json!({
        "time": time(candle.start),
        "open": price_text(candle.open),
        "high": price_text(candle.high),
        "low": price_text(candle.low),
        "close": price_text(candle.close),
        "volume": qty_text(candle.volume),
        "notional": money(candle.notional),
    })
}

async fn chart(
    State(state): State<AppState>,
    Path(market_id): Path<String>,
    Params(params): Params<ChartParams>,
) -> ApiResult<Json<Value>> {
    let market = fetch_market(&state, parse_market(&market_id)?).await?;
    let timeframe = Timeframe::parse(params.timeframe.as_deref().unwrap_or("1h"))
        .ok_or_else(|| ApiError::bad_request("timeframe is 1m, 5m, 15m, 1h, 4h or 1d"))?;
    let outcome = match params.outcome_id.as_deref() {
        Some(id) => OutcomeId::parse(id)
            .filter(|o| market.outcomes.iter().any(|v| v.id == *o))
            .ok_or_else(|| ApiError::from(ResultCode::OutcomeNotFound))?,
        None => market.outcomes[0].id,
    };
    let QueryReply::Candles(candles) = state
        .query(Query::Candles(CandleQuery {
            outcome,
            timeframe,
            limit: params.limit.unwrap_or(200),
        }))
        .await?
    else {
        return Err(ApiError::from(ResultCode::OutcomeNotFound));
    };
    Ok(Json(json!({
        "market_id": market.id.public(),
        "outcome_id": outcome.public(),
        "timeframe": timeframe.as_str(),
        "candles": candles.iter().map(candle_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    outcome_id: Option<String>,
    quantity: Dec,
    pool_id: Option<String>,
}

async fn shares_command(
    state: &AppState,
    caller: &AuthUser,
    market_id: &str,
    body: SetBody,
    mint: bool,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(
        json!({ "market_id": market.public(), "quantity": qty_text(qty), "minted": mint }),
    ))
}

async fn mint(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<SetBody>,
) -> ApiResult<Json<Value>> {
    shares_command(&state, &caller, &market_id, body, true).await
}

async fn merge(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(market_id): Path<String>,
    Body(body): Body<SetBody>,
) -> ApiResult<Json<Value>> {
    shares_command(&state, &caller, &market_id, body, false).await
}

/// The public id of one side of a position: `pos_12` (YES holdings) or `pos_12n` (NO).
fn position_public_id(position: &PositionView, market: &MarketView) -> String {
    let no_side = position.lay || no_terms(market, position.outcome);
    format!("{}{}", position.id.public(), if no_side { "n" } else { "" })
}

fn position_json(position: &PositionView, market: &MarketView) -> Value {
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
    json!({
        "id": position_public_id(position, market),
        "market_id": position.market.public(),
        "market_title": market.title,
        "outcome_id": position.outcome.public(),
        "outcome_text": outcome.map(|o| o.text.clone()),
        "position_type": if position.lay { "lay" } else { "back" },
        "quantity": qty_text(position.qty),
        "locked_quantity": qty_text(position.locked),
        "stake": money(position.cost),
        "average_price": if position.qty.0 > 0 { Value::from(price_text(average)) } else { Value::Null },
        "odds": if position.qty.0 > 0 && average.is_valid() { Value::from(odds::odds_of(average).to_string()) } else { Value::Null },
        "potential_payout": money(payout(position.qty)),
        "mark_price": mark.map_or(Value::Null, |p| price_text(p).into()),
        "realized_pnl": money(position.realized),
        "payout": if position.settled { Value::from(money(position.payout)) } else { Value::Null },
        "status": if position.settled { "settled" } else { "open" },
        "created_at": time(position.opened_at),
        "updated_at": time(position.updated_at),
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PositionsParams {
    status: Option<String>,
}

async fn user_positions(
    state: &AppState,
    user: UserId,
    settled: bool,
) -> ApiResult<Vec<(PositionView, MarketView)>> {
    let QueryReply::Positions(positions) = state
        .query(Query::Positions(PositionsQuery { user, settled }))
        .await?
    else {
        return Err(ApiError::internal("unexpected reply"));
    };
    let mut out = Vec::with_capacity(positions.len());
    for position in positions {
        let market = fetch_market(state, position.market).await?;
        out.push((position, market));
    }
    Ok(out)
}

async fn positions(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Params(params): Params<PositionsParams>,
) -> ApiResult<Json<Value>> {
    let user = super::users::parse_user(&user_id)?;
    caller.may_access(user)?;
    let settled = match params.status.as_deref() {
        None | Some("open") => false,
        Some("settled") => true,
        Some(_) => return Err(ApiError::bad_request("status is open or settled")),
    };
    let positions = user_positions(&state, user, settled).await?;
    Ok(Json(json!({
        "user_id": user.public(),
        "status": if settled { "settled" } else { "open" },
        "positions": positions.iter().map(|(p, m)| position_json(p, m)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    /// The worst price accepted (default: any price on the grid).
    worst_price: Option<Dec>,
}

async fn close_position(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(position_id): Path<String>,
    OptBody(body): OptBody<CloseBody>,
) -> ApiResult<Json<Value>> {
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
    let mut json = order_json(&order);
    json["fills"] = fills_json(
        &outcome.events,
        report.order,
        position.lay || no_terms(&market, position.outcome),
    )
    .into();
    Ok(Json(json))
}

fn pool_json(pool: &PoolView) -> Value {
    json!({
        "id": pool.id.public(),
        "name": pool.name,
        "description": pool.description,
        "creator_id": pool.creator.public(),
        "currency": pool.currency.as_str(),
        "entry_amount": money(pool.entry_amount),
        "member_limit": pool.member_limit,
        "member_count": pool.members.len(),
        "status": pool.status.as_str(),
        "total_pool": money(pool.total_pool),
        "balance": money(pool.balance),
        "created_at": time(pool.created_at),
    })
}

fn members_json(pool: &PoolView) -> Vec<Value> {
    pool.members
        .iter()
        .map(|m| {
            json!({
                "user_id": m.user.public(),
                "username": m.username,
                "contribution": money(m.contribution),
                "share_percent": format!("{}.{:02}", m.share_bp / 100, m.share_bp % 100),
                "payout": money(m.payout),
                "joined_at": time(m.joined_at),
            })
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePoolBody {
    name: String,
    #[serde(default)]
    description: String,
    entry_amount: Dec,
    member_limit: u32,
    currency: Option<String>,
}

async fn create_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Body(body): Body<CreatePoolBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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

async fn get_pool(
    State(state): State<AppState>,
    _caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(pool_json(
        &fetch_pool(&state, parse_pool(&pool_id)?).await?,
    )))
}

async fn pool_action(
    state: &AppState,
    caller: &AuthUser,
    pool_id: &str,
    make: fn(PoolAction) -> Command,
) -> ApiResult<Json<Value>> {
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
        json["members"] = members_json(&view).into();
    }
    Ok(Json(json))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JoinPoolBody {
    /// The spec's joiner: must be the caller (a user joins a pool with their own money).
    user_id: Option<String>,
}

async fn join_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
    OptBody(body): OptBody<JoinPoolBody>,
) -> ApiResult<Json<Value>> {
    caller.require_self(
        "user_id",
        body.user_id.as_deref(),
        "a user joins a pool with their own money",
    )?;
    pool_action(&state, &caller, &pool_id, Command::JoinPool).await
}

async fn leave_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Value>> {
    pool_action(&state, &caller, &pool_id, Command::LeavePool).await
}

async fn start_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Value>> {
    pool_action(&state, &caller, &pool_id, Command::StartPool).await
}

async fn settle_pool(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Value>> {
    pool_action(&state, &caller, &pool_id, Command::SettlePool).await
}

async fn pool_members(
    State(state): State<AppState>,
    _caller: AuthUser,
    Path(pool_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let view = fetch_pool(&state, parse_pool(&pool_id)?).await?;
    Ok(Json(
        json!({ "pool_id": view.id.public(), "members": members_json(&view) }),
    ))
}
