//! WebSocket: `/ws/markets/{market_id}` and the spec's generic `/ws/{room_type}/{room_id}`
//! (room type `markets` today; other room types arrive with their features).
//!
//! A subscription starts with a snapshot of every book of the market (YES books, keyed by
//! `book_id`; a binary market's NO outcome is the same book mirrored) with each book's
//! sequence number, and the recent trades; then ordered deltas — level changes and trades
//! share a book's sequence, consecutive — so a client detects gaps. Market status changes
//! and resolution follow. An authenticated connection (`?token=` or `Authorization`) also
//! gets its own order updates and fills, and may place and cancel orders with request ids:
//! same rules and error codes as REST.
//!
//! Messages are JSON envelopes `{"type", "request_id"?, "seq"?, "data"}`. Limits: message size,
//! subscriptions per connection, requests in flight, a request rate (every client message,
//! pings and subscriptions included); events reach a connection through a bounded queue from
//! the hub, and a connection that falls behind it is closed with a reason; one that stops
//! reading altogether is dropped after [`WS_WRITE_TIMEOUT`] — it never slows the core or
//! anyone else. The server pings every
//! [`PING_INTERVAL`] and closes a connection silent for [`IDLE_TIMEOUT`].
//!
//! An authenticated connection lives only as long as its login session and token: when the
//! session is revoked (logout, refresh-token reuse, an admin's revocation) it is closed at
//! once with [`CLOSE_SESSION_REVOKED`]; when its user is suspended, with
//! [`CLOSE_ACCOUNT_SUSPENDED`]; when the access token expires, with [`CLOSE_TOKEN_EXPIRED`] —
//! unless the client sent a fresh token of the same user first
//! (`{"type": "authenticate", "data": {"token": "…"}}`, answered `authenticated`).

use super::markets::{self, OrderBody};
use super::table::{Access::*, BodyKind::*, GET, Routes};
use crate::config::RouteClass;
use crate::error::{ApiError, ApiResult};
use crate::hub::{EventSlots, Registration};
use crate::ids::PublicId;
use crate::json::{price_text, qty_text, time};
use crate::limits::Client;
use crate::state::{AppState, AuthUser, SessionStatus, authenticate, session_status};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use betbet_engine::runtime::CommandOutcome;
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::message::{Reply, Response as CoreResponse};
use betbet_protocol::query::{MarketQuery, Query, QueryReply};
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::{MarketId, OrderId, OutcomeId, Price};
use futures_util::FutureExt;
use futures_util::SinkExt;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use utoipa_axum::routes;

/// Largest message a client may send.
pub const WS_MESSAGE_MAX: usize = 16 * 1024;
/// Markets one connection may follow.
pub const WS_SUBSCRIPTIONS_MAX: usize = 20;
/// Client requests being processed at once per connection.
pub const WS_IN_FLIGHT_MAX: usize = 256;
/// Event batches already queued for a connection that it sends in one write.
pub const WS_BATCHES_PER_WRITE: usize = 64;
/// Bytes a connection reads from its socket at once. Small on purpose: tungstenite
/// zero-fills this much of its read buffer before *every* read attempt — including each poll
/// that finds nothing to read, which is every time the connection wakes for an event batch —
/// so its 128 KiB default made `memset` the gateway's largest cost (and 4 KiB still cost
/// 3.5 % of the CPU with 10 000 subscribers). Client messages are a few hundred bytes; a
/// longer one (up to [`WS_MESSAGE_MAX`]) still arrives, over several reads.
pub const WS_READ_BUFFER_BYTES: usize = 1024;
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// Longest a write may wait for the client to read. A client that stops reading fills the
/// socket's buffers; it is then dropped instead of holding its task (and its hub queue,
/// which the hub stops filling once it is full) for as long as the TCP connection lives.
pub const WS_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Close code: the connection's login session was revoked; log in again.
pub const CLOSE_SESSION_REVOKED: u16 = 4001;
/// Close code: the access token expired; reconnect with a fresh one (or send
/// `authenticate` before it expires).
pub const CLOSE_TOKEN_EXPIRED: u16 = 4002;
/// Close code: the account was suspended.
pub const CLOSE_ACCOUNT_SUSPENDED: u16 = 4003;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .route(&[(GET, Public, NoBody)], routes!(market_socket))
        .route(&[(GET, Public, NoBody)], routes!(room_socket))
        // A game room needs a player's or spectator's token.
        .route(
            &[(GET, super::table::Access::User, NoBody)],
            routes!(super::games::socket::game_socket),
        )
        .route(
            &[(GET, Public, NoBody)],
            routes!(super::games::tournament_socket::tournament_socket),
        )
        // Chat rooms and voice channels are their members'.
        .route(
            &[(GET, super::table::Access::User, NoBody)],
            routes!(super::social::chat_socket::chat_socket),
        )
        .route(
            &[(GET, super::table::Access::User, NoBody)],
            routes!(super::social::voice::voice_socket),
        )
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SocketParams {
    /// An access token, for clients that cannot set `Authorization` on a WebSocket
    /// handshake; with one, the connection also gets the user's orders and fills and may
    /// trade.
    pub(super) token: Option<String>,
}

/// The handshake, or why the request is not one.
pub(super) type Upgrade =
    Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>;

/// The HTTP connection's place under the server's connection caps, kept by the WebSocket it
/// became for as long as it lives.
pub(super) type Slot = Option<axum::Extension<std::sync::Arc<crate::server::ConnectionSlot>>>;

/// The spec's generic room socket: `room_type` `markets` with a market id as `room_id` is
/// [`market_socket`]; `game`, `tournament`, `chat` and `voice` are those rooms' sockets.
#[utoipa::path(get, path = "/ws/{room_type}/{room_id}", tag = "websocket", params(
        ("room_type" = String, Path, description = "`markets`, `game`, `tournament`, `chat` or `voice`"),
        ("room_id" = String, Path, description = "the room's id: for `markets`, a market id `mkt_<n>`; for `game`, a game session id `gs_<n>`; for `tournament`, a tournament id `trn_<n>`; for `chat` and `voice`, a community's `com_<n>` or a conversation's `dm_<n>`"),
        SocketParams,
    ),
    responses((status = 101, description = "Switching Protocols: the WebSocket of docs/protocols.md"),
        (status = 401, body = crate::error::ErrorBody, description = super::doc::SOCKET_401),
        (status = 403, body = crate::error::ErrorBody, description = super::doc::SOCKET_403)))]
