//! The REST and WebSocket surface: the spec's paths under `/api/v1`, plus `/health`,
//! `/metrics` and the admin routes the spec implies but does not list.
//!
//! Every request passes, in order: request id (propagated from `X-Request-ID` or generated),
//! metrics, rate limiting by route class (per IP, and per user when a valid token is sent),
//! a body-size limit, then the route. CORS is configured per deployment.

mod auth;
pub mod doc;
pub(crate) mod games;
mod keys;
mod markets;

pub use markets::{MarketShape, market_shape, shape_no_terms};
pub(crate) mod social;
mod system;
pub mod table;
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
    system::metrics_routes().into_parts().0.with_state(state)
}

/// Every route of the public address, with its table (see [`table`]).
pub fn routes(config: &crate::config::GatewayConfig) -> table::Routes<AppState> {
    let api = table::Routes::new()
        .merge(auth::routes())
        .merge(users::routes(config))
        .merge(wallet::routes(config))
        .merge(markets::routes())
        .merge(games::routes())
        .merge(social::routes())
        .merge(keys::routes())
        .merge(system::api_routes());
    table::Routes::new()
        .nest("/api/v1", api)
        .merge(system::routes())
        .merge(ws::routes())
}

/// The route table of the public address, as `betbet routes` prints it.
pub fn route_table() -> Vec<table::RouteEntry> {
    let config = crate::config::GatewayConfig::new(std::path::PathBuf::new());
    routes(&config).into_parts().1
}

/// The OpenAPI document of the public address, as `/api/v1/openapi.json` serves it. The
/// document does not depend on the configuration (the routes are the same in every
/// deployment), so it is built once.
pub fn openapi_json() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let config = crate::config::GatewayConfig::new(std::path::PathBuf::new());
        serde_json::to_string_pretty(&routes(&config).document()).expect("the document serialises")
    })
}

pub fn router(state: AppState) -> Router {
    // Built now, so a route that cannot be documented stops the start, not a later request.
    openapi_json();
    let (routes, _) = routes(&state.config).into_parts();
    let cors = cors(&state);
    // The reference page: Swagger UI, its assets compiled in from the `swagger-ui-dist`
    // crate (nothing is fetched from a CDN), rendering `/api/v1/openapi.json`.
    let docs = swagger_ui_dist::generate_routes(swagger_ui_dist::ApiDefinition {
        uri_prefix: "/docs",
        api_definition: swagger_ui_dist::OpenApiSource::Uri("/api/v1/openapi.json"),
        title: Some("BetBet API reference"),
    });
    routes
        .with_state(state.clone())
        .merge(docs)
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .layer(middleware::from_fn(request_id))
        .layer(cors)
}

/// An unknown path: the error envelope, not an empty 404.
async fn no_route(request: Request) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "route_not_found",
        format!(
            "no route {} {} (the API is under /api/v1; `betbet routes` lists every route)",
            request.method(),
            request.uri().path()
        ),
    )
}

/// A known path with a method it does not take.
async fn no_method(request: Request) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not take {}",
            request.uri().path(),
            request.method()
        ),
    )
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

/// Keeps the caller's `X-Request-ID` (if sane) or makes one, and returns it: in the header
/// of every response and inside every error body (`error.request_id`). Everything the
/// request causes runs inside its `request` span, so every log line carries the id. A
/// panic in a handler is caught here: the client still gets a 500 in the error envelope,
/// one line is logged (by the panic hook, inside the span), and the process serves on.
pub async fn request_id(mut request: Request, next: Next) -> Response {
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
    // At the error level so the span exists whenever any line is logged at all (a span
    // below the filter's level is dropped, and its lines would lose the id).
    let span = tracing::error_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let handled = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
        tracing::Instrument::instrument(next.run(request), span),
    ))
    .await;
    let mut response = match handled {
        Ok(response) => response,
        Err(_) => ApiError::internal("the request failed inside the server").into_response(),
    };
    if response.status().is_client_error() || response.status().is_server_error() {
        response = with_request_id(response, &id).await;
    }
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

/// Adds `request_id` to an error body in the JSON envelope (error bodies are small).
async fn with_request_id(response: Response, id: &str) -> Response {
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, ERROR_BODY_MAX).await else {
        return ApiError::internal("error body too large").into_response();
    };
    let bytes = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut value) if value["error"].is_object() => {
            value["error"]["request_id"] = id.into();
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            axum::body::Bytes::from(value.to_string())
        }
        _ => bytes,
    };
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Error bodies are a code and a sentence; anything larger is not one of ours.
const ERROR_BODY_MAX: usize = 64 * 1024;

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
        "messages" => RouteClass::Chat,
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn call(app: &Router, path: &str) -> (u16, Option<String>, serde_json::Value) {
        let request = Request::builder()
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let id = response
            .headers()
            .get(&REQUEST_ID)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            id,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    /// A handler that panics still answers its client (500, the envelope, its request id)
    /// and the service goes on serving; error bodies carry the request id.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_its_request_id_and_the_server_goes_on() {
        async fn explode() -> &'static str {
            panic!("deliberately, for the test")
        }
        async fn refuse() -> Result<&'static str, ApiError> {
            Err(ApiError::bad_request("no"))
        }
        let app = Router::new()
            .route("/explode", get(explode))
            .route("/refuse", get(refuse))
            .route("/fine", get(|| async { "fine" }))
            .layer(middleware::from_fn(request_id));
        let (status, id, body) = call(&app, "/explode").await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "internal_error");
        let id = id.expect("X-Request-ID");
        assert_eq!(body["error"]["request_id"], id.as_str());
        let (status, id, body) = call(&app, "/refuse").await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["request_id"], id.unwrap().as_str());
        assert_eq!(call(&app, "/fine").await.0, 200);
    }
}
