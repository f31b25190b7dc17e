//! `/health`, and `/metrics` — the latter served only on the separate metrics address
//! (`--metrics-addr`, loopback by default), never on the public one.

use super::table::{Access::*, BodyKind::*, GET, Routes};
use crate::core::Core;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use betbet_journal::Health;
use betbet_protocol::message::Empty;
use betbet_protocol::query::{Query, QueryReply};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

pub fn routes() -> Routes<AppState> {
    Routes::new().route(&[(GET, Public, NoBody)], routes!(health))
}

/// The routes of `/api/v1` that describe the API itself.
pub fn api_routes() -> Routes<AppState> {
    Routes::new().route(&[(GET, Public, NoBody)], routes!(openapi))
}

/// This document: every route of the public address, generated from the handlers.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document",
        content_type = "application/json", body = Object)))]
async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi_json(),
    )
}

pub fn metrics_routes() -> Routes<AppState> {
    Routes::new().route(&[(GET, Public, NoBody)], routes!(metrics))
}

#[derive(Serialize, ToSchema)]
struct HealthReport {
    #[schema(pattern = "^(healthy|unhealthy)$")]
    status: &'static str,
    service: &'static str,
    version: &'static str,
    core: CoreHealth,
    journal: JournalHealth,
    /// The history store (a gateway in the core's process only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    history: Option<HistoryHealth>,
}

/// The history store's writer. Its lag never stops the platform serving.
#[derive(Serialize, ToSchema)]
struct HistoryHealth {
    /// `postgres://…` (without its password) or `sqlite://DATA_DIR/history.sqlite`.
    store: String,
    /// The last journal record the store durably applied.
    applied_seq: u64,
    /// Durable journal records it has not applied yet.
    lag_records: u64,
    /// Whether its writes are failing (and being retried).
    failing: bool,
}

/// The core's state; the counts only when it answered.
#[derive(Serialize, ToSchema)]
struct CoreHealth {
    /// Whether the core answered within two seconds.
    reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    last_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    users: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    markets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    live_orders: Option<u64>,
}

#[derive(Serialize, ToSchema)]
struct JournalHealth {
    /// `ok` (this process writes the journal), `failed`, or for a gateway of a separate
    /// core `remote` / `disconnected`.
    #[schema(pattern = "^(ok|failed|remote|disconnected)$")]
    state: &'static str,
    /// The last record known to be on disk (`ok` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    durable_seq: Option<u64>,
    /// Why the journal stopped accepting writes (`failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<String>,
}

/// 200 when the core answers and its journal accepts writes; 503 otherwise.
#[utoipa::path(get, path = "/health", tag = "system",
    responses(
        (status = 200, description = "Serving", body = HealthReport),
        (status = 503, description = "Not serving: the core is unreachable or its journal failed",
            body = HealthReport),
    ))]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let journal = match &state.core {
        Core::Local(handle) => match handle.health() {
            Health::Ok => JournalHealth {
                state: "ok",
                durable_seq: Some(
                    handle
                        .stats()
                        .durable_seq
                        .load(std::sync::atomic::Ordering::Relaxed),
                ),
                reason: None,
            },
            Health::Failed { reason } => JournalHealth {
                state: "failed",
                durable_seq: None,
                reason: Some(reason),
            },
        },
        Core::Remote(remote) => JournalHealth {
            state: if remote.is_connected() {
                "remote"
            } else {
                "disconnected"
            },
            durable_seq: None,
            reason: None,
        },
    };
    let core = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.query(Query::Status(Empty {})),
    )
    .await;
    let core = match core {
        Ok(Ok(QueryReply::Status(status))) => CoreHealth {
            reachable: true,
            last_seq: Some(status.last_seq),
            users: Some(status.users),
            markets: Some(status.markets),
            live_orders: Some(status.live_orders),
        },
        _ => CoreHealth {
            reachable: false,
            last_seq: None,
            users: None,
            markets: None,
            live_orders: None,
        },
    };
    let history = match (&state.history, &journal.durable_seq) {
        (Some(history), Some(head)) => Some(HistoryHealth {
            store: history.store.location().to_owned(),
            applied_seq: history.progress.applied(),
            lag_records: head.saturating_sub(history.progress.applied()),
            failing: history
                .progress
                .failing
                .load(std::sync::atomic::Ordering::Relaxed),
        }),
        _ => None,
    };
    let status = if core.reachable && journal.state != "failed" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(HealthReport {
            status: if status == StatusCode::OK {
                "healthy"
            } else {
                "unhealthy"
            },
            service: "betbet",
            version: env!("CARGO_PKG_VERSION"),
            core,
            journal,
            history,
        }),
    )
}

/// Prometheus text; served on the metrics address only.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let core = match &state.core {
        Core::Local(handle) => Some(handle.stats()),
        Core::Remote(_) => None,
    };
    let mut text = state.metrics.render(core);
    if let (Some(history), Some(core)) = (&state.history, core) {
        text.push_str(&crate::metrics::render_history(
            &history.progress,
            core.durable_seq.load(std::sync::atomic::Ordering::Acquire),
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