async fn room_socket(
    state: State<AppState>,
    Path((room_type, room_id)): Path<(String, String)>,
    params: QueryParams<SocketParams>,
    headers: HeaderMap,
    slot: Slot,
    upgrade: Upgrade,
) -> Response {
    match room_type.as_str() {
        "markets" => market_socket(state, Path(room_id), params, headers, slot, upgrade).await,
        "game" => {
            super::games::socket::game_socket(state, Path(room_id), params, headers, slot, upgrade)
                .await
        }
        "tournament" => {
            super::games::tournament_socket::tournament_socket(
                state,
                Path(room_id),
                params,
                headers,
                slot,
                upgrade,
            )
            .await
        }
        "chat" => {
            super::social::chat_socket::chat_socket(
                state,
                Path(room_id),
                params,
                headers,
                slot,
                upgrade,
            )
            .await
        }
        "voice" => {
            super::social::voice::voice_socket(state, Path(room_id), params, headers, slot, upgrade)
                .await
        }
        _ => ApiError::not_found("room type").into_response(),
    }
}

/// A market's live books, trades and status over a WebSocket, and (authenticated) the
/// caller's orders and fills and order entry; the messages are in docs/protocols.md.
#[utoipa::path(get, path = "/ws/markets/{market_id}", tag = "websocket", params(SocketParams),
    responses((status = 101, description = "Switching Protocols: the WebSocket of docs/protocols.md"),
        (status = 401, body = crate::error::ErrorBody, description = super::doc::SOCKET_401),
        (status = 403, body = crate::error::ErrorBody, description = super::doc::SOCKET_403)))]
async fn market_socket(
    State(state): State<AppState>,
    Path(market_id): Path<String>,
    QueryParams(params): QueryParams<SocketParams>,
    headers: HeaderMap,
    slot: Slot,
    upgrade: Upgrade,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return not_a_socket(rejection),
    };
    match accept(&state, &market_id, params, &headers).await {
        Ok((market, user)) => bounded(upgrade).on_upgrade({
            // The connection's task logs inside the request span of its handshake.
            let span = tracing::Span::current();
            move |socket| {
                tracing::Instrument::instrument(
                    async move {
                        run(state, socket, market, user).await;
                        drop(slot);
                    },
                    span,
                )
            }
        }),
        Err(error) => error.into_response(),
    }
}

/// A plain HTTP request to a socket's path: say so in the envelope.
pub(super) fn not_a_socket(
    rejection: axum::extract::ws::rejection::WebSocketUpgradeRejection,
) -> Response {
    ApiError::bad_request(format!(
        "this path is a WebSocket: connect with a WebSocket client ({})",
        rejection.body_text()
    ))
    .into_response()
}

/// Upgrades to a room's socket and runs `serve` on it, counted in the metrics and holding
/// the connection's slot for as long as it lives; a plain HTTP request is told what the
/// path is.
pub(super) fn serve_room<F, Fut>(
    state: AppState,
    slot: Slot,
    upgrade: Upgrade,
    serve: F,
) -> Response
where
    F: FnOnce(AppState, WebSocket) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    match upgrade {
        Ok(upgrade) => bounded(upgrade).on_upgrade({
            let span = tracing::Span::current();
            move |socket| {
                tracing::Instrument::instrument(
                    async move {
                        state.metrics.ws_connected(1);
                        serve(state.clone(), socket).await;
                        state.metrics.ws_connected(-1);
                        drop(slot);
                    },
                    span,
                )
            }
        }),
        Err(rejection) => not_a_socket(rejection),
    }
}

/// What a room does with a frame from its client.
pub(super) enum Frame {
    /// A JSON text message to take.
    Text(axum::extract::ws::Utf8Bytes),
    /// A frame to answer with this refusal.
    Refuse(Message),
    /// The client closed (or the connection broke): the room ends.
    Closed,
    /// Pings and pongs: nothing to do.
    Skip,
}

impl Frame {
    pub(super) fn of(incoming: Option<Result<Message, axum::Error>>) -> Frame {
        match incoming {
            Some(Ok(Message::Text(text))) => Frame::Text(text),
            Some(Ok(Message::Binary(_))) => Frame::Refuse(error_message(
                None,
                &ApiError::bad_request("send JSON text messages"),
            )),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Frame::Skip,
            Some(Ok(Message::Close(_)) | Err(_)) | None => Frame::Closed,
        }
    }
}

/// When an access token ends: a room's connection closes then unless it was given a fresh
/// token.
pub(super) fn token_deadline(user: &AuthUser) -> tokio::time::Instant {
    let left = user.token_expires_at - AppState::now_secs();
    tokio::time::Instant::now() + Duration::from_secs(left.max(0) as u64)
}

/// The socket's limits: its read buffer, message and frame sizes.
pub(super) fn bounded(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_message_size(WS_MESSAGE_MAX)
        .max_frame_size(WS_MESSAGE_MAX)
}

async fn accept(
    state: &AppState,
    market_id: &str,
    params: SocketParams,
    headers: &HeaderMap,
) -> ApiResult<(MarketId, Option<AuthUser>)> {
    check_origin(state, headers)?;
    let market = markets::parse_market(market_id)?;
    markets::fetch_market(state, market).await?;
    Ok((market, token_user(state, params, headers).await?))
}

/// Refuses a handshake from an `Origin` the gateway does not allow.
pub(super) fn check_origin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let origins = &state.config.ws_origins;
    if !origins.is_empty() {
        let origin = headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !origins.iter().any(|o| o == origin || o == "*") {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "this Origin may not open WebSockets here",
            ));
        }
    }
    Ok(())
}

