//! The REST and WebSocket surface: the spec's paths under `/api/v1`, plus `/health`,
//! `/metrics` and the admin routes the spec implies but does not list.
//!
//! Every request passes, in order: request id (propagated from `X-Request-ID` or generated),
//! metrics, rate limiting by route class (per IP, and per user when a valid token is sent),
//! a body-size limit, then the route. CORS is configured per deployment.

mod auth;
mod keys;
mod markets;

pub use markets::{MarketShape, market_shape, shape_no_terms};
mod system;
pub(crate) mod users;
mod wallet;
mod ws;

use crate::config::RouteClass;
use crate::error::ApiError;
use crate::limits::Client;
use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const REQUEST_ID_MAX: usize = 128;
/// How many users' allowance one IP gets.
const IP_SCALE: u32 = 10;

/// The metrics address's router: `/metrics` alone.
pub fn metrics_router(state: AppState) -> Router {
    system::metrics_routes().with_state(state)
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(auth::routes())
        .merge(users::routes(&state))
        .merge(wallet::routes(&state))
        .merge(markets::routes())
        .merge(keys::routes());
    let cors = cors(&state);
    Router::new()
        .nest("/api/v1", api)
        .merge(system::routes())
        .merge(ws::routes())
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .layer(middleware::from_fn(request_id))
        .layer(cors)
        .with_state(state)
}

fn cors(state: &AppState) -> CorsLayer {
    let origins = &state.config.cors_origins;
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            REQUEST_ID,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([REQUEST_ID]);
    if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    }
}

/// Keeps the caller's `X-Request-ID` (if sane) or makes one, and returns it.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= REQUEST_ID_MAX && v.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            crate::auth::random_bytes::<12>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        });
    let value = HeaderValue::from_str(&id).expect("request ids are visible ASCII");
    request.headers_mut().insert(REQUEST_ID, value.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let _enter = span.enter();
    drop(_enter);
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

fn class_of(path: &str) -> RouteClass {
    let path = path.strip_prefix("/api/v1/").unwrap_or(path);
    let first = path.split('/').next().unwrap_or("");
    match first {
        "auth" => RouteClass::Auth,
        "wallets" | "deposits" | "withdrawals" | "transactions" | "transfers"
        | "payment-methods" => RouteClass::Wallet,
        "markets" | "orders" | "positions" | "pools" => RouteClass::Trading,
        "games" | "sessions" | "tournaments" => RouteClass::Gaming,
        _ => RouteClass::Default,
    }
}

async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") {
        return next.run(request).await;
    }
    let class = class_of(path);
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // The user is taken from a token with a valid signature only; the session check
    // happens in the route.
    let user = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| {
            crate::auth::verify_access_token(&state.keys, token.trim(), AppState::now_secs()).ok()
        })
        .and_then(|claims| {
            <betbet_protocol::types::UserId as crate::ids::PublicId>::parse(&claims.sub)
        });
    // Per user, the class's allowance; per IP, ten users' worth (many people share an IP
    // behind NAT), except for auth routes, where the IP is the only key that exists.
    let ip_scale = if class == RouteClass::Auth {
        1
    } else {
        IP_SCALE
    };
    let mut clients = Vec::with_capacity(2);
    if let Some(ip) = ip {
        clients.push((Client::Ip(ip), ip_scale));
    }
    if let Some(user) = user {
        clients.push((Client::User(user.0), 1));
    }
    for (client, scale) in clients {
        if let Err(retry_after) = state.limiter.check(client, class, scale) {
            return ApiError::rate_limited(retry_after).into_response();
        }
    }
    next.run(request).await
}