/// The user of the token a handshake carries (`?token=` or `Authorization`), if any.
pub(super) async fn token_user(
    state: &AppState,
    params: SocketParams,
    headers: &HeaderMap,
) -> ApiResult<Option<AuthUser>> {
    let header_token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let user = match params.token.or(header_token) {
        Some(token) => Some(authenticate(state, token.trim()).await?),
        None => None,
    };
    Ok(user)
}

/// One followed market: which books it has and the last sequence sent per book.
struct Following {
    books: FxHashMap<OutcomeId, u64>,
}

struct Connection {
    state: AppState,
    user: Option<AuthUser>,
    following: FxHashMap<MarketId, Following>,
    /// Books → market, for routing book events.
    book_market: FxHashMap<OutcomeId, MarketId>,
    last_seen: Instant,
    /// Set when the connection must end (its session revoked, its user suspended): the close
    /// code and reason.
    ending: Option<(u16, &'static str)>,
    /// The user changed (status or role): the run loop asks the core about it.
    recheck: bool,
    /// This connection's session was revoked: the run loop ends it (saying why).
    revoked: bool,
    request_tokens: f64,
    request_refill: Instant,
    /// The user's live orders on a mirrored outcome (a binary or scalar market's second
    /// one): their fills are priced in the order's own terms, not the YES book's.
    mirrored: FxHashSet<OrderId>,
    /// Orders that ended in the batch being routed, forgotten once it is done (their last
    /// fill may come after their end in the batch).
    ended_orders: Vec<OrderId>,
}

/// `book_delta`: one price level of a YES book changed.
#[derive(Serialize)]
struct BookDeltaMessage {
    market_id: String,
    book_id: String,
    side: &'static str,
    price: String,
    quantity: String,
    orders: u32,
}

/// `trade` (and the trade part of `fill`).
#[derive(Serialize)]
struct TradeMessage {
    market_id: String,
    book_id: String,
    trade_id: String,
    price: String,
    quantity: String,
    taker_side: &'static str,
    at: String,
}

/// `fill`: one of the user's orders traded.
#[derive(Serialize)]
struct FillMessage {
    #[serde(flatten)]
    trade: TradeMessage,
    order_id: String,
    liquidity: &'static str,
}

/// `order_update` when an order is accepted.
#[derive(Serialize)]
struct OrderAcceptedMessage {
    order_id: String,
    market_id: String,
    outcome_id: String,
    order_type: &'static str,
    price: String,
    quantity: String,
    status: &'static str,
}

/// `order_update` after a fill, an amendment or the order's end.
#[derive(Serialize)]
struct OrderUpdatedMessage {
    order_id: String,
    status: &'static str,
    reason: Option<&'static str>,
    filled_quantity: String,
    remaining_quantity: String,
    price: String,
}

/// At most this many mirrored orders are tracked per connection (a user has at most the
/// core's open-order limit, 1 000 by default).
const MIRRORED_ORDERS_MAX: usize = 10_000;

/// `{"type", "request_id"?, "seq"?, "data"}`, written straight from `data` (a typed reply
/// or a `Value`) to text: no intermediate tree.
#[derive(Serialize)]
struct Envelope<'a, T> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    data: T,
}

pub(super) fn envelope<T: Serialize>(
    kind: &str,
    request_id: Option<&Value>,
    seq: Option<u64>,
    data: T,
) -> Message {
    thread_local! {
        /// Where messages are written before they are copied out at their exact size: one
        /// allocation per message instead of a growing buffer's several.
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        let envelope = Envelope {
            kind,
            request_id,
            seq,
            data,
        };
        // Only a map with non-string keys can fail, and no message has one.
        if serde_json::to_writer(&mut *scratch, &envelope).is_err() {
            scratch.clear();
        }
        let message = Message::Text(std::str::from_utf8(scratch).unwrap_or_default().into());
        // A large snapshot does not keep its buffer.
        if scratch.capacity() > 64 * 1024 {
            *scratch = Vec::new();
        }
        message
    })
}

/// An `error`: REST's code, message and status, with the same `fields` and `retry_after`
/// REST gives (in its body and its `Retry-After` header) when there are any.
pub(super) fn error_message(request_id: Option<&Value>, error: &ApiError) -> Message {
    envelope(
        "error",
        request_id,
        None,
        ErrorMessage {
            detail: error.detail(),
            status: error.status.as_u16(),
            retry_after: error.retry_after,
        },
    )
}

/// `error`: REST's error object, with the HTTP status REST would answer with.
#[derive(Serialize)]
struct ErrorMessage {
    #[serde(flatten)]
    detail: crate::error::ErrorDetail,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl Connection {
    fn end(&mut self, code: u16, reason: &'static str) {
        if self.ending.is_none() {
            self.ending = Some((code, reason));
        }
    }

    /// A fresh access token for the same user: the connection is bound to its session and
    /// lives until its expiry.
    async fn reauthenticate(&mut self, data: &Value) -> ApiResult<AuthUser> {
        let Some(current) = self.user else {
            return Err(ApiError::bad_request(
                "an anonymous connection cannot authenticate; reconnect with ?token=",
            ));
        };
        let token = data
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("data.token is required"))?;
        let fresh = authenticate(&self.state, token.trim()).await?;
        if fresh.user != current.user {
            return Err(ApiError::forbidden());
        }
        self.user = Some(fresh);
        Ok(fresh)
    }

    /// After its session was revoked or its user changed: ends the connection with the
    /// reason (a suspension revokes the user's sessions too, and says so), or takes the
    /// user's new role.
    async fn settle_session(&mut self) {
        let revoked = std::mem::take(&mut self.revoked);
        self.recheck = false;
        let Some(user) = self.user.as_mut() else {
            return;
        };
        let view = self
            .state
            .query(Query::User(betbet_protocol::query::UserQuery {
                user: user.user,
            }))
            .await;
        match view {
            Ok(QueryReply::User(view))
                if view.status != betbet_protocol::command::UserStatus::Active =>
            {
                self.end(CLOSE_ACCOUNT_SUSPENDED, "account suspended");
            }
            Ok(QueryReply::User(view)) => {
                user.role = view.role;
                if revoked {
                    self.end(CLOSE_SESSION_REVOKED, "session revoked: log in again");
                }
            }
            // The user is gone or the core unreachable: a revocation still ends it.
            _ if revoked => self.end(CLOSE_SESSION_REVOKED, "session revoked: log in again"),
            _ => {}
        }
    }

    /// Takes one request token (the trading class rate, per connection).
    fn allow_request(&mut self) -> bool {
        let limit = self.state.config.rate_limits.get(RouteClass::Trading);
        let capacity = f64::from(limit.requests);
        let rate = capacity / limit.window.as_secs_f64();
        let now = Instant::now();
        self.request_tokens = (self.request_tokens
            + now.duration_since(self.request_refill).as_secs_f64() * rate)
            .min(capacity);
        self.request_refill = now;
        if self.request_tokens >= 1.0 {
            self.request_tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Subscribes to a market: the hub routes its events here first, then the snapshot is
    /// taken, so every event after the snapshot reaches this connection.
    async fn follow(
        &mut self,
        registration: &Registration,
        market: MarketId,
        request_id: Option<&Value>,
    ) -> ApiResult<Message> {
        if self.following.contains_key(&market) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_subscribed",
                "already following this market",
            ));
        }
        if self.following.len() >= WS_SUBSCRIPTIONS_MAX {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "limit_exceeded",
                format!("at most {WS_SUBSCRIPTIONS_MAX} markets per connection"),
            ));
        }
        let shape = markets::market_shape(&self.state, market).await?;
        let books: Vec<OutcomeId> = match shape.market_type {
            betbet_protocol::command::MarketType::Multiple => shape.outcomes.clone(),
            _ => shape.outcomes[..1].to_vec(),
        };
        registration.follow(market, &books);
        let QueryReply::MarketData(data) = self
            .state
            .query(Query::MarketData(MarketQuery { market }))
            .await?
        else {
            return Err(ApiError::from(
                betbet_protocol::result::ResultCode::MarketNotFound,
            ));
        };
        let mut books = FxHashMap::default();
        for book in &data.books {
            books.insert(book.book, book.seq);
            self.book_market.insert(book.book, market);
        }
        self.following.insert(market, Following { books });
        // A binary or scalar market has one book, in its first outcome's (YES / LONG)
        // terms; the second outcome trades on it mirrored (its bid at p is this book's ask
        // at 1 − p), so a NO bid at 0.42 shows here as an ask at 0.58.
        let mirrored = match data.market.market_type {
            betbet_protocol::command::MarketType::Multiple => None,
            _ => data.market.outcomes.get(1).map(|o| o.id),
        };
        let books: Vec<Value> = data
            .books
            .iter()
            .map(|b| {
                let mut book = markets::book_json(b, b.book, false);
                if let Some(no) = mirrored {
                    book["mirrored_outcome_id"] = no.public().into();
                    book["mirror"] = "the mirrored outcome's bids are this book's asks at 1 − price, and its asks this book's bids".into();
                }
                book
            })
            .collect();
        let snapshot = json!({
            "market": markets::market_json(&data.market),
            "books": books,
            "trades": data.trades.iter().map(|t| json!({
                "trade_id": t.trade.public(),
                "price": price_text(t.price),
                "quantity": qty_text(t.qty),
                "taker_side": t.taker_side.as_str(),
                "seq": t.seq,
                "at": time(t.at),
            })).collect::<Vec<_>>(),
        });
        Ok(envelope("snapshot", request_id, None, snapshot))
    }

    /// Learns which of the user's open orders are on a mirrored outcome (for orders placed
    /// before this connection; later ones are seen in their `OrderAccepted`).
    async fn load_mirrored_orders(&mut self) {
        let Some(user) = self.user else {
            return;
        };
        let page = betbet_protocol::query::PAGE_LIMIT_MAX;
        let mut offset = 0;
        while self.mirrored.len() < MIRRORED_ORDERS_MAX {
            let Ok(betbet_protocol::query::QueryReply::Orders(orders)) = self
                .state
                .query(betbet_protocol::query::Query::Orders(
                    betbet_protocol::query::OrdersQuery {
                        user: user.user,
                        market: None,
                        open: true,
                        offset,
                        limit: page,
                    },
                ))
                .await
            else {
                return;
            };
            for order in &orders {
                if let Ok(shape) = markets::market_shape(&self.state, order.market).await
                    && markets::shape_no_terms(&shape, order.outcome)
                {
                    self.mirrored.insert(order.id);
                }
            }
            if orders.len() < page as usize {
                return;
            }
            offset += page;
        }
    }

    /// Forgets the orders that ended in the batch just routed.
    fn forget_ended_orders(&mut self) {
        for order in self.ended_orders.drain(..) {
            self.mirrored.remove(&order);
        }
    }

    /// Turns one engine event into the messages this connection should get. `slots` hold
    /// the event's messages once any connection built them: its market-data message (the
    /// same for every follower of the market) and the user's own (the same on each of the
    /// user's connections).
    fn route(&mut self, event: &Event, slots: &EventSlots, out: &mut Vec<Message>) {
        let public = &slots.public;
        let me = self.user.map(|u| u.user);
        match event {
            // Both are settled by the run loop after the batch, with the user's status.
            Event::SessionRevoked(revoked)
                if self.user.is_some_and(|u| u.session == revoked.session) =>
            {
                self.revoked = true;
            }
            Event::UserChanged(changed) if Some(changed.user) == me => self.recheck = true,
            Event::BookDelta(delta) => {
                if let Some(market) = self.book_market.get(&delta.book)
                    && let Some(following) = self.following.get_mut(market)
                    && let Some(last) = following.books.get_mut(&delta.book)
                    && delta.seq > *last
                {
                    *last = delta.seq;
                    let message = public.get_or_init(|| {
                        envelope(
                            "book_delta",
                            None,
                            Some(delta.seq),
                            BookDeltaMessage {
                                market_id: market.public(),
                                book_id: delta.book.public(),
                                side: delta.side.as_str(),
                                price: price_text(delta.price),
                                quantity: qty_text(delta.qty),
                                orders: delta.orders,
                            },
                        )
                    });
                    out.push(message.clone());
                }
            }
            Event::Trade(trade) => {
                let following = if let Some(following) = self.following.get_mut(&trade.market)
                    && let Some(last) = following.books.get_mut(&trade.book)
                    && trade.seq > *last
                {
                    *last = trade.seq;
                    true
                } else {
                    false
                };
                let mine = me.is_some_and(|me| trade.taker_user == me || trade.maker_user == me);
                // Every connection sees every trade: build the JSON only for those it concerns.
                if !following && !mine {
                    return;
                }
                let data = |price: Price| TradeMessage {
                    market_id: trade.market.public(),
                    book_id: trade.book.public(),
                    trade_id: trade.trade.public(),
                    price: price_text(price),
                    quantity: qty_text(trade.qty),
                    taker_side: trade.taker_side.as_str(),
                    at: time(trade.at),
                };
                if following {
                    let message = public.get_or_init(|| {
                        envelope("trade", None, Some(trade.seq), data(trade.price))
                    });
                    out.push(message.clone());
                }
                if let Some(me) = me
                    && mine
                {
                    for (order, user, maker) in [
                        (trade.taker_order, trade.taker_user, false),
                        (trade.maker_order, trade.maker_user, true),
                    ] {
                        if user == me {
                            // The order's own terms, as REST's fills: a NO order's fill
                            // is priced 1 − the YES book's price.
                            let mirrored = self.mirrored.contains(&order);
                            let fill = slots.fill(maker, mirrored).get_or_init(|| {
                                let price = if mirrored {
                                    trade.price.complement()
                                } else {
                                    trade.price
                                };
                                let fill = FillMessage {
                                    trade: data(price),
                                    order_id: order.public(),
                                    liquidity: if maker { "maker" } else { "taker" },
                                };
                                envelope("fill", None, None, fill)
                            });
                            out.push(fill.clone());
                        }
                    }
                }
            }
            Event::OrderAccepted(accepted) if Some(accepted.user) == me => {
                // Orders are placed through `market_shape`, so the shape is cached by now.
                let mirrored = self
                    .state
                    .shapes
                    .lock()
                    .expect("shapes lock")
                    .get(&accepted.market)
                    .is_some_and(|shape| markets::shape_no_terms(shape, accepted.outcome));
                if mirrored && self.mirrored.len() < MIRRORED_ORDERS_MAX {
                    self.mirrored.insert(accepted.order);
                }
                let update = slots.private[0].get_or_init(|| {
                    envelope(
                        "order_update",
                        None,
                        None,
                        OrderAcceptedMessage {
                            order_id: accepted.order.public(),
                            market_id: accepted.market.public(),
                            outcome_id: accepted.outcome.public(),
                            order_type: accepted.side.as_str(),
                            price: price_text(accepted.price),
                            quantity: qty_text(accepted.qty),
                            status: "accepted",
                        },
                    )
                });
                out.push(update.clone());
            }
            Event::OrderUpdated(update) if Some(update.user) == me => {
                if !update.status.is_open() {
                    self.ended_orders.push(update.order);
                }
                let message = slots.private[0].get_or_init(|| {
                    envelope(
                        "order_update",
                        None,
                        None,
                        OrderUpdatedMessage {
                            order_id: update.order.public(),
                            status: update.status.as_str(),
                            reason: update.reason.map(|r| r.as_str()),
                            filled_quantity: qty_text(update.filled),
                            remaining_quantity: qty_text(update.remaining),
                            price: price_text(update.price),
                        },
                    )
                });
                out.push(message.clone());
            }
            Event::MarketStatusChanged(change) if self.following.contains_key(&change.market) => {
                out.push(envelope(
                    "market_status",
                    None,
                    None,
                    json!({ "market_id": change.market.public(), "status": change.status.as_str() }),
                ));
            }
            Event::ResolutionProposed(proposed)
                if self.following.contains_key(&proposed.market) =>
            {
                out.push(envelope(
                    "resolution_proposed",
                    None,
                    None,
                    json!({
                        "market_id": proposed.market.public(),
                        "winning_outcome": proposed.winner.map(PublicId::public),
                        "scalar_value": proposed.scalar_value.map(crate::json::money),
                        "proposed_by": proposed.proposed_by.public(),
                        "final_at": crate::json::time(proposed.final_at),
                    }),
                ));
            }
            Event::ResolutionDisputed(disputed)
                if self.following.contains_key(&disputed.market) =>
            {
                out.push(envelope(
                    "resolution_disputed",
                    None,
                    None,
                    json!({
                        "market_id": disputed.market.public(),
                        "disputed_by": disputed.by.public(),
                    }),
                ));
            }
            Event::MarketResolved(resolved) if self.following.contains_key(&resolved.market) => {
                out.push(envelope(
                    "market_resolved",
                    None,
                    None,
                    json!({
                        "market_id": resolved.market.public(),
                        "winning_outcome": resolved.winner.map(PublicId::public),
                        "scalar_value": resolved.scalar_value.map(crate::json::money),
                    }),
                ));
            }
            _ => {}
        }
    }
}

/// A client's message: `{"type", "request_id"?, "data"?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientMessage {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) request_id: Option<Value>,
    #[serde(default)]
    pub(super) data: Value,
}

/// A socket request waiting for its turn to be answered. Requests are queued at the core
/// as they are read and answered in the order they came, so a cancel never overtakes the
/// order it cancels and a burst costs about one group commit rather than one each.
enum InFlight {
    /// An answer known already (a refusal, a `pong`): sent when its turn comes.
    Ready(Message),
    Order {
        request_id: Option<Value>,
        order: markets::PreparedOrder,
        reply: crate::core::CommandReply,
    },
    Cancel {
        request_id: Option<Value>,
        order: OrderId,
        reply: crate::core::CommandReply,
    },
}

impl InFlight {
    /// The core's reply to the request (`None` for an answer known already). Cancel-safe:
    /// a reply not yet here stays in `self`.
    async fn outcome(&mut self) -> Option<ApiResult<CommandOutcome>> {
        match self {
            InFlight::Ready(_) => None,
            InFlight::Order { reply, .. } | InFlight::Cancel { reply, .. } => {
                Some(reply.as_mut().await)
            }
        }
    }
}

/// Queues a trading request (`place_order`, `market_order`, `cancel_order`) at the core, to be
/// executed by `deadline` or refused `overloaded`; a request that cannot be queued is
/// answered at once (in its turn).
async fn submit(
    state: &AppState,
    user: Option<AuthUser>,
    request: ClientMessage,
    deadline: Option<Instant>,
) -> InFlight {
    let ClientMessage {
        kind,
        request_id,
        data,
    } = request;
    let queued: ApiResult<InFlight> = async {
        let trader = || {
            user.ok_or_else(|| {
                ApiError::unauthorized("connect with ?token=<access token> to trade")
            })
        };
        match kind.as_str() {
            "cancel_order" => {
                let user = trader()?;
                let order = data
                    .get("order_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::bad_request("data.order_id is required"))?;
                let order: OrderId = crate::ids::parse_path(order, "order")?;
                // One trip: the cancel's own report is the acknowledgement.
                let reply = state.core.submit_by(
                    Command::CancelOrder(betbet_protocol::command::CancelOrder {
                        actor: user.user,
                        order,
                    }),
                    deadline,
                );
                Ok(InFlight::Cancel {
                    request_id: request_id.clone(),
                    order,
                    reply,
                })
            }
            // The spec's generic message for an order in a markets room is `market_order`.
            "place_order" | "market_order" => {
                let user = trader()?;
                let market = data
                    .get("market_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::bad_request("data.market_id is required"))?;
                let market = markets::parse_market(market)?;
                let mut body = data;
                body.as_object_mut().map(|o| o.remove("market_id"));
                let body: OrderBody = serde_json::from_value(body)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                let order = markets::prepare_order(state, &user, market, body).await?;
                let reply = state
                    .core
                    .submit_by(Command::PlaceOrder(order.command.clone()), deadline);
                Ok(InFlight::Order {
                    request_id: request_id.clone(),
                    order,
                    reply,
                })
            }
            other => Err(ApiError::bad_request(format!(
                "unknown message type `{other}`"
            ))),
        }
    }
    .await;
    queued.unwrap_or_else(|error| InFlight::Ready(error_message(request_id.as_ref(), &error)))
}

/// The answer to `entry`, from the core's reply.
async fn answer(
    state: &AppState,
    entry: InFlight,
    outcome: Option<ApiResult<CommandOutcome>>,
) -> Message {
    // The command's reply (`InFlight::outcome` gives one for every command).
    let outcome = match outcome {
        Some(Ok(outcome)) if is_shed(&outcome) => Err(shed(state)),
        Some(result) => result,
        None => Err(ApiError::from(ResultCode::Unavailable)),
    };
    let (request_id, result) = match entry {
        InFlight::Ready(message) => return message,
        InFlight::Order {
            request_id, order, ..
        } => {
            let result = match outcome {
                Ok(outcome) => order
                    .placed(state, outcome)
                    .await
                    .map(|placed| envelope("order_ack", request_id.as_ref(), None, placed)),
                Err(error) => Err(error),
            };
            (request_id, result)
        }
        InFlight::Cancel {
            request_id, order, ..
        } => {
            let result = outcome.and_then(|outcome| match outcome.response {
                CoreResponse::Accepted(Reply::Order(report)) => Ok(envelope(
                    "cancel_ack",
                    request_id.as_ref(),
                    None,
                    CancelAckMessage {
                        id: order.public(),
                        status: report.status.as_str(),
                        filled_quantity: qty_text(report.filled),
                        remaining_quantity: qty_text(report.remaining),
                    },
                )),
                CoreResponse::Rejected(code) => Err(ApiError::from(code)),
                CoreResponse::Accepted(_) => Err(ApiError::internal("unexpected reply")),
            });
            (request_id, result)
        }
    };
    result.unwrap_or_else(|error| error_message(request_id.as_ref(), &error))
}

/// `cancel_ack`: the cancelled order as it ended.
#[derive(Serialize)]
struct CancelAckMessage {
    id: String,
    status: &'static str,
    filled_quantity: String,
    remaining_quantity: String,
}

/// Whether the core refused the command for coming off its queue past the request deadline.
fn is_shed(outcome: &CommandOutcome) -> bool {
    outcome.seq == 0 && outcome.response == CoreResponse::Rejected(ResultCode::Overloaded)
}

/// The refusal of a request shed at its deadline: not executed, the client may send it again.
fn shed(state: &AppState) -> ApiError {
    state.metrics.ws_request_shed();
    let deadline = state.config.ws_request_deadline;
    ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "the request waited over {} ms for its turn and was not executed",
                deadline.as_millis()
            ),
        )
    }
}

/// Moves the answers at the front of `in_flight` that are already known into `out`, in
/// order. (Unconstrained: tokio's cooperative budget must not make a reply that is here
/// look pending.)
async fn answer_ready(
    state: &AppState,
    in_flight: &mut VecDeque<InFlight>,
    out: &mut Vec<Message>,
) {
    while let Some(outcome) = in_flight
        .front_mut()
        .and_then(|f| tokio::task::unconstrained(f.outcome()).now_or_never())
    {
        let entry = in_flight.pop_front().expect("the front was answered");
        out.push(answer(state, entry, outcome).await);
    }
}

/// Waits for every answer in flight and moves them into `out`, in order.
async fn answer_all(state: &AppState, in_flight: &mut VecDeque<InFlight>, out: &mut Vec<Message>) {
    while let Some(mut entry) = in_flight.pop_front() {
        let outcome = entry.outcome().await;
        out.push(answer(state, entry, outcome).await);
    }
}

/// A room's next event batch or, when the hub dropped one for it (the room fell behind)
/// or closed its queue (the gateway is stopping), the close it gets instead.
pub(super) fn room_batch(
    batch: Option<crate::hub::Delivery>,
    registration: &Registration,
) -> Result<crate::hub::Delivery, (u16, &'static str)> {
    match batch.filter(|_| !registration.is_lagging()) {
        Some(batch) => Ok(batch),
        None if registration.is_lagging() => {
            Err((1008, "too slow: fell behind the event stream; reconnect"))
        }
        None => Err((1012, "server restarting")),
    }
}

pub(super) async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }));
    write(socket, [frame]).await;
}

/// Sends `messages` with one flush (one write system call); false when the client is gone
/// or has not read for [`WS_WRITE_TIMEOUT`] — the connection must then end.
pub(super) async fn write(
    socket: &mut WebSocket,
    messages: impl IntoIterator<Item = Message>,
) -> bool {
    let mut writing = std::pin::pin!(async {
        for message in messages {
            socket.feed(message).await?;
        }
        socket.flush().await
    });
    // Nearly every write completes at once: only one that has to wait gets a timer.
    if let Some(written) = futures_util::FutureExt::now_or_never(writing.as_mut()) {
        return written.is_ok();
    }
    matches!(
        tokio::time::timeout(WS_WRITE_TIMEOUT, writing).await,
        Ok(Ok(()))
    )
}

async fn run(state: AppState, mut socket: WebSocket, market: MarketId, user: Option<AuthUser>) {
    state.metrics.ws_connected(1);
    // Register before the snapshot: every event after the snapshot then reaches the queue.
    let mut registration = state.hub.register(user.map(|u| u.user));
    let mut connection = Connection {
        state: state.clone(),
        user,
        following: FxHashMap::default(),
        book_market: FxHashMap::default(),
        last_seen: Instant::now(),
        request_tokens: f64::from(state.config.rate_limits.get(RouteClass::Trading).requests),
        request_refill: Instant::now(),
        ending: None,
        recheck: false,
        revoked: false,
        mirrored: FxHashSet::default(),
        ended_orders: Vec::new(),
    };
    // The session may have ended between the handshake and the registration, its event
    // missed: asked now, a revocation is either seen here or arrives through the hub.
    if let Some((code, reason)) = session_ended(&state, user).await {
        close(&mut socket, code, reason).await;
        state.metrics.ws_connected(-1);
        return;
    }
    // Registered first, so an order accepted while this runs is seen in its event too.
    connection.load_mirrored_orders().await;
    match connection.follow(&registration, market, None).await {
        Ok(snapshot) => {
            if !write(&mut socket, [snapshot]).await {
                state.metrics.ws_connected(-1);
                return;
            }
        }
        Err(error) => {
            write(&mut socket, [error_message(None, &error)]).await;
            close(&mut socket, 1011, "snapshot unavailable").await;
            state.metrics.ws_connected(-1);
            return;
        }
    }
    serve(&mut connection, &mut socket, &mut registration).await;
    state.metrics.ws_connected(-1);
}

/// Why an authenticated connection must end at once: its session was revoked, or its user
/// suspended (`None` while both are live, or when the core cannot say).
pub(super) async fn session_ended(
    state: &AppState,
    user: Option<AuthUser>,
) -> Option<(u16, &'static str)> {
    let user = user?;
    match session_status(state, user.session, user.user).await.ok()? {
        SessionStatus::Live(_) => None,
        SessionStatus::Suspended => Some((CLOSE_ACCOUNT_SUSPENDED, "account suspended")),
        SessionStatus::Ended => Some((CLOSE_SESSION_REVOKED, "session revoked: log in again")),
    }
}

/// The connection's life after its snapshot, until it ends (the reason sent, if any).
async fn serve(
    connection: &mut Connection,
    socket: &mut WebSocket,
    registration: &mut Registration,
) {
    let state = connection.state.clone();
    // The token's expiry ends an authenticated connection (an `authenticate` message with a
    // fresh token moves it).
    let token_deadline = |user: &AuthUser| {
        let left = user.token_expires_at - AppState::now_secs();
        tokio::time::Instant::now() + Duration::from_secs(left.max(0) as u64)
    };
    let expiry = tokio::time::sleep_until(connection.user.as_ref().map_or_else(
        || tokio::time::Instant::now() + IDLE_TIMEOUT,
        token_deadline,
    ));
    let mut expiry = std::pin::pin!(expiry);
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    // Messages for one write (one flush, one system call).
    let mut out = Vec::new();
    loop {
        out.clear();
        // Every branch is cancel-safe: a reply being awaited stays at the front of
        // `in_flight`, and a message half read stays buffered in the socket.
        tokio::select! {
            outcome = async { in_flight.front_mut()?.outcome().await }, if !in_flight.is_empty() => {
                let entry = in_flight.pop_front().expect("the front was answered");
                out.push(answer(&state, entry, outcome).await);
                // Whatever else is answered goes out in the same write.
                answer_ready(&state, &mut in_flight, &mut out).await;
            }
            batch = registration.queue.recv() => {
                if registration.is_lagging() {
                    tracing::info!("closing a WebSocket that fell behind the event stream");
                    close(socket, 1008, "too slow: fell behind the event stream; reconnect and resubscribe").await;
                    return;
                }
                let Some(batch) = batch else {
                    close(socket, 1012, "server restarting").await;
                    return;
                };
                let mut next = Some(batch);
                let mut taken = 0;
                while let Some(batch) = next.take() {
                    // The core answers a group commit's commands before it publishes their
                    // events, so the answers to this connection's requests in `batch` are
                    // here already: they go first, and an order's acknowledgement precedes
                    // its fills.
                    answer_ready(&state, &mut in_flight, &mut out).await;
                    for (event, slots) in batch.events() {
                        connection.route(event, slots, &mut out);
                    }
                    connection.forget_ended_orders();
                    taken += 1;
                    // Batches that queued up meanwhile go out in the same write: a connection
                    // that fell behind catches up with one system call, not one per batch.
                    if taken < WS_BATCHES_PER_WRITE
                        && !(connection.recheck || connection.revoked)
                        && !registration.is_lagging()
                    {
                        next = registration.queue.try_recv().ok();
                    }
                }
                if registration.is_lagging() {
                    tracing::info!("closing a WebSocket that fell behind the event stream");
                    close(socket, 1008, "too slow: fell behind the event stream; reconnect and resubscribe").await;
                    return;
                }
                if connection.recheck || connection.revoked {
                    connection.settle_session().await;
                }
                if let Some((code, reason)) = connection.ending {
                    close(socket, code, reason).await;
                    return;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                connection.last_seen = Instant::now();
                match connection.take(registration, &mut in_flight, message, &mut out).await {
                    Taken::Next => {}
                    Taken::Closed => return,
                    Taken::Authenticated(user) => expiry.as_mut().reset(token_deadline(&user)),
                }
                answer_ready(&state, &mut in_flight, &mut out).await;
            }
            () = &mut expiry, if connection.user.is_some() => {
                close(socket, CLOSE_TOKEN_EXPIRED, "access token expired: reconnect with a fresh token").await;
                return;
            }
            _ = ping.tick() => {
                if connection.last_seen.elapsed() > IDLE_TIMEOUT {
                    close(socket, 1001, "idle timeout").await;
                    return;
                }
                out.push(Message::Ping(Vec::new().into()));
            }
        }
        if !out.is_empty() && !write(socket, out.drain(..)).await {
            return;
        }
    }
}

/// What reading one client message led to.
enum Taken {
    Next,
    /// The client closed the connection.
    Closed,
    /// The connection moved to a fresh token (its expiry moves with it).
    Authenticated(AuthUser),
}

impl Connection {
    /// Takes one client message: a trading request joins `in_flight` (queued at the core);
    /// anything else is answered in its turn, after the requests before it.
    async fn take(
        &mut self,
        registration: &Registration,
        in_flight: &mut VecDeque<InFlight>,
        message: Message,
        out: &mut Vec<Message>,
    ) -> Taken {
        let read_at = Instant::now();
        // Every client message spends the connection's request budget — pings and
        // subscriptions (a snapshot from the core) included, and malformed ones too. The
        // refusal names the request when the message is one.
        let text = match message {
            Message::Text(text) => text,
            Message::Binary(_) => {
                let refusal = if self.allow_request() {
                    ApiError::bad_request("send JSON text messages")
                } else {
                    ApiError::rate_limited(1)
                };
                self.answer_in_turn(in_flight, error_message(None, &refusal), out);
                return Taken::Next;
            }
            Message::Close(_) => return Taken::Closed,
            Message::Ping(_) | Message::Pong(_) => return Taken::Next,
        };
        if !self.allow_request() {
            let id = serde_json::from_str::<ClientMessage>(&text)
                .ok()
                .and_then(|r| r.request_id);
            let refusal = error_message(id.as_ref(), &ApiError::rate_limited(1));
            self.answer_in_turn(in_flight, refusal, out);
            return Taken::Next;
        }
        let request: ClientMessage = match serde_json::from_str(&text) {
            Ok(request) => request,
            Err(error) => {
                let refusal = error_message(None, &ApiError::bad_request(error.to_string()));
                self.answer_in_turn(in_flight, refusal, out);
                return Taken::Next;
            }
        };
        let id = request.request_id.as_ref();
        match request.kind.as_str() {
            "ping" => {
                let pong = envelope("pong", id, None, json!({}));
                self.answer_in_turn(in_flight, pong, out);
            }
            // These change the connection itself: everything before them is answered first.
            "authenticate" => {
                answer_all(&self.state, in_flight, out).await;
                match self.reauthenticate(&request.data).await {
                    Ok(user) => {
                        out.push(envelope("authenticated", id, None, json!({
                            "user_id": user.user.public(),
                            "expires_at": crate::json::time(betbet_protocol::types::Timestamp::from_secs(user.token_expires_at)),
                        })));
                        return Taken::Authenticated(user);
                    }
                    Err(error) => out.push(error_message(id, &error)),
                }
            }
            "subscribe" | "unsubscribe" => {
                answer_all(&self.state, in_flight, out).await;
                let reply = self.subscription(registration, &request).await;
                out.push(reply);
            }
            _ if in_flight.len() >= WS_IN_FLIGHT_MAX => {
                // The one answer that does not wait for its turn: the queue is full.
                out.push(error_message(
                    id,
                    &ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too_many_in_flight",
                        format!("at most {WS_IN_FLIGHT_MAX} requests in flight"),
                    ),
                ));
            }
            _ => {
                // The per-user REST limit applies to socket requests too.
                if let Some(user) = self.user
                    && self
                        .state
                        .limiter
                        .check(Client::User(user.user.0), RouteClass::Trading, 1)
                        .is_err()
                {
                    let refusal = error_message(id, &ApiError::rate_limited(1));
                    self.answer_in_turn(in_flight, refusal, out);
                    return Taken::Next;
                }
                let deadline = Some(read_at + self.state.config.ws_request_deadline);
                in_flight.push_back(submit(&self.state, self.user, request, deadline).await);
            }
        }
        Taken::Next
    }

    /// Answers a message that needs no core once the requests before it are answered: at
    /// once if none is waiting, else in its place in the queue (or at once, when the queue
    /// is full, rather than grow it past its bound).
    fn answer_in_turn(
        &self,
        in_flight: &mut VecDeque<InFlight>,
        answer: Message,
        out: &mut Vec<Message>,
    ) {
        if in_flight.is_empty() || in_flight.len() >= WS_IN_FLIGHT_MAX {
            out.push(answer);
        } else {
            in_flight.push_back(InFlight::Ready(answer));
        }
    }

    /// `subscribe` / `unsubscribe`: the snapshot (under the request's id) or the refusal.
    async fn subscription(
        &mut self,
        registration: &Registration,
        request: &ClientMessage,
    ) -> Message {
        let id = request.request_id.as_ref();
        let target = request
            .data
            .get("market_id")
            .and_then(Value::as_str)
            .map(markets::parse_market);
        let market = match target {
            None => {
                return error_message(id, &ApiError::bad_request("data.market_id is required"));
            }
            Some(Err(error)) => return error_message(id, &error),
            Some(Ok(market)) => market,
        };
        if request.kind == "unsubscribe" {
            if let Some(following) = self.following.remove(&market) {
                for book in following.books.keys() {
                    self.book_market.remove(book);
                }
            }
            registration.unfollow(market);
            return envelope(
                "unsubscribed",
                id,
                None,
                json!({ "market_id": market.public() }),
            );
        }
        match self.follow(registration, market, id).await {
            Ok(snapshot) => snapshot,
            Err(error) => error_message(id, &error),
        }
    }
}
